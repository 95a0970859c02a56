# SPDX-License-Identifier: Apache-2.0
"""The differential harness (differential.py) through every real server:
no request the server served and the application read may be one that
`tokengate check` would not allow with the same credential, and ordinary
requests must still be served.

DIFF_TARGETS sets the number of generated targets per server (default 300),
DIFF_SEED the seed (default: the time; every failure names it)."""
import os
import random
import time

import pytest

import differential
import servers

TARGETS = int(os.environ.get("DIFF_TARGETS", "300"))
SEED = int(os.environ.get("DIFF_SEED", str(int(time.time()))))


@pytest.fixture(scope="module")
def differential_world(scratch):
    directory = os.path.join(scratch, "differential-world")
    os.mkdir(directory)
    return differential.DifferentialWorld(directory)


@pytest.fixture(scope="module", params=["lighttpd", "nginx", "apache-authnz-fcgi",
                                        "apache-fcgid"])
def probed_server(request, differential_world, scratch):
    directory = os.path.join(scratch, "differential-" + request.param)
    os.mkdir(directory, 0o755)
    started = servers.start(request.param, differential_world, directory)
    yield started
    started.stop()


def test_no_generated_target_is_served_beyond_what_tokengate_allows(probed_server,
                                                                     differential_world):
    rng = random.Random("%d/%s" % (SEED, probed_server.name))
    requests = [differential.generate(rng) for _ in range(TARGETS)]
    sent, served, problems = differential.run(
        probed_server, differential_world, differential_world.config("check.conf"), requests)
    print("%s: seed %d, %d targets, %d served" % (probed_server.name, SEED, sent, served))
    assert not problems, "seed %d (DIFF_SEED=%d to repeat):\n%s" % (
        SEED, SEED, "\n".join(problems[:30]))
    # A grammar that never reaches the probe would prove nothing.
    assert served >= sent // 20, "only %d of %d targets were served" % (served, sent)


def test_ordinary_requests_are_served(probed_server, differential_world):
    refused = differential.ordinary_refusals(probed_server, differential_world)
    assert not refused, "\n".join(refused)


@pytest.mark.parametrize("method, target, headers, credential", [
    # The reproductions, each decided on what the server serves.
    ("GET", "/orgs/o-1/admin/probe.cgi#/../../../../open/x", [], "none"),
    ("GET", "/orgs/o-1/admin%2Fprobe.cgi", [], "member"),
    ("GET", "/h/probe.cgi", [("X-Org", "o-2"), ("X_Org", "o-1")], "member2"),
    ("GET", "/h/probe.cgi", [("X-Org", "o-2"), ("X-Org", "o-1")], "member2"),
    ("GET", "/q/probe.cgi?%6Frg=o-1&org=o-2", [], "member2"),
    ("post", "/ro/probe.cgi", [], "none"),
    ("GET", "/caf%C3%A9/probe.cgi", [], "none"),
    ("GET", "/%7Ealice/probe.cgi", [], "none"),
])
def test_reproductions_are_refused_or_decided_on_what_is_served(
        probed_server, differential_world, method, target, headers, credential):
    token = differential_world.credentials()[credential]
    status, body = differential.send(probed_server.port, method, target, headers, token)
    if differential.PROBE_MARK in body:
        # Served: only when the server passed one reading (nginx and Apache
        # drop X_Org), and then tokengate decided on exactly that reading.
        oracle = differential.Oracle(differential_world,
                                     differential_world.config("check.conf"))
        problem = oracle.judge((method, target, headers, credential), status, body)
        assert problem is None, problem
        assert ("X_Org", "o-1") in headers and probed_server.name != "lighttpd", body
    else:
        assert status != 200, body
