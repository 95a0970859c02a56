#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A legacy CGI application behind tokengate: it only reads the environment
# the web server hands it after tokengate said yes.
printf 'Content-Type: text/plain\r\n\r\n'
echo "hello from the legacy CGI script"
for name in REMOTE_USER AUTH_PRINCIPAL AUTH_USER_ID AUTH_EMAIL AUTH_ORG_ID AUTH_ORG_NAME \
            AUTH_ORG_ROLE AUTH_ORG_ROLES AUTH_ORG_PERMISSIONS AUTH_METHOD AUTH_LOGIN_METHOD \
            AUTH_API_KEY_NAME; do
    eval "value=\${$name-}"
    [ -n "$value" ] && echo "$name=$value"
done
exit 0
