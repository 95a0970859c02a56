#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Builds the fuzz targets with clang (libFuzzer + ASan + UBSan) and runs each
# for FUZZ_SECONDS (default 20), starting from the seeds in corpus/. Prints
# one "ok"/"not ok" line per target and "N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${FUZZ_BUILD:-$top/build/fuzz}
seconds=${FUZZ_SECONDS:-20}
mkdir -p "$out"
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -D_GNU_SOURCE"
flags="$flags -I$top/include $(pkg-config --cflags jansson libcrypto)"
libs="$(pkg-config --libs jansson libcrypto) -lpthread"
core="$top/src/base64url.c $top/src/json.c $top/src/path.c $top/src/request.c $top/src/records.c $top/src/keys.c $top/src/jwt.c \
      $top/src/text.c $top/src/claims.c $top/src/log.c $top/src/cache.c"
passed=0
failed=0
for target in json path jwt provider records; do
    extra=""
    [ "$target" = jwt ] && extra="$top/tests/unit/support.c $top/src/config.c $top/src/rules.c \
        $top/src/jwk.c $top/src/http.c $top/src/provider.c $(pkg-config --libs inih libcurl)"
    [ "$target" = provider ] && extra="$top/src/jwk.c $top/src/http.c $top/src/provider.c \
        $(pkg-config --libs libcurl)"
    # shellcheck disable=SC2086
    if ! clang $flags -o "$out/fuzz_$target" "$top/tests/fuzz/fuzz_$target.c" $core $extra \
            $libs >"$out/build-$target.log" 2>&1; then
        echo "not ok - fuzz_$target does not build"
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
