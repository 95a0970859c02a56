/* SPDX-License-Identifier: Apache-2.0 */
/* decision.h - decide one request: allow with variables, or refuse.
 *
 * tg_decide() is the single place where tokengate says yes or no. It is a
 * pure function of the configuration, the keys and the request facts (the
 * clock comes in as request->now), so the server, `tokengate check` and the
 * tests all reach the same answer for the same input. response.h turns the
 * result into the bytes the web server receives.
 */
#ifndef TOKENGATE_DECISION_H
#define TOKENGATE_DECISION_H

#include <stdbool.h>
#include <stddef.h>

#include "tokengate/config.h"
#include "tokengate/jwt.h"
#include "tokengate/keys.h"
#include "tokengate/path.h"
#include "tokengate/request.h"

#define TG_VARIABLES_MAX 20
#define TG_DECISION_TEXT_MAX 16384
#define TG_RETRY_AFTER_SECONDS 30

struct tg_variable {
    const char *name;           /* e.g. "AUTH_USER_ID" */
    const char *value;          /* single-line */
};

struct tg_decision {
    int status;                 /* 200, 400, 401, 403 or 503 */
    const char *rule;           /* governing rule's name, "(default)", or NULL */
    const struct tg_rule *matched_rule; /* NULL for the default policy */
    const char *error;          /* OAuth error code of a refusal; NULL on 200 */
    const char *description;    /* error_description of a refusal */
    const char *reason;         /* a phrase for the log: why refused, how allowed */
    bool credential_present;    /* 401: adds error="invalid_token" */
    int retry_after;            /* 503: seconds */
    bool key_unknown;           /* no loaded key has the token's kid, or none is
                                 * loaded: fresh keys might change the answer */
    const char *user_id;        /* NULL when anonymous */
    char path[TG_PATH_MAX + 1]; /* the normalised path, "" when refused before */
    struct tg_variable variables[TG_VARIABLES_MAX];
    size_t variable_count;
    char text[TG_DECISION_TEXT_MAX]; /* storage for the variables */
    size_t text_used;
    struct tg_json claims;      /* the verified token's claims */
};

/* Decides REQUEST. KEYS may be empty (no key could be loaded: 503). */
void tg_decide(const struct tg_config *config, const struct tg_keyset *keys,
               const struct tg_request *request, struct tg_decision *decision);

/* The same, remembering verified signatures in CACHE (NULL: none), which
 * must belong to KEYS: a cache outlives no key set. */
void tg_decide_cached(const struct tg_config *config, const struct tg_keyset *keys,
                      struct tg_cache *cache, const struct tg_request *request,
                      struct tg_decision *decision);

/* Makes DECISION a 400 refusal with DESCRIPTION (a fixed phrase), for a
 * request refused before any rule is consulted (e.g. an unknown FastCGI
 * role). */
void tg_decision_refuse_request(struct tg_decision *decision, const char *description);

/* One decision log line (without time and level), logfmt: method, path
 * (normalised), rule, status, user or reason, us (microseconds); with
 * DETAIL, "matched" describes the rule's pattern and requirements. Values
 * from outside are quoted and escaped (tg_text_logfmt_append). Never holds
 * a credential. Returns the length. */
size_t tg_decision_log_format(const struct tg_decision *decision, const char *method,
                              long microseconds, bool detail, char *out, size_t size);

/* The variable NAME of an allowed decision, or NULL. */
const char *tg_decision_variable(const struct tg_decision *decision, const char *name);

#endif
