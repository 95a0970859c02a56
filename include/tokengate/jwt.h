/* SPDX-License-Identifier: Apache-2.0 */
/* jwt.h - verify a compact JWS access token.
 *
 * The order of work is chosen so that a forged or hostile token costs as
 * little as possible: size limit, shape, header, key choice and signature
 * come before the claims are even parsed.
 */
#ifndef TOKENGATE_JWT_H
#define TOKENGATE_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "tokengate/cache.h"
#include "tokengate/json.h"
#include "tokengate/keys.h"

#define TG_TOKEN_MAX (16 * 1024)   /* longer tokens are refused unread */
#define TG_JOSE_HEADER_MAX 1024    /* decoded bytes; a longer header is refused unread */
#define TG_TIME_MAX 253402300799LL /* 9999-12-31T23:59:59Z: larger times are nonsense */

/* What a token must satisfy; every pointer is borrowed. */
struct tg_jwt_policy {
    const struct tg_keyset *keys;
    unsigned algorithms;      /* allow-list of TG_ALG_BIT()s */
    const char *issuer;       /* exact iss */
    const char *audience;     /* NULL or "": aud is not checked */
    long leeway;              /* seconds of skew for exp, nbf, iat */
    struct tg_cache *cache;   /* NULL: every signature is checked */
};

enum tg_jwt_status {
    TG_JWT_VALID = 0,
    TG_JWT_TOO_LARGE,
    TG_JWT_MALFORMED,
    TG_JWT_ALGORITHM_REFUSED,
    TG_JWT_NO_KEY,
    TG_JWT_UNKNOWN_KID,       /* a kid no loaded key has: keys may be refreshed */
    TG_JWT_BAD_SIGNATURE,
    TG_JWT_BAD_SIGNATURE_UNKNOWN_KID, /* kid unknown, no kid-less key verified it */
    TG_JWT_EXPIRED,
    TG_JWT_NOT_YET_VALID,
    TG_JWT_ISSUED_IN_FUTURE,
    TG_JWT_BAD_ISSUER,
    TG_JWT_BAD_AUDIENCE,
    TG_JWT_BAD_CLAIM,
    TG_JWT_NO_USER,
};

/* A short sentence for error_description and the log, e.g. "the token has
 * expired". Never contains token material. */
const char *tg_jwt_status_describe(enum tg_jwt_status status);

/* Verifies TOKEN (LEN bytes) at time NOW. CLAIMS is the caller's storage;
 * on TG_JWT_VALID it holds the claims, an object at index 0. */
enum tg_jwt_status tg_jwt_verify(const struct tg_jwt_policy *policy, const char *token,
                                 size_t len, time_t now, struct tg_json *claims);

#endif
