# SPDX-License-Identifier: Apache-2.0
"""contrib/'s systemd units: systemd itself checks them, and the socket
activation they set up (the socket on fd 0) is exercised in
test_fastcgi.test_socket_inherited_on_fd_0."""
import os
import shutil
import subprocess

import harness


def test_units_pass_systemd_analyze_verify(workdir):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing (Debian package systemd)"
    for name in ("tokengate.service", "tokengate.socket"):
        with open(os.path.join(harness.CONTRIB, name)) as source:
            text = source.read().replace("/usr/sbin/tokengate", harness.TOKENGATE)
        with open(os.path.join(workdir, name), "w") as out:
            out.write(text)
    result = subprocess.run([analyze, "verify", "--man=no",
                             os.path.join(workdir, "tokengate.socket"),
                             os.path.join(workdir, "tokengate.service")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.strip() == "", result.stderr


def test_service_runs_unprivileged_with_socket_on_fd_0():
    with open(os.path.join(harness.CONTRIB, "tokengate.service")) as source:
        lines = [line.strip() for line in source]
    assert "User=tokengate" in lines
    assert "StandardInput=socket" in lines
    assert "NoNewPrivileges=yes" in lines
    assert "ExecReload=/bin/kill -HUP $MAINPID" in lines
    with open(os.path.join(harness.CONTRIB, "tokengate.socket")) as source:
        socket_lines = [line.strip() for line in source]
    assert "SocketMode=0660" in socket_lines


def test_no_start_limit_and_hardening_that_systemd_scores(workdir):
    """A flood of restarts cannot exhaust a start limit, and systemd's own
    security review rates the unit well (it lists what is left open)."""
    with open(os.path.join(harness.CONTRIB, "tokengate.service")) as source:
        text = source.read()
    lines = [line.strip() for line in text.splitlines()]
    assert "StartLimitIntervalSec=0" in lines
    assert "Restart=always" in lines
    path = os.path.join(workdir, "tokengate.service")
    with open(path, "w") as out:
        out.write(text.replace("/usr/sbin/tokengate", harness.TOKENGATE))
    result = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", path],
                            capture_output=True, text=True, timeout=60)
    summary = [line for line in result.stdout.splitlines() if "Overall exposure level" in line]
    assert summary, result.stdout + result.stderr
    exposure = float(summary[0].split(":")[1].split()[0])
    assert exposure <= 2.5, result.stdout
