#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# bench/apikeys.sh - a request with a cached API key beside one with a
# cached token, measured in one run.
#
# Budget (issue 13): a cached-key decision costs no more than 1.2x a
# cached-token decision. Both are measured by instructions (valgrind
# callgrind: stable on shared machines) and by time (interleaved rounds).
# Usage: bench/apikeys.sh [BUILD_DIR]   (default: build/plain, made by tests/run.sh)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build/plain}
make -C "$build" -s benchmarks >/dev/null
bench="$build/bench/bench_decide"

# Instructions of one decision: the difference of two runs cancels start-up
# and the warm-up decision. The token is counted inside decide_once, the key
# inside apikey_decide_once: each the whole request path, from the request
# facts to the formatted answer.
count() { # MODE FUNCTION N
    valgrind --tool=callgrind --callgrind-out-file="/tmp/tokengate-callgrind.$1.$3" \
        --toggle-collect="$2" "$bench" count "$1" "$3" >/dev/null 2>&1
    callgrind_annotate "/tmp/tokengate-callgrind.$1.$3" 2>/dev/null |
        awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'
    rm -f "/tmp/tokengate-callgrind.$1.$3"
}
echo "== instructions per decision (callgrind)"
token=$(( ($(count cached decide_once 2000) - $(count cached decide_once 1000)) / 1000 ))
key=$(( ($(count apikey apikey_decide_once 2000) - $(count apikey apikey_decide_once 1000)) / 1000 ))
awk -v t="$token" -v k="$key" 'BEGIN {
    printf "  cached token %d, cached key %d: %.2fx (budget 1.20x)\n", t, k, k / t }'

echo "== time per decision (interleaved, best round)"
"$bench" apikey 7 20000 | sed 's/^/  /'
