# SPDX-License-Identifier: Apache-2.0
"""Shared pieces of the integration tests: keys, tokens, configuration,
processes and plain HTTP. Everything runs on 127.0.0.1 and stops by itself."""
import grp
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONTRIB = os.path.join(ROOT, "contrib")
TOKENGATE = os.environ.get("TOKENGATE", os.path.join(ROOT, "tokengate"))
ISSUER = "https://auth.example.com"
PROTECTED_BODY = "hello from the legacy CGI script"

RULES = """
[rule open]
path = /open/**
require = open

[rule maybe]
path = /maybe/**
require = optional

[rule admin]
path = /orgs/{org_id}/admin/**
org = path:org_id
min_role = Admin

[rule owner]
path = /orgs/{org_id}/owner/**
org = path:org_id
role = Owner

[rule billing]
path = /orgs/{org_id}/billing/**
org = path:org_id
permission = can_view_billing

[rule app]
path = /app/**

[rule keys]
path = /keys/**
api_keys = yes
"""

# Paths below the docroot that hold the protected CGI script.
SCRIPT_DIRECTORIES = [
    "app", "open", "maybe", "orgs/o-1/admin", "orgs/o-1/owner", "orgs/o-1/billing",
    "orgs/o-2/admin", "keys",
]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(*args, **kwargs):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs)


def membership(org_id, role, inherited, permissions):
    return {"org_id": org_id, "org_name": "Org " + org_id, "url_safe_org_name": org_id,
            "user_role": role, "inherited_user_roles_plus_current_role": inherited,
            "org_role_structure": "single_role_in_hierarchy",
            "user_permissions": permissions}


class World:
    """Keys, tokens, a docroot with the CGI script, and configurations."""

    def __init__(self, directory):
        self.directory = directory
        os.chmod(directory, 0o755)  # servers' workers run as other users
        self.private_key = os.path.join(directory, "key.pem")
        self.public_key = os.path.join(directory, "key.pub")
        run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
            "-out", self.private_key)
        os.chmod(self.private_key, 0o600)
        run("openssl", "pkey", "-in", self.private_key, "-pubout", "-out", self.public_key)
        os.chmod(self.public_key, 0o644)
        self.docroot = os.path.join(directory, "www")
        for sub in SCRIPT_DIRECTORIES:
            path = os.path.join(self.docroot, sub)
            os.makedirs(path, mode=0o755)
            shutil.copy(os.path.join(CONTRIB, "whoami.cgi"), os.path.join(path, "whoami.cgi"))
        for dirpath, dirnames, _ in os.walk(directory):
            for name in dirnames:
                os.chmod(os.path.join(dirpath, name), 0o755)
        owner = membership("o-1", "Owner", ["Owner", "Admin", "Member"],
                           ["can_view_billing", "can_invite"])
        member = membership("o-1", "Member", ["Member"], [])
        self.owner = self.mint({"user_id": "owner-1", "email": "owner@example.com",
                                "org_id_to_org_member_info": {"o-1": owner}})
        self.member = self.mint({"user_id": "member-1", "email": "member@example.com",
                                 "org_id_to_org_member_info": {"o-1": member}})
        self.outsider = self.mint({"user_id": "outsider-1", "org_id_to_org_member_info": {}})
        self.expired = self.mint({"user_id": "owner-1",
                                  "org_id_to_org_member_info": {"o-1": owner}}, ttl=-600)
        # A local end-user API key (tokengate key new): the key for the
        # tests, its section in a file as private as the contract asks --
        # and readable by the group the servers' spawned tokengate runs as.
        made = run(TOKENGATE, "key", "new", "robot", "--user", "robot-1").stdout
        self.api_key = made.splitlines()[0]
        expired = run(TOKENGATE, "key", "new", "retired", "--user", "retired-1",
                      "--expires", "2024-01-01").stdout
        self.expired_api_key = expired.splitlines()[0]
        self.api_keys_file = os.path.join(directory, "api_keys.conf")
        with open(self.api_keys_file, "w") as out:
            out.write(made.split("\n", 2)[2] + "\n" + expired.split("\n", 2)[2])
        os.chmod(self.api_keys_file, 0o640)
        if os.geteuid() == 0:
            os.chown(self.api_keys_file, 0, grp.getgrnam("nogroup").gr_gid)

    def mint(self, claims, ttl=3600):
        claims = dict(claims, iss=ISSUER)
        result = subprocess.run([TOKENGATE, "mint", "--key", self.private_key, "--kid", "k1",
                                 "--ttl", str(ttl), "-"], input=json.dumps(claims),
                                check=True, capture_output=True, text=True)
        return result.stdout.strip()

    def config(self, name, listen=None, extra="", rules=RULES, token_extra="",
               api_keys_extra="", sections=""):
        path = os.path.join(self.directory, name)
        with open(path, "w", encoding="utf-8") as out:
            out.write("[tokengate]\n")
            if listen:
                out.write("listen = %s\nsocket_mode = 0666\n" % listen)
            out.write("realm = integration\n%s\n" % extra)
            out.write("[token]\nverifier_key = %s\nauth_url = %s\n%s\n"
                      % (self.public_key, ISSUER, token_extra))
            out.write("[api_keys]\nfile = %s\n%s\n" % (self.api_keys_file, api_keys_extra))
            out.write(sections)
            out.write(rules)
        os.chmod(path, 0o644)
        return path


def contrib(name, replacements):
    """A file from contrib/ with its default paths and ports replaced."""
    with open(os.path.join(CONTRIB, name)) as source:
        text = source.read()
    for old, new in replacements.items():
        assert old in text, "%s does not mention %s" % (name, old)
        text = text.replace(old, new)
    return text


def wait_for(check, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise TimeoutError("timed out waiting for " + what)


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Process:
    """A child process with its output in a log file; stopped at the end."""

    def __init__(self, args, log_path, env=None, stdin=None):
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                        stdin=stdin if stdin is not None else subprocess.DEVNULL,
                                        env=env, start_new_session=True)

    def output(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path) as log:
            return log.read()

    def send(self, number):
        self.process.send_signal(number)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()
        return self.process.returncode


def get(port, path, token=None, headers=None):
    """GET PATH exactly as written (no client-side normalisation)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    all_headers = dict(headers or {})
    if token:
        all_headers["Authorization"] = "Bearer " + token
    connection.putrequest("GET", path, skip_accept_encoding=True)
    for name, value in all_headers.items():
        connection.putheader(name, value)
    connection.endheaders()
    response = connection.getresponse()
    body = response.read().decode(errors="replace")
    result = (response.status, {k.lower(): v for k, v in response.getheaders()}, body)
    connection.close()
    return result
