# SPDX-License-Identifier: Apache-2.0
"""Keys that stay fresh: tokengate fetching keys from a real HTTPS provider
on 127.0.0.1 (provider.py) through libcurl, with the provider rotating keys,
refusing, rate limiting, hanging, answering garbage, or gone."""
import concurrent.futures
import json
import os
import signal
import subprocess
import time

import pytest

import fcgi_client
import harness
from provider import DISCOVERY_PATH, JWKS_PATH, METADATA_PATH, Provider, SigningKey

AUTH_URL = "https://auth.example.com"


@pytest.fixture
def provider(workdir):
    running = Provider(workdir)
    yield running
    running.stop()


def request(address, token=None, path="/app/x"):
    params = {"REQUEST_METHOD": "GET", "REQUEST_URI": path, "QUERY_STRING": ""}
    if token:
        params["HTTP_AUTHORIZATION"] = "Bearer " + token
    return fcgi_client.request(address, params)


class Gate:
    """tokengate configured against PROVIDER; started by start()."""

    def __init__(self, workdir, provider, source, extra="", token_extra="", min_interval=1):
        self.workdir = workdir
        self.provider = provider
        self.address = os.path.join(workdir, "tg.sock")
        self.state_dir = os.path.join(workdir, "state")
        self.api_key_file = os.path.join(workdir, "api_key")
        with open(self.api_key_file, "w") as out:
            out.write(provider.api_key + "\n")
        os.chmod(self.api_key_file, 0o600)
        if source == "propelauth":
            token = ("auth_url = %s\napi_key_file = %s\nbackend_url = %s\n"
                     % (AUTH_URL, self.api_key_file, provider.url))
            self.issuer = AUTH_URL
        elif source == "jwks":
            token = "jwks = %s%s\nissuer = %s\n" % (provider.url, JWKS_PATH, AUTH_URL)
            self.issuer = AUTH_URL
        else:
            token = "oidc_issuer = %s\n" % provider.url
            self.issuer = provider.url
        self.config = os.path.join(workdir, "tokengate.conf")
        with open(self.config, "w") as out:
            out.write("[tokengate]\nlisten = %s\nthreads = 8\nlog_level = debug\n"
                      "state_dir = %s\n%s\n" % (self.address, self.state_dir, extra))
            out.write("[token]\n%sca_file = %s\nrefresh_min_interval = %d\n%s\n"
                      % (token, provider.ca_file, min_interval, token_extra))
            out.write("[rule app]\npath = /app/**\n\n[rule maybe]\npath = /maybe/**\n"
                      "require = optional\n")
        self.process = None
        self.logs = []

    def config_replace(self, old, new):
        with open(self.config) as f:
            text = f.read()
        assert old in text, old
        with open(self.config, "w") as f:
            f.write(text.replace(old, new))

    def start(self):
        if os.path.exists(self.address):
            os.unlink(self.address)
        log = os.path.join(self.workdir, "tokengate-%d.log" % len(self.logs))
        self.logs.append(log)
        self.process = harness.Process([harness.TOKENGATE, "-c", self.config], log)
        harness.wait_for(lambda: os.path.exists(self.address) or self.process.process.poll()
                         is not None, "tokengate socket")
        assert self.process.process.poll() is None, self.output()
        return self

    def output(self):
        return self.process.output() if self.process else ""

    def all_output(self):
        text = ""
        for log in self.logs:
            with open(log) as f:
                text += f.read()
        return text

    def stop(self):
        if self.process:
            self.process.stop()

    def token(self, key=None, **claims):
        key = key or self.provider.current
        return key.sign(dict({"user_id": "u-1", "iss": self.issuer}, **claims))

    def wait_for_log(self, text, timeout=10.0):
        try:
            harness.wait_for(lambda: text in self.output(), repr(text), timeout)
        except TimeoutError as error:
            raise AssertionError("%s; the log says:\n%s" % (error, self.output())) from None

    def wait_for_keys(self):
        self.wait_for_log("new keys from")


@pytest.fixture
def gates():
    started = []
    yield started
    for gate in started:
        gate.stop()
        # Whatever happened, no credential may reach a log.
        text = gate.all_output()
        with open(gate.api_key_file) as f:
            assert f.read().strip() not in text


def gate_for(gates, workdir, provider, source, **kwargs):
    gate = Gate(workdir, provider, source, **kwargs)
    gates.append(gate)
    return gate


def test_propelauth_fetch_sends_the_api_key_and_auth_url(gates, workdir, provider):
    gate = gate_for(gates, workdir, provider, "propelauth").start()
    gate.wait_for_keys()
    status, headers, _, _ = request(gate.address, gate.token())
    assert status == 200, headers
    assert headers["Variable-AUTH_USER_ID"] == "u-1"
    sent = [h for path, h in provider.seen_headers if path == METADATA_PATH][0]
    assert sent["Authorization"] == "Bearer " + provider.api_key
    assert sent["X-Propelauth-url"] == "auth.example.com"
    assert sent["User-Agent"].startswith("tokengate/")
    # The key set is saved for the next start.
    saved = os.listdir(gate.state_dir)
    assert len(saved) == 1 and saved[0].startswith("propelauth-")


@pytest.mark.parametrize("trouble, message", [
    ("wrong_key", "PropelAuth refused the API key (401): check api_key_file"),
    ("wrong_auth_url", "PropelAuth does not know this auth URL (404): check auth_url"),
    ("rate_limited", "PropelAuth is rate limiting us (429)"),
    ("server_error", "the provider failed (server error)"),
])
def test_propelauth_refusals_are_explained_and_answer_503(gates, workdir, provider, trouble,
                                                          message):
    gate = gate_for(gates, workdir, provider, "propelauth")
    if trouble == "wrong_key":
        provider.api_key = "another-key-entirely-0000000000"
    elif trouble == "wrong_auth_url":
        provider.auth_authority = "other.example.com"
    elif trouble == "rate_limited":
        provider.set_answer(METADATA_PATH, 429)
        provider.retry_after = 86400
    else:
        provider.set_answer(METADATA_PATH, 500)
    gate.start()
    gate.wait_for_log(message)
    if trouble == "rate_limited":
        # A day's Retry-After is honoured up to refresh_interval (600 s).
        # (Its own log line, which may follow the 429's a moment later.)
        gate.wait_for_log("next attempt in 600 s")
    status, headers, body, _ = request(gate.address, gate.token())
    assert status == 503
    assert int(headers["Retry-After"]) > 0
    assert json.loads(body)["error"] == "temporarily_unavailable"
    # Without a token the rule's answer does not need a key.
    assert request(gate.address)[0] == 401
    if trouble == "rate_limited":
        # Within refresh_min_interval (1 s) of the 429 no request makes it
        # ask again; after it, one demand may, whatever Retry-After said.
        before = provider.count(METADATA_PATH)
        for _ in range(3):
            assert request(gate.address, gate.token())[0] == 503
        assert provider.count(METADATA_PATH) == before
        time.sleep(1.5)
        for _ in range(3):
            assert request(gate.address, gate.token())[0] == 503
        harness.wait_for(lambda: provider.count(METADATA_PATH) == before + 1, "one more fetch")
        time.sleep(0.3)
        assert provider.count(METADATA_PATH) == before + 1


def test_world_readable_api_key_file_is_refused(gates, workdir, provider):
    gate = gate_for(gates, workdir, provider, "propelauth")
    os.chmod(gate.api_key_file, 0o644)
    checked = subprocess.run([harness.TOKENGATE, "-t", "-c", gate.config], capture_output=True,
                             text=True)
    assert checked.returncode == 1
    assert "api_key_file: %s is readable or writable by every user (mode 0644)" \
        % gate.api_key_file in checked.stderr
    assert "tokengate.conf:" in checked.stderr
    server = subprocess.run([harness.TOKENGATE, "-c", gate.config], capture_output=True,
                            text=True, timeout=10)
    assert server.returncode == 1
    assert "chmod 600" in server.stderr
    assert provider.api_key not in checked.stderr + server.stderr


def test_restart_while_the_provider_is_down_uses_the_saved_keys(gates, workdir, provider):
    gate = gate_for(gates, workdir, provider, "propelauth").start()
    gate.wait_for_keys()
    token = gate.token()
    assert request(gate.address, token)[0] == 200
    gate.stop()
    provider.stop()
    gate.start()
    gate.wait_for_log("loaded from %s/propelauth-" % gate.state_dir)
    status, headers, _, _ = request(gate.address, token)
    assert status == 200, headers
    gate.wait_for_log("fetching keys failed")


def test_start_with_nothing_is_503_until_the_provider_answers(gates, workdir, provider):
    provider.set_answer(JWKS_PATH, 500)
    gate = gate_for(gates, workdir, provider, "jwks").start()
    gate.wait_for_log("answered 500")
    token = gate.token()
    status, headers, _, _ = request(gate.address, token)
    assert status == 503 and "Retry-After" in headers
    # An optional rule cannot tell a good token from a bad one either.
    assert request(gate.address, token, "/maybe/x")[0] == 503
    provider.set_answer(JWKS_PATH, "ok")
    # No restart: a request with a token asks for keys (at most once a
    # second here), and the answer arrives.
    harness.wait_for(lambda: request(gate.address, token)[0] == 200, "200 after recovery")
    assert gate.process.process.poll() is None


def test_rotation_is_one_fetch_under_100_concurrent_requests(gates, workdir, provider):
    gate = gate_for(gates, workdir, provider, "jwks").start()
    gate.wait_for_keys()
    old_token = gate.token()
    assert request(gate.address, old_token)[0] == 200   # now cached as well
    new_key = provider.rotate("k-2")
    new_token = gate.token(new_key)
    provider.delay = 0.5        # so that the requests pile up behind one fetch
    before = provider.count(JWKS_PATH)
    with concurrent.futures.ThreadPoolExecutor(max_workers=100) as pool:
        statuses = list(pool.map(lambda _: request(gate.address, new_token)[0], range(100)))
    # At most a quarter of the 8 workers wait for the fetch (and then pass);
    # the others answer at once, so that known keys are never held up.
    assert set(statuses) <= {200, 401}, statuses
    assert 1 <= statuses.count(200), statuses
    assert provider.count(JWKS_PATH) - before == 1
    assert request(gate.address, new_token)[0] == 200
    # The old key is gone from the set: its token, though cached, fails.
    status, headers, _, _ = request(gate.address, old_token)
    assert status == 401
    assert "signing key is not known" in headers["WWW-Authenticate"]


def test_a_slow_fetch_is_joined_not_repeated(gates, workdir, provider):
    """A fetch slower than refresh_min_interval is joined by the requests
    that arrive meanwhile, not followed by a second one (a burst behind a
    slow provider once asked twice)."""
    gate = gate_for(gates, workdir, provider, "jwks").start()   # refresh_min_interval = 1
    gate.wait_for_keys()
    new_key = provider.rotate("k-2", keep_old=True)
    provider.delay = 2.5
    before = provider.count(JWKS_PATH)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)
    first = pool.submit(request, gate.address, gate.token(new_key))
    harness.wait_for(lambda: provider.count(JWKS_PATH) > before, "the slow fetch")
    time.sleep(1.3)   # past refresh_min_interval, the fetch still under way
    second = pool.submit(request, gate.address, gate.token(new_key))
    assert first.result(timeout=15)[0] == 200
    assert second.result(timeout=15)[0] == 200
    assert provider.count(JWKS_PATH) - before == 1


def test_unknown_kids_are_rate_limited(gates, workdir, provider):
    gate = gate_for(gates, workdir, provider, "jwks", min_interval=30).start()
    gate.wait_for_keys()
    stranger = SigningKey("k-stranger")     # never published by the provider
    before = provider.count(JWKS_PATH)
    for _ in range(5):
        status, headers, _, _ = request(gate.address, gate.token(stranger))
        assert status == 401
        assert "signing key is not known" in headers["WWW-Authenticate"]
    # The first asked the provider once; the others are within 30 s of it.
    assert provider.count(JWKS_PATH) - before == 1


def test_hanging_provider_never_delays_known_keys(gates, workdir, provider):
    gate = gate_for(gates, workdir, provider, "jwks").start()
    gate.wait_for_keys()
    known = gate.token()
    provider.set_answer(JWKS_PATH, "hang")
    stranger = gate.token(provider.rotate("k-9", keep_old=True))
    waiting = concurrent.futures.ThreadPoolExecutor(max_workers=1).submit(
        request, gate.address, stranger)
    harness.wait_for(lambda: provider.count(JWKS_PATH) >= 2, "the hanging fetch")
    slowest = 0.0
    for _ in range(50):
        started = time.monotonic()
        assert request(gate.address, known)[0] == 200
        slowest = max(slowest, time.monotonic() - started)
    assert slowest < 0.5, slowest
    assert not waiting.done()     # still waiting for the hanging fetch
    provider.release.set()        # the fetch fails: the stranger is refused
    assert waiting.result(timeout=15)[0] == 401
    assert request(gate.address, known)[0] == 200


def test_fifty_forged_kids_never_delay_known_keys(gates, workdir, provider):
    """With the provider hanging, fifty tokens with random kids at once: at
    most a quarter of the workers wait for the fetch; the other forged ones
    are answered at once, and a token whose key is known never waits."""
    gate = gate_for(gates, workdir, provider, "jwks").start()
    gate.wait_for_keys()
    known = gate.token()
    provider.set_answer(JWKS_PATH, "hang")
    forged = [gate.token(SigningKey("forged-%d" % i)) for i in range(50)]
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=50)
    started = time.monotonic()
    answers = [pool.submit(request, gate.address, token) for token in forged]
    harness.wait_for(lambda: provider.count(JWKS_PATH) >= 2, "the hanging fetch")
    slowest = 0.0
    for _ in range(20):
        before = time.monotonic()
        assert request(gate.address, known)[0] == 200
        slowest = max(slowest, time.monotonic() - before)
    assert slowest < 0.5, slowest
    # All but the few allowed to wait were refused while the fetch hangs.
    quick = [a for a in answers if a.done()]
    assert len(quick) >= 48, len(quick)
    assert all(a.result()[0] == 401 for a in quick)
    assert time.monotonic() - started < 10
    provider.release.set()
    assert all(a.result(timeout=15)[0] == 401 for a in answers)
    pool.shutdown()


def test_garbage_keeps_the_last_good_keys(gates, workdir, provider):
    gate = gate_for(gates, workdir, provider, "jwks").start()
    gate.wait_for_keys()
    known = gate.token()
    provider.set_answer(JWKS_PATH, "garbage")
    stranger = gate.token(provider.rotate("k-9", keep_old=True))
    assert request(gate.address, stranger)[0] == 401
    gate.wait_for_log("not a JWK set")
    assert "the previous keys stay in use" in gate.output()
    assert request(gate.address, known)[0] == 200


def test_oidc_discovery_finds_the_jwks(gates, workdir, provider):
    gate = gate_for(gates, workdir, provider, "oidc").start()
    gate.wait_for_keys()
    assert provider.count(DISCOVERY_PATH) == 1 and provider.count(JWKS_PATH) == 1
    status, headers, _, _ = request(gate.address, gate.token())
    assert status == 200, headers
    # The issuer is the discovery URL: another one is refused.
    assert request(gate.address, gate.token(iss=AUTH_URL))[0] == 401
    # An ES256 key rotated in is found by kid as well.
    es_key = provider.rotate("k-es", keep_old=True, algorithm="ES256")
    status, headers, _, _ = request(gate.address, gate.token(es_key))
    assert status == 401   # ES256 is not on the allow-list (RS256 by default)


def test_oidc_discovery_naming_another_issuer_is_refused(gates, workdir, provider):
    gate = gate_for(gates, workdir, provider, "oidc")
    # Configure the issuer with a trailing path the document does not name.
    gate.config_replace("oidc_issuer = %s" % provider.url,
                        "oidc_issuer = %s/realms/x" % provider.url)
    gate.start()
    gate.wait_for_log("discovery document names issuer")
    assert request(gate.address, gate.token(iss=provider.url + "/realms/x"))[0] == 503


def test_algorithms_allow_list_admits_es256_from_oidc(gates, workdir, provider):
    gate = gate_for(gates, workdir, provider, "oidc",
                    token_extra="algorithms = RS256 ES256").start()
    gate.wait_for_keys()
    es_key = provider.rotate("k-es", keep_old=True, algorithm="ES256")
    status, headers, _, _ = request(gate.address, gate.token(es_key))
    assert status == 200, headers


def test_cache_control_max_age_sets_the_refresh(gates, workdir, provider):
    provider.max_age = 1
    gate = gate_for(gates, workdir, provider, "jwks").start()
    gate.wait_for_keys()
    harness.wait_for(lambda: provider.count(JWKS_PATH) >= 3, "refreshes every second",
                     timeout=8)
    # Without max-age, refresh_interval (600 s) applies: after the first
    # answer without it, no more fetches. (Changed under the provider's lock,
    # so that the count says which answers still carried max-age.)
    with provider.lock:
        provider.max_age = None
        changed_at = provider.counts.get(JWKS_PATH, 0)
    harness.wait_for(lambda: provider.count(JWKS_PATH) > changed_at, "one more fetch",
                     timeout=5)
    settled = provider.count(JWKS_PATH)
    time.sleep(2.5)
    assert provider.count(JWKS_PATH) == settled


def test_skipped_keys_are_reported_once_not_at_every_refresh(gates, workdir, provider):
    provider.extra_jwks = [dict(provider.current.jwk(), kid="k-enc", use="enc")]
    provider.max_age = 1
    gate = gate_for(gates, workdir, provider, "jwks").start()
    gate.wait_for_keys()
    harness.wait_for(lambda: provider.count(JWKS_PATH) >= 3, "two more refreshes", timeout=8)
    assert gate.output().count("(kid k-enc) skipped") == 1, gate.output()
    assert request(gate.address, gate.token())[0] == 200


def test_a_new_unusable_key_is_reported_though_the_usable_ones_stay(gates, workdir, provider):
    """A rotation to a key tokengate cannot use must not go unseen just
    because the keys it can use did not change."""
    provider.max_age = 1
    gate = gate_for(gates, workdir, provider, "jwks").start()
    gate.wait_for_keys()
    with provider.lock:
        provider.extra_jwks = [dict(provider.keys[0].jwk(), kid="k-enc", use="enc")]
    gate.wait_for_log("(kid k-enc) skipped")
    harness.wait_for(lambda: provider.count(JWKS_PATH) >= 4, "two more refreshes", timeout=8)
    assert gate.output().count("(kid k-enc) skipped") == 1, gate.output()


def test_tls_is_verified_without_the_private_ca(gates, workdir, provider):
    gate = gate_for(gates, workdir, provider, "jwks")
    gate.config_replace("ca_file = %s\n" % provider.ca_file, "")
    gate.start()
    gate.wait_for_log("fetching keys failed")
    assert "certificate" in gate.output().lower()
    assert provider.count(JWKS_PATH) == 0          # no request got through
    assert request(gate.address, gate.token())[0] == 503


def test_check_command_fetches_keys(gates, workdir, provider):
    gate = gate_for(gates, workdir, provider, "propelauth")
    result = subprocess.run([harness.TOKENGATE, "check", "-c", gate.config, "--token",
                             gate.token(), "/app/x"], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Status: 200")
    assert provider.count(METADATA_PATH) == 1
    assert provider.api_key not in result.stdout + result.stderr


def test_reload_keeps_fetched_keys(gates, workdir, provider):
    gate = gate_for(gates, workdir, provider, "jwks").start()
    gate.wait_for_keys()
    token = gate.token()
    provider.set_answer(JWKS_PATH, 500)
    gate.process.send(signal.SIGHUP)
    gate.wait_for_log("configuration reloaded")
    # The source is the same: its keys stay, although the provider fails.
    assert "configuration reloaded: 2 rules, 1 keys" in gate.output()
    assert request(gate.address, token)[0] == 200


def test_sigterm_while_a_fetch_hangs_exits_promptly(gates, workdir, provider):
    provider.set_answer(JWKS_PATH, "hang")
    gate = gate_for(gates, workdir, provider, "jwks").start()
    harness.wait_for(lambda: provider.count(JWKS_PATH) >= 1, "the hanging fetch")
    started = time.monotonic()
    assert gate.process.stop() == 0
    # The fetch is cancelled rather than waited for (its timeout is 10 s).
    assert time.monotonic() - started < 3
    # A fetch cut short by the stop is neither applied nor reported as the
    # provider's failure (commit e31f5bb).
    output = gate.output()
    assert "next attempt" not in output and "fetching keys failed" not in output, output
    assert "stopped" in gate.output()
