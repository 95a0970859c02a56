#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# bench/cache.sh - what the verified-token cache buys, measured in one run.
#
#   instructions per decision (valgrind callgrind: stable on noisy machines),
#     cached and uncached;
#   microseconds per cached decision with 1, 10 and 100,000 tokens cached,
#     and the resident memory 100,000 tokens take;
#   a stream of never-seen tokens (every one a miss) against `openssl speed
#     rsa2048` verifies/s, both on one core.
# Usage: bench/cache.sh [BUILD_DIR]   (TOKENS=100000 MISSES=20000)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build/plain}
tokens=${TOKENS:-100000}
misses=${MISSES:-20000}
make -C "$build" -s benchmarks >/dev/null
bench="$build/bench/bench_decide"

echo "== instructions per decision (callgrind, inside tg_decide_cached only)"
for mode in cached uncached; do
    for n in 1000 2000; do
        valgrind --tool=callgrind --callgrind-out-file="/tmp/tokengate-callgrind.$mode.$n" \
            --toggle-collect=tg_decide_cached "$bench" count "$mode" "$n" >/dev/null 2>&1
        eval "total_$n=\$(callgrind_annotate /tmp/tokengate-callgrind.$mode.$n 2>/dev/null |
            awk '/PROGRAM TOTALS/ {gsub(\",\", \"\", \$1); print \$1}')"
        rm -f "/tmp/tokengate-callgrind.$mode.$n"
    done
    # The difference of two runs cancels start-up and the warm-up decision.
    awk -v a="$total_1000" -v b="$total_2000" -v mode="$mode" \
        'BEGIN { printf "  %-9s %d instructions\n", mode, (b - a) / 1000 }'
done

echo "== cached decisions"
"$bench" cached "$tokens" 2>/dev/null | tr ' ' '\n' | sed 's/^/  /'

echo "== never-seen tokens against openssl speed (one core each)"
verify=$(openssl speed -seconds 3 rsa2048 2>/dev/null | awk '/^rsa 2048/ {print $NF}')
result=$("$bench" misses "$misses" 2>/dev/null)
echo "  $result"
rate=$(echo "$result" | sed -n 's/misses_per_second=\([0-9]*\).*/\1/p')
awk -v r="$rate" -v v="$verify" 'BEGIN {
    printf "  openssl speed rsa2048: %.0f verifies/s; misses: %.0f/s = %.2fx (target 0.80x)\n",
           v, r, r / v }'
