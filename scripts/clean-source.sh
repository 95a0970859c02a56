#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Prints a source tree that builds out of tree: the checkout itself, or,
# when someone configured it in place (./configure in the checkout, which
# stops out-of-tree builds), a copy under build/source with that
# configuration cleaned out of the copy. The checkout and its build are
# never touched.
#   scripts/clean-source.sh TOP
set -eu
top=$1
if [ ! -f "$top/config.status" ]; then
    echo "$top"
    exit 0
fi
copy="$top/build/source"
rm -rf "$copy"
mkdir -p "$copy"
(cd "$top" && tar cf - --exclude=./build --exclude=.git .) | (cd "$copy" && tar xf -)
make -C "$copy" distclean >/dev/null 2>&1 || true
rm -f "$copy/config.status"
echo "$copy"
