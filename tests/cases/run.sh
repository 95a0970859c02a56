#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# make check's entry to the decision cases (tests/cases/*.case): TAP out.
exec /usr/bin/python3 "${TESTS_SRCDIR:-$(dirname "$0")/..}/cases/run.py" "${TOKENGATE:-./tokengate}"
