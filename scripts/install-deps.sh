#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian 12 packages tokengate needs to build, test and demo.
# Uses sudo when not run as root.
set -eu
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
# Build, unit tests, and the real web servers the integration tests drive.
PACKAGES="build-essential autoconf automake pkg-config openssl ca-certificates
  libfcgi-dev libssl-dev libjansson-dev libcurl4-openssl-dev libinih-dev libcmocka-dev
  python3 python3-jwt python3-cryptography python3-pytest python3-prometheus-client valgrind
  lighttpd apache2 libapache2-mod-fcgid nginx-light fcgiwrap curl systemd
  clang libclang-rt-14-dev
  debhelper dpkg-dev lintian
  libhiredis-dev redis-server"
# shellcheck disable=SC2086
if ! dpkg -s $PACKAGES >/dev/null 2>&1; then
    $SUDO apt-get update -q
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $PACKAGES
fi
