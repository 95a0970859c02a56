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
#include "tokengate/log.h"
#include "tokengate/path.h"
#include "tokengate/request.h"

#define TG_VARIABLES_MAX 20
#define TG_DECISION_TEXT_MAX 16384
#define TG_ORG_ID_MAX 512

/* Why a request was refused, as the metrics count it (contract section 8). */
enum tg_refusal {
    TG_REFUSAL_NONE,          /* allowed */
    TG_REFUSAL_NO_CREDENTIAL, /* 401 without a credential */
    TG_REFUSAL_INVALID_TOKEN, /* 401: signature, format, issuer, audience, claims */
    TG_REFUSAL_EXPIRED,       /* 401: exp, nbf or iat out of range */
    TG_REFUSAL_UNKNOWN_KID,   /* 401: no key has the token's kid */
    TG_REFUSAL_NOT_MEMBER,    /* 403: no org named, or the user is not in it */
    TG_REFUSAL_ROLE,          /* 403: role or min_role */
    TG_REFUSAL_PERMISSION,    /* 403 */
    TG_REFUSAL_DENY_RULE,     /* 403: a deny rule or default = deny */
    TG_REFUSAL_BAD_REQUEST,   /* 400 */
    TG_REFUSAL_NO_KEYS,       /* 503 */
    /* Extensions for API keys and the fleet (contract sections 10, 11): */
    TG_REFUSAL_REVOKED,       /* 401: a revocation covers the credential */
    TG_REFUSAL_RATE_LIMITED,  /* 429: PropelAuth rate-limits the key's validation */
    TG_REFUSAL_UNAVAILABLE,   /* 503: the key could not be validated */
    TG_REFUSAL_COUNT
};

/* "no_credential", "invalid_token", ... ("" for TG_REFUSAL_NONE). */
const char *tg_refusal_name(enum tg_refusal refusal);

struct tg_variable {
    const char *name;           /* e.g. "AUTH_USER_ID" */
    const char *value;          /* single-line */
};

struct tg_decision {
    int status;                 /* 200, 400, 401, 403, 429 or 503 */
    enum tg_refusal refusal;    /* TG_REFUSAL_NONE on 200 */
    const char *rule;           /* governing rule's name, "(default)", or NULL */
    const struct tg_rule *matched_rule; /* NULL for the default policy */
    const char *error;          /* OAuth error code of a refusal; NULL on 200 */
    const char *description;    /* error_description of a refusal */
    const char *reason;         /* a phrase for the log: why refused, how allowed */
    bool credential_present;    /* 401: adds error="invalid_token" */
    int retry_after;            /* 429 and 503: seconds */
    bool key_unknown;           /* no loaded key has the token's kid, or none is
                                 * loaded: fresh keys might change the answer */
    bool validation_needed;     /* the request's API key must be validated by
                                 * PropelAuth: decide again with the request's
                                 * key_validation set (until then, 503) */
    const char *user_id;        /* NULL when anonymous */
    /* For the log, whatever the status: */
    const char *subject;        /* the verified token's user, or NULL */
    char org_id[TG_ORG_ID_MAX]; /* the org the request names (or the token's
                                 * active org), "" when none */
    const char *org_role;       /* the role the user holds in it, or NULL */
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

/* One decision's log line, as fields (log.h writes them as logfmt or
 * JSON): method, path (normalised; "-" when refused before), rule, status,
 * and as they apply user, org, role (held in that org), reason (of a
 * refusal), client (REMOTE_ADDR), request_id (X-Request-Id), then us
 * (microseconds); with DETAIL, "matched" describes the rule's pattern and
 * requirements. Never a credential. The fields point into DECISION,
 * REQUEST, the configuration and LOG itself: log them before a reload can
 * free the configuration. */
#define TG_DECISION_LOG_FIELDS 13
struct tg_decision_log {
    struct tg_log_field fields[TG_DECISION_LOG_FIELDS];
    size_t count;
    char status[8];
    char microseconds[24];
    char matched[1024];
};
void tg_decision_log_fill(const struct tg_decision *decision, const struct tg_request *request,
                          long microseconds, bool detail, struct tg_decision_log *log);

/* The variable NAME of an allowed decision, or NULL. */
const char *tg_decision_variable(const struct tg_decision *decision, const char *name);

#endif
