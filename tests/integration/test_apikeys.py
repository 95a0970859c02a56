# SPDX-License-Identifier: Apache-2.0
"""End-user API keys validated by PropelAuth (contract section 10), through
real web servers in front of tokengate, against the test suite's HTTPS
PropelAuth stand-in (provider.py), which counts the validations it answers
and can refuse, rate-limit, fail, hang or be slow."""
import concurrent.futures
import os
import secrets
import shutil
import signal
import time

import pytest

import fcgi_client
import harness
import servers
from provider import VALIDATE_PATH, Provider

# Served by lighttpd, Apache's mod_authnz_fcgi and nginx's auth_request: the
# three ways an authorizer's answer reaches the application.
SERVERS = ["lighttpd", "apache-authnz-fcgi", "nginx"]

KEY_RULES = """
[rule korg]
path = /korgs/{org_id}/member/**
org = path:org_id
api_keys = yes

[rule korg-admin]
path = /korgs/{org_id}/admin/**
org = path:org_id
min_role = Admin
api_keys = yes

[rule korg-billing]
path = /korgs/{org_id}/billing/**
org = path:org_id
permission = can_view_billing
api_keys = yes

[rule kmaybe]
path = /kmaybe/**
require = optional
api_keys = yes
"""
# An org rule with min_role Admin, one with a permission, another org.
ORG_REFUSALS = ["/korgs/o-1/admin/whoami.cgi", "/korgs/o-1/billing/whoami.cgi",
                "/korgs/o-2/member/whoami.cgi"]
KEY_DIRECTORIES = ["korgs/o-1/member", "korgs/o-1/admin", "korgs/o-1/billing",
                   "korgs/o-2/member", "kmaybe"]


# Every end-user API key the tests make: no log line or response may hold
# a 16-character slice of any of them.
USED_KEYS = []


def new_key():
    key = secrets.token_hex(32)
    USED_KEYS.append(key)
    return key


def user(user_id, orgs=None):
    return {"user_id": user_id, "email": user_id + "@example.com", "username": user_id,
            "first_name": "Key", "last_name": "User", "org_id_to_org_info": orgs or {}}


def answer(user_object=None, org=None, user_in_org=None):
    """A 200 body of PropelAuth's validate endpoint."""
    return {"user": user_object, "org": org, "user_in_org": user_in_org, "metadata": {},
            "user_id": user_object["user_id"] if user_object else None,
            "org_id": org["org_id"] if org else None}


class Keys:
    """The end-user API keys PropelAuth knows in these tests: hex, as
    PropelAuth's are."""

    def __init__(self):
        admin = harness.membership("o-1", "Admin", ["Admin", "Member"], ["can_view_billing"])
        member = harness.membership("o-1", "Member", ["Member"], [])
        org_one = {"org_id": "o-1", "name": "Org One", "metadata": {}, "max_users": 10,
                   "is_saml_configured": False}
        self.personal = new_key()
        self.org_user = new_key()
        self.org_only = new_key()
        self.generic = new_key()
        self.unknown = new_key()
        self.answers = {
            self.personal: answer(user("kuser-1", {"o-1": admin})),
            self.org_user: answer(user("kuser-2"), org_one, member),
            self.org_only: answer(None, org_one),
            self.generic: answer(),
        }

    def all(self):
        return list(self.answers) + [self.unknown]


class Recorder:
    """Every response seen, so that none can be shown to hold a key."""

    def __init__(self):
        self.texts = []

    def get(self, port, path, key=None, scheme="Token"):
        headers = {"Authorization": "%s %s" % (scheme, key)} if key else None
        status, response_headers, body = harness.get(port, path, headers=headers)
        self.texts.append(repr(response_headers) + body)
        return status, response_headers, body


def assert_no_key_slice(texts, keys):
    """No 16-character slice of any key in any of TEXTS."""
    for key in keys:
        slices = {key[i:i + 16] for i in range(len(key) - 15)}
        for text in texts:
            for piece in slices:
                assert piece not in text, "a slice of a key leaked: ...%s..." % piece


def api_key_file(directory, provider):
    path = os.path.join(directory, "integration_key")
    with open(path, "w") as out:
        out.write(provider.api_key + "\n")
    os.chmod(path, 0o600)
    return path


def propelauth_options(directory, provider, api_keys_extra=""):
    return {
        "token_extra": "api_key_file = %s\nbackend_url = %s\nca_file = %s\n"
                       % (api_key_file(directory, provider), provider.url, provider.ca_file),
        "api_keys_extra": "propelauth = yes\n" + api_keys_extra,
        "rules": harness.RULES + KEY_RULES,
    }


def docroot_extend(world):
    for sub in KEY_DIRECTORIES:
        path = os.path.join(world.docroot, sub)
        os.makedirs(path, mode=0o755, exist_ok=True)
        shutil.copy(os.path.join(harness.CONTRIB, "whoami.cgi"), os.path.join(path, "whoami.cgi"))
        os.chmod(path, 0o755)
    for top in ("korgs", "korgs/o-1", "korgs/o-2"):
        os.chmod(os.path.join(world.docroot, top), 0o755)


@pytest.fixture(scope="module")
def keys():
    return Keys()


@pytest.fixture(scope="module")
def provider(scratch, keys):
    directory = os.path.join(scratch, "apikeys-provider")
    os.makedirs(directory, exist_ok=True)
    running = Provider(directory)
    running.api_keys = dict(keys.answers)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def recorder():
    return Recorder()


@pytest.fixture(scope="module", params=SERVERS)
def server(request, world, scratch, provider, keys, recorder):
    docroot_extend(world)
    directory = os.path.join(scratch, "apikeys-" + request.param)
    os.mkdir(directory, 0o755)
    started = servers.start(request.param, world, directory,
                            **propelauth_options(directory, provider))
    yield started
    started.stop()
    # Contract section 10: no log line or response holds a key, or a
    # fragment of one.
    assert_no_key_slice(recorder.texts + [started.logs()],
                        USED_KEYS + [world.api_key, world.expired_api_key])
    if request.session.testsfailed:
        print(started.logs())


def lines(body):
    return body.splitlines()


def assert_refused(server, recorder, key, paths):
    """Each of PATHS refuses KEY as the server reports a 403."""
    for path in paths:
        status, _, body = recorder.get(server.port, path, key)
        assert status == server.forbidden_status, (path, body)
        assert harness.PROTECTED_BODY not in body


@pytest.mark.parametrize("scheme", ["Token", "Bearer"])
def test_personal_key_acts_as_its_user(server, keys, recorder, scheme):
    status, _, body = recorder.get(server.port, "/keys/whoami.cgi", keys.personal, scheme)
    assert status == 200, body
    for line in ("AUTH_USER_ID=kuser-1", "AUTH_PRINCIPAL=kuser-1", "AUTH_METHOD=api_key",
                 "AUTH_EMAIL=kuser-1@example.com"):
        assert line in lines(body), (line, body)


def test_personal_key_has_its_users_org_roles_and_permissions(server, keys, recorder):
    for path in ("/korgs/o-1/member/whoami.cgi", "/korgs/o-1/admin/whoami.cgi",
                 "/korgs/o-1/billing/whoami.cgi"):
        status, _, body = recorder.get(server.port, path, keys.personal)
        assert status == 200, (path, body)
        assert "AUTH_ORG_ID=o-1" in lines(body) and "AUTH_ORG_ROLE=Admin" in lines(body)
    status, _, body = recorder.get(server.port, "/korgs/o-2/member/whoami.cgi", keys.personal)
    assert status == server.forbidden_status and harness.PROTECTED_BODY not in body


def test_key_where_keys_are_not_accepted_is_401_without_asking(server, keys, provider,
                                                                 recorder):
    before = provider.validations()
    for path in ("/app/whoami.cgi", "/maybe/whoami.cgi", "/orgs/o-1/admin/whoami.cgi"):
        status, _, body = recorder.get(server.port, path, keys.unknown)
        assert status == 401, (path, body)
        assert harness.PROTECTED_BODY not in body
    assert provider.validations() == before


def test_org_key_with_user_acts_in_its_org_only(server, keys, recorder):
    status, _, body = recorder.get(server.port, "/korgs/o-1/member/whoami.cgi", keys.org_user)
    assert status == 200, body
    for line in ("AUTH_USER_ID=kuser-2", "AUTH_ORG_ID=o-1", "AUTH_ORG_ROLE=Member",
                 "AUTH_METHOD=api_key"):
        assert line in lines(body), (line, body)
    # user_in_org says Member: below Admin, without can_view_billing.
    assert_refused(server, recorder, keys.org_user, ORG_REFUSALS)


def test_org_key_without_user_acts_as_the_org_with_no_role(server, keys, recorder):
    status, _, body = recorder.get(server.port, "/korgs/o-1/member/whoami.cgi", keys.org_only)
    assert status == 200, body
    for line in ("AUTH_PRINCIPAL=org:o-1", "AUTH_ORG_ID=o-1", "AUTH_ORG_NAME=Org One",
                 "AUTH_METHOD=api_key"):
        assert line in lines(body), (line, body)
    assert not any(line.startswith("AUTH_USER_ID=") for line in lines(body)), body
    assert_refused(server, recorder, keys.org_only, ORG_REFUSALS)


def test_generic_key_passes_user_rules_only(server, keys, recorder):
    status, _, body = recorder.get(server.port, "/keys/whoami.cgi", keys.generic)
    assert status == 200, body
    assert "AUTH_PRINCIPAL=api_key" in lines(body) and "AUTH_METHOD=api_key" in lines(body)
    status, _, body = recorder.get(server.port, "/korgs/o-1/member/whoami.cgi", keys.generic)
    assert status == server.forbidden_status and harness.PROTECTED_BODY not in body


def test_invalid_key_is_401_and_remembered(server, keys, provider, recorder):
    wrong = new_key()
    before = provider.validations()
    for _ in range(3):
        status, _, body = recorder.get(server.port, "/keys/whoami.cgi", wrong)
        assert status == 401 and harness.PROTECTED_BODY not in body
    # negative_ttl: one question for three requests.
    assert provider.validations() == before + 1
    status, _, body = recorder.get(server.port, "/kmaybe/whoami.cgi", wrong)
    assert status == 200 and not any(l.startswith("AUTH_USER_ID=") for l in lines(body))


def test_valid_key_is_remembered(server, keys, provider, recorder):
    recorder.get(server.port, "/keys/whoami.cgi", keys.personal)
    before = provider.validations()
    for _ in range(5):
        status, _, _ = recorder.get(server.port, "/keys/whoami.cgi", keys.personal)
        assert status == 200
    assert provider.validations() == before


def test_local_keys_still_work_beside_propelauth(server, world, provider, recorder):
    before = provider.validations()
    status, _, body = recorder.get(server.port, "/keys/whoami.cgi", world.api_key)
    assert status == 200 and "AUTH_API_KEY_NAME=robot" in lines(body), body
    assert provider.validations() == before


# ---- statuses the provider maps to, straight over FastCGI ----------------------

class Node:
    """One tokengate on a unix socket, configured for PropelAuth keys."""

    def __init__(self, world, directory, provider, api_keys_extra="", sections="", name="tg",
                 wait=True):
        os.makedirs(directory, exist_ok=True)
        self.address = os.path.join(directory, name + ".sock")
        self.status = os.path.join(directory, name + "-status.sock")
        self.log = os.path.join(directory, name + ".log")
        options = propelauth_options(directory, provider, api_keys_extra)
        self.config = world.config(name + "-" + os.path.basename(directory) + ".conf",
                                   listen=self.address,
                                   extra="threads = 4\nlog_level = debug\nstate_dir = %s\n"
                                         "status_listen = %s\n"
                                         % (os.path.join(directory, name + "-state"),
                                            self.status),
                                   sections=sections, **options)
        self.process = harness.Process([harness.TOKENGATE, "-c", self.config], self.log)
        if wait:
            harness.wait_for(lambda: os.path.exists(self.address), "tokengate " + name)

    def request(self, path, key=None, scheme="Token", token=None, timeout=15):
        """Returns (status, headers, body, raw answer)."""
        params = {"REQUEST_METHOD": "GET", "REQUEST_URI": path, "QUERY_STRING": ""}
        if key:
            params["HTTP_AUTHORIZATION"] = "%s %s" % (scheme, key)
        if token:
            params["HTTP_AUTHORIZATION"] = "Bearer " + token
        sock = fcgi_client.connect(self.address)
        sock.settimeout(timeout)
        try:
            return fcgi_client.request(self.address, params, sock=sock)
        finally:
            sock.close()

    def metrics(self):
        params = {"REQUEST_METHOD": "GET", "REQUEST_URI": "/metrics", "QUERY_STRING": ""}
        return fcgi_client.request(self.status, params, role=fcgi_client.RESPONDER)[2]

    def output(self):
        return self.process.output()

    def stop(self):
        self.process.stop()
        assert_no_key_slice([self.output()], USED_KEYS)


def status_of(response):
    return response[0]


def header(response, name):
    return response[1].get(name)


@pytest.fixture
def node(world, workdir, provider):
    running = Node(world, workdir, provider)
    yield running
    running.stop()


@pytest.fixture
def steered(provider):
    """The provider, answered normally again after the test."""
    yield provider
    provider.set_answer(VALIDATE_PATH, "ok")
    provider.retry_after = None
    provider.validate_delay = 0.0
    provider.release.set()


def test_rate_limited_is_429_with_retry_after(node, steered, keys):
    steered.set_answer(VALIDATE_PATH, 429)
    steered.wait_seconds = 7
    response = node.request("/keys/x", new_key())
    assert status_of(response) == 429, response
    assert int(header(response, "Retry-After")) >= 7, response


def test_rate_limited_and_provider_down_through_lighttpd_reach_the_client(world, workdir, steered, recorder):
    steered.set_answer(VALIDATE_PATH, 429)
    steered.wait_seconds = 9
    docroot_extend(world)
    started = servers.start("lighttpd", world, workdir, **propelauth_options(workdir, steered))
    try:
        status, headers, body = recorder.get(started.port, "/keys/whoami.cgi",
                                             new_key())
        assert status == 429 and int(headers.get("retry-after", 0)) >= 9, (status, headers)
        assert harness.PROTECTED_BODY not in body
        # PropelAuth down: 503 with Retry-After, to the client too.
        steered.set_answer(VALIDATE_PATH, 500)
        status, headers, body = recorder.get(started.port, "/keys/whoami.cgi",
                                             new_key())
        assert status == 503 and int(headers.get("retry-after", 0)) >= 1, (status, headers)
        assert harness.PROTECTED_BODY not in body
    finally:
        started.stop()


@pytest.mark.parametrize("answer", [500, 503, "garbage"])
def test_provider_failure_is_503_with_retry_after(node, steered, answer):
    steered.set_answer(VALIDATE_PATH, answer)
    response = node.request("/keys/x", new_key())
    assert status_of(response) == 503, response
    assert int(header(response, "Retry-After")) >= 1


def test_wrong_integration_key_is_503_and_names_the_file(world, workdir, steered, keys):
    running = Node(world, workdir, steered)
    try:
        with open(os.path.join(workdir, "integration_key"), "w") as out:
            out.write("not-the-right-integration-key\n")
        running.process.send(signal.SIGHUP)
        harness.wait_for(lambda: "configuration reloaded" in running.output(), "reload")
        response = running.request("/keys/x", keys.personal)
        assert status_of(response) == 503, response
        assert header(response, "Retry-After")
        harness.wait_for(lambda: "integration_key" in running.output() and
                         "check api_key_file" in running.output(), "the log line")
    finally:
        running.stop()


def test_unreachable_provider_is_503(world, workdir, steered):
    steered_url = steered.url
    running = None
    try:
        port = harness.free_port()
        steered.url = "https://127.0.0.1:%d" % port   # nothing listens there
        running = Node(world, workdir, steered)
        response = running.request("/keys/x", new_key())
        assert status_of(response) == 503, response
    finally:
        steered.url = steered_url
        if running:
            running.stop()


def test_hanging_provider_holds_only_uncached_keys(node, steered, keys, world):
    """A validation never holds the workers: while PropelAuth hangs, tokens,
    local keys and cached keys are answered at once (four workers, eight
    requests waiting on the hanging validation)."""
    assert status_of(node.request("/keys/x", keys.personal)) == 200   # now cached
    steered.set_answer(VALIDATE_PATH, "hang")
    before = steered.validations()
    hung = [new_key() for _ in range(8)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        waiting = [pool.submit(node.request, "/keys/x", key, "Token", None, 40) for key in hung]
        harness.wait_for(lambda: steered.validations() >= before + 8,
                         "eight validations under way")
        started = time.monotonic()
        assert status_of(node.request("/app/x", token=world.owner)) == 200
        assert status_of(node.request("/keys/x", keys.personal)) == 200
        assert status_of(node.request("/keys/x", world.api_key)) == 200
        assert status_of(node.request("/app/x", keys.unknown)) == 401
        assert time.monotonic() - started < 2.0
        assert not any(future.done() for future in waiting)
        steered.release.set()
        results = [status_of(future.result(timeout=30)) for future in waiting]
    assert results == [503] * 8


def test_one_validation_for_concurrent_requests_with_one_key(node, steered, keys):
    fresh = new_key()
    steered.api_keys[fresh] = keys.answers[keys.personal]
    steered.validate_delay = 0.5
    before = steered.validations()
    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(lambda _: status_of(node.request("/keys/x", fresh)), range(100)))
    assert results == [200] * 100
    assert steered.validations() == before + 1


def test_max_pending_refuses_beyond_the_limit(world, workdir, steered):
    running = Node(world, workdir, steered, api_keys_extra="max_pending = 2\n")
    try:
        steered.set_answer(VALIDATE_PATH, "hang")
        before = steered.validations()
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            waiting = [pool.submit(running.request, "/keys/x", new_key(), "Token",
                                   None, 40) for _ in range(2)]
            harness.wait_for(lambda: steered.validations() >= before + 2, "two validations")
            started = time.monotonic()
            response = running.request("/keys/x", new_key())
            assert status_of(response) == 503 and header(response, "Retry-After"), response
            assert time.monotonic() - started < 2.0
            steered.release.set()
            for future in waiting:
                future.result(timeout=30)
    finally:
        running.stop()


def test_check_validates_as_the_server_does(world, workdir, provider, keys):
    options = propelauth_options(workdir, provider)
    config = world.config("check-keys.conf", **options)
    result = harness.subprocess.run(
        [harness.TOKENGATE, "check", "-c", config, "-H", "Authorization: Token " + keys.personal,
         "/keys/x"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "Variable-AUTH_USER_ID: kuser-1" in result.stdout
    assert_no_key_slice([result.stdout, result.stderr], [keys.personal])
