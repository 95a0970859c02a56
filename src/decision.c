/* SPDX-License-Identifier: Apache-2.0 */
/* decision.c - decide one request: allow with variables, or refuse.
 *
 * Order matters and follows the contract: path, rule, credential, token,
 * then organisation. An invalid token on an org route is therefore 401, and
 * a request is never allowed by a step that was skipped.
 */
#include "tokengate/decision.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "tokengate/apikey.h"
#include "tokengate/claims.h"
#include "tokengate/revocations.h"
#include "tokengate/rules.h"
#include "tokengate/text.h"


static void refuse(struct tg_decision *decision, int status, enum tg_refusal refusal,
                   const char *error, const char *description)
{
    decision->status = status;
    decision->refusal = refusal;
    decision->error = error;
    decision->description = description;
    decision->reason = description;
    decision->variable_count = 0;
    decision->user_id = NULL;
}

/* Field by field: the text storage is large and needs no clearing. */
static void decision_reset(struct tg_decision *decision)
{
    decision->status = 0;
    decision->refusal = TG_REFUSAL_NONE;
    decision->subject = NULL;
    decision->org_id[0] = '\0';
    decision->org_role = NULL;
    decision->rule = NULL;
    decision->matched_rule = NULL;
    decision->error = decision->description = decision->reason = NULL;
    decision->credential_present = false;
    decision->retry_after = 0;
    decision->key_unknown = false;
    decision->validation_needed = false;
    decision->user_id = NULL;
    decision->path[0] = '\0';
    decision->variable_count = 0;
    decision->text_used = 0;
}

void tg_decision_refuse_request(struct tg_decision *decision, const char *description)
{
    decision_reset(decision);
    refuse(decision, 400, TG_REFUSAL_BAD_REQUEST, "invalid_request", description);
}

static void refuse_unauthenticated(struct tg_decision *decision, enum tg_refusal refusal,
                                   const char *description)
{
    refuse(decision, 401, refusal, decision->credential_present ? "invalid_token" : "unauthorized",
           description);
}

static void refuse_forbidden(struct tg_decision *decision, enum tg_refusal refusal,
                             const char *description)
{
    refuse(decision, 403, refusal, "insufficient_scope", description);
}

/* Copies LEN bytes of TEXT into the decision's storage. NULL when full. */
static const char *text_store(struct tg_decision *decision, const char *text, size_t len)
{
    if (decision->text_used + len + 1 > sizeof decision->text)
        return NULL;
    char *copy = decision->text + decision->text_used;
    memcpy(copy, text, len);
    copy[len] = '\0';
    decision->text_used += len + 1;
    return copy;
}

/* Adds PREFIX+SUFFIX = VALUE (nothing when VALUE is NULL). False when full. */
static bool variable_add(struct tg_decision *decision, const char *prefix, const char *suffix,
                         const char *value)
{
    if (!value)
        return true;
    if (decision->variable_count >= TG_VARIABLES_MAX)
        return false;
    size_t prefix_len = strlen(prefix), suffix_len = strlen(suffix);
    size_t value_len = strlen(value);
    if (decision->text_used + prefix_len + suffix_len + value_len + 2 > sizeof decision->text)
        return false;
    /* Name and value go straight into the decision's storage. */
    struct tg_variable *variable = &decision->variables[decision->variable_count];
    char *name = decision->text + decision->text_used;
    memcpy(name, prefix, prefix_len);
    memcpy(name + prefix_len, suffix, suffix_len + 1);
    decision->text_used += prefix_len + suffix_len + 1;
    variable->name = name;
    variable->value = text_store(decision, value, value_len);
    decision->variable_count++;
    return true;
}

static void allow_anonymous(struct tg_decision *decision, const char *prefix, const char *reason)
{
    decision->status = 200;
    decision->reason = reason;
    decision->user_id = NULL;
    decision->variable_count = 0;
    decision->text_used = 0;
    /* Apache's UserExpr must never be empty, so an anonymous 200 still
     * carries a principal. */
    variable_add(decision, prefix, "PRINCIPAL", "-");
}

/* The organisation the rule names for this request. Returns 1 with the id
 * in OUT, 0 when the request does not name one, -1 when it names one we
 * will not interpret (400). */
static int org_id_resolve(const struct tg_rule *rule, const struct tg_request *request,
                          const struct tg_captures *captures, char *out, size_t size)
{
    const char *value = NULL;
    switch (rule->org_source) {
    case TG_ORG_SOURCE_NONE:
        return 0;
    case TG_ORG_SOURCE_ID:
        value = rule->org_value;
        break;
    case TG_ORG_SOURCE_HEADER: {
        int found = tg_request_header(request, rule->org_value, &value);
        if (found <= 0)
            return found;
        break;
    }
    case TG_ORG_SOURCE_QUERY: {
        int found = tg_request_query_param(request, rule->org_value, out, size);
        if (found <= 0)
            return found;
        value = out;
        break;
    }
    case TG_ORG_SOURCE_PATH: {
        const struct tg_capture *capture = tg_captures_get(captures, rule->org_value);
        if (!capture || capture->len >= size)
            return capture ? -1 : 0;
        if (tg_percent_decode(capture->value, capture->len, out) < 0)
            return -1;
        value = out;
        break;
    }
    }
    if (!value || !value[0])
        return 0;
    if (!tg_text_is_single_line(value) || strlen(value) >= size)
        return -1;
    if (value != out)
        strcpy(out, value);
    return 1;
}

static bool membership_variables_add(struct tg_decision *decision, const char *prefix,
                                     const struct tg_membership *membership,
                                     const struct tg_role_hierarchy *hierarchy)
{
    char list[8192];
    bool ok = variable_add(decision, prefix, "ORG_ID", membership->org_id) &&
              variable_add(decision, prefix, "ORG_NAME", membership->org_name) &&
              variable_add(decision, prefix, "URL_SAFE_ORG_NAME", membership->url_safe_org_name) &&
              variable_add(decision, prefix, "ORG_ROLE", membership->user_role);
    ok = ok && tg_membership_roles_join(membership, hierarchy, list, sizeof list) >= 0 &&
         variable_add(decision, prefix, "ORG_ROLES", list);
    ok = ok && tg_membership_permissions_join(membership, list, sizeof list) >= 0 &&
         variable_add(decision, prefix, "ORG_PERMISSIONS", list);
    return ok;
}

static bool identity_variables_add(struct tg_decision *decision, const char *prefix,
                                   const struct tg_identity *identity, const char *method)
{
    if (!variable_add(decision, "", "REMOTE_USER", identity->user_id) ||
        !variable_add(decision, prefix, "USER_ID", identity->user_id) ||
        !variable_add(decision, prefix, "PRINCIPAL", identity->user_id) ||
        !variable_add(decision, prefix, "EMAIL", identity->email) ||
        !variable_add(decision, prefix, "FIRST_NAME", identity->first_name) ||
        !variable_add(decision, prefix, "LAST_NAME", identity->last_name) ||
        !variable_add(decision, prefix, "USERNAME", identity->username) ||
        !variable_add(decision, prefix, "LEGACY_USER_ID", identity->legacy_user_id) ||
        !variable_add(decision, prefix, "IMPERSONATOR_USER_ID", identity->impersonator_user_id) ||
        !variable_add(decision, prefix, "LOGIN_METHOD", identity->login_method) ||
        !variable_add(decision, prefix, "METHOD", method))
        return false;
    decision->user_id = decision->variables[0].value;
    return true;
}

/* RULE's role and min_role against MEMBERSHIP (of a token, or a key seen
 * as one). False after refusing. */
static bool roles_check(const struct tg_config *config, const struct tg_rule *rule,
                        const struct tg_membership *membership, struct tg_decision *decision)
{
    if (rule->role && !tg_membership_is_role(membership, rule->role)) {
        refuse_forbidden(decision, TG_REFUSAL_ROLE, "the user does not have the required role");
        return false;
    }
    if (rule->min_role &&
        !tg_membership_is_at_least_role(membership, rule->min_role, &config->hierarchy)) {
        refuse_forbidden(decision, TG_REFUSAL_ROLE, "the user's role is below the required role");
        return false;
    }
    return true;
}

/* The organisation requirements of RULE for a verified IDENTITY, with
 * ORG_ID the organisation the request names (NULL: none): on success fills
 * MEMBERSHIP (or leaves *HAS_MEMBERSHIP false); otherwise refuses and
 * returns false. */
static bool org_requirements_check(const struct tg_config *config, const struct tg_rule *rule,
                                   const char *org_id, const struct tg_identity *identity,
                                   struct tg_membership *membership, bool *has_membership,
                                   struct tg_decision *decision)
{
    if (!org_id && rule && rule->org_source != TG_ORG_SOURCE_NONE) {
        refuse_forbidden(decision, TG_REFUSAL_NOT_MEMBER, "the request names no organisation");
        return false;
    }
    /* Without an org requirement the variables describe the active org of
     * an active-org token, when there is one. */
    enum tg_org_lookup found = tg_identity_find_org(identity, org_id, membership);
    if (found == TG_ORG_INVALID) {
        refuse_unauthenticated(decision, TG_REFUSAL_INVALID_TOKEN,
                               "the token's organisation claims are invalid");
        return false;
    }
    *has_membership = found == TG_ORG_MEMBER;
    if (*has_membership) {
        /* For the log: the org the decision is about and the role held. */
        /* An org id too long to keep is not logged rather than cut. */
        if (!org_id && strlen(membership->org_id) < sizeof decision->org_id)
            strcpy(decision->org_id, membership->org_id);
        decision->org_role = membership->user_role;
    }
    if (!org_id)
        return true;
    if (found != TG_ORG_MEMBER) {
        refuse_forbidden(decision, TG_REFUSAL_NOT_MEMBER,
                         "the user is not a member of the organisation");
        return false;
    }
    if (!roles_check(config, rule, membership, decision))
        return false;
    for (size_t i = 0; i < rule->permission_count; i++)
        if (!tg_membership_has_permission(membership, rule->permissions[i])) {
            refuse_forbidden(decision, TG_REFUSAL_PERMISSION,
                             "the user lacks a required permission");
            return false;
        }
    return true;
}

/* The metric's reason for a token that did not verify. */
static enum tg_refusal jwt_refusal(enum tg_jwt_status status)
{
    switch (status) {
    case TG_JWT_EXPIRED:
    case TG_JWT_NOT_YET_VALID:
    case TG_JWT_ISSUED_IN_FUTURE:
        return TG_REFUSAL_EXPIRED;
    case TG_JWT_UNKNOWN_KID:
    case TG_JWT_BAD_SIGNATURE_UNKNOWN_KID:
        return TG_REFUSAL_UNKNOWN_KID;
    default:
        return TG_REFUSAL_INVALID_TOKEN;
    }
}

/* What one decision works with, passed whole to the steps below. */
struct deciding {
    const struct tg_config *config;
    const struct tg_keyset *keys;
    struct tg_cache *cache;
    const struct tg_request *request;
    const struct tg_rule *rule;      /* NULL: the default policy */
    struct tg_decision *decision;
};

static void identity_decide(const struct deciding *deciding, const char *org_id,
                            const struct tg_identity *identity, const char *method);

/* Verifies the token (TOKEN_LEN bytes) and applies the rule, with ORG_ID
 * the organisation the request names (NULL: none). OPTIONAL says a bad
 * credential means anonymous, not 401. */
static void token_decide(const struct deciding *deciding, const char *org_id, const char *token,
                         size_t token_len, bool optional)
{
    const struct tg_config *config = deciding->config;
    const struct tg_keyset *keys = deciding->keys;
    struct tg_decision *decision = deciding->decision;
    if (keys->count == 0) {
        refuse(decision, 503, TG_REFUSAL_NO_KEYS, "temporarily_unavailable",
               "no verification key is loaded yet");
        /* The soonest a demanded fetch may bring keys. */
        decision->retry_after = (int)config->refresh_min_interval;
        decision->key_unknown = true;
        return;
    }
    struct tg_jwt_policy policy = {
        .keys = keys,
        .algorithms = config->algorithms,
        .issuer = config->issuer,
        .audience = config->audience,
        .leeway = config->leeway,
        .cache = deciding->cache,
    };
    enum tg_jwt_status status =
        tg_jwt_verify(&policy, token, token_len, deciding->request->now, &decision->claims);
    decision->key_unknown =
        status == TG_JWT_UNKNOWN_KID || status == TG_JWT_BAD_SIGNATURE_UNKNOWN_KID;
    const char *why = tg_jwt_status_describe(status);
    struct tg_identity identity;
    if (status == TG_JWT_VALID && tg_identity_read(&decision->claims, &identity, &why) != 0)
        status = TG_JWT_BAD_CLAIM;
    if (status == TG_JWT_VALID)
        decision->subject = identity.user_id;
    if (status != TG_JWT_VALID) {
        if (optional)
            allow_anonymous(decision, config->variable_prefix,
                            "invalid credential on an optional rule: anonymous");
        else
            refuse_unauthenticated(decision, jwt_refusal(status), why);
        return;
    }

    identity_decide(deciding, org_id, &identity, "jwt");
}

/* Applies the rule to a verified IDENTITY (of a token, or of a key that
 * acts as a user; METHOD says which), with ORG_ID the organisation the
 * request names (NULL: none). */
static void identity_decide(const struct deciding *deciding, const char *org_id,
                            const struct tg_identity *identity, const char *method)
{
    const struct tg_config *config = deciding->config;
    const struct tg_rule *rule = deciding->rule;
    struct tg_decision *decision = deciding->decision;
    bool token = strcmp(method, "jwt") == 0;
    struct tg_membership membership;
    bool has_membership = false;
    if (!org_requirements_check(config, rule, org_id, identity, &membership, &has_membership,
                                decision))
        return;
    decision->status = 200;
    decision->reason = rule && rule->org_source != TG_ORG_SOURCE_NONE
                           ? "organisation requirements met"
                       : token ? "valid token"
                               : "valid API key";
    bool ok = identity_variables_add(decision, config->variable_prefix, identity, method) &&
              (!has_membership || membership_variables_add(decision, config->variable_prefix,
                                                           &membership, &config->hierarchy));
    if (!ok)
        refuse_unauthenticated(decision, TG_REFUSAL_INVALID_TOKEN,
                               token ? "the token's claims are too large to pass on"
                                     : "the API key's identity is too large to pass on");
}

/* ---- local end-user API keys (contract section 10) ---------------------- */

/* A key's org and role seen as a token's membership without an inherited
 * role list, so that its roles are those of tokens (section 5): ranked by
 * the hierarchy, listed as tokens' are. Its permissions are the key's own. */
static struct tg_membership key_membership(const struct tg_api_key *key)
{
    return (struct tg_membership){.org_id = key->org, .user_role = key->role,
                                  .inherited_roles = -1, .additional_roles = -1,
                                  .permissions = -1};
}

/* The local key whose hash the credential has, or NULL. Every key is
 * compared, in constant time: how long the search takes says nothing of
 * which hash was close. */
static const struct tg_api_key *local_key_find(const struct tg_config *config,
                                               const unsigned char *hash)
{
    const struct tg_api_key *found = NULL;
    for (size_t i = 0; i < config->local_key_count; i++)
        if (CRYPTO_memcmp(hash, config->local_keys[i].hash, TG_KEY_HASH_SIZE) == 0)
            found = &config->local_keys[i];
    return found;
}

/* Checks the organisation requirements of RULE for KEY, with ORG_ID the
 * organisation the request names (NULL: none). False after refusing. */
static bool key_requirements_check(const struct tg_config *config, const struct tg_rule *rule,
                                   const struct tg_api_key *key, const char *org_id,
                                   struct tg_decision *decision)
{
    if (!org_id) {
        if (rule->org_source == TG_ORG_SOURCE_NONE)
            return true;
        refuse_forbidden(decision, TG_REFUSAL_NOT_MEMBER, "the request names no organisation");
        return false;
    }
    if (!key->org || strcmp(key->org, org_id) != 0) {
        refuse_forbidden(decision, TG_REFUSAL_NOT_MEMBER,
                         "the API key does not act in the organisation");
        return false;
    }
    struct tg_membership membership = key_membership(key);
    if (!roles_check(config, rule, &membership, decision))
        return false;
    for (size_t i = 0; i < rule->permission_count; i++) {
        bool held = false;
        for (size_t p = 0; p < key->permission_count && !held; p++)
            held = strcmp(key->permissions[p], rule->permissions[i]) == 0;
        if (!held) {
            refuse_forbidden(decision, TG_REFUSAL_PERMISSION,
                             "the user lacks a required permission");
            return false;
        }
    }
    return true;
}

/* The variables of an allowed KEY: as for a token, plus AUTH_METHOD=api_key
 * and AUTH_API_KEY_NAME; REMOTE_USER and AUTH_USER_ID only for a key that
 * acts as a user. */
static bool key_variables_add(struct tg_decision *decision, const char *prefix,
                              const struct tg_config *config, const struct tg_api_key *key)
{
    /* The keys file's values are at most TG_CONFIG_VALUE_MAX: "org:" and an
     * org id always fit. */
    char principal[TG_CONFIG_VALUE_MAX + 8], list[4096];
    if (key->user_id)
        snprintf(principal, sizeof principal, "%s", key->user_id);
    else if (key->org)
        snprintf(principal, sizeof principal, "org:%s", key->org);
    else
        snprintf(principal, sizeof principal, "api_key");
    bool ok = variable_add(decision, "", "REMOTE_USER", key->user_id) &&
              variable_add(decision, prefix, "USER_ID", key->user_id) &&
              variable_add(decision, prefix, "PRINCIPAL", principal) &&
              variable_add(decision, prefix, "ORG_ID", key->org) &&
              variable_add(decision, prefix, "ORG_ROLE", key->role);
    if (ok && key->org && key->role) {
        struct tg_membership membership = key_membership(key);
        ok = tg_membership_roles_join(&membership, &config->hierarchy, list, sizeof list) >= 0 &&
             variable_add(decision, prefix, "ORG_ROLES", list);
    }
    if (ok && key->org) {
        struct tg_buffer permissions;
        tg_buffer_init(&permissions, list, sizeof list);
        for (size_t i = 0; i < key->permission_count; i++)
            tg_buffer_printf(&permissions, "%s%s", i ? "," : "", key->permissions[i]);
        ok = !permissions.overflow && variable_add(decision, prefix, "ORG_PERMISSIONS", list);
    }
    ok = ok && variable_add(decision, prefix, "METHOD", "api_key") &&
         variable_add(decision, prefix, "API_KEY_NAME", key->name);
    if (ok)
        decision->user_id = key->user_id ? decision->variables[0].value : NULL;
    return ok;
}

/* Refuses an API key that is not valid (401), or on an optional rule lets
 * the request through as anonymous. */
static void api_key_refuse(const struct deciding *deciding, enum tg_refusal refusal,
                           const char *why, bool optional)
{
    if (optional)
        allow_anonymous(deciding->decision, deciding->config->variable_prefix,
                        "invalid API key on an optional rule: anonymous");
    else
        refuse_unauthenticated(deciding->decision, refusal, why);
}

/* Applies the rule to KEY, a local key or what PropelAuth said of a key
 * that does not act as a user, with ORG_NAME the org's name (or NULL). */
static void key_decide(const struct deciding *deciding, const char *org_id,
                       const struct tg_api_key *key, const char *org_name)
{
    const struct tg_config *config = deciding->config;
    struct tg_decision *decision = deciding->decision;
    decision->subject = key->user_id;
    if (key->org && strlen(key->org) < sizeof decision->org_id) {
        strcpy(decision->org_id, key->org);
        decision->org_role = key->role;
    }
    if (!key_requirements_check(config, deciding->rule, key, org_id, decision))
        return;
    decision->status = 200;
    decision->reason = "valid API key";
    if (!key_variables_add(decision, config->variable_prefix, config, key) ||
        !variable_add(decision, config->variable_prefix, "ORG_NAME", org_name))
        refuse_unauthenticated(decision, TG_REFUSAL_INVALID_TOKEN,
                               "the API key's identity is too large to pass on");
}

/* The object member NAME of OBJECT: its index, -1 when absent or null,
 * -2 when it is anything else. */
static int answer_object(const struct tg_json *json, int object, const char *name)
{
    int member = tg_json_get(json, object, name);
    int type = tg_json_type(json, member);
    if (member < 0 || type == TG_JSON_NULL)
        return -1;
    return type == TG_JSON_OBJECT ? member : -2;
}

/* Decides with what PropelAuth said of the key (contract section 10): a
 * personal key acts as its user in the user's orgs; an org key in its org
 * only, as its user with user_in_org when PropelAuth names both, else as
 * the org with no role; a generic key as no one in particular. */
static void propelauth_key_decide(const struct deciding *deciding, const char *org_id,
                                  const struct tg_key_validation *validation)
{
    struct tg_decision *decision = deciding->decision;
    struct tg_json *json = &decision->claims;
    const char *bad = "PropelAuth's answer about the API key is malformed";
    if (tg_json_parse(json, validation->answer, validation->answer_len) != 0 ||
        tg_json_type(json, 0) != TG_JSON_OBJECT) {
        refuse_unauthenticated(decision, TG_REFUSAL_INVALID_TOKEN, bad);
        return;
    }
    int user = answer_object(json, 0, "user");
    int org = answer_object(json, 0, "org");
    int user_in_org = answer_object(json, 0, "user_in_org");
    const char *key_org = org >= 0 ? tg_json_string(json, tg_json_get(json, org, "org_id")) : NULL;
    const char *org_name = org >= 0 ? tg_json_string(json, tg_json_get(json, org, "name")) : NULL;
    if (user < -1 || org < -1 || user_in_org < -1 || (org >= 0 && !key_org) ||
        (key_org && !tg_text_is_single_line(key_org)) ||
        (org_name && !tg_text_is_single_line(org_name))) {
        refuse_unauthenticated(decision, TG_REFUSAL_INVALID_TOKEN, bad);
        return;
    }
    if (user >= 0 && (org < 0 || user_in_org >= 0)) {
        /* The key's user, with the user's orgs (a personal key) or only
         * the key's org (an org key). */
        struct tg_identity identity;
        const char *why = bad;
        if (tg_identity_read_object(json, user, org < 0 ? "org_id_to_org_info" : NULL, NULL,
                                    &identity, &why) != 0) {
            refuse_unauthenticated(decision, TG_REFUSAL_INVALID_TOKEN, why);
            return;
        }
        if (org >= 0) {
            const char *member_org = tg_json_string(json, tg_json_get(json, user_in_org, "org_id"));
            if (!member_org || strcmp(member_org, key_org) != 0) {
                refuse_unauthenticated(decision, TG_REFUSAL_INVALID_TOKEN, bad);
                return;
            }
            identity.active_org = user_in_org;
        }
        decision->subject = identity.user_id;
        identity_decide(deciding, org_id, &identity, "api_key");
        return;
    }
    /* Not acting as a user: the org (org_id a string of the answer, which
     * lives as long as the decision) or nothing at all. */
    struct tg_api_key key = {.org = (char *)key_org};
    key_decide(deciding, org_id, &key, org_name);
}

/* Decides a request whose credential is an end-user API key, on a rule
 * that accepts them, with ORG_ID the organisation the request names. */
static void api_key_decide(const struct deciding *deciding, const char *org_id, bool optional)
{
    const struct tg_config *config = deciding->config;
    const struct tg_request *request = deciding->request;
    struct tg_decision *decision = deciding->decision;
    if (request->credential_len > TG_KEY_TEXT_MAX) {
        api_key_refuse(deciding, TG_REFUSAL_INVALID_TOKEN, "the API key is not valid", optional);
        return;
    }
    const struct tg_api_key *key = local_key_find(config, request->key_hash);
    if (key) {
        if (key->expires && request->now >= key->expires)
            api_key_refuse(deciding, TG_REFUSAL_EXPIRED, "the API key has expired", optional);
        else
            key_decide(deciding, org_id, key, NULL);
        return;
    }
    if (!config->api_keys_propelauth) {
        api_key_refuse(deciding, TG_REFUSAL_INVALID_TOKEN, "the API key is not valid", optional);
        return;
    }
    const struct tg_key_validation *validation = request->key_validation;
    if (!validation) {
        /* Fail closed until the caller brings PropelAuth's answer. */
        refuse(decision, 503, TG_REFUSAL_UNAVAILABLE, "temporarily_unavailable",
               "the API key could not be validated");
        decision->retry_after = 1;
        decision->validation_needed = true;
        return;
    }
    switch (validation->verdict) {
    case TG_KEY_VALID:
        propelauth_key_decide(deciding, org_id, validation);
        return;
    case TG_KEY_INVALID:
        api_key_refuse(deciding, TG_REFUSAL_INVALID_TOKEN, "the API key is not valid", optional);
        return;
    case TG_KEY_RATE_LIMITED:
        refuse(decision, 429, TG_REFUSAL_RATE_LIMITED, "rate_limited",
               "too many validations of this API key: retry later");
        break;
    case TG_KEY_UNAVAILABLE:
        refuse(decision, 503, TG_REFUSAL_UNAVAILABLE, "temporarily_unavailable",
               "the API key cannot be validated now");
        break;
    }
    decision->retry_after = validation->retry_after > 0 ? (int)validation->retry_after : 1;
}

void tg_decide(const struct tg_config *config, const struct tg_keyset *keys,
               const struct tg_request *request, struct tg_decision *decision)
{
    tg_decide_cached(config, keys, NULL, request, decision);
}

/* A request allowed by the rules is refused when a revocation covers its
 * user (a token issued at or before it; any API key acting as the user),
 * its API key, or the organisation it was decided in. */
static void revocations_apply(const struct tg_request *request, struct tg_decision *decision)
{
    const struct tg_revocations *set = request->revocations;
    if (decision->status != 200 || tg_revocations_count(set) == 0)
        return;
    time_t now = request->now;
    bool key = request->credential == TG_CREDENTIAL_API_KEY;
    bool revoked = false;
    if (decision->user_id) {
        long long issued = 0;
        if (!key && (!tg_json_integer(&decision->claims,
                                      tg_json_get(&decision->claims, 0, "iat"), &issued) ||
                     issued < 0))
            issued = 0;
        revoked = tg_revocations_cover(set, TG_REVOKE_USER, decision->user_id, (time_t)issued, now);
    }
    if (!revoked && decision->org_id[0])
        revoked = tg_revocations_cover(set, TG_REVOKE_ORG, decision->org_id, 0, now);
    if (!revoked && key) {
        char hex[TG_KEY_HASH_HEX];
        tg_key_hash_hex(request->key_hash, hex);
        revoked = tg_revocations_cover(set, TG_REVOKE_API_KEY, hex, 0, now);
    }
    if (revoked)
        refuse_unauthenticated(decision, TG_REFUSAL_REVOKED, "revoked");
}

static void decide(const struct tg_config *config, const struct tg_keyset *keys,
                   struct tg_cache *cache, const struct tg_request *request,
                   struct tg_decision *decision);

void tg_decide_cached(const struct tg_config *config, const struct tg_keyset *keys,
                      struct tg_cache *cache, const struct tg_request *request,
                      struct tg_decision *decision)
{
    decide(config, keys, cache, request, decision);
    revocations_apply(request, decision);
}

static void decide(const struct tg_config *config, const struct tg_keyset *keys,
                   struct tg_cache *cache, const struct tg_request *request,
                   struct tg_decision *decision)
{
    decision_reset(decision);
    /* With many tokens cached, their entries are in main memory: asking
     * for this one now lets the fetch overlap the path and rule work. */
    if (request->credential == TG_CREDENTIAL_TOKEN)
        tg_cache_prefetch(cache, request->credential_text, request->credential_len);
    if (request->refusal) {
        refuse(decision, 400, TG_REFUSAL_BAD_REQUEST, "invalid_request", request->refusal);
        return;
    }
    strcpy(decision->path, request->path);

    struct tg_captures captures;
    const struct tg_rule *rule =
        tg_rules_find(config->rules, config->rule_count, request->method, decision->path,
                      &captures);
    enum tg_require require;
    if (rule) {
        decision->rule = rule->name;
        decision->matched_rule = rule;
        require = rule->require;
    } else {
        decision->rule = "(default)";
        require = config->default_policy == TG_DEFAULT_OPEN   ? TG_REQUIRE_OPEN
                  : config->default_policy == TG_DEFAULT_USER ? TG_REQUIRE_USER
                                                              : TG_REQUIRE_DENY;
    }
    if (require == TG_REQUIRE_OPEN) {
        allow_anonymous(decision, config->variable_prefix, "open rule");
        return;
    }
    if (require == TG_REQUIRE_DENY) {
        refuse_forbidden(decision, TG_REFUSAL_DENY_RULE,
                         rule ? "the rule denies access" : "no rule allows this path");
        return;
    }

    /* Which organisation the request names is part of reading it: a
     * request that names one ambiguously is refused before any credential
     * is looked at. */
    char org_id[TG_ORG_ID_MAX];
    int named = rule ? org_id_resolve(rule, request, &captures, org_id, sizeof org_id) : 0;
    if (named > 0)
        strcpy(decision->org_id, org_id);
    if (named < 0) {
        refuse(decision, 400, TG_REFUSAL_BAD_REQUEST, "invalid_request",
               "the request's organisation cannot be read");
        return;
    }

    const char *token = NULL;
    size_t token_len = 0;
    bool optional = require == TG_REQUIRE_OPTIONAL;
    if (request->credential == TG_CREDENTIAL_API_KEY) {
        /* A key is never taken for a token, and where keys are not
         * accepted it is refused without being looked at. */
        decision->credential_present = true;
        if (!rule || !rule->api_keys) {
            refuse_unauthenticated(decision, TG_REFUSAL_INVALID_TOKEN,
                                   "API keys are not accepted here");
            return;
        }
        const struct deciding deciding = {config, keys, cache, request, rule, decision};
        api_key_decide(&deciding, named ? org_id : NULL, optional);
        return;
    }
    if (request->credential != TG_CREDENTIAL_NONE) {
        decision->credential_present = true;
        token = request->credential_text;
        token_len = request->credential_len;
        if (!token) {
            if (optional)
                allow_anonymous(decision, config->variable_prefix,
                                "unusable Authorization header on an optional rule: anonymous");
            else
                refuse_unauthenticated(decision, TG_REFUSAL_INVALID_TOKEN,
                                       "the Authorization header is not a Bearer token");
            return;
        }
    } else if (config->cookie && config->cookie[0]) {
        token = tg_request_cookie(request, config->cookie, &token_len);
        decision->credential_present = token != NULL;
    }
    if (!token) {
        if (optional)
            allow_anonymous(decision, config->variable_prefix, "no credential on an optional rule");
        else
            refuse(decision, 401, TG_REFUSAL_NO_CREDENTIAL, "unauthorized",
                   "no bearer token in the request");
        return;
    }
    const struct deciding deciding = {config, keys, cache, request, rule, decision};
    token_decide(&deciding, named ? org_id : NULL, token, token_len, optional);
}

const char *tg_decision_variable(const struct tg_decision *decision, const char *name)
{
    for (size_t i = 0; i < decision->variable_count; i++)
        if (strcmp(decision->variables[i].name, name) == 0)
            return decision->variables[i].value;
    return NULL;
}

static const char *require_name(enum tg_require require)
{
    switch (require) {
    case TG_REQUIRE_USER: return "user";
    case TG_REQUIRE_OPTIONAL: return "optional";
    case TG_REQUIRE_OPEN: return "open";
    case TG_REQUIRE_DENY: return "deny";
    }
    return "?";
}

const char *tg_refusal_name(enum tg_refusal refusal)
{
    static const char *const names[TG_REFUSAL_COUNT] = {
        [TG_REFUSAL_NONE] = "",
        [TG_REFUSAL_NO_CREDENTIAL] = "no_credential",
        [TG_REFUSAL_INVALID_TOKEN] = "invalid_token",
        [TG_REFUSAL_EXPIRED] = "expired",
        [TG_REFUSAL_UNKNOWN_KID] = "unknown_kid",
        [TG_REFUSAL_NOT_MEMBER] = "not_member",
        [TG_REFUSAL_ROLE] = "role",
        [TG_REFUSAL_PERMISSION] = "permission",
        [TG_REFUSAL_DENY_RULE] = "deny_rule",
        [TG_REFUSAL_BAD_REQUEST] = "bad_request",
        [TG_REFUSAL_REVOKED] = "revoked",
        [TG_REFUSAL_RATE_LIMITED] = "rate_limited",
        [TG_REFUSAL_UNAVAILABLE] = "unavailable",
        [TG_REFUSAL_NO_KEYS] = "no_keys",
    };
    return refusal >= 0 && refusal < TG_REFUSAL_COUNT ? names[refusal] : "";
}

static void log_field(struct tg_decision_log *log, const char *key, const char *value,
                      bool number)
{
    if (log->count < TG_DECISION_LOG_FIELDS)
        log->fields[log->count++] = (struct tg_log_field){key, value, number};
}

void tg_decision_log_fill(const struct tg_decision *decision, const struct tg_request *request,
                          long microseconds, bool detail, struct tg_decision_log *log)
{
    /* Everything from outside (method, path, user, org, role, client,
     * request id) is quoted as it is written (log.h), so no value can forge
     * a field or a line; the path of a refused request is not shown, as it
     * could not be read. */
    log->count = 0;
    snprintf(log->status, sizeof log->status, "%d", decision->status);
    snprintf(log->microseconds, sizeof log->microseconds, "%ld", microseconds);
    log_field(log, "method", request->method && request->method[0] ? request->method : NULL,
              false);
    log_field(log, "path", decision->path[0] ? decision->path : NULL, false);
    log_field(log, "rule", decision->rule, false);
    log_field(log, "status", log->status, true);
    if (decision->subject)
        log_field(log, "user", decision->subject, false);
    if (decision->org_id[0])
        log_field(log, "org", decision->org_id, false);
    if (decision->org_role)
        log_field(log, "role", decision->org_role, false);
    if (decision->status != 200)
        log_field(log, "reason", decision->reason, false);
    if (request->client)
        log_field(log, "client", request->client, false);
    if (request->request_id)
        log_field(log, "request_id", request->request_id, false);
    log_field(log, "us", log->microseconds, true);
    if (!detail)
        return;
    const struct tg_rule *rule = decision->matched_rule;
    if (!rule) {
        log_field(log, "matched", "no rule: default policy", false);
        return;
    }
    struct tg_buffer matched;
    tg_buffer_init(&matched, log->matched, sizeof log->matched);
    tg_buffer_printf(&matched, "path %s, %s methods, require %s", rule->path,
                     rule->method_count ? "listed" : "any", require_name(rule->require));
    if (rule->org_value)
        tg_buffer_printf(&matched, ", org %s", rule->org_value);
    if (rule->role)
        tg_buffer_printf(&matched, ", role %s", rule->role);
    if (rule->min_role)
        tg_buffer_printf(&matched, ", min_role %s", rule->min_role);
    if (rule->permission_count)
        tg_buffer_printf(&matched, ", %zu permissions", rule->permission_count);
    log_field(log, "matched", log->matched, false);
}
