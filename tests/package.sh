#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The Debian package: builds it from the distribution files with
# dpkg-buildpackage (its own make check included), runs lintian, then on a
# machine where it may (root, tokengate not installed) installs it, checks
# the user, directories, units and conffile, upgrades over a changed
# configuration, and purges it. Prints "ok"/"not ok" lines and a final
# "N passed, N failed".
#   tests/package.sh BUILD_DIR WORK_DIR
set -u
build=$1 work=$2
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $1"; }
check() { name=$1; shift; if "$@" >/dev/null 2>&1; then ok "$name"; else not_ok "$name"; fi; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit; }

rm -rf "$work"
mkdir -p "$work"
version=$(sed -n 's/^PACKAGE_VERSION = //p' "$build/Makefile")
tree="$work/tokengate-$version"
if ! (cd "$build" && make distdir distdir="$tree" >"$work/distdir.log" 2>&1); then
    tail -n 20 "$work/distdir.log"
    not_ok "the distribution files"
    finish
fi
if (cd "$tree" && dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1); then
    ok "dpkg-buildpackage -us -uc -b (with make check)"
else
    tail -n 40 "$work/build.log"
    not_ok "dpkg-buildpackage -us -uc -b"
    finish
fi
deb="$work/tokengate_${version}_$(dpkg --print-architecture).deb"
# No error and no warning: the package carries no override.
if lintian --fail-on error,warning "$work"/tokengate_*.changes >"$work/lintian.log" 2>&1 &&
        ! grep -E '^(E|W):' "$work/lintian.log"; then
    ok "lintian: no error, no warning"
else
    cat "$work/lintian.log"
    not_ok "lintian"
fi
contents=$(dpkg -c "$deb")
for path in ./usr/sbin/tokengate ./etc/tokengate/tokengate.conf \
        ./lib/systemd/system/tokengate.service ./lib/systemd/system/tokengate.socket \
        ./usr/lib/sysusers.d/tokengate.conf ./usr/lib/tmpfiles.d/tokengate.conf \
        ./usr/share/man/man8/tokengate.8.gz ./usr/share/man/man5/tokengate.conf.5.gz; do
    if echo "$contents" | grep -q " $path\$"; then ok "the package holds $path"; else
        not_ok "the package lacks $path"; fi
done
check "the configuration is a conffile" sh -c "dpkg-deb -I '$deb' conffiles | grep -qx /etc/tokengate/tokengate.conf"

if [ "$(id -u)" -ne 0 ] || dpkg -s tokengate >/dev/null 2>&1; then
    not_ok "install, upgrade and purge need root and a machine without tokengate installed"
    finish
fi
if dpkg -i "$deb" >"$work/install.log" 2>&1; then ok "dpkg -i"; else
    cat "$work/install.log"; not_ok "dpkg -i"; finish; fi
check "the tokengate system user exists" getent passwd tokengate
check "its shell is nologin" sh -c "getent passwd tokengate | grep -q ':/usr/sbin/nologin$'"
check "/var/lib/tokengate belongs to it, mode 750" \
    sh -c "[ \"\$(stat -c '%U:%G %a' /var/lib/tokengate)\" = 'tokengate:tokengate 750' ]"
check "the units are installed" test -f /lib/systemd/system/tokengate.service
check "neither unit is enabled" sh -c "! ls /etc/systemd/system/*.wants/tokengate.* 2>/dev/null"
check "the unit runs /usr/sbin/tokengate on /etc/tokengate/tokengate.conf" \
    grep -qx "ExecStart=/usr/sbin/tokengate -c /etc/tokengate/tokengate.conf" \
    /lib/systemd/system/tokengate.service
check "the sample's state_dir is /var/lib/tokengate" \
    grep -q "^#state_dir = /var/lib/tokengate " /etc/tokengate/tokengate.conf
check "the manual names /etc/tokengate/tokengate.conf" \
    sh -c "zcat /usr/share/man/man8/tokengate.8.gz | grep -q '/etc/tokengate/tokengate.conf'"
check "the binary runs" /usr/sbin/tokengate --version
# The shipped configuration names a key that is not there: -t says so.
check "the shipped configuration needs editing (-t fails)" \
    sh -c "! /usr/sbin/tokengate -t -c /etc/tokengate/tokengate.conf"
echo "# changed by the administrator" >>/etc/tokengate/tokengate.conf
if dpkg -i --force-confold "$deb" >>"$work/install.log" 2>&1 &&
        grep -q "changed by the administrator" /etc/tokengate/tokengate.conf; then
    ok "reinstalling keeps a changed configuration"
else
    not_ok "reinstalling keeps a changed configuration"
fi
if dpkg --purge tokengate >"$work/purge.log" 2>&1; then ok "dpkg --purge"; else
    cat "$work/purge.log"; not_ok "dpkg --purge"; fi
check "purge removes /etc/tokengate" sh -c "! test -e /etc/tokengate"
check "purge removes /var/lib/tokengate" sh -c "! test -e /var/lib/tokengate"
check "purge removes the binary" sh -c "! test -e /usr/sbin/tokengate"
finish
