# SPDX-License-Identifier: Apache-2.0
"""Two tokengate nodes sharing one real redis-server (contract section 11):
API-key validations made once for the fleet, revocations applied by every
node within a second, and Redis going away and coming back."""
import concurrent.futures
import os
import re
import signal
import subprocess
import tempfile
import time

import pytest

import harness
from provider import Provider
from test_apikeys import Keys, Node, assert_no_key_slice, new_key, status_of


class Redis:
    """A redis-server on a unix socket in DIRECTORY, started with
    contrib/redis/redis-tokengate.conf (its paths moved into DIRECTORY)
    but without persistence: what it held is gone when it is killed, as
    the tests want."""

    def __init__(self, directory):
        self.directory = directory
        self.socket = os.path.join(directory, "redis.sock")
        # redis-server reads its configuration's path as a glob: a test's
        # directory ("test_x[param]-...") would match nothing.
        self.config = os.path.join(tempfile.mkdtemp(prefix="redis-",
                                                    dir=os.path.dirname(directory)),
                                   "redis-tokengate.conf")
        with open(self.config, "w") as out:
            out.write(harness.contrib("redis/redis-tokengate.conf", {
                "/run/redis-tokengate/redis-server.sock": self.socket,
                "/var/lib/redis": directory,
            }))
        self.starts = 0
        self.start()

    def start(self):
        self.starts += 1
        log = os.path.join(self.directory, "redis-%d.log" % self.starts)
        self.process = harness.Process(["redis-server", self.config, "--save", ""], log)
        try:
            harness.wait_for(lambda: self.cli("PING") == "PONG", "redis-server")
        except Exception:
            self.process.stop(signal.SIGKILL)
            raise

    def cli(self, *args):
        result = subprocess.run(["redis-cli", "-s", self.socket] + list(args),
                                capture_output=True, text=True, timeout=10)
        return result.stdout.strip()

    def kill(self):
        self.process.stop(signal.SIGKILL)
        if os.path.exists(self.socket):
            os.unlink(self.socket)


@pytest.fixture
def redis(workdir):
    running = Redis(workdir)
    yield running
    running.kill()


@pytest.fixture
def provider(workdir):
    running = Provider(os.path.join(workdir))
    running.keys_for_tests = Keys()
    running.api_keys = dict(running.keys_for_tests.answers)
    yield running
    running.stop()


def fleet_section(redis, prefix="t:"):
    return "[fleet]\nredis = unix:%s\nredis_prefix = %s\n" % (redis.socket, prefix)


@pytest.fixture
def nodes(world, workdir, provider, redis):
    started = [Node(world, workdir, provider, sections=fleet_section(redis), name=name)
               for name in ("a", "b")]
    for node in started:
        harness.wait_for(lambda: "tokengate_redis_up 1" in node.metrics(), "node on Redis")
    yield started
    for node in started:
        node.stop()


def revoke(node, *args):
    return subprocess.run([harness.TOKENGATE, "revoke", "-c", node.config] + list(args),
                          capture_output=True, text=True, timeout=30)


def wait_until(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_one_validation_for_a_new_key_across_the_fleet(nodes, provider):
    """200 concurrent requests with one new key, spread over both nodes:
    PropelAuth is asked once."""
    fresh = new_key()
    provider.api_keys[fresh] = provider.keys_for_tests.answers[provider.keys_for_tests.personal]
    provider.validate_delay = 0.3
    before = provider.validations()
    with concurrent.futures.ThreadPoolExecutor(max_workers=40) as pool:
        results = list(pool.map(lambda i: status_of(nodes[i % 2].request("/keys/x", fresh)),
                                range(200)))
    assert results == [200] * 200
    assert provider.validations() == before + 1
    # The other node's answer came from Redis, which holds the key's hash.
    assert any("tokengate_api_key_fleet_hits_total 1" in node.metrics() for node in nodes)


def test_redis_holds_hashes_never_keys(nodes, provider, redis):
    keys = provider.keys_for_tests
    assert status_of(nodes[0].request("/keys/x", keys.personal)) == 200
    assert status_of(nodes[1].request("/keys/x", keys.unknown)) == 401
    names = redis.cli("--scan")
    dump = names + "".join(redis.cli("GET", name) for name in names.split())
    assert re.search(r"t:apikey:[0-9a-f]{64}", names), names
    assert_no_key_slice([dump], [keys.personal, keys.unknown])


def test_revoked_user_is_refused_by_both_nodes_within_a_second(nodes, world):
    older = world.mint({"user_id": "rev-1", "org_id_to_org_member_info": {}})
    other = world.mint({"user_id": "rev-2", "org_id_to_org_member_info": {}})
    assert [status_of(node.request("/app/x", token=older)) for node in nodes] == [200, 200]
    result = revoke(nodes[0], "--user", "rev-1", "--for", "60")
    assert result.returncode == 0, result.stderr
    assert "revoked user rev-1 until" in result.stdout
    started = time.monotonic()
    for node in nodes:
        assert wait_until(lambda: status_of(node.request("/app/x", token=older)) == 401,
                          1.0 - (time.monotonic() - started)), node.output()
    response = nodes[1].request("/app/x", token=older)
    assert "revoked" in response[3]
    assert [status_of(node.request("/app/x", token=other)) for node in nodes] == [200, 200]
    # A token issued after the revocation's second passes.
    time.sleep(1.1)
    newer = world.mint({"user_id": "rev-1", "org_id_to_org_member_info": {}})
    assert [status_of(node.request("/app/x", token=newer)) for node in nodes] == [200, 200]
    assert "tokengate_refusals_total{reason=\"revoked\"}" in nodes[0].metrics()


def test_revoked_api_key_and_org(nodes, provider, world):
    keys = provider.keys_for_tests
    assert status_of(nodes[0].request("/korgs/o-1/member/x", keys.org_only)) == 200
    assert status_of(nodes[1].request("/korgs/o-1/member/x", keys.personal)) == 200
    result = subprocess.run([harness.TOKENGATE, "revoke", "-c", nodes[0].config, "--api-key", "-"],
                            input=keys.org_only + "\n", capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stderr
    assert_no_key_slice([result.stdout, result.stderr], [keys.org_only])
    for node in nodes:
        assert wait_until(lambda: status_of(node.request("/korgs/o-1/member/x",
                                                         keys.org_only)) == 401, 1.0)
    # Every request decided in a revoked org: tokens and keys alike.
    assert status_of(nodes[0].request("/orgs/o-1/admin/x", token=world.owner)) == 200
    assert revoke(nodes[1], "--org", "o-1").returncode == 0
    for node in nodes:
        assert wait_until(lambda: status_of(node.request("/orgs/o-1/admin/x",
                                                         token=world.owner)) == 401, 1.0)
        assert status_of(node.request("/korgs/o-1/member/x", keys.personal)) == 401
    assert status_of(nodes[0].request("/app/x", token=world.owner)) == 200


def test_redis_down_and_back(nodes, provider, redis, world):
    keys = provider.keys_for_tests
    for node in nodes:
        assert status_of(node.request("/keys/x", keys.personal)) == 200   # cached on each
    redis.kill()
    for node in nodes:
        assert wait_until(lambda: "tokengate_redis_up 0" in node.metrics(), 3), node.output()
        # Still deciding: tokens, cached keys, and new keys straight from PropelAuth.
        assert status_of(node.request("/app/x", token=world.owner)) == 200
        assert status_of(node.request("/keys/x", keys.personal)) == 200
        assert status_of(node.request("/keys/x", keys.generic)) == 200
    time.sleep(1)
    for node in nodes:
        assert node.output().count("is unreachable") == 1, node.output()
    # Back, empty: a revocation made before the nodes reconnect reaches
    # them when they load what Redis holds.
    redis.start()
    victim = world.mint({"user_id": "rev-3", "org_id_to_org_member_info": {}})
    result = revoke(nodes[0], "--user", "rev-3")
    assert result.returncode == 0, result.stderr
    for node in nodes:
        assert wait_until(lambda: "tokengate_redis_up 1" in node.metrics(), 7), node.output()
        assert wait_until(lambda: status_of(node.request("/app/x", token=victim)) == 401, 1)
        assert "connected to Redis" in node.output()


def test_revoke_needs_a_fleet(world, workdir, provider):
    node = Node(world, workdir, provider, name="single")
    try:
        result = revoke(node, "--user", "someone")
        assert result.returncode == 2
        assert "[fleet] redis" in result.stderr
    finally:
        node.stop()


def test_revoke_with_redis_down_fails(world, workdir, provider, redis):
    node = Node(world, workdir, provider, sections=fleet_section(redis), name="lonely")
    try:
        redis.kill()
        result = revoke(node, "--user", "someone")
        assert result.returncode == 1
        assert "Redis at unix:" in result.stderr
    finally:
        node.stop()


@pytest.mark.parametrize("args", [[], ["--user", "a", "--org", "b"], ["--user", "a", "--for", "0"],
                                  ["--user", "a b"], ["--for", "10"], ["--user"]])
def test_revoke_usage_errors(world, workdir, provider, redis, args):
    config = world.config("usage.conf", sections=fleet_section(redis))
    result = subprocess.run([harness.TOKENGATE, "revoke", "-c", config] + args,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2, (args, result.stderr)


def fill(redis, count, prefix="t:"):
    """COUNT revocations of other users, written in one pipeline."""
    now = int(time.time())
    commands = []
    for i in range(count):
        line = "user %d %d filler-%d" % (now, now + 600, i)
        name = "%srevoked:user:filler-%d" % (prefix, i)
        parts = ["SET", name, line, "EX", "600"]
        commands.append("*%d\r\n" % len(parts) +
                        "".join("$%d\r\n%s\r\n" % (len(p), p) for p in parts))
    result = subprocess.run(["redis-cli", "-s", redis.socket, "--pipe"],
                            input="".join(commands), capture_output=True, text=True, timeout=60)
    assert "errors: 0" in result.stdout, result.stdout


def test_a_node_starts_with_the_revocations_redis_holds(world, workdir, provider, redis, nodes):
    """The first request a new node decides already sees every revocation,
    however many Redis holds: the node loads them before it serves."""
    fill(redis, 9000)
    victim = world.mint({"user_id": "rev-4", "org_id_to_org_member_info": {}})
    assert revoke(nodes[0], "--user", "rev-4").returncode == 0
    late = Node(world, workdir, provider, sections=fleet_section(redis), name="late",
                wait=False)
    try:
        # The request is in the socket's backlog the moment it listens.
        deadline = time.monotonic() + 10
        while True:
            try:
                first = late.request("/app/x", token=victim)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                assert time.monotonic() < deadline, late.output()
        assert status_of(first) == 401, late.output()
        assert status_of(late.request("/app/x", token=world.owner)) == 200
    finally:
        late.stop()


def test_a_redis_that_never_answers_stalls_nothing(world, workdir, provider):
    """Something that accepts on the Redis socket and never answers: the
    node starts (the wait for revocations is bounded), says Redis is down,
    and decides tokens and new keys without waiting on it."""
    import socket
    import threading
    path = os.path.join(workdir, "redis-mute.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(16)
    held = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except socket.timeout:
                pass

    thread = threading.Thread(target=accept)
    thread.start()
    node = None
    try:
        started = time.monotonic()
        node = Node(world, workdir, provider, name="mute",
                    sections="[fleet]\nredis = unix:%s\n" % path)
        assert time.monotonic() - started < 8, node.output()
        assert wait_until(lambda: "tokengate_redis_up 0" in node.metrics(), 5), node.output()
        started = time.monotonic()
        assert status_of(node.request("/app/x", token=world.owner)) == 200
        assert status_of(node.request("/keys/x", provider.keys_for_tests.personal)) == 200
        assert time.monotonic() - started < 2.0
    finally:
        stop.set()
        thread.join()
        if node:
            node.stop()
        for sock in held:
            sock.close()
        listener.close()


def test_a_malformed_shared_result_is_not_trusted(nodes, provider, redis):
    """What Redis holds under a key's name is read strictly: a value that
    is not a validation is a miss, and PropelAuth is asked."""
    import hashlib
    answer = provider.keys_for_tests.answers[provider.keys_for_tests.personal]
    for garbage in ("valid", "valid 0 99999999999\n{not json", "valid 0 99999999999\n[1]",
                    "invalid x y", "unavailable 5 99999999999\n", "\n"):
        key = new_key()
        provider.api_keys[key] = answer
        redis.cli("SET", "t:apikey:" + hashlib.sha256(key.encode()).hexdigest(), garbage,
                  "EX", "60")
        before = provider.validations()
        assert status_of(nodes[0].request("/keys/x", key)) == 200, garbage
        assert provider.validations() == before + 1, garbage
