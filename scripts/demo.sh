#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Quickstart: installs what is needed, builds tokengate, makes a demo key,
# configuration and three tokens (an Owner, a Member, an outsider), starts
# lighttpd + tokengate on 127.0.0.1:8080 in front of a legacy CGI script, and
# shows real requests with their real responses. Ctrl-C stops everything.
#
#   scripts/demo.sh            the full quickstart
#   scripts/demo.sh --once     show the requests, then stop (used by the tests)
#   DEMO_PORT=9090 scripts/demo.sh
#   TOKENGATE=/path/to/tokengate scripts/demo.sh --no-install
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
once=no
install=yes
for argument in "$@"; do
    case "$argument" in
        --once) once=yes ;;
        --no-install) install=no ;;
        *) echo "usage: $0 [--once] [--no-install]" >&2; exit 2 ;;
    esac
done
port=${DEMO_PORT:-8080}

[ "$install" = no ] || "$top/scripts/install-deps.sh"
if [ -z "${TOKENGATE:-}" ]; then
    build="$top/build/demo"
    if [ ! -x "$build/tokengate" ]; then
        echo "== building tokengate"
        # Out of tree, from a clean copy when the checkout is configured in
        # place: the demo never touches the user's own build.
        source=$("$top/scripts/clean-source.sh" "$top")
        (cd "$source" && ./autogen.sh >/dev/null 2>&1)
        mkdir -p "$build"
        (cd "$build" && "$source/configure" -q --disable-unit-tests && make -s -j2 >/dev/null)
    fi
    TOKENGATE="$build/tokengate"
fi

demo=$(mktemp -d "${TMPDIR:-/tmp}/tokengate-demo.XXXXXX")
chmod 755 "$demo"
pids=""
stop() {
    for pid in $pids; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$demo"
}
trap stop EXIT
trap 'exit 0' INT TERM

echo "== demo files in $demo"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$demo/private.pem" 2>/dev/null
openssl pkey -in "$demo/private.pem" -pubout -out "$demo/verifier.pem"
for dir in app public orgs/acme/admin orgs/acme/billing; do
    mkdir -p "$demo/www/$dir"
    cp "$top/contrib/whoami.cgi" "$demo/www/$dir/whoami.cgi"
done
chmod -R a+rX "$demo"

cat >"$demo/tokengate.conf" <<CONF
[tokengate]
listen = $demo/tokengate.sock
socket_mode = 0660
realm = demo

[token]
verifier_key = $demo/verifier.pem
auth_url = https://auth.example.com

[rule public]
path = /public/**
require = open

[rule admin]
path = /orgs/{org_id}/admin/**
org = path:org_id
min_role = Admin

[rule billing]
path = /orgs/{org_id}/billing/**
org = path:org_id
permission = can_view_billing

[rule app]
path = /app/**
require = user
CONF
"$TOKENGATE" -t -c "$demo/tokengate.conf"

mint() {
    echo "$2" | "$TOKENGATE" mint --key "$demo/private.pem" --kid demo --ttl 3600 - >"$demo/$1.token"
}
mint owner '{"iss": "https://auth.example.com", "user_id": "u-ada", "email": "ada@example.com",
  "org_id_to_org_member_info": {"acme": {"org_id": "acme", "org_name": "Acme",
  "user_role": "Owner", "inherited_user_roles_plus_current_role": ["Owner", "Admin", "Member"],
  "user_permissions": ["can_view_billing"]}}}'
mint member '{"iss": "https://auth.example.com", "user_id": "u-bob", "email": "bob@example.com",
  "org_id_to_org_member_info": {"acme": {"org_id": "acme", "org_name": "Acme",
  "user_role": "Member", "inherited_user_roles_plus_current_role": ["Member"],
  "user_permissions": []}}}'
mint outsider '{"iss": "https://auth.example.com", "user_id": "u-eve", "email": "eve@example.com",
  "org_id_to_org_member_info": {}}'

cat >"$demo/lighttpd.conf" <<CONF
server.document-root = "$demo/www"
server.port = $port
server.bind = "127.0.0.1"
server.errorlog = "$demo/lighttpd.log"
$(sed -e "s|/run/tokengate/tokengate.sock|$demo/tokengate.sock|" -e "s|/srv/www|$demo/www|" \
      "$top/contrib/lighttpd/tokengate.conf")
CONF

"$TOKENGATE" -c "$demo/tokengate.conf" 2>"$demo/tokengate.log" &
pids="$pids $!"
i=0
while [ ! -S "$demo/tokengate.sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
lighttpd -D -f "$demo/lighttpd.conf" &
pids="$pids $!"
i=0
while ! curl -s -o /dev/null "http://127.0.0.1:$port/" && [ $i -lt 100 ]; do
    sleep 0.05; i=$((i + 1))
done

show() {
    who=$1 path=$2
    echo
    if [ "$who" = nobody ]; then
        echo "\$ curl -i http://127.0.0.1:$port$path"
        curl -s -i --path-as-is "http://127.0.0.1:$port$path" | tr -d '\r' |
            grep -v -i '^\(date\|server\|content-length\|accept-ranges\):'
    else
        echo "\$ curl -i -H \"Authorization: Bearer \$${who}_token\" http://127.0.0.1:$port$path"
        curl -s -i --path-as-is -H "Authorization: Bearer $(cat "$demo/$who.token")" \
            "http://127.0.0.1:$port$path" | tr -d '\r' |
            grep -v -i '^\(date\|server\|content-length\|accept-ranges\):'
    fi
}

echo
echo "== lighttpd on http://127.0.0.1:$port, asking tokengate before every request"
show nobody /public/whoami.cgi
show nobody /app/whoami.cgi
show owner /app/whoami.cgi
show owner /orgs/acme/admin/whoami.cgi
show member /orgs/acme/admin/whoami.cgi
show member /orgs/acme/billing/whoami.cgi
show outsider /orgs/acme/admin/whoami.cgi
show nobody /public/../app/whoami.cgi
echo
echo "== tokengate's decision log"
sleep 0.3   # log lines are written a moment later, by a thread of their own
cat "$demo/tokengate.log"

if [ "$once" = yes ]; then
    exit 0
fi
echo
echo "Tokens are in $demo/*.token; try for example:"
echo "  curl -H \"Authorization: Bearer \$(cat $demo/member.token)\" http://127.0.0.1:$port/app/whoami.cgi"
echo "Press Ctrl-C to stop lighttpd and tokengate."
while :; do sleep 3600; done
