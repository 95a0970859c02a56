#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# bench/decide.sh - the cost of one decision with a valid RS256 token,
# beside `openssl speed rsa2048` measured in the same run.
#
# Budget (issue 2): decision <= 1.3x one RSA-2048 verify as openssl speed
# measures it; everything around the signature check < 5 us.
# Usage: bench/decide.sh [BUILD_DIR]   (default: build/plain, made by tests/run.sh)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build/plain}
make -C "$build" -s benchmarks >/dev/null
echo "== openssl speed rsa2048 (verify)"
openssl speed -seconds 3 rsa2048 2>/dev/null | tail -n 1
verify_per_second=$(openssl speed -seconds 3 rsa2048 2>/dev/null | awk '/^rsa 2048/ {print $NF}')
echo "== tokengate decision"
result=$("$build/bench/bench_decide" 7 4000)
echo "$result"
decide_us=$(echo "$result" | sed -n 's/.*decide_us=\([0-9.]*\) overhead.*/\1/p')
overhead_us=$(echo "$result" | sed -n 's/.*overhead_us=\([0-9.-]*\).*/\1/p')
awk -v vps="$verify_per_second" -v d="$decide_us" -v o="$overhead_us" 'BEGIN {
    openssl_us = 1e6 / vps
    printf "openssl verify: %.2f us; decision: %.2f us = %.2fx openssl (budget 1.30x); around the signature: %.2f us (budget 5 us)\n", openssl_us, d, d / openssl_us, o
}'
