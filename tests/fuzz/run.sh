#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Builds the fuzz targets with clang (libFuzzer + ASan + UBSan) and runs each
# for FUZZ_SECONDS (default 20), starting from the seeds in corpus/. Prints
# one "ok"/"not ok" line per target and "N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
source=${FUZZ_SOURCE:-$top}     # a tree with configure (tests/run.sh passes its own)
out=${FUZZ_BUILD:-$top/build/fuzz}
seconds=${FUZZ_SECONDS:-20}
mkdir -p "$out"
# The core library, built by the build system with clang and the sanitizers;
# every target links it alone: no libcurl, no edge.
sanitize="-g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all"
if ! (cd "$out" && "$source/configure" -q CC=clang CFLAGS="$sanitize -fsanitize=fuzzer-no-link" \
        >"$out/configure.log" 2>&1 &&
        make -j2 libtokengate-core.a tests/unit/libsupport.a >"$out/make.log" 2>&1); then
    echo "not ok - the core library does not build for fuzzing"
    tail -n 20 "$out/configure.log" "$out/make.log"
    echo "0 passed, 1 failed"
    exit 1
fi
flags="$sanitize -fsanitize=fuzzer -D_GNU_SOURCE -I$top/include $(pkg-config --cflags jansson libcrypto)"
libs="$out/tests/unit/libsupport.a $out/libtokengate-core.a $(pkg-config --libs jansson libcrypto inih)"
passed=0
failed=0
for target in json path jwt provider records apikey; do
    # shellcheck disable=SC2086
    if ! clang $flags -o "$out/fuzz_$target" "$top/tests/fuzz/fuzz_$target.c" $libs \
            >"$out/build-$target.log" 2>&1; then
        echo "not ok - fuzz_$target does not build against the core alone"
        tail -n 20 "$out/build-$target.log"
        failed=$((failed + 1))
        continue
    fi
    corpus="$out/corpus-$target"
    mkdir -p "$corpus"
    cp "$top/tests/fuzz/corpus/$target"/* "$corpus/" 2>/dev/null || true
    if "$out/fuzz_$target" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
            -artifact_prefix="$out/crash-$target-" "$corpus" >"$out/run-$target.log" 2>&1; then
        runs=$(grep -o 'Done [0-9]* runs' "$out/run-$target.log" | tail -n 1)
        echo "ok - fuzz_$target ($runs in ${seconds}s)"
        passed=$((passed + 1))
    else
        echo "not ok - fuzz_$target found a failure; the input is in $out/crash-$target-*"
        grep -E "ERROR|SUMMARY|abort|==" "$out/run-$target.log" | head -n 20
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
