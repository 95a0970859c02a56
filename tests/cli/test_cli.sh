#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# CLI-level tests: the tokengate binary as users and web servers see it.
# Keys are made with the openssl command line; PyJWT (Debian python3-jwt)
# checks that tokengate's tokens and a standard library's agree both ways.
set -u

TOKENGATE=${TOKENGATE:-$(pwd)/tokengate}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tokengate-cli.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
PASSED=0
FAILED=0

ok() { PASSED=$((PASSED + 1)); echo "ok - $1"; }
not_ok() { FAILED=$((FAILED + 1)); echo "not ok - $1"; }
# expect NAME EXPECTED_EXIT COMMAND...: runs COMMAND, output in $WORK/out.
expect() {
    name=$1 expected=$2
    shift 2
    "$@" >"$WORK/out" 2>"$WORK/err"
    status=$?
    if [ "$status" -eq "$expected" ]; then ok "$name"; else
        not_ok "$name (exit $status, expected $expected)"; sed 's/^/#   /' "$WORK/out" "$WORK/err"; fi
}
# contains NAME FILE TEXT: FILE holds TEXT literally.
contains() {
    if grep -qF -- "$3" "$2"; then ok "$1"; else not_ok "$1: '$3' not in $2"; sed 's/^/#   /' "$2"; fi
}
lacks() {
    if grep -qF -- "$3" "$2"; then not_ok "$1: '$3' found in $2"; else ok "$1"; fi
}

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/rsa.pem" 2>/dev/null
openssl pkey -in "$WORK/rsa.pem" -pubout -out "$WORK/rsa.pub" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/ec.pem" 2>/dev/null
openssl pkey -in "$WORK/ec.pem" -pubout -out "$WORK/ec.pub" 2>/dev/null

cat >"$WORK/tokengate.conf" <<CONF
[tokengate]
realm = cli-test
[token]
verifier_key = $WORK/rsa.pub
verifier_key = $WORK/ec.pub
auth_url = https://auth.example.com
algorithms = RS256 ES256
[rule public]
path = /public/**
require = open
[rule billing]
path = /api/org/{org_id}/billing
org = path:org_id
min_role = Admin
[rule app]
path = /app/**
CONF

cat >"$WORK/owner.json" <<'JSON'
{"iss": "https://auth.example.com", "user_id": "owner-1", "email": "owner@example.com",
 "org_id_to_org_member_info": {"o-1": {"org_id": "o-1", "org_name": "Acme",
   "user_role": "Owner", "inherited_user_roles_plus_current_role": ["Owner", "Admin", "Member"],
   "user_permissions": ["can_view_billing"]}}}
JSON

# --- basics ---
expect "--version exits 0" 0 "$TOKENGATE" --version
contains "--version names tokengate" "$WORK/out" "tokengate "
expect "--help exits 0" 0 "$TOKENGATE" --help
contains "--help shows check" "$WORK/out" "tokengate check"
expect "unknown argument is a usage error" 2 "$TOKENGATE" frobnicate

# --- -t ---
expect "-t accepts a valid configuration" 0 "$TOKENGATE" -t -c "$WORK/tokengate.conf"
expect "-t via TOKENGATE_CONFIG" 0 env TOKENGATE_CONFIG="$WORK/tokengate.conf" "$TOKENGATE" -t
cat >"$WORK/broken.conf" <<CONF
[tokengate]
threads = lots
colour = blue
[token]
verifier_key = $WORK/missing.pem
auth_url = https://auth.example.com
[rule r]
path = /x
min_role = Admin
CONF
expect "-t refuses a broken configuration" 1 "$TOKENGATE" -t -c "$WORK/broken.conf"
contains "-t names line 2" "$WORK/err" "$WORK/broken.conf:2: threads"
contains "-t names line 3" "$WORK/err" "$WORK/broken.conf:3: unknown key 'colour'"
contains "-t names the rule line" "$WORK/err" "$WORK/broken.conf:7: [rule r]: role, min_role and permission need org"
expect "-t with a missing file" 1 "$TOKENGATE" -t -c "$WORK/nope.conf"
contains "-t names the missing file" "$WORK/err" "$WORK/nope.conf"

# --- -t: what fails at run time (errors) and what is risky (warnings) ---
# preflight NAME [TOKENGATE_LINES] [TOKEN_LINES] [RULE_LINES]: a configuration
# with those lines in $WORK/NAME.conf.
preflight() {
    printf '[tokengate]\n%b\n[token]\nverifier_key = %s\nauth_url = https://auth.example.com\n%b\n[roles]\nhierarchy = Owner > Admin > Member\n[rule r]\npath = /x\norg = id:o-1\n%b\n' \
        "${2-}" "$WORK/rsa.pub" "${3-}" "${4-}" >"$WORK/$1.conf"
}
preflight nodir "listen = $WORK/missing/tg.sock"
expect "-t: a socket in a missing directory is an error" 1 "$TOKENGATE" -t -c "$WORK/nodir.conf"
contains "-t names the listen line" "$WORK/err" "$WORK/nodir.conf:2: listen: the directory $WORK/missing does not exist"
preflight nostatusdir "status_listen = $WORK/missing/status.sock"
expect "-t: status_listen in a missing directory is an error" 1 "$TOKENGATE" -t -c "$WORK/nostatusdir.conf"
contains "-t names the status_listen line" "$WORK/err" "$WORK/nostatusdir.conf:2: status_listen: the directory"
preflight nouser "listen = $WORK/tg.sock\nsocket_owner = no-such-user-here"
expect "-t: an unknown socket_owner is an error" 1 "$TOKENGATE" -t -c "$WORK/nouser.conf"
contains "-t names the socket_owner line" "$WORK/err" "$WORK/nouser.conf:3: socket_owner: no user 'no-such-user-here'"
preflight nostate "state_dir = $WORK/missing/state" "jwks = https://127.0.0.1:9/jwks.json"
expect "-t: a state_dir that cannot be created is an error" 1 "$TOKENGATE" -t -c "$WORK/nostate.conf"
contains "-t names the state_dir line" "$WORK/err" "$WORK/nostate.conf:2: state_dir $WORK/missing/state cannot be created"
mkdir -p "$WORK/open-state" && chmod 777 "$WORK/open-state"
preflight openstate "state_dir = $WORK/open-state" "jwks = https://127.0.0.1:9/jwks.json"
expect "-t: a state_dir others can write is an error" 1 "$TOKENGATE" -t -c "$WORK/openstate.conf"
contains "-t says why the state_dir is unsafe" "$WORK/err" "$WORK/openstate.conf:2: state_dir:"
preflight nostatefiles "state_dir = $WORK/missing/state"
expect "-t: state_dir does not matter without remote keys" 0 "$TOKENGATE" -t -c "$WORK/nostatefiles.conf"
preflight wide "listen = 0.0.0.0:9000\nstatus_listen = [::]:9180"
expect "-t: listening beyond loopback is a warning" 0 "$TOKENGATE" -t -c "$WORK/wide.conf"
contains "-t warns about listen" "$WORK/err" "$WORK/wide.conf:2: warning: listen = 0.0.0.0:9000 is reachable beyond this machine"
contains "-t warns about status_listen" "$WORK/err" "$WORK/wide.conf:3: warning: status_listen = [::]:9180 is reachable"
contains "-t still says valid" "$WORK/out" "configuration is valid"
preflight farredis "" "[fleet]\nredis = redis://10.1.2.3:6379"
expect "-t: a Redis beyond this machine is a warning" 0 "$TOKENGATE" -t -c "$WORK/farredis.conf"
contains "-t warns about redis" "$WORK/err" "$WORK/farredis.conf:7: warning: redis = redis://10.1.2.3:6379 leaves this machine"
preflight nearredis "" "[fleet]\nredis = redis://127.0.0.1:6379/1"
expect "-t: a Redis on loopback is no warning" 0 "$TOKENGATE" -t -c "$WORK/nearredis.conf"
if grep -q warning "$WORK/err"; then not_ok "-t: no warning for loopback redis"; else ok "-t: no warning for loopback redis"; fi
preflight typo "" "" "min_role = admin"
expect "-t: a min_role outside the hierarchy is a warning" 0 "$TOKENGATE" -t -c "$WORK/typo.conf"
contains "-t names the rule" "$WORK/err" "$WORK/typo.conf:9: warning: [rule r] min_role admin is not in the hierarchy of line 8"
preflight typo-role "" "" "role = Onwer"
expect "-t: a role outside the hierarchy is a warning" 0 "$TOKENGATE" -t -c "$WORK/typo-role.conf"
contains "-t names the role" "$WORK/err" "role Onwer is not in the hierarchy"
preflight fine "listen = $WORK/tg.sock" "" "min_role = Admin"
expect "-t: a sound configuration passes quietly" 0 "$TOKENGATE" -t -c "$WORK/fine.conf"
lacks "-t: no warning for it" "$WORK/err" "warning"
chmod 666 "$WORK/ec.pub"
expect "-t: a key file others can write is an error" 1 "$TOKENGATE" -t -c "$WORK/tokengate.conf"
contains "-t says which key file" "$WORK/err" "$WORK/ec.pub"
chmod 644 "$WORK/ec.pub"
# As another user (root may write anywhere): what that user cannot do.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
    chmod 755 "$WORK"
    mkdir -p "$WORK/root-state" "$WORK/root-run"
    chmod 755 "$WORK/root-state" "$WORK/root-run"
    preflight asnobody "listen = $WORK/root-run/tg.sock\nstate_dir = $WORK/root-state" "jwks = https://127.0.0.1:9/jwks.json"
    chmod 644 "$WORK/asnobody.conf"
    as_nobody="setpriv --reuid=65534 --regid=65534 --clear-groups"
    expect "-t as another user: unwritable socket directory and state_dir" 1 $as_nobody "$TOKENGATE" -t -c "$WORK/asnobody.conf"
    contains "-t: the socket directory" "$WORK/err" "$WORK/asnobody.conf:2: listen: user 65534 cannot create files in $WORK/root-run"
    contains "-t: the state_dir" "$WORK/err" "$WORK/asnobody.conf:3: state_dir $WORK/root-state is not a directory user 65534 can write"
    preflight giveaway "listen = /tmp/tg-giveaway-$$.sock\nsocket_owner = root"
    chmod 644 "$WORK/giveaway.conf"
    expect "-t as another user: socket_owner only root could set" 1 $as_nobody "$TOKENGATE" -t -c "$WORK/giveaway.conf"
    contains "-t: says only root can" "$WORK/err" "$WORK/giveaway.conf:3: socket_owner: user 65534 cannot give its socket to another user"
fi

# --- mint and check ---
expect "mint RS256" 0 "$TOKENGATE" mint --key "$WORK/rsa.pem" --kid k1 "$WORK/owner.json"
OWNER=$(cat "$WORK/out")
expect "check allows the owner" 0 "$TOKENGATE" check -c "$WORK/tokengate.conf" --token "$OWNER" /api/org/o-1/billing
[ "$(head -n 1 "$WORK/out")" = "Status: 200" ] && ok "Status is the first line" || not_ok "Status is the first line"
contains "check prints REMOTE_USER" "$WORK/out" "Variable-REMOTE_USER: owner-1"
contains "check prints the org role" "$WORK/out" "Variable-AUTH_ORG_ROLE: Owner"
lacks "check output holds no token" "$WORK/out" "$OWNER"
expect "-H Authorization works like --token" 0 "$TOKENGATE" check -c "$WORK/tokengate.conf" -H "Authorization: Bearer $OWNER" /app/x
expect "check refuses without a token" 1 "$TOKENGATE" check -c "$WORK/tokengate.conf" /app/x
contains "401 status" "$WORK/out" "Status: 401"
contains "401 challenge" "$WORK/out" 'WWW-Authenticate: Bearer realm="cli-test"'
expect "check refuses another org" 1 "$TOKENGATE" check -c "$WORK/tokengate.conf" --token "$OWNER" /api/org/o-2/billing
contains "403 status" "$WORK/out" "Status: 403"
expect "check: method via -X" 0 "$TOKENGATE" check -c "$WORK/tokengate.conf" -X POST --token "$OWNER" /app/x
expect "check: open path" 0 "$TOKENGATE" check -c "$WORK/tokengate.conf" /public/x
contains "open path principal" "$WORK/out" "Variable-AUTH_PRINCIPAL: -"
expect "check: traversal into /app is 401" 1 "$TOKENGATE" check -c "$WORK/tokengate.conf" /public/../app/x
expect "check: encoded traversal is 401" 1 "$TOKENGATE" check -c "$WORK/tokengate.conf" /public/%2e%2e/app/x
expect "check: NUL is 400" 1 "$TOKENGATE" check -c "$WORK/tokengate.conf" /app/%00
contains "400 status" "$WORK/out" "Status: 400"
expect "check: --token=T, options after the URI" 0 "$TOKENGATE" check /api/org/o-1/billing --token="$OWNER" -c "$WORK/tokengate.conf"
expect "check: a value that starts with -" 1 "$TOKENGATE" check -c "$WORK/tokengate.conf" -H "X-A: -b" /app/x
expect "check: two URIs" 2 "$TOKENGATE" check -c "$WORK/tokengate.conf" /app/x /app/y
expect "check: an option without its value" 2 "$TOKENGATE" check -c "$WORK/tokengate.conf" /app/x -X
expect "-c without a FILE" 2 "$TOKENGATE" -c
contains "-c says what it needs" "$WORK/err" "tokengate: -c needs a FILE"
expect "check: usage error" 2 "$TOKENGATE" check -c "$WORK/tokengate.conf"
expect "check: bad header" 2 "$TOKENGATE" check -c "$WORK/tokengate.conf" -H "nocolon" /app/x
expect "check: broken configuration is exit 2" 2 "$TOKENGATE" check -c "$WORK/broken.conf" /app/x

echo '{"iss": "https://auth.example.com", "user_id": "u-stdin"}' >"$WORK/stdin.json"
expect "mint ES256 from stdin" 0 sh -c "'$TOKENGATE' mint --key '$WORK/ec.pem' - < '$WORK/stdin.json'"
EC_TOKEN=$(cat "$WORK/out")
expect "check accepts ES256" 0 "$TOKENGATE" check -c "$WORK/tokengate.conf" --token "$EC_TOKEN" /app/x
contains "ES256 user" "$WORK/out" "Variable-AUTH_USER_ID: u-stdin"
expect "mint an expired token" 0 "$TOKENGATE" mint --key "$WORK/rsa.pem" --ttl -600 "$WORK/owner.json"
expect "check refuses it" 1 "$TOKENGATE" check -c "$WORK/tokengate.conf" --token "$(cat "$WORK/out")" /app/x
contains "expired description" "$WORK/out" 'error_description="the token has expired"'
expect "mint --ttl=-60 (a negative value)" 0 "$TOKENGATE" mint --key "$WORK/rsa.pem" --ttl=-60 "$WORK/owner.json"
expect "mint --ttl -60 (the value as the next argument)" 0 "$TOKENGATE" mint --key "$WORK/rsa.pem" --ttl -60 "$WORK/owner.json"
expect "mint without --key" 2 "$TOKENGATE" mint "$WORK/owner.json"
expect "mint with bad claims" 2 sh -c "echo '[1,2]' | '$TOKENGATE' mint --key '$WORK/rsa.pem' -"
expect "mint with an unknown algorithm" 2 "$TOKENGATE" mint --key "$WORK/rsa.pem" --alg none "$WORK/owner.json"

# --- local API keys: tokengate key new, and the key in a decision ---
expect "key new prints a key and its section" 0 "$TOKENGATE" key new robot --user robot-1 --org o-1 --role Admin --permission can_view_billing --expires 2030-01-01
API_KEY=$(head -n 1 "$WORK/out")
if echo "$API_KEY" | grep -qE '^tg_[A-Za-z0-9_-]{43}$'; then ok "the key is tg_ and 256 bits of base64url"; else not_ok "key format: $API_KEY"; fi
HASH=$(printf '%s' "$API_KEY" | sha256sum | cut -d ' ' -f 1)
contains "the section holds the key's SHA-256" "$WORK/out" "hash = sha256:$HASH"
contains "the section names the key" "$WORK/out" "[api_key robot]"
contains "the section holds the expiry" "$WORK/out" "expires = 2030-01-01"
[ "$(grep -c "$API_KEY" "$WORK/out")" -eq 1 ] && ok "the key is printed once" || not_ok "the key is printed once"
tail -n +3 "$WORK/out" >"$WORK/api_keys.conf"
chmod 600 "$WORK/api_keys.conf"
cat >"$WORK/keys.conf" <<CONF
[token]
verifier_key = $WORK/rsa.pub
auth_url = https://auth.example.com
[roles]
hierarchy = Owner > Admin > Member
[api_keys]
file = $WORK/api_keys.conf
[rule billing]
path = /api/org/{org_id}/billing
org = path:org_id
min_role = Admin
permission = can_view_billing
api_keys = yes
[rule app]
path = /app/**
CONF
expect "-t counts the local keys" 0 "$TOKENGATE" -t -c "$WORK/keys.conf"
contains "-t says how many" "$WORK/out" "1 local API keys"
expect "check accepts the new key" 0 "$TOKENGATE" check -c "$WORK/keys.conf" -H "Authorization: Token $API_KEY" /api/org/o-1/billing
contains "the key acts as its user" "$WORK/out" "Variable-AUTH_USER_ID: robot-1"
contains "AUTH_METHOD says api_key" "$WORK/out" "Variable-AUTH_METHOD: api_key"
lacks "the response holds no key" "$WORK/out" "$API_KEY"
expect "the key on another org is refused" 1 "$TOKENGATE" check -c "$WORK/keys.conf" -H "Authorization: Token $API_KEY" /api/org/o-2/billing
expect "the key where keys are not accepted is refused" 1 "$TOKENGATE" check -c "$WORK/keys.conf" -H "Authorization: Token $API_KEY" /app/x
contains "and said so" "$WORK/out" "API keys are not accepted here"
chmod 644 "$WORK/api_keys.conf"
expect "-t refuses a keys file others can read" 1 "$TOKENGATE" -t -c "$WORK/keys.conf"
contains "-t names the file's line" "$WORK/err" "$WORK/keys.conf:7: [api_keys] file:"
expect "key new needs a name" 2 "$TOKENGATE" key new
expect "key new: --role needs --org" 2 "$TOKENGATE" key new x --role Admin
expect "key new: a bad expiry" 2 "$TOKENGATE" key new x --expires soon
expect "key new: a bad name" 2 "$TOKENGATE" key new "a b"
"$TOKENGATE" key new again >"$WORK/again" 2>&1
[ "$(head -n 1 "$WORK/again")" != "$API_KEY" ] && ok "every key is new" || not_ok "every key is new"

# --- interoperability with PyJWT ---
PY=/usr/bin/python3
if $PY -c 'import jwt, cryptography' 2>/dev/null; then
    expect "PyJWT verifies a minted token" 0 $PY -c "
import jwt, sys
key = open('$WORK/rsa.pub').read()
claims = jwt.decode('$OWNER', key, algorithms=['RS256'], options={'verify_aud': False})
assert claims['user_id'] == 'owner-1', claims
assert jwt.get_unverified_header('$OWNER')['kid'] == 'k1'
"
    $PY -c "
import jwt, time
key = open('$WORK/rsa.pem').read()
now = int(time.time())
print(jwt.encode({'iss': 'https://auth.example.com', 'user_id': 'py-1', 'iat': now,
                  'exp': now + 600}, key, algorithm='RS256', headers={'kid': 'x'}))
" >"$WORK/py_token"
    expect "tokengate verifies a PyJWT token" 0 "$TOKENGATE" check -c "$WORK/tokengate.conf" --token "$(cat "$WORK/py_token")" /app/x
    contains "PyJWT token user" "$WORK/out" "Variable-AUTH_USER_ID: py-1"
    $PY -c "
import jwt, time
key = open('$WORK/ec.pem').read()
now = int(time.time())
print(jwt.encode({'iss': 'https://auth.example.com', 'sub': 'py-ec', 'exp': now + 600}, key,
                 algorithm='ES256'))
" >"$WORK/py_ec"
    expect "tokengate verifies a PyJWT ES256 token" 0 "$TOKENGATE" check -c "$WORK/tokengate.conf" --token "$(cat "$WORK/py_ec")" /app/x
    $PY -c "
import jwt, time
key = open('$WORK/rsa.pub').read()
now = int(time.time())
print(jwt.encode({'iss': 'https://auth.example.com', 'user_id': 'hs', 'exp': now + 600},
                 'x' * 40, algorithm='HS256'))
" >"$WORK/py_hs"
    expect "tokengate refuses HS256 when only RSA/EC keys exist" 1 "$TOKENGATE" check -c "$WORK/tokengate.conf" --token "$(cat "$WORK/py_hs")" /app/x
else
    not_ok "PyJWT is not installed (apt-get install python3-jwt python3-cryptography)"
fi

# The TAP plan comes last (the number of cases is known only now).
echo "1..$((PASSED + FAILED))"
echo "# $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
