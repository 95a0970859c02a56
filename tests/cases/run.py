# SPDX-License-Identifier: Apache-2.0
"""Runs every decision case in this directory through `tokengate check`.

One file is one case: a configuration fragment (rules, and any section
besides [token], which the driver provides), one request, and the lines the
response must hold. A bug report becomes one file:

    # What the case shows.
    --- configuration
    [rule admin]
    path = /orgs/{org_id}/admin/**
    org = path:org_id
    min_role = Admin
    --- request
    GET /orgs/o-1/admin/x
    token: member            (owner, member, outsider, expired, or none)
    header: X-Org-Id: o-1    (any number)
    --- expect
    Status: 403              (the first line of the response)
    Variable-AUTH_ORG_ROLE: Owner
    !Variable-AUTH_USER_ID   (a line starting with ! must be absent)

Prints TAP: one "ok"/"not ok" line per case, the plan last.
Usage: run.py TOKENGATE [CASE...]
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

ISSUER = "https://auth.example.com"


def membership(role, inherited, permissions):
    return {"org_id": "o-1", "org_name": "Acme", "url_safe_org_name": "acme",
            "user_role": role, "inherited_user_roles_plus_current_role": inherited,
            "user_permissions": permissions}


USERS = {
    "owner": ({"user_id": "owner-1", "email": "owner@example.com",
               "org_id_to_org_member_info": {"o-1": membership(
                   "Owner", ["Owner", "Admin", "Member"], ["can_view_billing"])}}, 3600),
    "member": ({"user_id": "member-1", "org_id_to_org_member_info": {"o-1": membership(
        "Member", ["Member"], [])}}, 3600),
    "outsider": ({"user_id": "outsider-1", "org_id_to_org_member_info": {}}, 3600),
    "expired": ({"user_id": "owner-1", "org_id_to_org_member_info": {}}, -600),
}


def read_case(path):
    blocks, current = {}, None
    with open(path, encoding="utf-8") as source:
        for line in source:
            line = line.rstrip("\n")
            if line.startswith("--- "):
                current = line[4:].strip()
                blocks[current] = []
            elif current:
                blocks[current].append(line)
    for needed in ("configuration", "request", "expect"):
        if needed not in blocks:
            raise ValueError("no '--- %s' block" % needed)
    return blocks


def run_case(tokengate, work, tokens, path):
    blocks = read_case(path)
    config = os.path.join(work, "case.conf")
    with open(config, "w", encoding="utf-8") as out:
        out.write("[tokengate]\nrealm = cases\n[token]\nverifier_key = %s\nissuer = %s\n%s\n"
                  % (os.path.join(work, "key.pub"), ISSUER, "\n".join(blocks["configuration"])))
    request = [line for line in blocks["request"] if line.strip() and not line.startswith("#")]
    method, target = request[0].split(None, 1)
    args = [tokengate, "check", "-c", config, "-X", method]
    for line in request[1:]:
        name, _, value = line.partition(":")
        value = value.strip()
        if name == "token":
            if value != "none":
                args += ["--token", tokens[value]]
        elif name == "header":
            args += ["-H", value]
        else:
            raise ValueError("unknown request line: " + line)
    args.append(target)
    result = subprocess.run(args, capture_output=True, text=True, timeout=30)
    lines = result.stdout.split("\n")
    problems = []
    if result.returncode == 2:
        problems.append("tokengate check failed: " + result.stderr.strip())
    for wanted in blocks["expect"]:
        if not wanted.strip() or wanted.startswith("#"):
            continue
        if wanted.startswith("!"):
            if any(line.startswith(wanted[1:]) for line in lines):
                problems.append("holds " + wanted[1:])
        elif wanted.startswith("Status:") and lines[0] != wanted:
            problems.append("first line %r, not %r" % (lines[0], wanted))
        elif wanted not in lines:
            problems.append("lacks %r" % wanted)
    if problems:
        problems.append("response:\n" + result.stdout + result.stderr)
    return problems


def main():
    tokengate = sys.argv[1]
    cases = sys.argv[2:] or sorted(glob.glob(os.path.join(os.path.dirname(__file__), "*.case")))
    work = tempfile.mkdtemp(prefix="tokengate-cases-")
    key = os.path.join(work, "key.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:2048", "-out", key], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out",
                    os.path.join(work, "key.pub")], check=True, capture_output=True)
    tokens = {}
    for name, (claims, ttl) in USERS.items():
        tokens[name] = subprocess.run(
            [tokengate, "mint", "--key", key, "--ttl", str(ttl), "-"],
            input=json.dumps(dict(claims, iss=ISSUER)), capture_output=True, text=True,
            check=True).stdout.strip()
    failed = 0
    for number, path in enumerate(cases, 1):
        name = os.path.basename(path)
        try:
            problems = run_case(tokengate, work, tokens, path)
        except (ValueError, IndexError, OSError, subprocess.SubprocessError) as error:
            problems = ["cannot run the case: %s" % error]
        if problems:
            failed += 1
            print("not ok %d - %s" % (number, name))
            for problem in problems:
                for line in problem.splitlines():
                    print("#   " + line)
        else:
            print("ok %d - %s" % (number, name))
    print("1..%d" % len(cases))
    subprocess.run(["rm", "-rf", work])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
