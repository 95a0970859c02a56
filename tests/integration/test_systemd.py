# SPDX-License-Identifier: Apache-2.0
"""contrib/'s systemd units: systemd itself checks them, and the socket
activation they set up (the socket on fd 0) is exercised in
test_fastcgi.test_socket_inherited_on_fd_0."""
import os
import re
import shutil
import subprocess

import harness

# The service unit is generated at build time with the configured paths;
# the socket unit names none and is used as it is.
BUILT_CONTRIB = os.path.join(os.path.dirname(harness.TOKENGATE), "contrib")


def unit_text(name):
    directory = BUILT_CONTRIB if name.endswith(".service") else harness.CONTRIB
    with open(os.path.join(directory, name)) as source:
        return source.read()


def runnable(text):
    """The unit with this build's tokengate in place of the installed one."""
    return re.sub(r"/[^\s=]*/sbin/tokengate", harness.TOKENGATE, text)


def test_units_pass_systemd_analyze_verify(workdir):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing (Debian package systemd)"
    for name in ("tokengate.service", "tokengate.socket"):
        with open(os.path.join(workdir, name), "w") as out:
            out.write(runnable(unit_text(name)))
    result = subprocess.run([analyze, "verify", "--man=no",
                             os.path.join(workdir, "tokengate.socket"),
                             os.path.join(workdir, "tokengate.service")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.strip() == "", result.stderr


def test_service_runs_unprivileged_with_socket_on_fd_0():
    lines = [line.strip() for line in unit_text("tokengate.service").splitlines()]
    assert "User=tokengate" in lines
    assert "StandardInput=socket" in lines
    assert "NoNewPrivileges=yes" in lines
    # systemctl reload fails on a configuration -t rejects, before the
    # running process is told to reload.
    reloads = [line for line in lines if line.startswith("ExecReload=")]
    assert len(reloads) == 2, reloads
    assert re.fullmatch(r"ExecReload=/\S+/tokengate -t -c /\S+/tokengate\.conf", reloads[0])
    assert reloads[1] == "ExecReload=/bin/kill -HUP $MAINPID"
    socket_lines = [line.strip() for line in unit_text("tokengate.socket").splitlines()]
    assert "SocketMode=0660" in socket_lines


def test_no_start_limit_and_hardening_that_systemd_scores(workdir):
    """A flood of restarts cannot exhaust a start limit, and systemd's own
    security review rates the unit well (it lists what is left open)."""
    text = unit_text("tokengate.service")
    lines = [line.strip() for line in text.splitlines()]
    assert "StartLimitIntervalSec=0" in lines
    assert "Restart=always" in lines
    path = os.path.join(workdir, "tokengate.service")
    with open(path, "w") as out:
        out.write(runnable(text))
    result = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", path],
                            capture_output=True, text=True, timeout=60)
    summary = [line for line in result.stdout.splitlines() if "Overall exposure level" in line]
    assert summary, result.stdout + result.stderr
    exposure = float(summary[0].split(":")[1].split()[0])
    assert exposure <= 2.5, result.stdout
