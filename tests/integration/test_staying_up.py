# SPDX-License-Identifier: Apache-2.0
"""Staying up: what a hostile client of tokengate's socket tries (any local
user on the TCP port, any CGI script on the unix socket), and how tokengate
keeps answering everyone else."""
import os
import random
import resource
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

import fcgi_client
import harness


def params(path, token=None):
    result = {"REQUEST_METHOD": "GET", "REQUEST_URI": path, "QUERY_STRING": ""}
    if token:
        result["HTTP_AUTHORIZATION"] = "Bearer " + token
    return result


def record(kind, request_id, content, padding=0):
    return (struct.pack("!BBHHBx", 1, kind, request_id, len(content), padding) + content +
            b"\0" * padding)


def begin(request_id=1, role=fcgi_client.AUTHORIZER, flags=0):
    return record(fcgi_client.BEGIN_REQUEST, request_id, struct.pack("!HB5x", role, flags))


@pytest.fixture(scope="module", autouse=True)
def descriptors():
    """Room for a thousand connections in this process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def start(world, workdir, extra="", tcp=True, **popen):
    port = harness.free_port()
    address = ("127.0.0.1", port) if tcp else os.path.join(workdir, "tg.sock")
    listen = "127.0.0.1:%d" % port if tcp else address
    config = world.config("up-%s.conf" % os.path.basename(workdir), listen=listen,
                          extra="threads = 4\n" + extra)
    log = os.path.join(workdir, "tokengate.log")
    process = harness.Process([harness.TOKENGATE, "-c", config], log, **popen)
    if tcp:
        harness.wait_for(lambda: harness.port_open(port), "tokengate")
    else:
        harness.wait_for(lambda: os.path.exists(address), "tokengate")
    return address, process


def answered_at_once(address, world, limit=1.0):
    started = time.monotonic()
    status = fcgi_client.request(address, params("/app/x", world.owner))[0]
    elapsed = time.monotonic() - started
    assert status == 200
    assert elapsed < limit, elapsed
    return elapsed


def test_idle_and_slow_connections_hold_no_worker(world, workdir):
    address, process = start(world, workdir, "request_timeout = 3\n")
    idle = []
    try:
        for _ in range(1000):
            sock = socket.create_connection(address)
            idle.append(sock)
        stop = threading.Event()
        slow = [socket.create_connection(address) for _ in range(100)]
        request = begin() + record(fcgi_client.PARAMS, 1, fcgi_client._params(
            params("/app/x", world.owner)))

        def dribble():
            for i in range(len(request)):
                for sock in slow:
                    try:
                        sock.send(request[i:i + 1])
                    except OSError:
                        pass
                if stop.wait(0.2):
                    return

        dribbler = threading.Thread(target=dribble)
        dribbler.start()
        time.sleep(0.5)
        # Four workers, eleven hundred connections: fresh requests still pass.
        for _ in range(20):
            answered_at_once(address, world)
        # A connection that has not delivered its request in time is closed.
        idle[0].settimeout(6)
        assert idle[0].recv(1) == b""
        stop.set()
        dribbler.join()
        for sock in slow:
            sock.settimeout(6)
            try:
                assert sock.recv(1) == b""
            except ConnectionResetError:
                pass
        answered_at_once(address, world)
        assert process.process.poll() is None
    finally:
        for sock in idle:
            sock.close()
        process.stop()


def test_the_connection_limit_makes_the_backlog_wait(world, workdir):
    address, process = start(world, workdir, "max_connections = 5\nrequest_timeout = 2\n")
    held = [socket.create_connection(address) for _ in range(5)]
    try:
        time.sleep(0.3)
        # The sixth connection is accepted by the kernel but not served
        # until one of the five goes away.
        waiting = fcgi_client.connect(address)
        waiting.settimeout(5)
        started = time.monotonic()
        status = fcgi_client.request(address, params("/app/x", world.owner), sock=waiting)[0]
        assert status == 200
        # Served only once the held connections timed out (2 s).
        assert time.monotonic() - started > 1.0
        waiting.close()
    finally:
        for sock in held:
            sock.close()
        process.stop()


def crash_variants(count, seed):
    """The CVE-2025-23016 record (name length 0x7ffffffe with the high bit set,
    value length 2) and variants of it: other huge lengths, lengths that
    overrun the stream, records cut short, bad headers."""
    rng = random.Random(seed)
    yield begin() + record(fcgi_client.PARAMS, 1, b"\xff\xff\xff\xfe\x02ABC") + \
        record(fcgi_client.PARAMS, 1, b"")
    for _ in range(count):
        name_len = rng.choice([0x7fffffff, 0x7ffffffe, 0x7fffff00, 0x40000000, 65536, 300, 9])
        value_len = rng.choice([0x7fffffff, 2, 0, 200, 0x10000])
        body = struct.pack("!II", name_len | 0x80000000, value_len | 0x80000000)
        body += os.urandom(rng.randrange(0, 40))
        kind = rng.choice(["lengths", "short", "header", "type", "interleave"])
        if kind == "lengths":
            data = begin() + record(fcgi_client.PARAMS, 1, body) + \
                record(fcgi_client.PARAMS, 1, b"")
        elif kind == "short":
            data = begin() + record(fcgi_client.PARAMS, 1, body)[:rng.randrange(1, 12)]
        elif kind == "header":
            data = bytes([rng.choice([0, 2, 255])]) + begin()[1:] + body
        elif kind == "type":
            data = begin() + record(rng.choice([0, 6, 9, 11, 200]), rng.choice([0, 1]), body)
        else:
            data = begin(1) + begin(2) + record(fcgi_client.PARAMS, 1, body)
        yield data


def test_crafted_records_close_their_connection_and_nothing_else(world, workdir):
    address, process = start(world, workdir, "request_timeout = 2\n")
    try:
        pid = process.process.pid
        for data in crash_variants(50, seed=20261201):
            sock = socket.create_connection(address)
            sock.settimeout(5)
            sock.sendall(data)
            try:
                # Closed (or, for a cut record, timed out and closed); never
                # answered, and the process goes on.
                assert sock.recv(65536) == b""
            except ConnectionResetError:
                pass
            sock.close()
            assert process.process.poll() is None, process.output()
        assert process.process.pid == pid
        answered_at_once(address, world)
        # A request larger than max_request_bytes is refused the same way.
        big = fcgi_client._params(dict(params("/app/x", world.owner), HTTP_X="x" * 70000))
        sock = socket.create_connection(address)
        sock.settimeout(5)
        data = begin()
        for start_at in range(0, len(big), 65535):
            data += record(fcgi_client.PARAMS, 1, big[start_at:start_at + 65535])
        try:
            sock.sendall(data + record(fcgi_client.PARAMS, 1, b""))
            assert sock.recv(65536) == b""
        except (ConnectionResetError, BrokenPipeError):
            pass
        sock.close()
        answered_at_once(address, world)
    finally:
        process.stop()
    assert process.process.returncode == 0


def spawn(args, **popen):
    """A tokengate started with its standard descriptors as POPEN says."""
    return subprocess.Popen(args, start_new_session=True, **popen)


def stopped(process):
    """SIGTERM, then the exit status (killed if it does not stop)."""
    try:
        process.send_signal(signal.SIGTERM)
        return process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_stderr_nobody_reads_never_holds_up_requests(world, workdir):
    port = harness.free_port()
    config = world.config("pipe.conf", listen="127.0.0.1:%d" % port,
                          extra="threads = 4\nlog_level = debug\n")
    process = spawn([harness.TOKENGATE, "-c", config], stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        harness.wait_for(lambda: harness.port_open(port), "tokengate")
        address = ("127.0.0.1", port)
        # Each decision logs a line; 3,000 of them are far more than a pipe
        # holds (64 KiB, about 400 lines), and nobody reads it.
        for _ in range(3000):
            assert fcgi_client.request(address, params("/app/x", world.owner))[0] == 200
        answered_at_once(address, world)
        assert stopped(process) == 0
    finally:
        stopped(process)
        process.stderr.close()


def test_started_with_standard_descriptors_closed(world, workdir):
    """Some spawners start programs with fds 0-2 closed: the sockets must not
    take them, or log lines would land inside responses."""
    port = harness.free_port()
    config = world.config("closed.conf", listen="127.0.0.1:%d" % port,
                          extra="threads = 2\nlog_level = debug\n")
    process = spawn(["/bin/sh", "-c", 'exec "$0" -c "$1" <&- >&- 2>&-', harness.TOKENGATE,
                     config])
    try:
        harness.wait_for(lambda: harness.port_open(port), "tokengate")
        address = ("127.0.0.1", port)
        for path, token, status in [("/app/x", world.owner, 200), ("/app/x", None, 401),
                                    ("/orgs/o-1/admin/x", world.member, 403)] * 20:
            answer = fcgi_client.request(address, params(path, token))
            assert answer[0] == status
            assert "tokengate[" not in answer[3]
        assert stopped(process) == 0
    finally:
        stopped(process)
