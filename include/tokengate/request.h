/* SPDX-License-Identifier: Apache-2.0 */
/* request.h - what one request is: the single view the decision reads.
 *
 * Every entry point builds this struct the same way from FastCGI-style
 * parameters ("NAME=value" strings): the server from FCGX_Request.envp,
 * `tokengate check` from its command line, the tests from literals.
 *
 * The web server serves, and the application reads, its own reading of the
 * raw request. Wherever that reading could differ from ours, the view says
 * the request cannot be read (`refusal`, answered 400) instead of picking
 * one reading: a "#" anywhere in the target, an encoded "/" or "\", a
 * method that is not an upper-case token, two different copies of the
 * URI, method or Authorization header; and, for the rule that asks, an org
 * header passed twice or a query parameter spelled two ways. The decision
 * (decision.h) sees nothing else.
 */
#ifndef TOKENGATE_REQUEST_H
#define TOKENGATE_REQUEST_H

#include <stddef.h>
#include <time.h>

#include "tokengate/apikey.h"
#include "tokengate/path.h"

struct tg_revocations;

/* What the Authorization header carries (contract sections 4 and 10). */
enum tg_credential {
    TG_CREDENTIAL_NONE,         /* no Authorization header */
    TG_CREDENTIAL_TOKEN,        /* "Bearer" and a compact JWS (two dots) */
    TG_CREDENTIAL_API_KEY,      /* "Token KEY", or "Bearer" and anything else */
    TG_CREDENTIAL_UNUSABLE,     /* another scheme, or not one word after it */
};

struct tg_request {
    const char *const *params;  /* "NAME=value", NULL-terminated; borrowed */
    const char *method;         /* REQUEST_METHOD, or NULL */
    const char *uri;            /* REQUEST_URI (or SCRIPT_NAME + PATH_INFO), or NULL */
    const char *query;          /* the query string, or NULL */
    const char *authorization;  /* HTTP_AUTHORIZATION, or NULL */
    const char *cookie;         /* HTTP_COOKIE, or NULL */
    enum tg_credential credential;  /* the kind the Authorization header carries */
    const char *credential_text;    /* the token or key in it (CREDENTIAL_LEN bytes) */
    size_t credential_len;
    /* An API key's SHA-256, by which local keys, cached validations and
     * revocations are found (the key itself is never kept). */
    unsigned char key_hash[TG_KEY_HASH_SIZE];
    const char *client;         /* REMOTE_ADDR, or NULL: for the log */
    const char *request_id;     /* X-Request-Id when passed once, or NULL: for the log */
    time_t now;
    /* Not read from the request: set by the caller once known. */
    const struct tg_key_validation *key_validation; /* PropelAuth on the API key, or NULL */
    const struct tg_revocations *revocations;        /* the fleet's, or NULL */
    const char *refusal;        /* why the request cannot be read (400), or NULL */
    char path[TG_PATH_MAX + 1]; /* the normalised path, "" when refused */
    char uri_buffer[TG_PATH_MAX + 2];
};

/* Reads the facts from PARAMS and settles the path and method (see above).
 * Parameters sent twice with the same value (Apache sends FCGI_ROLE twice)
 * are one parameter. */
void tg_request_init(struct tg_request *request, const char *const *params, time_t now);

/* Finds request header NAME (e.g. "X-Org-Id") as the web server passes it:
 * HTTP_ and the name upper-cased with every other character but letters
 * and digits turned into "_" (lighttpd passes X-Org, X_Org and X.Org all as
 * HTTP_X_ORG). Returns 1 with *VALUE, 0 when absent, -1 when passed more
 * than once (applications differ on which copy they read). */
int tg_request_header(const struct tg_request *request, const char *name, const char **value);

/* Finds query parameter NAME and percent-decodes its value ("+" is a space,
 * as the application will read it) into OUT (SIZE bytes). Parameters are
 * separated by "&" or ";" and their names compared after decoding. Returns
 * 1 when found, 0 when absent, -1 when the request cannot be read: a name
 * or the value that cannot be decoded, a value that does not fit, NAME
 * given twice under any spelling (decoded, or as PHP reads names: ".", " "
 * and "[" as "_", "NAME[...]" as NAME), or NAME next to a ";" (some
 * frameworks split on it, others do not). */
int tg_request_query_param(const struct tg_request *request, const char *name, char *out,
                           size_t size);

/* The value of cookie NAME in the Cookie header (first one wins), as a
 * pointer into it and a length; NULL when absent. */
const char *tg_request_cookie(const struct tg_request *request, const char *name, size_t *len);

#endif
