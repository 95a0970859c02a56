/* SPDX-License-Identifier: Apache-2.0 */
/* provider.h - what key providers answer, read without any network.
 *
 * Three kinds of remote key source: PropelAuth's token verification metadata
 * (one PEM key), a JWK set at a URL, and OpenID Connect discovery (a document
 * naming the JWK set's URL). These functions turn a fetched body and status
 * into keys or a sentence for the log, and decide when to fetch next; the
 * refresher (refresh.h) does the fetching.
 */
#ifndef TOKENGATE_PROVIDER_H
#define TOKENGATE_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "tokengate/config.h"
#include "tokengate/jwk.h"
#include "tokengate/keys.h"
#include "tokengate/url.h"
#include "tokengate/text.h"


enum tg_source_kind {
    TG_SOURCE_PROPELAUTH,     /* {backend}/api/v1/token_verification_metadata */
    TG_SOURCE_JWKS_URL,       /* a JWK set */
    TG_SOURCE_OIDC,           /* {issuer}/.well-known/openid-configuration, then its jwks_uri */
};

/* The headers every call to PropelAuth's backend API carries: the
 * integration key, and the auth URL's HOST[:PORT] (X-Propelauth-url).
 * LIST is NULL-terminated, for tg_http_fetch(). AUTHORIZATION holds the
 * key: the caller wipes it after the call. */
struct tg_propelauth_headers {
    char authorization[TG_API_KEY_MAX + 32];
    char propelauth_url[sizeof ((struct tg_url *)0)->authority + 32];
    const char *list[3];
};
void tg_provider_propelauth_headers(const char *api_key, const char *authority,
                                    struct tg_propelauth_headers *headers);

/* Adds the verifier key of a PropelAuth metadata BODY ({"verifier_key_pem":
 * "-----BEGIN PUBLIC KEY-----..."}) to SET. Returns 0, or -1 with ERROR. */
int tg_provider_metadata_read(const char *body, size_t len, struct tg_keyset *set,
                              struct tg_error *error);

/* Reads an OpenID Connect discovery BODY: its "issuer" must be ISSUER
 * exactly (OpenID Connect Discovery 1.0, section 4.3) and its "jwks_uri" a
 * URL tokengate may fetch, copied to JWKS_URI (TG_URL_MAX bytes). Returns 0,
 * or -1 with ERROR. */
int tg_provider_discovery_read(const char *body, size_t len, const char *issuer, char *jwks_uri,
                               struct tg_error *error);

/* A sentence for the log about a non-200 STATUS from a source of KIND, e.g.
 * that PropelAuth's 401 means the API key is wrong. */
const char *tg_provider_status_explain(enum tg_source_kind kind, long status);

/* When to fetch a source next, in seconds from now.
 *  - after a success: the response's MAX_AGE (-1: none) bounded to
 *    [MIN_INTERVAL, INTERVAL], else INTERVAL;
 *  - after FAILURES consecutive failures (>= 1): MIN_INTERVAL doubled per
 *    failure, at most INTERVAL, but not before RETRY_AFTER (-1: none),
 *    which a 429 or 503 may carry, up to INTERVAL. */
long tg_provider_next_fetch(bool success, long max_age, long retry_after, int failures,
                            long interval, long min_interval);

/* The max-age of a Cache-Control VALUE, or -1 when it has none (or says
 * no-store / no-cache, which mean "do not keep": -1 as well). */
long tg_provider_max_age_parse(const char *value);

/* The seconds a Retry-After VALUE asks for (delta-seconds or an HTTP date,
 * compared with NOW), or -1 when it is neither. */
long tg_provider_retry_after_parse(const char *value, time_t now);

#endif
