#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs the whole test suite: builds tokengate out of tree twice, once plain
# and once with AddressSanitizer + UndefinedBehaviorSanitizer, runs
# `make check` in each, and ends with one line "N passed, N failed" that
# counts every test case of both runs. Exits non-zero on any failure or
# sanitizer report.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
builds="$top/build"
cd "$top" || exit 2

# An in-tree configure would stop the out-of-tree builds below: then they
# build from a clean copy, and the user's own build is left as it is.
source=$("$top/scripts/clean-source.sh" "$top") || { echo "cannot copy the sources"; exit 2; }
(cd "$source" && ./autogen.sh >/dev/null 2>&1) || { echo "autogen.sh failed"; exit 2; }

SANITIZE="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=98"

passed=0
failed=0
for variant in plain sanitize; do
    dir="$builds/$variant"
    rm -rf "$dir"
    mkdir -p "$dir"
    echo "=== $variant build"
    if [ "$variant" = sanitize ]; then
        cflags=$SANITIZE ldflags="-fsanitize=address,undefined"
    else
        cflags="-O2 -g" ldflags=""
    fi
    if ! (cd "$dir" && "$source/configure" -q CFLAGS="$cflags" LDFLAGS="$ldflags" \
              >"$dir/configure.out" 2>&1 &&
          make -j2 >"$dir/make.out" 2>&1); then
        echo "$variant: build failed"
        tail -n 30 "$dir/configure.out" "$dir/make.out" 2>/dev/null
        failed=$((failed + 1))
        continue
    fi
    if grep -q "warning:" "$dir/make.out"; then
        echo "$variant: compiler warnings:"
        grep "warning:" "$dir/make.out"
        failed=$((failed + 1))
    fi
    (cd "$dir" && make -j2 check >"$dir/check.out" 2>&1)
    for trs in $(find "$dir/tests" -name '*.trs' | sort); do
        log="${trs%.trs}.log"
        name=${log#"$dir/"}
        # Every runner speaks TAP, so automake's TAP driver records each
        # case in the .trs file; a crash or a missing plan is an ERROR.
        cases_passed=$(grep -c "^:test-result: PASS" "$trs")
        cases_failed=$(grep -c "^:test-result: \(FAIL\|XPASS\|ERROR\)" "$trs")
        if grep -q "^:global-test-result: PASS" "$trs"; then
            echo "PASS $variant $name ($cases_passed cases)"
        else
            [ "$cases_failed" -gt 0 ] || cases_failed=1
            echo "FAIL $variant $name"
            sed 's/^/    /' "$log" | grep -v "^    ok " | tail -n 60
        fi
        if grep -q "ERROR: AddressSanitizer\|runtime error:\|ERROR: LeakSanitizer" "$log"; then
            echo "FAIL $variant $name: sanitizer report"
            cases_failed=$((cases_failed + 1))
        fi
        passed=$((passed + cases_passed))
        failed=$((failed + cases_failed))
    done
done
# Integration: the plain build behind real lighttpd, Apache and nginx.
echo "=== integration tests (real web servers)"
if [ -x "$builds/plain/tokengate" ]; then
    TOKENGATE="$builds/plain/tokengate" /usr/bin/python3 -m pytest -q -p no:cacheprovider \
        "$top/tests/integration" >"$builds/integration.out" 2>&1
    summary=$(tail -n 1 "$builds/integration.out")
    echo "integration: $summary"
    it_passed=$(echo "$summary" | sed -n 's/.* \([0-9][0-9]*\) passed.*/\1/p; s/^\([0-9][0-9]*\) passed.*/\1/p' | head -n 1)
    it_failed=$(echo "$summary" | sed -n 's/.* \([0-9][0-9]*\) failed.*/\1/p; s/^\([0-9][0-9]*\) failed.*/\1/p' | head -n 1)
    it_errors=$(echo "$summary" | sed -n 's/.* \([0-9][0-9]*\) errors\{0,1\}.*/\1/p; s/^\([0-9][0-9]*\) errors\{0,1\}.*/\1/p' | head -n 1)
    it_failed=$(( ${it_failed:-0} + ${it_errors:-0} ))
    if [ -z "$it_passed" ] && [ "$it_failed" -eq 0 ]; then
        it_failed=1 # no summary at all: pytest itself failed
    fi
    if [ "$it_failed" -gt 0 ]; then
        grep -E "^(FAILED|ERROR)|Error|^E " "$builds/integration.out" | head -n 80
    fi
    passed=$((passed + ${it_passed:-0}))
    failed=$((failed + it_failed))
else
    echo "integration: skipped because the plain build failed"
    failed=$((failed + 1))
fi

# sanitizer_check NAME REPORTS OUTPUT COMMAND...: runs COMMAND (whose
# sanitizer writes its reports to files REPORTS.*); passes when it exits 0
# and no report was written.
sanitizer_check() {
    name=$1 reports=$2 output=$3
    shift 3
    rm -f "$reports".*
    "$@" >"$output" 2>&1
    if [ $? -eq 0 ] && ! ls "$reports".* >/dev/null 2>&1; then
        echo "ok - $name: $(tail -n 1 "$output")"
        passed=$((passed + 1))
    else
        echo "not ok - $name"
        tail -n 20 "$output"
        cat "$reports".* 2>/dev/null | head -n 60
        failed=$((failed + 1))
        rm -f "$reports".*
    fi
}

# The server under AddressSanitizer + UndefinedBehaviorSanitizer: the direct
# FastCGI tests, the key fetching, the hostile clients, API-key validation
# and the fleet (threads, the front, libcurl, hiredis, reloads, shutdown
# with leak checking at exit).
echo "=== AddressSanitizer: FastCGI server and key fetching"
if [ -x "$builds/sanitize/tokengate" ]; then
    sanitizer_check "FastCGI and key-fetch tests under ASan+UBSan" /tmp/tokengate-asan \
        "$builds/sanitize/pytest.out" env TOKENGATE="$builds/sanitize/tokengate" \
        ASAN_OPTIONS="detect_leaks=1:log_path=/tmp/tokengate-asan" \
        UBSAN_OPTIONS="print_stacktrace=1:log_path=/tmp/tokengate-asan" \
        /usr/bin/python3 -m pytest -q -p no:cacheprovider \
        "$top/tests/integration/test_fastcgi.py" "$top/tests/integration/test_keys.py" \
        "$top/tests/integration/test_staying_up.py" "$top/tests/integration/test_apikeys.py" \
        "$top/tests/integration/test_fleet.py"
else
    echo "not ok - no sanitizer build of tokengate"
    failed=$((failed + 1))
fi

# ThreadSanitizer: the token cache's concurrency test, and the server's
# front, worker threads, reloads and shutdown under the direct FastCGI tests
# and the hostile clients; any report fails the run.
echo "=== ThreadSanitizer: token cache and FastCGI server"
tsan="$builds/tsan"
rm -rf "$tsan" /tmp/tokengate-tsan.*
mkdir -p "$tsan"
if (cd "$tsan" && "$source/configure" -q CFLAGS="-O1 -g -fsanitize=thread" \
        LDFLAGS="-fsanitize=thread" >"$tsan/configure.out" 2>&1 && make -j2 >"$tsan/make.out" 2>&1 &&
        make -j2 tests/unit/test_cache >>"$tsan/make.out" 2>&1)
then
    export TSAN_OPTIONS="halt_on_error=0 log_path=/tmp/tokengate-tsan"
    sanitizer_check "token cache under ThreadSanitizer" /tmp/tokengate-tsan \
        "$tsan/test_cache.out" "$tsan/tests/unit/test_cache"
    sanitizer_check "FastCGI and key-fetch tests under ThreadSanitizer" /tmp/tokengate-tsan \
        "$tsan/pytest.out" env TOKENGATE="$tsan/tokengate" \
        /usr/bin/python3 -m pytest -q -p no:cacheprovider "$top/tests/integration/test_fastcgi.py" \
        "$top/tests/integration/test_keys.py" "$top/tests/integration/test_staying_up.py" \
        "$top/tests/integration/test_apikeys.py" "$top/tests/integration/test_fleet.py"
else
    echo "not ok - ThreadSanitizer build failed"
    tail -n 20 "$tsan/make.out" 2>/dev/null
    failed=$((failed + 1))
fi

# Install safety: make install never overwrites a live configuration, and
# uninstall leaves a changed one (and removes everything else).
echo "=== make install / uninstall keep a changed configuration"
root="$builds/install-root"
rm -rf "$root"
conf="$root/usr/local/etc/tokengate/tokengate.conf"
sample="$builds/plain/conf/tokengate.conf"
if (cd "$builds/plain" && make install DESTDIR="$root" >"$root.out" 2>&1) &&
        cmp -s "$sample" "$conf" && echo "# changed by the admin" >>"$conf" &&
        (cd "$builds/plain" && make install DESTDIR="$root" >>"$root.out" 2>&1) &&
        grep -q "changed by the admin" "$conf" && [ -f "$conf.sample" ] &&
        (cd "$builds/plain" && make uninstall DESTDIR="$root" >>"$root.out" 2>&1) &&
        grep -q "changed by the admin" "$conf" &&
        [ "$(find "$root" -type f | wc -l)" -eq 1 ]; then
    echo "ok - make install keeps and uninstall leaves a changed configuration"
    passed=$((passed + 1))
else
    echo "not ok - make install / uninstall and a changed configuration"
    tail -n 20 "$root.out" 2>/dev/null
    find "$root" -type f 2>/dev/null | head
    failed=$((failed + 1))
fi

# The Debian package: built from the distribution files, lintian-clean,
# installed, checked, upgraded over a changed configuration and purged.
echo "=== Debian package"
sh "$top/tests/package.sh" "$builds/plain" "$builds/deb" >"$builds/package.out" 2>&1
grep -E "^(ok|not ok)" "$builds/package.out"
package_passed=$(sed -n 's/^\([0-9]*\) passed, [0-9]* failed$/\1/p' "$builds/package.out" | tail -n 1)
package_failed=$(sed -n 's/^[0-9]* passed, \([0-9]*\) failed$/\1/p' "$builds/package.out" | tail -n 1)
if [ -z "$package_passed$package_failed" ]; then
    tail -n 30 "$builds/package.out"
    package_failed=1
elif [ "${package_failed:-0}" -gt 0 ]; then
    grep -v "^ok" "$builds/package.out" | tail -n 60
fi
passed=$((passed + ${package_passed:-0}))
failed=$((failed + ${package_failed:-0}))

# The benchmarks are never timed here, but they must still run: each once,
# briefly (a benchmark that silently stopped deciding would measure nothing).
echo "=== benchmarks run (no timing)"
if (cd "$builds/plain" && make -s benchmarks >"$builds/benchmarks.out" 2>&1 &&
        ./bench/bench_decide count cached 20 >>"$builds/benchmarks.out" 2>&1 &&
        ./bench/bench_decide count uncached 5 >>"$builds/benchmarks.out" 2>&1 &&
        ./bench/bench_decide 1 20 >>"$builds/benchmarks.out" 2>&1 &&
        ./bench/bench_decide count apikey 20 >>"$builds/benchmarks.out" 2>&1 &&
        ./bench/bench_decide apikey 1 20 >>"$builds/benchmarks.out" 2>&1 &&
        TOKENGATE="$builds/plain/tokengate" /usr/bin/python3 "$top/bench/fleet.py" 2 2 \
            >>"$builds/benchmarks.out" 2>&1); then
    echo "ok - the benchmarks build and decide"
    passed=$((passed + 1))
else
    echo "not ok - the benchmarks"
    tail -n 20 "$builds/benchmarks.out"
    failed=$((failed + 1))
fi

# Release hygiene: the tarball builds and passes make check on its own
# (out of tree, read-only sources), and holds no build products.
echo "=== make distcheck"
dist="$builds/dist"
rm -rf "$dist"
mkdir -p "$dist"
if (cd "$dist" && "$source/configure" -q >"$dist/configure.out" 2>&1 &&
        make distcheck >"$dist/distcheck.out" 2>&1) &&
        ! tar tzf "$dist"/tokengate-*.tar.gz | grep -qE '\.o$|__pycache__'; then
    echo "ok - make distcheck"
    passed=$((passed + 1))
else
    echo "not ok - make distcheck"
    tail -n 30 "$dist/distcheck.out" 2>/dev/null
    failed=$((failed + 1))
fi

# Fuzzing: the JSON reader against jansson, path normalisation against its
# invariants, the token check against forgery, and what providers answer
# (metadata, discovery, JWK sets, cache headers); a short run of each.
echo "=== fuzzing (libFuzzer, ${FUZZ_SECONDS:-15}s per target)"
rm -rf "$builds/fuzz"
FUZZ_SECONDS=${FUZZ_SECONDS:-15} FUZZ_BUILD="$builds/fuzz" FUZZ_SOURCE="$source" \
    "$top/tests/fuzz/run.sh" \
    >"$builds/fuzz.out" 2>&1
cat "$builds/fuzz.out" | grep -E "^(ok|not ok)" || true
fuzz_passed=$(sed -n 's/^\([0-9]*\) passed, [0-9]* failed$/\1/p' "$builds/fuzz.out" | tail -n 1)
fuzz_failed=$(sed -n 's/^[0-9]* passed, \([0-9]*\) failed$/\1/p' "$builds/fuzz.out" | tail -n 1)
if [ -z "$fuzz_passed$fuzz_failed" ]; then
    tail -n 20 "$builds/fuzz.out"
    fuzz_failed=1
fi
passed=$((passed + ${fuzz_passed:-0}))
failed=$((failed + ${fuzz_failed:-0}))

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
