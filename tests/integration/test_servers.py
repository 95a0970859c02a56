# SPDX-License-Identifier: Apache-2.0
"""The same scenarios against every real web server in front of tokengate."""
import os

import pytest

import harness
import servers


@pytest.fixture(scope="module", params=sorted(servers.STARTERS))
def server(request, world, scratch):
    directory = os.path.join(scratch, request.param)
    os.mkdir(directory, 0o755)
    started = servers.start(request.param, world, directory)
    yield started
    started.stop()
    if request.session.testsfailed:
        print(started.logs())


def test_allowed_request_reaches_the_script_with_variables(server, world):
    status, _, body = harness.get(server.port, "/orgs/o-1/admin/whoami.cgi", world.owner)
    assert status == 200, body
    assert harness.PROTECTED_BODY in body
    for line in ("AUTH_USER_ID=owner-1", "REMOTE_USER=owner-1", "AUTH_EMAIL=owner@example.com",
                 "AUTH_ORG_ID=o-1", "AUTH_ORG_ROLE=Owner", "AUTH_ORG_ROLES=Owner,Admin,Member",
                 "AUTH_ORG_PERMISSIONS=can_view_billing,can_invite", "AUTH_METHOD=jwt"):
        assert line in body.splitlines(), (line, body)


def test_no_token_is_401_with_a_challenge(server):
    status, headers, body = harness.get(server.port, "/app/whoami.cgi")
    assert status == 401
    assert headers.get("www-authenticate", "").startswith('Bearer realm="integration"')
    assert harness.PROTECTED_BODY not in body


def test_expired_token_is_401(server, world):
    status, headers, body = harness.get(server.port, "/app/whoami.cgi", world.expired)
    assert status == 401
    assert 'error="invalid_token"' in headers.get("www-authenticate", "")
    assert harness.PROTECTED_BODY not in body


def test_forged_token_is_401(server, world):
    forged = world.owner[:-4] + ("AAAA" if not world.owner.endswith("AAAA") else "BBBB")
    status, _, body = harness.get(server.port, "/app/whoami.cgi", forged)
    assert status == 401
    assert harness.PROTECTED_BODY not in body


@pytest.mark.parametrize("scheme", ["Token", "Bearer"])
def test_local_api_key_reaches_the_script_as_its_user(server, world, scheme):
    """Contract section 10: a local key on a rule with api_keys = yes acts
    as its section says, with AUTH_METHOD=api_key, through every server."""
    status, _, body = harness.get(server.port, "/keys/whoami.cgi",
                                  headers={"Authorization": "%s %s" % (scheme, world.api_key)})
    assert status == 200, body
    for line in ("AUTH_USER_ID=robot-1", "AUTH_PRINCIPAL=robot-1", "AUTH_METHOD=api_key",
                 "AUTH_API_KEY_NAME=robot"):
        assert line in body.splitlines(), (line, body)
    assert world.api_key not in body
    wrong = world.api_key[:-4] + ("AAAA" if not world.api_key.endswith("AAAA") else "BBBB")
    for refused in (wrong, world.expired_api_key):
        status, headers, body = harness.get(server.port, "/keys/whoami.cgi",
                                            headers={"Authorization": "Token " + refused})
        assert status == 401 and harness.PROTECTED_BODY not in body
        assert refused not in body and refused not in repr(headers)


@pytest.mark.parametrize("authorization", [
    "Token tg_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG",
    "Bearer tg_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG",
])
def test_api_key_is_refused_where_keys_are_not_accepted(server, authorization):
    """Contract section 10: a key on a rule without api_keys = yes is 401
    and never taken for a token, through every server (optional paths
    included)."""
    for path in ("/app/whoami.cgi", "/maybe/whoami.cgi"):
        status, headers, body = harness.get(server.port, path,
                                            headers={"Authorization": authorization})
        assert status == 401, (path, status, body)
        assert harness.PROTECTED_BODY not in body


@pytest.mark.parametrize("path, who", [
    ("/orgs/o-2/admin/whoami.cgi", "owner"),      # not a member of o-2
    ("/orgs/o-1/admin/whoami.cgi", "member"),     # Member is below Admin
    ("/orgs/o-1/owner/whoami.cgi", "member"),     # not exactly Owner
    ("/orgs/o-1/billing/whoami.cgi", "member"),   # lacks can_view_billing
    ("/orgs/o-1/admin/whoami.cgi", "outsider"),   # in no org at all
])
def test_insufficient_rights_are_refused(server, world, path, who):
    status, headers, body = harness.get(server.port, path, getattr(world, who))
    assert status == server.forbidden_status
    assert harness.PROTECTED_BODY not in body
    if status == 403 and server.forbidden_challenge:
        assert 'error="insufficient_scope"' in headers.get("www-authenticate", "")


def test_owner_passes_role_and_permission_rules(server, world):
    for path in ("/orgs/o-1/owner/whoami.cgi", "/orgs/o-1/billing/whoami.cgi"):
        status, _, body = harness.get(server.port, path, world.owner)
        assert status == 200, (path, body)
        assert "AUTH_ORG_ID=o-1" in body


def test_optional_path_without_token_is_anonymous(server):
    status, _, body = harness.get(server.port, "/maybe/whoami.cgi")
    assert status == 200, body
    assert harness.PROTECTED_BODY in body
    assert "AUTH_USER_ID=" not in body


def test_optional_path_with_invalid_token_is_anonymous(server, world):
    status, _, body = harness.get(server.port, "/maybe/whoami.cgi", world.expired)
    assert status == 200, body
    assert "AUTH_USER_ID=" not in body


def test_optional_path_with_token_names_the_user(server, world):
    status, _, body = harness.get(server.port, "/maybe/whoami.cgi", world.member)
    assert status == 200, body
    assert "AUTH_USER_ID=member-1" in body


def test_open_path_needs_no_token(server):
    status, _, body = harness.get(server.port, "/open/whoami.cgi")
    assert status == 200, body
    assert harness.PROTECTED_BODY in body
    assert "AUTH_USER_ID=" not in body
    # Apache's authenticator always names a user: "-" for an anonymous
    # request (applications test AUTH_USER_ID); the contrib variant that
    # keeps open paths out of the authenticator names none.
    remote_user = [l for l in body.splitlines() if l.startswith("REMOTE_USER=")]
    if server.name == "apache-authnz":
        assert remote_user == ["REMOTE_USER=-"], body
    else:
        assert remote_user == [], body


def test_open_path_variant_still_protects_the_rest(server, world):
    if server.name != "apache-authnz-open":
        pytest.skip("only the Apache variant with open paths outside the authenticator")
    for path in ("/open/../app/whoami.cgi", "/open/%2e%2e/app/whoami.cgi", "/app/whoami.cgi"):
        status, _, body = harness.get(server.port, path)
        assert status == 401, (path, body)
    status, _, body = harness.get(server.port, "/open/../app/whoami.cgi", world.owner)
    assert status == 200 and "REMOTE_USER=owner-1" in body.splitlines(), body


# Each of these is served from /app/ by at least one server, or must be.
RAW_PATH_TRICKS = [
    "/open/../app/whoami.cgi",
    "/open/%2e%2e/app/whoami.cgi",
    "/open/%2E%2E/app/whoami.cgi",
    "/open/.%2e/app/whoami.cgi",
    "/open/./../app/whoami.cgi",
    "/maybe/../app/whoami.cgi",
    "//app//whoami.cgi",
    "/app/./whoami.cgi",
    "/%61pp/whoami.cgi",
    "/open/..%2fapp/whoami.cgi",
    "/open/x/..%2F..%2Fapp/whoami.cgi",
]


@pytest.mark.parametrize("path", RAW_PATH_TRICKS)
def test_raw_path_tricks_never_reach_the_protected_script(server, path):
    status, _, body = harness.get(server.port, path)
    assert harness.PROTECTED_BODY not in body, (status, body)
    assert status != 200


def test_raw_path_trick_with_a_valid_token_is_decided_by_the_protected_rule(server, world):
    status, _, body = harness.get(server.port, "/open/../app/whoami.cgi", world.outsider)
    assert status == 200, body
    assert "AUTH_USER_ID=outsider-1" in body
