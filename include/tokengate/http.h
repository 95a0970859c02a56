/* SPDX-License-Identifier: Apache-2.0 */
/* http.h - fetch one document over HTTPS with libcurl.
 *
 * The only HTTP client in tokengate: it fetches key material from
 * providers and asks PropelAuth about API keys. Every fetch has a connect and a total timeout, verifies the
 * peer's certificate and host name (there is no switch to turn that off;
 * ca_file adds a private CA), follows no redirect, and keeps at most
 * TG_HTTP_BODY_MAX bytes. Plain http:// is allowed only to a loopback
 * address, where nothing leaves the machine.
 *
 * What the answers' cache headers mean is in provider.h.
 */
#ifndef TOKENGATE_HTTP_H
#define TOKENGATE_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "tokengate/jwk.h"
#include "tokengate/text.h"

/* The largest answer taken: a JWK set (or PropelAuth metadata, smaller). */
#define TG_HTTP_BODY_MAX TG_JWKS_MAX_BYTES
#define TG_HTTP_CONNECT_TIMEOUT_MS 5000
#define TG_HTTP_TOTAL_TIMEOUT_MS 10000
#define TG_HTTP_HEADERS_MAX 4

struct tg_http_options {
    const char *ca_file;          /* NULL: the system's CA bundle */
    long connect_timeout_ms;      /* 0: TG_HTTP_CONNECT_TIMEOUT_MS */
    long total_timeout_ms;        /* 0: TG_HTTP_TOTAL_TIMEOUT_MS */
    const atomic_bool *cancel;    /* when set to true, a fetch in progress stops */
};

struct tg_http_response {
    long status;                  /* HTTP status, 0 when none arrived */
    char *body;                   /* NUL-terminated; the caller frees it */
    size_t body_len;
    long max_age;                 /* Cache-Control max-age in seconds, or -1 */
    long retry_after;             /* Retry-After in seconds from now, or -1 */
};

/* Fetches URL with up to TG_HTTP_HEADERS_MAX extra request HEADERS ("Name:
 * value", NULL-terminated list, may be NULL): a GET, or with JSON_BODY a
 * POST of it as application/json. Returns 0 once any HTTP response arrived
 * (whatever its status), or -1 with a sentence in ERROR for a transport
 * failure. ERROR never holds a header value or the body: they carry API
 * keys. */
int tg_http_fetch(const struct tg_http_options *options, const char *url,
                  const char *const *headers, const char *json_body,
                  struct tg_http_response *response, struct tg_error *error);
void tg_http_response_clear(struct tg_http_response *response);

/* Call once, before any thread starts (libcurl's global state). */
int tg_http_global_init(void);

#endif
