# SPDX-License-Identifier: Apache-2.0
"""Differential harness: does the request tokengate decided equal the
request the web server served and the application read?

A real web server (lighttpd, nginx, Apache) runs in front of tokengate with
the contrib configuration and a docroot that holds, at every location, a
probe CGI script that prints what the application sees (SCRIPT_NAME,
PATH_INFO, QUERY_STRING, the org header, the method, the AUTH_* variables)
and a static file that names its own path. Request targets are generated
from a grammar that mixes protected and open prefixes with the pieces that
servers and applications read differently (dot segments in every spelling,
encoded separators, "#", ";", overlong UTF-8, double escapes, repeated and
variant org headers and query parameters, lower-case methods).

The oracle: whenever the probe ran (or the static file was served), the
clean request the server actually served -- SCRIPT_NAME + PATH_INFO, the org
the application reads under every reading (first and last copy, decoded
names as Flask does, names as PHP mangles them), the upper-cased method --
must be allowed by `tokengate check` with the same credential, with the same
AUTH_USER_ID and AUTH_ORG_ID. Anything else is a bypass. Ordinary requests
(%20, non-ASCII names, query strings, trailing slashes, HEAD, POST) must
still be served: a refusal there is a false refusal.

Run by hand for a long run (documented in the README, Development):

    TOKENGATE=build/plain/tokengate /usr/bin/python3 tests/integration/differential.py \
        --servers lighttpd,nginx,apache-authnz-fcgi --count 20000 --seed 1
"""
import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import servers  # noqa: E402

PROBE_MARK = "PROBE-RAN"
STATIC_MARK = "STATIC-FILE "

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

[rule by-query]
path = /q/**
org = query:org
min_role = Admin

[rule by-header]
path = /h/**
org = header:X-Org
min_role = Admin

[rule read-only-writes]
path = /ro/**
methods = POST PUT DELETE PATCH
require = deny

[rule read-only]
path = /ro/**
require = open

[rule cafe]
path = /caf\u00e9/**

[rule tilde]
path = /%7Ealice/**

[rule at]
path = /a@b/**

[rule spaced]
path = /my docs/**

[rule app]
path = /app/**

[rule rest]
path = /**
require = open
"""

# Every directory that holds the probe and a static file, as raw bytes.
LOCATIONS = [
    b"", b"open", b"maybe", b"app", b"orgs/o-1/admin", b"orgs/o-2/admin", b"q", b"h", b"ro",
    "caf\u00e9".encode(), b"~alice", b"a@b", b"my docs", b"pub",
]

PROBE = r"""#!/bin/sh
# Prints what the application sees, each value hex-encoded.
printf 'Content-Type: text/plain\r\n\r\n'
echo "PROBE-RAN"
for name in SCRIPT_NAME PATH_INFO QUERY_STRING REQUEST_METHOD HTTP_X_ORG AUTH_USER_ID \
            AUTH_ORG_ID AUTH_PRINCIPAL REMOTE_USER; do
    eval "isset=\${$name+x}"
    if [ -n "$isset" ]; then
        eval "printf '%s' \"\$$name\"" | od -An -tx1 | tr -d ' \n' | sed "s/^/$name=/"
        echo
    fi
done
"""

UNRESERVED = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/")


def encode_path(raw):
    """A decoded path (bytes) as a raw path with one spelling per byte."""
    return "".join(chr(b) if b in UNRESERVED else "%%%02X" % b for b in raw)


class DifferentialWorld(harness.World):
    """The integration world with the differential rules and probe docroot."""

    def __init__(self, directory):
        super().__init__(directory)
        self.member2 = self.mint({"user_id": "member-2", "org_id_to_org_member_info": {
            "o-1": harness.membership("o-1", "Member", ["Member"], []),
            "o-2": harness.membership("o-2", "Admin", ["Admin", "Member"], [])}})
        self.docroot = os.path.join(directory, "probe-www")
        os.makedirs(self.docroot, mode=0o755)
        for location in LOCATIONS:
            path = os.path.join(self.docroot.encode(), location)
            os.makedirs(path, mode=0o755, exist_ok=True)
            probe = os.path.join(path, b"probe.cgi")
            with open(probe, "w") as out:
                out.write(PROBE)
            os.chmod(probe, 0o755)
            url = encode_path(b"/" + location + (b"/" if location else b"") + b"static.txt")
            with open(os.path.join(path, b"static.txt"), "w") as out:
                out.write(STATIC_MARK + url + "\n")
            os.chmod(os.path.join(path, b"static.txt"), 0o644)
        for dirpath, dirnames, _ in os.walk(self.docroot):
            for name in dirnames:
                os.chmod(os.path.join(dirpath, name), 0o755)

    def config(self, name, listen=None, extra="", rules=None):
        return super().config(name, listen=listen, extra=extra, rules=rules or RULES)

    def credentials(self):
        return {"none": None, "owner": self.owner, "member": self.member,
                "member2": self.member2, "outsider": self.outsider, "expired": self.expired}


# ---- the grammar --------------------------------------------------------

PREFIXES = ["/open/", "/maybe/", "/app/", "/orgs/o-1/admin/", "/orgs/o-2/admin/", "/q/", "/h/",
            "/ro/", "/caf%C3%A9/", "/caf\u00e9/", "/~alice/", "/%7ealice/", "/a@b/",
            "/a%40b/", "/my%20docs/", "/pub/", "/", "//", "/open/x/"]
PIECES = [".", "..", "%2e", "%2E", "%2e%2e", "%2E%2E", ".%2e", "%2e.", "%2f", "%2F", "%5c",
          "%5C", "\\", ";x", ";", "..;", "#", "%23", "?", "%3f", "%3F", "%00", "%c0%ae",
          "%c0%ae%c0%ae", "%25", "%252e", "%252e%252e", "%7e", "%7Ealice", "caf%C3%A9",
          "caf\u00e9", "%20", "/", "//", "x.", "x%20", "app", "open", "orgs", "o-1", "o-2",
          "admin", "q", "h", "ro", "a@b", "pub", "probe.cgi", "%70robe.cgi", "static.txt",
          "%2e%2e%2f", "..%2f", "..%5c", "%2e%2e/", "../"]
ENDINGS = ["probe.cgi", "probe.cgi", "probe.cgi/extra", "probe.cgi/", "static.txt",
           "%70robe.cgi", "probe.cgi#x", "probe.cgi%23", ""]
QUERIES = ["", "", "?org=o-1", "?org=o-2", "?x=1&org=o-1", "?%6Frg=o-2&org=o-1",
           "?org=o-1&%6frg=o-2", "?org=o-1&org=o-2", "?org=o-1;org=o-2", "?org=o-1;x=1",
           "?org%5B%5D=o-2&org=o-1", "?org=o-1&org[]=o-2", "?o.rg=o-2&org=o-1",
           "?org=o%2D1", "?org=o-2#", "?+org=o-2&org=o-1", "?org", "?%zz=1&org=o-1",
           "?org=%6F-1", "?a=/../../open/&org=o-1"]
ORG_HEADERS = [[], [], [("X-Org", "o-1")], [("X-Org", "o-2")],
               [("X-Org", "o-1"), ("X_Org", "o-2")], [("X-Org", "o-1"), ("X-Org", "o-2")],
               [("X-Org", "o-2"), ("X-Org", "o-1")], [("X.Org", "o-2"), ("X-Org", "o-1")],
               [("X-Org", "o-1"), ("X-Org", "o-1")], [("x-org", "o-1")]]
METHODS = ["GET"] * 12 + ["POST", "POST", "post", "GeT", "PUT", "DELETE"]


# Where the dangerous pieces lead: a location that holds the probe, in
# several spellings, so that a good share of the targets is served at all.
LANDINGS = ["", "app/", "open/", "maybe/", "q/", "h/", "ro/", "orgs/o-1/admin/",
            "orgs/o-2/admin/", "%61pp/", "a%40b/", "~alice/", "caf%C3%A9/", "my%20docs/",
            "../app/", "%2e%2e/app/", "../../app/", "pub/", "../orgs/o-1/admin/"]


CLIMBS = ["../", "%2e%2e/", ".%2e/", "%2E%2E/", "%2e./", "./../", "..%2f", "%2e%2e%5c", "..\\",
          "..;/", "%c0%ae%c0%ae/", "%252e%252e/", "../", "../"]


def generate(rng):
    """One request: (method, raw target as str, [(header, value)], credential name)."""
    target = rng.choice(PREFIXES)
    if rng.random() < 0.5:
        # Climb out of the prefix in some spelling and land on a location.
        for _ in target.strip("/").split("/") if target.strip("/") else []:
            target += rng.choice(CLIMBS)
        if rng.random() < 0.3:
            target += rng.choice(PIECES) + "/"
        target += rng.choice(LANDINGS[:15])
    else:
        for _ in range(rng.randrange(0, 3)):
            target += rng.choice(PIECES) + ("/" if rng.random() < 0.8 else "")
        if rng.random() < 0.7:
            target += rng.choice(LANDINGS)
    target += rng.choice(ENDINGS) + (rng.choice(QUERIES) if rng.random() < 0.6 else "")
    credential = rng.choice(["none", "owner", "owner", "owner", "member", "member2",
                             "member2", "outsider", "expired"])
    headers = list(rng.choice(ORG_HEADERS)) if rng.random() < 0.6 else []
    return rng.choice(METHODS), target, headers, credential


# Requests that must be served: a refusal is a false refusal.
ORDINARY = [
    ("GET", "/app/probe.cgi", [], "owner"),
    ("GET", "/app/probe.cgi/extra/path/", [], "owner"),   # not nginx: no PATH_INFO there
    ("GET", "/app//./probe.cgi", [], "member"),
    ("POST", "/app/probe.cgi", [], "owner"),
    ("HEAD", "/app/probe.cgi", [], "owner"),
    ("GET", "/app/static.txt", [], "outsider"),
    ("GET", "/my%20docs/probe.cgi", [], "owner"),
    ("GET", "/caf%C3%A9/probe.cgi", [], "owner"),
    ("GET", "/caf%c3%a9/probe.cgi?x=%C3%A9", [], "owner"),
    ("GET", "/~alice/probe.cgi", [], "owner"),
    ("GET", "/%7Ealice/probe.cgi", [], "owner"),
    ("GET", "/a@b/probe.cgi", [], "owner"),
    ("GET", "/a%40b/probe.cgi", [], "owner"),
    ("GET", "/open/probe.cgi", [], "none"),
    ("GET", "/open/probe.cgi?a=1&b=%20x+y;c", [], "none"),
    ("GET", "/maybe/probe.cgi", [], "none"),
    ("GET", "/maybe/probe.cgi", [], "member"),
    ("GET", "/orgs/o-1/admin/probe.cgi", [], "owner"),
    ("GET", "/orgs/o-2/admin/probe.cgi", [], "member2"),
    ("GET", "/q/probe.cgi?org=o-1", [], "owner"),
    ("GET", "/q/probe.cgi?x=1&org=o-2&y=a%20b", [], "member2"),
    ("GET", "/h/probe.cgi", [("X-Org", "o-1")], "owner"),
    ("GET", "/ro/probe.cgi", [], "none"),
    ("HEAD", "/ro/probe.cgi", [], "none"),
    ("GET", "/pub/probe.cgi?q=caf%C3%A9", [], "none"),
    ("GET", "/probe.cgi", [], "none"),
]


# ---- sending ---------------------------------------------------------------

def send(port, method, target, headers, token):
    """Sends the request exactly as given; returns (status, body text)."""
    lines = ["%s %s HTTP/1.1" % (method, target), "Host: 127.0.0.1", "Connection: close"]
    if token:
        lines.append("Authorization: Bearer " + token)
    lines += ["%s: %s" % header for header in headers]
    if method.upper() in ("POST", "PUT", "PATCH"):
        lines.append("Content-Length: 0")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    response = b"".join(chunks)
    head, _, body = response.partition(b"\r\n\r\n")
    try:
        status = int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        status = 0
    return status, body.decode("utf-8", errors="replace")


def probe_values(body):
    seen = {}
    for line in body.splitlines():
        name, equals, value = line.partition("=")
        if equals and name.isupper():
            seen[name] = bytes.fromhex(value)
    return seen


# ---- what the application reads ------------------------------------------

def php_name(name):
    """A decoded parameter name as PHP files it in $_GET."""
    name = name.lstrip(" ")
    bracket = name.find("[")
    if bracket > 0 and "]" in name[bracket:]:
        name = name[:bracket]
    return name.replace(" ", "_").replace(".", "_").replace("[", "_")


def org_readings(query):
    """Every value an application could take for the parameter org."""
    values = []
    pairs = [p for p in query.split("&") if p]
    for mangle in (lambda n: n, php_name):
        found = []
        for pair in pairs:
            name, _, value = pair.partition("=")
            name = urllib.parse.unquote_plus(name, errors="replace")
            if mangle(name) == "org":
                found.append(urllib.parse.unquote_plus(value, errors="replace"))
        if found:
            values += [found[0], found[-1]]
    return sorted(set(values)) or [None]


# ---- the oracle -----------------------------------------------------------

class Oracle:
    def __init__(self, world, config):
        self.world = world
        self.config = config

    def check(self, method, path, query_org, header_org, token):
        args = [harness.TOKENGATE, "check", "-c", self.config, "-X", method]
        if token:
            args += ["--token", token]
        if header_org is not None:
            args += ["-H", "X-Org: " + header_org]
        target = path
        if query_org is not None:
            target += "?org=" + urllib.parse.quote(query_org, safe="")
        args.append(target)
        result = subprocess.run(args, capture_output=True, text=True, errors="replace")
        variables = {}
        for line in result.stdout.splitlines():
            if line.startswith("Variable-"):
                name, _, value = line[len("Variable-"):].partition(": ")
                variables[name] = value
        status = result.stdout.split("\n", 1)[0]
        return status, variables, target

    def judge(self, request, status, body):
        """None when fine, else a sentence saying what went wrong."""
        method, target, headers, credential = request
        token = self.world.credentials()[credential]
        if PROBE_MARK in body:
            seen = probe_values(body)
            path = encode_path(seen.get("SCRIPT_NAME", b"") + seen.get("PATH_INFO", b""))
            served_method = seen.get("REQUEST_METHOD", b"").decode(errors="replace").upper()
            query = seen.get("QUERY_STRING", b"").decode(errors="replace")
            header = seen.get("HTTP_X_ORG")
            header_orgs = [header.decode(errors="replace") if header is not None else None]
            user = seen.get("AUTH_USER_ID")
            org = seen.get("AUTH_ORG_ID")
        elif STATIC_MARK in body:
            path = body.split(STATIC_MARK, 1)[1].split()[0]
            served_method = method.upper()
            query = target.split("?", 1)[1] if "?" in target else ""
            # No application reads the org of a static file: it is enough
            # that one copy the server may have passed allows it.
            header_orgs = [value for name, value in headers
                           if name.lower() in ("x-org", "x_org", "x.org")] or [None]
            user = org = None
        else:
            return None
        problem = None
        for header_org in header_orgs:
            problem = self.judge_readings(method, target, headers, credential, token, path,
                                          served_method, query, header_org, user, org)
            if not problem:
                return None
        return problem

    def judge_readings(self, method, target, headers, credential, token, path, served_method,
                       query, header_org, user, org):
        for query_org in org_readings(query):
            verdict, variables, clean = self.check(served_method, path, query_org, header_org,
                                                   token)
            problem = None
            if verdict != "Status: 200":
                problem = "tokengate check says %s" % verdict
            elif user is not None and variables.get("AUTH_USER_ID") != user.decode():
                problem = "user %r, check says %r" % (user, variables.get("AUTH_USER_ID"))
            elif org is not None and variables.get("AUTH_ORG_ID") != org.decode():
                problem = "org %r, check says %r" % (org, variables.get("AUTH_ORG_ID"))
            if problem:
                return ("BYPASS: %s %r (%s, headers %r) was served as %s %s (header %r): %s"
                        % (method, target, credential, headers, served_method, clean,
                           header_org, problem))
        return None


def run(server, world, config, requests, log=None):
    """Sends REQUESTS through SERVER; returns (sent, probes ran, problems)."""
    oracle = Oracle(world, config)
    problems = []
    served = 0
    for request in requests:
        method, target, headers, credential = request
        token = world.credentials()[credential]
        try:
            status, body = send(server.port, method, target, headers, token)
        except OSError as error:
            problems.append("ERROR: %s %r: %s" % (method, target, error))
            continue
        if PROBE_MARK in body or STATIC_MARK in body:
            served += 1
        problem = oracle.judge(request, status, body)
        if problem:
            problems.append(problem)
        if log:
            log.write("%d %s %r %r %s%s\n" % (status, method, target, headers, credential,
                                              " SERVED" if PROBE_MARK in body or
                                              STATIC_MARK in body else ""))
    return len(requests), served, problems


def ordinary_refusals(server, world):
    """The ordinary requests that were not served."""
    refused = []
    for method, target, headers, credential in ORDINARY:
        if server.name == "nginx" and "/extra/" in target:
            continue  # the contrib location serves *.cgi only, without PATH_INFO
        status, body = send(server.port, method, target, headers,
                            world.credentials()[credential])
        ok = status == 200 and (method == "HEAD" or PROBE_MARK in body or STATIC_MARK in body)
        if not ok:
            refused.append("FALSE REFUSAL: %s %s (%s) got %d" % (method, target, credential,
                                                                 status))
    return refused


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", default="lighttpd,nginx,apache-authnz-fcgi")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="tokengate-diff-")
    os.chmod(scratch, 0o755)
    world_dir = os.path.join(scratch, "world")
    os.mkdir(world_dir)
    world = DifferentialWorld(world_dir)
    print("seed %d, %d targets per server" % (args.seed, args.count))
    failures = 0
    try:
        for name in args.servers.split(","):
            directory = os.path.join(scratch, name)
            os.mkdir(directory, 0o755)
            server = servers.start(name, world, directory)
            started = time.monotonic()
            try:
                rng = random.Random("%d/%s" % (args.seed, name))
                requests = [generate(rng) for _ in range(args.count)]
                with open(os.path.join(directory, "requests.log"), "w") as log:
                    sent, served, problems = run(server, world, world.config("check.conf"),
                                                 requests, log)
                problems += ordinary_refusals(server, world)
            finally:
                server.stop()
            print("%s: %d targets, %d served, %d problems, %.0f s" % (
                name, sent, served, len(problems), time.monotonic() - started))
            for problem in problems[:50]:
                print("  " + problem)
            failures += len(problems)
    finally:
        if args.keep:
            print("kept " + scratch)
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    print("%d passed, %d failed" % (0 if failures else 1, 1 if failures else 0))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
