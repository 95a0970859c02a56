# SPDX-License-Identifier: Apache-2.0
"""The README's quickstart, run the way a new user runs it (minus apt)."""
import os
import subprocess

import harness


def test_quickstart_demo_shows_real_decisions_and_stops_cleanly():
    port = harness.free_port()
    result = subprocess.run(
        [os.path.join(harness.ROOT, "scripts", "demo.sh"), "--once", "--no-install"],
        env=dict(os.environ, TOKENGATE=harness.TOKENGATE, DEMO_PORT=str(port)),
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "configuration is valid" in out
    assert out.count("HTTP/1.1 200 OK") == 3, out
    assert out.count("HTTP/1.1 401 Unauthorized") == 2, out
    assert out.count("HTTP/1.1 403 Forbidden") == 3, out
    assert "AUTH_ORG_ROLE=Owner" in out
    assert "rule=admin status=403" in out  # the decision log is shown
    # Everything it started is gone.
    assert not harness.port_open(port)
