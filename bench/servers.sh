#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# bench/servers.sh - requests/s of real web servers with and without tokengate,
# measured side by side in one run with wrk on 127.0.0.1, and their ratios.
#
#   lighttpd + tokengate        (unix socket, authorizer mode)
#   lighttpd + noop authorizer  (the FastCGI hop alone)
#   lighttpd, no authorization
#   Apache mod_authnz_fcgi + tokengate      (TCP: the module speaks nothing else)
#   Apache mod_authnz_fcgi + noop authorizer
#   Apache + mod_auth_openidc (AuthType oauth20, same key, equivalent Require claim)
#   lighttpd + tokengate again, while 1,000 idle connections are held to its socket
#
# Every protected request carries the same valid RS256 token and must pass an
# org-role check (min_role Admin in org o-1); tokengate decides it from its
# verified-token cache after the first request. Each scenario runs ROUNDS times,
# interleaved with the others; the best round counts.
# Usage: bench/servers.sh [BUILD_DIR]  (DURATION=5 ROUNDS=2 CONNECTIONS=32)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build/plain}
duration=${DURATION:-5}
rounds=${ROUNDS:-2}
connections=${CONNECTIONS:-32}

for tool in wrk lighttpd apache2; do
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || {
        echo "bench/servers.sh needs wrk, lighttpd, apache2 and libapache2-mod-auth-openidc:"
        echo "  apt-get install wrk lighttpd apache2 libapache2-mod-auth-openidc"
        exit 2
    }
done
[ -f /usr/lib/apache2/modules/mod_auth_openidc.so ] || {
    echo "apt-get install libapache2-mod-auth-openidc"; exit 2; }
make -C "$build" -s benchmarks >/dev/null
tokengate="$build/tokengate"
noop="$build/bench/noop_authorizer"

work=$(mktemp -d "${TMPDIR:-/tmp}/tokengate-bench.XXXXXX")
chmod 755 "$work"
pids=""
cleanup() {
    for pid in $pids; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_port() {
    i=0
    while ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && [ $i -lt 200 ]; do
        sleep 0.05; i=$((i + 1))
    done
}

# Key, certificate (mod_auth_openidc wants X.509), token, docroot.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/key.pem" 2>/dev/null
openssl pkey -in "$work/key.pem" -pubout -out "$work/key.pub"
openssl req -x509 -new -key "$work/key.pem" -subj /CN=bench -days 2 -out "$work/cert.pem" 2>/dev/null
mkdir -p "$work/www/orgs/o-1/admin"
head -c 512 /dev/zero | tr '\0' 'x' >"$work/www/orgs/o-1/admin/index.html"
chmod -R a+rX "$work"
token=$(echo '{"iss": "https://auth.example.com", "user_id": "u-bench", "sub": "u-bench",
  "email": "bench@example.com", "org_id_to_org_member_info": {"o-1": {"org_id": "o-1",
  "org_name": "Bench", "user_role": "Admin",
  "inherited_user_roles_plus_current_role": ["Admin", "Member"],
  "user_permissions": ["can_view_billing"]}}}' |
  "$tokengate" mint --key "$work/key.pem" --kid bench --ttl 7200 -)

tg_tcp_port=$(free_port)
noop_tcp_port=$(free_port)
for name in unix tcp; do
    if [ $name = unix ]; then listen="$work/tokengate.sock"; else listen="127.0.0.1:$tg_tcp_port"; fi
    cat >"$work/tokengate-$name.conf" <<CONF
[tokengate]
listen = $listen
socket_mode = 0666
threads = 4
log_level = warn
[token]
verifier_key = $work/key.pub
auth_url = https://auth.example.com
[rule admin]
path = /orgs/{org_id}/admin/**
org = path:org_id
min_role = Admin
CONF
    "$tokengate" -c "$work/tokengate-$name.conf" >>"$work/tokengate.log" 2>&1 &
    pids="$pids $!"
done
"$noop" "$work/noop.sock" 4 >>"$work/servers.log" 2>&1 &
pids="$pids $!"
"$noop" "127.0.0.1:$noop_tcp_port" 4 >>"$work/servers.log" 2>&1 &
pids="$pids $!"
wait_port "$tg_tcp_port"
wait_port "$noop_tcp_port"

# The start functions set $port; they are not run in $(...), which would
# wait for the background server to close its output, and lose its pid.
lighttpd_start() { # name socket-or-empty
    port=$(free_port)
    {
        echo "server.document-root = \"$work/www\""
        echo "server.port = $port"
        echo "server.bind = \"127.0.0.1\""
        echo "server.errorlog = \"$work/lighttpd-$1.log\""
        echo "server.max-connections = 1024"
        echo "index-file.names = ( \"index.html\" )"
        if [ -n "$2" ]; then
            echo 'server.modules += ( "mod_fastcgi" )'
            echo "fastcgi.server = ( \"/\" => (( \"socket\" => \"$2\", \"mode\" => \"authorizer\","
            echo "  \"docroot\" => \"$work/www\", \"check-local\" => \"disable\" )))"
        fi
    } >"$work/lighttpd-$1.conf"
    lighttpd -D -f "$work/lighttpd-$1.conf" >>"$work/servers.log" 2>&1 &
    pids="$pids $!"
    wait_port "$port"
}

apache_start() { # name body
    port=$(free_port)
    mkdir -p "$work/apache-$1"
    user=""
    [ "$(id -u)" -ne 0 ] || user="User nobody
Group nogroup"
    cat >"$work/apache-$1/httpd.conf" <<CONF
ServerRoot $work/apache-$1
PidFile $work/apache-$1/httpd.pid
Listen 127.0.0.1:$port
ServerName localhost
$user
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authn_core_module /usr/lib/apache2/modules/mod_authn_core.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule authz_user_module /usr/lib/apache2/modules/mod_authz_user.so
LoadModule mime_module /usr/lib/apache2/modules/mod_mime.so
LoadModule dir_module /usr/lib/apache2/modules/mod_dir.so
TypesConfig /etc/mime.types
ErrorLog $work/apache-$1/error.log
LogLevel error
StartServers 2
ThreadsPerChild 25
MaxRequestWorkers 150
KeepAlive On
MaxKeepAliveRequests 0
DocumentRoot $work/www
$2
CONF
    apache2 -f "$work/apache-$1/httpd.conf" -DFOREGROUND >>"$work/servers.log" 2>&1 &
    pids="$pids $!"
    wait_port "$port"
}

authnz_body() { # port
    cat <<CONF
LoadModule authnz_fcgi_module /usr/lib/apache2/modules/mod_authnz_fcgi.so
AuthnzFcgiDefineProvider authnz tokengate fcgi://127.0.0.1:$1/
<Directory $work/www>
    CGIPassAuth On
    AuthType tokengate
    AuthName tokengate
    AuthnzFcgiCheckAuthnProvider tokengate Authoritative On RequireBasicAuth Off UserExpr "%{reqenv:AUTH_PRINCIPAL}"
    Require tokengate
</Directory>
CONF
}

openidc_body="LoadModule auth_openidc_module /usr/lib/apache2/modules/mod_auth_openidc.so
OIDCCryptoPassphrase bench-only-passphrase
OIDCOAuthVerifyCertFiles bench#$work/cert.pem
OIDCOAuthRemoteUserClaim user_id
<Directory $work/www>
    AuthType oauth20
    Require claim org_id_to_org_member_info.o-1.inherited_user_roles_plus_current_role:Admin
</Directory>"

echo "== starting servers"
lighttpd_start tokengate "$work/tokengate.sock"; lighttpd_tokengate=$port
lighttpd_start noop "$work/noop.sock"; lighttpd_noop=$port
lighttpd_start plain ""; lighttpd_plain=$port
apache_start tokengate "$(authnz_body "$tg_tcp_port")"; apache_tokengate=$port
apache_start noop "$(authnz_body "$noop_tcp_port")"; apache_noop=$port
apache_start openidc "$openidc_body"; apache_openidc=$port

url_path=/orgs/o-1/admin/index.html
# Every setup must allow the request, and refuse it without the token where
# it checks anything: a benchmark of a broken setup measures nothing.
check() { # name port expect-refusal
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" \
        "http://127.0.0.1:$2$url_path")
    [ "$code" = 200 ] || { echo "$1: expected 200 with the token, got $code";
        tail -n 20 "$work/servers.log" "$work"/apache-*/error.log; exit 1; }
    if [ "$3" = yes ]; then
        code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$2$url_path")
        [ "$code" = 401 ] || { echo "$1: expected 401 without a token, got $code"; exit 1; }
    fi
}
check lighttpd+tokengate "$lighttpd_tokengate" yes
check lighttpd+noop "$lighttpd_noop" no
check lighttpd "$lighttpd_plain" no
check apache+tokengate "$apache_tokengate" yes
check apache+noop "$apache_noop" no
check apache+mod_auth_openidc "$apache_openidc" yes

measure() { # port -> requests/s
    wrk -t2 -c"$connections" -d"${duration}s" -H "Authorization: Bearer $token" \
        "http://127.0.0.1:$1$url_path" 2>/dev/null | awk '/^Requests\/sec/ {print $2}'
}

# A client of the socket holding 1,000 idle connections to tokengate beside
# the load (reopening each one tokengate closes after request_timeout).
idle_hold() { # socket
    /usr/bin/python3 - "$1" <<'PY' &
import select, socket, sys, time
path = sys.argv[1]
def opened():
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    return s
held = [opened() for _ in range(1000)]
while True:
    readable, _, _ = select.select(held, [], [], 1.0)
    for s in readable:
        held.remove(s)
        s.close()
        held.append(opened())
PY
    idle_pid=$!
    pids="$pids $idle_pid"
    sleep 1
}
idle_release() { kill "$idle_pid" 2>/dev/null || true; wait "$idle_pid" 2>/dev/null || true; }

names="lighttpd_tokengate lighttpd_noop lighttpd_plain apache_tokengate apache_noop apache_openidc"
for name in $names; do eval "best_$name=0"; done
best_lighttpd_tokengate_idle=0
round=1
while [ $round -le "$rounds" ]; do
    for name in $names; do
        eval "port=\$$name"
        rate=$(measure "$port")
        echo "round $round  $name: $rate requests/s"
        eval "best=\$best_$name"
        if awk -v a="$rate" -v b="$best" 'BEGIN { exit !(a > b) }'; then
            eval "best_$name=$rate"
        fi
    done
    idle_hold "$work/tokengate.sock"
    rate=$(measure "$lighttpd_tokengate")
    idle_release
    echo "round $round  lighttpd_tokengate with 1,000 idle connections: $rate requests/s"
    if awk -v a="$rate" -v b="$best_lighttpd_tokengate_idle" 'BEGIN { exit !(a > b) }'; then
        best_lighttpd_tokengate_idle=$rate
    fi
    round=$((round + 1))
done

echo
echo "== best of $rounds rounds, ${duration}s each, $connections connections, $(nproc) cores"
for name in $names; do eval "echo \"  $name: \$best_$name requests/s\""; done
echo "  lighttpd_tokengate with 1,000 idle connections: $best_lighttpd_tokengate_idle requests/s"
ratio() { awk -v a="$2" -v b="$3" -v label="$1" 'BEGIN { printf "  %-52s %.2f\n", label, a / b }'; }
echo "== ratios"
ratio "lighttpd+tokengate / lighttpd+noop authorizer" "$best_lighttpd_tokengate" "$best_lighttpd_noop"
ratio "lighttpd+tokengate / lighttpd without authorization" "$best_lighttpd_tokengate" "$best_lighttpd_plain"
ratio "lighttpd+tokengate, 1,000 idle connections held / without" \
    "$best_lighttpd_tokengate_idle" "$best_lighttpd_tokengate"
ratio "apache+tokengate / apache+noop authorizer" "$best_apache_tokengate" "$best_apache_noop"
ratio "apache+tokengate / apache+mod_auth_openidc" "$best_apache_tokengate" "$best_apache_openidc"
ratio "lighttpd+tokengate / apache+mod_auth_openidc" "$best_lighttpd_tokengate" "$best_apache_openidc"
