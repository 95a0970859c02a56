# SPDX-License-Identifier: Apache-2.0
"""tokengate's FastCGI server spoken to directly: what no web server sends,
signals, sockets and the decision log."""
import concurrent.futures
import json
import os
import signal
import socket
import stat
import struct
import subprocess
import time

import pytest

import fcgi_client
import harness


def params(path, token=None, method="GET", **extra):
    result = {"REQUEST_METHOD": method, "REQUEST_URI": path, "QUERY_STRING": "",
              "REMOTE_ADDR": "127.0.0.1"}
    if token:
        result["HTTP_AUTHORIZATION"] = "Bearer " + token
    result.update(extra)
    return result


@pytest.fixture
def tokengate(world, workdir):
    """tokengate on a fresh unix socket; yields (address, process, config)."""
    address = os.path.join(workdir, "tg.sock")
    config = world.config("fcgi-%s.conf" % os.path.basename(workdir), listen=address,
                          extra="log_level = debug\nthreads = 4\n")
    process = harness.Process([harness.TOKENGATE, "-c", config],
                              os.path.join(workdir, "tokengate.log"))
    harness.wait_for(lambda: os.path.exists(address), "tokengate socket")
    yield address, process, config
    process.stop()


@pytest.mark.parametrize("path, who, status", [
    ("/app/x", "owner", 200), ("/app/x", None, 401), ("/app/x", "expired", 401),
    ("/orgs/o-2/admin/x", "owner", 403), ("/open/x", None, 200), ("/nowhere", "owner", 403),
    ("/app/%00", "owner", 400),
])
def test_authorizer_and_responder_roles_decide_alike(tokengate, world, path, who, status):
    address = tokengate[0]
    token = getattr(world, who) if who else None
    answers = [fcgi_client.request(address, params(path, token), role=role)
               for role in (fcgi_client.AUTHORIZER, fcgi_client.RESPONDER)]
    assert answers[0][0] == status
    assert answers[0][3] == answers[1][3]


@pytest.mark.parametrize("missing", ["REQUEST_URI", "REQUEST_METHOD", "both"])
def test_missing_request_parameters_are_400(tokengate, world, missing):
    request = params("/open/x", world.owner)
    for name in ("REQUEST_URI", "REQUEST_METHOD") if missing == "both" else (missing,):
        del request[name]
    status, headers, body, _ = fcgi_client.request(tokengate[0], request)
    assert status == 400
    assert headers["Content-Type"] == "application/json"
    assert "invalid_request" in body


def test_status_is_the_first_line_and_200_carries_only_variables(tokengate, world):
    _, _, _, raw = fcgi_client.request(tokengate[0], params("/orgs/o-1/admin/x", world.owner))
    lines = raw.split("\n")
    assert lines[0] == "Status: 200"
    headers = [line for line in lines[1:] if line]
    assert headers and all(line.startswith("Variable-") for line in headers), raw
    for line in headers:
        name = line.split(":")[0][len("Variable-"):]
        assert name == name.upper() and all(c.isalnum() or c == "_" for c in name)


def test_kept_alive_connection_serves_several_requests(tokengate, world):
    sock = fcgi_client.connect(tokengate[0])
    try:
        for request_id, (path, token, status) in enumerate(
                [("/app/a", world.owner, 200), ("/app/b", None, 401),
                 ("/app/c", world.member, 200)], start=1):
            answer = fcgi_client.request(None, params(path, token), sock=sock,
                                         request_id=request_id)
            assert answer[0] == status
    finally:
        sock.close()


def test_concurrent_requests(tokengate, world):
    cases = [("/app/x", world.owner, 200), ("/app/x", None, 401),
             ("/orgs/o-1/owner/x", world.member, 403)] * 40
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(
            lambda case: fcgi_client.request(tokengate[0], params(case[0], case[1]))[0], cases))
    assert results == [case[2] for case in cases]


def test_decision_log_lines_hold_no_credentials(tokengate, world):
    address, process, _ = tokengate
    fcgi_client.request(address, params("/orgs/o-1/admin/x", world.owner))
    fcgi_client.request(address, params("/app/x", world.expired))
    # Log lines are written by a thread of their own, a moment later.
    harness.wait_for(lambda: "method=GET path=/app/x " in process.output(), "the log lines")
    log = process.output()
    allowed = [l for l in log.splitlines() if "method=GET path=/orgs/o-1/admin/x " in l]
    assert allowed and "rule=admin status=200 user=owner-1 org=o-1 role=Owner client=127.0.0.1 us=" in allowed[0], log
    assert 'matched="path /orgs/{org_id}/admin/**' in allowed[0]  # debug level
    refused = [l for l in log.splitlines() if "method=GET path=/app/x " in l]
    assert refused and 'status=401 reason="the token has expired"' in refused[0], log
    for token in (world.owner, world.expired):
        for part in token.split("."):
            assert part not in log


def test_json_log_lines_parse_and_carry_the_request_id(world, workdir):
    """log_format = json: every line the server writes is one JSON object;
    decision lines carry the fields an auditor filters on."""
    address = os.path.join(workdir, "json.sock")
    config = world.config("json.conf", listen=address, extra="log_format = json\n")
    process = harness.Process([harness.TOKENGATE, "-c", config], os.path.join(workdir, "log"))
    try:
        harness.wait_for(lambda: os.path.exists(address), "tokengate socket")
        fcgi_client.request(address, params("/orgs/o-1/admin/x", world.member,
                                            HTTP_X_REQUEST_ID="req-7\" status=200"))
        harness.wait_for(lambda: '"req-7' in process.output(), "the decision line")
    finally:
        process.stop()
    lines = [json.loads(line) for line in process.output().splitlines()]
    assert all(line["time"].endswith("Z") and line["level"] for line in lines)
    decision = [line for line in lines if "status" in line][0]
    assert decision == {"time": decision["time"], "level": "info", "method": "GET",
                        "path": "/orgs/o-1/admin/x", "rule": "admin", "status": 403,
                        "user": "member-1", "org": "o-1", "role": "Member",
                        "reason": "the user's role is below the required role",
                        "client": "127.0.0.1", "request_id": 'req-7" status=200',
                        "us": decision["us"]}
    assert isinstance(decision["us"], int)
    assert any(line.get("msg", "").startswith("tokengate ") for line in lines)
    assert world.member.split(".")[2] not in process.output()


def test_journal_gets_priority_prefixes(world, workdir):
    """When stderr is the journal (JOURNAL_STREAM names it), text lines
    start with <N> so that journald files each line at its level."""
    address = os.path.join(workdir, "journal.sock")
    config = world.config("journal.conf", listen=address)
    log_path = os.path.join(workdir, "log")
    with open(log_path, "w") as log:
        status = os.fstat(log.fileno())
        env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (status.st_dev, status.st_ino))
        process = subprocess.Popen([harness.TOKENGATE, "-c", config], stdout=log, stderr=log,
                                   stdin=subprocess.DEVNULL, env=env)
    try:
        harness.wait_for(lambda: os.path.exists(address), "tokengate socket")
        fcgi_client.request(address, params("/app/x"))
        harness.wait_for(lambda: "status=401" in open(log_path).read(), "the decision line")
    finally:
        process.terminate()
        process.wait(10)
    lines = open(log_path).read().splitlines()
    assert lines and all(line[:3] in ("<3>", "<4>", "<6>", "<7>") for line in lines), lines
    assert [line for line in lines if "status=401" in line][0].startswith("<6>")
    assert all(line.startswith("<4>") for line in lines if "tokengate[warn]" in line)
    assert all(line.startswith("<6>") for line in lines if "tokengate[info]" in line)
    # Another stream (a redirect after systemd set the variable): no prefix.
    env = dict(os.environ, JOURNAL_STREAM="1:2")
    result = subprocess.run([harness.TOKENGATE, "-c", config + ".missing"], env=env,
                            capture_output=True, text=True, timeout=10)
    assert result.stderr and not result.stderr.startswith("<")


def test_reload_says_when_listen_cannot_change(tokengate, world):
    address, process, config = tokengate
    with open(config) as f:
        text = f.read()
    moved = address + ".moved"
    with open(config, "w") as f:
        f.write(text.replace("listen = %s" % address, "listen = %s" % moved))
    process.send(signal.SIGHUP)
    harness.wait_for(lambda: "configuration reloaded" in process.output(), "reload")
    assert ("%s:2: listen changed to %s, but a reload cannot move its socket: it stays %s "
            "until tokengate is restarted" % (config, moved, address)) in process.output()
    assert fcgi_client.request(address, params("/app/x", world.owner))[0] == 200
    assert not os.path.exists(moved)


def test_responder_stdin_after_the_answer_is_not_reset(tokengate, world):
    """A responder's request goes on with its STDIN stream, which a web
    server may send after the answer is out (Apache's mod_proxy_fcgi does):
    tokengate must not have closed the connection under it."""
    address = tokengate[0]
    sock = fcgi_client.connect(address)
    request = (fcgi_client._record(fcgi_client.BEGIN_REQUEST, 1,
                                   struct.pack("!HB5x", fcgi_client.RESPONDER, 0)) +
               fcgi_client._record(fcgi_client.PARAMS, 1,
                                   fcgi_client._params(params("/open/x"))) +
               fcgi_client._record(fcgi_client.PARAMS, 1, b""))
    sock.sendall(request)
    answer = b""
    while b"Status: 200" not in answer or len(answer) < 16:
        chunk = sock.recv(65536)
        assert chunk, answer
        answer += chunk
    time.sleep(0.3)  # the worker is long done with the connection
    sock.sendall(fcgi_client._record(fcgi_client.STDIN, 1, b""))  # no EPIPE
    sock.settimeout(5)
    while sock.recv(65536):  # the rest of the answer, then a clean end
        pass
    sock.close()


def test_unix_socket_mode_follows_the_configuration(world, workdir):
    address = os.path.join(workdir, "mode.sock")
    config = world.config("mode.conf", listen=address)
    with open(config) as f:
        text = f.read().replace("socket_mode = 0666", "socket_mode = 0600")
    with open(config, "w") as f:
        f.write(text)
    process = harness.Process([harness.TOKENGATE, "-c", config], os.path.join(workdir, "log"))
    try:
        harness.wait_for(lambda: os.path.exists(address), "socket")
        assert stat.S_IMODE(os.stat(address).st_mode) == 0o600
    finally:
        assert process.stop() == 0
    assert not os.path.exists(address), "the socket is removed at exit"


def test_sighup_reloads_and_a_broken_reload_keeps_the_old_configuration(tokengate, world):
    address, process, config = tokengate
    assert fcgi_client.request(address, params("/app/x", world.owner))[0] == 200
    with open(config) as f:
        original = f.read()
    with open(config, "w") as f:
        f.write(original.replace("[rule app]\npath = /app/**\n",
                                 "[rule app]\npath = /app/**\nrequire = deny\n"))
    process.send(signal.SIGHUP)
    harness.wait_for(lambda: "configuration reloaded" in process.output(), "reload")
    assert fcgi_client.request(address, params("/app/x", world.owner))[0] == 403

    with open(config, "w") as f:
        f.write(original + "\n[rule broken]\npath = no-slash\n")
    process.send(signal.SIGHUP)
    harness.wait_for(lambda: "reload failed" in process.output(), "failed reload")
    assert "path: the path pattern must start with /" in process.output()
    assert fcgi_client.request(address, params("/app/x", world.owner))[0] == 403
    assert process.process.poll() is None


def test_sigterm_exits_zero_even_with_an_idle_kept_alive_connection(tokengate, world):
    address, process, _ = tokengate
    sock = fcgi_client.connect(address)
    fcgi_client.request(None, params("/app/x", world.owner), sock=sock)
    started = time.monotonic()
    assert process.stop() == 0
    assert time.monotonic() - started < 12
    sock.close()
    assert "stopped" in process.output()


def test_socket_inherited_on_fd_0(world, workdir):
    config = world.config("inherited.conf")
    address = os.path.join(workdir, "inherited.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    listener.listen(8)
    process = harness.Process([harness.TOKENGATE, "-c", config], os.path.join(workdir, "log"),
                              stdin=listener.fileno())
    listener.close()
    try:
        status = fcgi_client.request(address, params("/app/x", world.owner))[0]
        assert status == 200
    finally:
        assert process.stop() == 0


def test_listen_and_a_socket_on_fd_0_is_an_error_not_a_swap(world, workdir):
    """The supervisor's socket is never silently replaced by listen (nor
    listen by it): both refuse to start, and -t says so."""
    own = os.path.join(workdir, "own.sock")
    config = world.config("both.conf", listen=own)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(os.path.join(workdir, "inherited.sock"))
    listener.listen(8)
    try:
        for args in ([harness.TOKENGATE, "-c", config], [harness.TOKENGATE, "-t", "-c", config]):
            result = subprocess.run(args, stdin=listener.fileno(), capture_output=True,
                                    text=True, timeout=10)
            assert result.returncode == 1, result.stderr
            assert "%s:2: listen is set, but a listening socket" % config in result.stderr
            assert not os.path.exists(own)
    finally:
        listener.close()


def test_config_from_the_environment_and_fd_0_that_is_no_socket(world, workdir):
    config = world.config("env.conf")
    result = subprocess.run([harness.TOKENGATE], env=dict(os.environ, TOKENGATE_CONFIG=config),
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10)
    assert result.returncode == 1
    assert "file descriptor 0 is not a listening socket" in result.stderr


def test_broken_configuration_does_not_start(world, workdir):
    config = os.path.join(workdir, "broken.conf")
    with open(config, "w") as f:
        f.write("[tokengate]\nlisten = %s/x.sock\nthreads = many\n" % workdir)
    result = subprocess.run([harness.TOKENGATE, "-c", config], capture_output=True, text=True,
                            timeout=10)
    assert result.returncode == 1
    assert config + ":3: threads" in result.stderr
    assert not os.path.exists(os.path.join(workdir, "x.sock"))


def test_listening_beyond_loopback_is_warned_about(world, workdir):
    port = harness.free_port()
    config = world.config("wide.conf", listen="0.0.0.0:%d" % port)
    process = harness.Process([harness.TOKENGATE, "-c", config], os.path.join(workdir, "log"))
    try:
        harness.wait_for(lambda: harness.port_open(port), "tokengate")
        harness.wait_for(lambda: "not loopback" in process.output(), "the warning")
    finally:
        process.stop()


def test_reloads_under_load_keep_answering(tokengate, world):
    """SIGHUP while requests are in flight (with debug logging, whose lines
    name the rule): every answer stays well-formed and correct. Under the
    ThreadSanitizer build (tests/run.sh) this also proves that no request
    reads a configuration a reload has freed."""
    address, process, _ = tokengate
    stop = time.monotonic() + 2.0
    cases = [("/app/x", world.owner, 200), ("/orgs/o-1/admin/x", world.member, 403),
             ("/app/x", None, 401)]

    def client(index):
        results = []
        while time.monotonic() < stop:
            path, token, status = cases[index % len(cases)]
            results.append(fcgi_client.request(address, params(path, token))[0] == status)
            index += 1
        return results

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(client, i) for i in range(8)]
        reloads = 0
        while time.monotonic() < stop:
            process.send(signal.SIGHUP)
            reloads += 1
            time.sleep(0.05)
        results = [ok for future in futures for ok in future.result()]
    assert results and all(results)
    assert process.process.poll() is None
    harness.wait_for(lambda: process.output().count("configuration reloaded") >= reloads // 2,
                     "reloads")


def test_reload_with_a_new_key_forgets_cached_tokens(tokengate, world, workdir):
    """A token decided from the cache must be checked again once the key it
    was verified with is gone."""
    address, process, config = tokengate
    for _ in range(3):  # the first verifies, the others are cache hits
        assert fcgi_client.request(address, params("/app/x", world.owner))[0] == 200
    other_private = os.path.join(workdir, "other.pem")
    other_public = os.path.join(workdir, "other.pub")
    harness.run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                "-out", other_private)
    harness.run("openssl", "pkey", "-in", other_private, "-pubout", "-out", other_public)
    with open(config) as f:
        text = f.read()
    with open(config, "w") as f:
        f.write(text.replace(world.public_key, other_public))
    process.send(signal.SIGHUP)
    harness.wait_for(lambda: "configuration reloaded" in process.output(), "reload")
    status, headers, _, _ = fcgi_client.request(address, params("/app/x", world.owner))
    assert status == 401
    assert "signature is invalid" in headers["WWW-Authenticate"]


def test_an_unsupported_role_is_refused_with_400(tokengate, world):
    filter_role = 3  # FCGI_FILTER: neither authorizer nor responder
    status, headers, body, _ = fcgi_client.request(
        tokengate[0], params("/open/x", world.owner), role=filter_role)
    assert status == 400
    assert headers["Content-Type"] == "application/json"
    assert "unsupported FastCGI role" in body
