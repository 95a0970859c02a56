#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The README's test command: install what is needed, run the whole suite.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh"
exec "$top/tests/run.sh"
