# SPDX-License-Identifier: Apache-2.0
"""status_listen: metrics and /health on a socket of their own (contract
section 8), scraped through each real web server with contrib/'s snippets
and read back with Debian's python3-prometheus-client; the main socket
never answers them."""
import os
import signal
import socket
import struct
import subprocess
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

import fcgi_client
import harness
import servers

CONTENT_TYPE = "text/plain; version=0.0.4"


def params(path, token=None):
    result = {"REQUEST_METHOD": "GET", "REQUEST_URI": path, "REMOTE_ADDR": "127.0.0.1"}
    if token:
        result["HTTP_AUTHORIZATION"] = "Bearer " + token
    return result


def samples(text):
    """{(name, frozenset(labels)): value} of every sample in the exposition."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found, name, **labels):
    return found.get((name, frozenset(labels.items())), 0)


class Gate:
    def __init__(self, world, workdir, extra="", token_section=None):
        self.address = os.path.join(workdir, "tg.sock")
        self.status = os.path.join(workdir, "status.sock")
        self.config = world.config("status-%s.conf" % os.path.basename(workdir),
                                   listen=self.address,
                                   extra="status_listen = %s\n%s" % (self.status, extra))
        if token_section is not None:
            with open(self.config) as source:
                text = source.read()
            start = text.index("[token]")
            end = text.index("\n[", start + 1)
            with open(self.config, "w") as out:
                out.write(text[:start] + token_section + text[end:])
        self.process = harness.Process([harness.TOKENGATE, "-c", self.config],
                                       os.path.join(workdir, "tokengate.log"))
        harness.wait_for(lambda: os.path.exists(self.status) or self.process.process.poll()
                         is not None, "status socket")
        assert self.process.process.poll() is None, self.process.output()
        # Both sockets as any web server's user can reach them.
        os.chmod(self.status, 0o666)

    def scrape(self, path="/metrics"):
        return fcgi_client.request(self.status, params(path), role=fcgi_client.RESPONDER)


@pytest.fixture
def gate(world, workdir):
    started = Gate(world, workdir)
    yield started
    started.process.stop()


def test_metrics_count_decisions_and_refusals(gate, world):
    for path, token in [("/app/x", world.owner), ("/app/x", world.owner), ("/app/x", None),
                        ("/app/x", world.expired), ("/orgs/o-1/admin/x", world.member),
                        ("/nowhere", world.owner), ("/app/%2F", world.owner)]:
        fcgi_client.request(gate.address, params(path, token))
    status, headers, body, _ = gate.scrape()
    assert status == 200
    assert headers["Content-Type"] == CONTENT_TYPE
    found = samples(body)
    assert value(found, "tokengate_build_info", version=harness.run(harness.TOKENGATE, "--version").stdout.split()[1]) == 1
    assert value(found, "tokengate_decisions_total", status="200", rule="app") == 2
    assert value(found, "tokengate_decisions_total", status="401", rule="app") == 2
    assert value(found, "tokengate_decisions_total", status="403", rule="admin") == 1
    assert value(found, "tokengate_decisions_total", status="403", rule="(default)") == 1
    assert value(found, "tokengate_decisions_total", status="400", rule="-") == 1
    for reason, count in [("no_credential", 1), ("expired", 1), ("role", 1),
                          ("deny_rule", 1), ("bad_request", 1), ("invalid_token", 0),
                          ("no_keys", 0)]:
        assert value(found, "tokengate_refusals_total", reason=reason) == count, reason
    assert value(found, "tokengate_decision_duration_seconds_count") == 7
    assert value(found, "tokengate_decision_duration_seconds_bucket", le="+Inf") == 7
    assert value(found, "tokengate_token_cache_misses_total") >= 1
    assert value(found, "tokengate_token_cache_hits_total") >= 1
    assert value(found, "tokengate_keys_loaded") == 1
    assert ("tokengate_connections_open", frozenset()) in found
    assert value(found, "tokengate_connections_closed_total", reason="timeout") == 0
    assert value(found, "tokengate_log_lines_dropped_total") == 0

    # Reloads are counted, refused ones too; the counts survive them.
    gate.process.send(signal.SIGHUP)
    harness.wait_for(lambda: "configuration reloaded" in gate.process.output(), "reload")
    with open(gate.config, "a") as out:
        out.write("\n[rule broken]\nbogus = 1\n")
    gate.process.send(signal.SIGHUP)
    harness.wait_for(lambda: "reload failed" in gate.process.output(), "refused reload")
    found = samples(gate.scrape()[2])
    assert value(found, "tokengate_config_reloads_total", result="success") == 1
    assert value(found, "tokengate_config_reloads_total", result="failure") == 1
    assert value(found, "tokengate_decisions_total", status="200", rule="app") == 2


def test_a_token_of_an_unknown_key_is_verified_once(gate, world, workdir):
    """With keys from files only, a request whose token names an unknown
    kid asks the refresher (which has nothing to fetch) and its decision
    stands: the signature is not checked a second time (commit a00fee2).
    The cache counts every signature looked up."""
    other = os.path.join(workdir, "other.pem")
    harness.run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                "-out", other)
    forged = subprocess.run([harness.TOKENGATE, "mint", "--key", other, "--kid", "zzz", "-"],
                            input='{"iss": "https://auth.example.com", "user_id": "x"}',
                            capture_output=True, text=True, check=True).stdout.strip()
    assert fcgi_client.request(gate.address, params("/app/x", forged))[0] == 401
    found = samples(gate.scrape()[2])
    assert value(found, "tokengate_refusals_total", reason="unknown_kid") == 1
    assert value(found, "tokengate_token_cache_misses_total") == 1


def test_health_says_ok_while_a_key_is_loaded(gate):
    status, headers, body, _ = gate.scrape("/health")
    assert (status, body) == (200, "ok\n")
    # Any path that ends in /health, as a web server's prefix leaves it.
    assert gate.scrape("/tokengate/health")[0] == 200


def test_health_is_503_without_keys(world, workdir, tmp_path):
    # A provider that never answers: no key is ever loaded.
    gate = Gate(world, workdir, token_section="[token]\njwks = https://127.0.0.1:9/jwks.json\n"
                "issuer = https://auth.example.com\nrefresh_interval = 3600\n")
    try:
        status, _, body, _ = gate.scrape("/health")
        assert status == 503
        assert body == "no verification key is loaded\n"
        found = samples(gate.scrape()[2])
        assert value(found, "tokengate_keys_loaded") == 0
        harness.wait_for(lambda: value(samples(gate.scrape()[2]), "tokengate_key_fetches_total",
                                       source="https://127.0.0.1:9/jwks.json",
                                       result="failure") >= 1, "a failed fetch counted")
    finally:
        gate.process.stop()


def test_main_socket_never_answers_status(gate, world):
    """A status path on the main socket is a decision like any other: any
    client's URL must not turn a decision into a metrics page."""
    for path in ("/metrics", "/health", "/app/health", "/open/metrics"):
        status, headers, body, _ = fcgi_client.request(gate.address, params(path, world.owner))
        assert "tokengate_" not in body and body != "ok\n", path
        assert headers.get("Content-Type") != CONTENT_TYPE
    # And the status socket never decides, whatever the request carries.
    status, headers, body, _ = fcgi_client.request(
        gate.status, params("/app/x", world.owner), role=fcgi_client.AUTHORIZER)
    assert status == 200 and "Variable-AUTH_USER_ID" not in headers
    assert "tokengate_decisions_total" in body


def test_status_listen_must_differ_from_listen(world, workdir):
    config = world.config("same.conf", listen=os.path.join(workdir, "x.sock"),
                          extra="status_listen = %s\n" % os.path.join(workdir, "x.sock"))
    result = subprocess.run([harness.TOKENGATE, "-t", "-c", config], capture_output=True,
                            text=True)
    assert result.returncode == 1
    assert "status_listen must differ from listen" in result.stderr


STATUS_SNIPPETS = {
    "lighttpd": "lighttpd/tokengate-status.conf",
    "nginx": "nginx/tokengate-status.conf",
    "apache": "apache2/tokengate-status.conf",
}


def status_server(name, world, gate, directory):
    """NAME with the authorizer in front of the application and contrib/'s
    status snippet on a port of its own."""
    server = servers.Server(name, directory)
    status_port = harness.free_port()
    snippet = harness.contrib(STATUS_SNIPPETS[name], {
        "127.0.0.1:9180": "127.0.0.1:%d" % status_port,
        "/run/tokengate/status.sock": gate.status})
    if name == "lighttpd":
        main = harness.contrib("lighttpd/tokengate.conf", {
            "/srv/www": world.docroot, "/run/tokengate/tokengate.sock": gate.address})
        conf = os.path.join(directory, "lighttpd.conf")
        with open(conf, "w") as out:
            out.write('server.document-root = "%s"\nserver.port = %d\nserver.bind = '
                      '"127.0.0.1"\nserver.errorlog = "%s/error.log"\n%s\n%s\n'
                      % (world.docroot, server.port, directory, main, snippet))
        server.start([servers.require("lighttpd"), "-D", "-f", conf], "lighttpd.out.log")
    elif name == "nginx":
        conf = os.path.join(directory, "nginx.conf")
        temp = os.path.join(directory, "temp")
        os.makedirs(temp)
        user = "user root root;\n" if os.geteuid() == 0 else ""
        with open(conf, "w") as out:
            out.write("%spid %s/nginx.pid;\nerror_log %s/error.log warn;\nevents {}\nhttp {\n"
                      "access_log off;\nclient_body_temp_path %s/body;\n"
                      "fastcgi_temp_path %s/fastcgi;\n%s\n}\n"
                      % (user, directory, directory, temp, temp, snippet))
        server.start([servers.require("nginx"), "-p", directory, "-c", conf, "-g",
                      "daemon off;"], "nginx.out.log")
    else:
        conf = servers.apache_skeleton(directory, server.port, world.docroot,
                                       ["mpm_prefork", "authn_core", "authz_core", "authz_host",
                                        "mime", "proxy", "proxy_fcgi"], snippet)
        server.start([servers.require("apache2"), "-f", conf, "-DFOREGROUND"],
                     "apache.out.log",
                     env=dict(os.environ, APACHE_RUN_DIR=directory, APACHE_LOCK_DIR=directory,
                              APACHE_LOG_DIR=directory))
    harness.wait_for(lambda: harness.port_open(status_port), name)
    return server, status_port


@pytest.mark.parametrize("name", sorted(STATUS_SNIPPETS))
def test_metrics_and_health_through_each_web_server(gate, world, workdir, name):
    server, port = status_server(name, world, gate, workdir)
    try:
        fcgi_client.request(gate.address, params("/app/x", world.owner))
        status, headers, body = harness.get(port, "/metrics")
        assert status == 200, server.logs()
        assert headers["content-type"].startswith("text/plain"), headers
        found = samples(body)
        assert value(found, "tokengate_decisions_total", status="200", rule="app") == 1
        assert value(found, "tokengate_keys_loaded") == 1
        assert harness.get(port, "/health")[:3:2] == (200, "ok\n")
        # The status port has no authorizer: a token changes nothing, and no
        # decision is counted for the scrapes.
        assert harness.get(port, "/metrics", token="not-a-token")[0] == 200
        found = samples(harness.get(port, "/metrics")[2])
        assert value(found, "tokengate_decision_duration_seconds_count") == 1
        if name == "lighttpd":
            # The same server's main port still asks tokengate first.
            assert harness.get(server.port, "/app/whoami.cgi")[0] == 401
    finally:
        server.stop()


def test_hostile_clients_of_the_status_socket_stall_nothing(world, workdir):
    """The status socket has one worker of its own: idle and dribbling
    clients, and garbage, must neither stall it nor reach the decisions."""
    gate = Gate(world, workdir, extra="request_timeout = 2\n")
    try:
        idle = [socket.socket(socket.AF_UNIX) for _ in range(200)]
        for sock in idle:
            sock.connect(gate.status)
        dribbling = socket.socket(socket.AF_UNIX)
        dribbling.connect(gate.status)
        dribbling.send(struct.pack("!BBHHBx", 1, 1, 1, 8, 0))   # half a BEGIN_REQUEST
        garbage = socket.socket(socket.AF_UNIX)
        garbage.connect(gate.status)
        garbage.send(b"GET /metrics HTTP/1.1\r\n\r\n")
        garbage.settimeout(5)
        assert garbage.recv(1) == b""        # not FastCGI: closed
        started = time.monotonic()
        status, _, body, _ = gate.scrape()
        assert status == 200 and "tokengate_build_info" in body
        assert time.monotonic() - started < 1.0
        # Decisions go on beside them.
        assert fcgi_client.request(gate.address, params("/app/x", world.owner))[0] == 200
        # The half request is closed when request_timeout runs out.
        dribbling.settimeout(6)
        assert dribbling.recv(1) == b""
        status, _, body, _ = gate.scrape("/health")
        assert status == 200 and body.strip() == "ok"
        for sock in idle:
            sock.close()
        assert gate.process.process.poll() is None
    finally:
        gate.process.stop()
