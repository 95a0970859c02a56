/* SPDX-License-Identifier: Apache-2.0 */
/* Decisions: every row of the contract's table, the variables, the response
 * bytes, and path tricks against an open rule beside a protected one. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "support.h"
#include "tokengate/decision.h"
#include "tokengate/sources.h"
#include "tokengate/response.h"
#include "tokengate/text.h"

#define ISSUER "https://auth.example.com"

static struct tg_config *config;
static struct tg_keyset keys;
static struct tg_decision decision;
static char *key_path;
static char *owner_token, *member_token, *outsider_token, *expired_token, *foreign_token;

static const char rules_text[] =
    "[tokengate]\n"
    "realm = example\n"
    "[token]\n"
    "verifier_key = %s\n"
    "issuer = " ISSUER "\n"
    "cookie = __pa_at\n"
    "[roles]\n"
    "hierarchy = Owner > Admin > Member\n"
    "[rule open]\npath = /public/**\nrequire = open\n"
    "[rule denied]\npath = /admin/**\nrequire = deny\n"
    "[rule optional]\npath = /maybe/**\nrequire = optional\n"
    "[rule billing]\npath = /api/org/{org_id}/billing/**\norg = path:org_id\n"
    "min_role = Admin\npermission = can_view_billing\n"
    "[rule owners]\npath = /api/org/{org_id}/owners\norg = path:org_id\nrole = Owner\n"
    "[rule query]\npath = /q\norg = query:org\n"
    "[rule header]\npath = /h\norg = header:X-Org-Id\n"
    "[rule fixed]\npath = /fixed\norg = id:o-1\n"
    "[rule write]\npath = /api/write\nmethods = POST\n"
    "[rule app]\npath = /app/**\n"
    "[rule cafe]\npath = /caf\xc3\xa9/**\nrequire = open\n"
    "[rule tilde]\npath = /%%7Ealice/**\nrequire = open\n"
    "[rule at]\npath = /a@b/**\nrequire = open\n"
    "[rule dotted-header]\npath = /hd\norg = header:X.Org\n";

static char *token_for(const char *user_id, const char *org_json, long exp_offset)
{
    char *claims = NULL;
    if (asprintf(&claims,
                 "{\"iss\":\"" ISSUER "\",\"sub\":\"%s\",\"user_id\":\"%s\",\"iat\":%ld,"
                 "\"exp\":%ld,\"email\":\"%s@example.com\",\"first_name\":\"First\","
                 "\"last_name\":\"Last\",\"login_method\":{\"login_method\":\"password\"},"
                 "\"org_id_to_org_member_info\":%s}",
                 user_id, user_id, SUPPORT_NOW - 10, SUPPORT_NOW + exp_offset, user_id,
                 org_json) < 0)
        abort();
    char *token = support_token(support_key_rsa(), NULL, "RS256",
                                "{\"alg\":\"RS256\",\"kid\":\"k\"}", claims);
    free(claims);
    return token;
}

#define MEMBERSHIP(id, role, inherited, permissions)                                        \
    "\"" id "\":{\"org_id\":\"" id "\",\"org_name\":\"Org " id "\",\"url_safe_org_name\":\"" \
    id "\",\"user_role\":\"" role "\",\"inherited_user_roles_plus_current_role\":" inherited \
    ",\"org_role_structure\":\"single_role_in_hierarchy\",\"user_permissions\":" permissions "}"

static int setup(void **state)
{
    (void)state;
    char *pem = support_public_pem(support_key_rsa());
    key_path = support_file_write(pem);
    free(pem);
    char *text = NULL;
    assert_true(asprintf(&text, rules_text, key_path) > 0);
    config = support_config_load(text);
    free(text);
    assert_non_null(config);
    struct tg_problems problems = {0};
    assert_int_equal(tg_sources_keys_load(config, &keys, &problems, NULL), 0);

    owner_token = token_for("owner-1",
        "{" MEMBERSHIP("o-1", "Owner", "[\"Owner\",\"Admin\",\"Member\"]",
                       "[\"can_view_billing\",\"can_invite\"]") "}", 1800);
    member_token = token_for("member-1",
        "{" MEMBERSHIP("o-1", "Member", "[\"Member\"]", "[\"can_view_billing\"]") ","
            MEMBERSHIP("o-2", "Admin", "[\"Admin\",\"Member\"]", "[]") "}", 1800);
    outsider_token = token_for("outsider-1", "{}", 1800);
    expired_token = token_for("owner-1",
        "{" MEMBERSHIP("o-1", "Owner", "[\"Owner\"]", "[]") "}", -3600);
    EVP_PKEY *other = support_key_new("RSA2048");
    char claims[256];
    snprintf(claims, sizeof claims,
             "{\"iss\":\"" ISSUER "\",\"user_id\":\"owner-1\",\"exp\":%ld}", SUPPORT_NOW + 60);
    foreign_token = support_token(other, NULL, "RS256", "{\"alg\":\"RS256\"}", claims);
    EVP_PKEY_free(other);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tg_config_free(config);
    tg_keyset_clear(&keys);
    unlink(key_path);
    free(key_path);
    free(owner_token);
    free(member_token);
    free(outsider_token);
    free(expired_token);
    free(foreign_token);
    return 0;
}

/* Decides METHOD URI with AUTHORIZATION (NULL: none) and up to two more
 * "NAME=value" parameters. */
static const struct tg_decision *decide_full(const char *method, const char *uri,
                                             const char *authorization, const char *extra1,
                                             const char *extra2)
{
    char *params[8] = {0};
    size_t count = 0;
    if (method && asprintf(&params[count++], "REQUEST_METHOD=%s", method) < 0)
        abort();
    if (uri && asprintf(&params[count++], "REQUEST_URI=%s", uri) < 0)
        abort();
    if (authorization && asprintf(&params[count++], "HTTP_AUTHORIZATION=%s", authorization) < 0)
        abort();
    if (extra1)
        params[count++] = strdup(extra1);
    if (extra2)
        params[count++] = strdup(extra2);
    struct tg_request request;
    tg_request_init(&request, (const char *const *)params, SUPPORT_NOW);
    tg_decide(config, &keys, &request, &decision);
    for (size_t i = 0; i < count; i++)
        free(params[i]);
    return &decision;
}

static char bearer[TG_TOKEN_MAX + 64];

static const struct tg_decision *decide(const char *uri, const char *token)
{
    if (token)
        snprintf(bearer, sizeof bearer, "Bearer %s", token);
    return decide_full("GET", uri, token ? bearer : NULL, NULL, NULL);
}

static void test_open_rule(void **state)
{
    (void)state;
    const struct tg_decision *d = decide("/public/index.html", NULL);
    assert_int_equal(d->status, 200);
    assert_string_equal(d->rule, "open");
    assert_int_equal(d->variable_count, 1);
    assert_string_equal(tg_decision_variable(d, "AUTH_PRINCIPAL"), "-");
    assert_null(tg_decision_variable(d, "AUTH_USER_ID"));
    /* Even with a token, an open rule passes no user. */
    d = decide("/public/x", owner_token);
    assert_int_equal(d->status, 200);
    assert_null(tg_decision_variable(d, "REMOTE_USER"));
}

static void test_deny_rule(void **state)
{
    (void)state;
    assert_int_equal(decide("/admin/panel", owner_token)->status, 403);
    assert_int_equal(decide("/admin/panel", NULL)->status, 403);
    assert_string_equal(decision.rule, "denied");
}

static void test_no_credential(void **state)
{
    (void)state;
    const struct tg_decision *d = decide("/app/x", NULL);
    assert_int_equal(d->status, 401);
    assert_false(d->credential_present);
    assert_int_equal(d->variable_count, 0);
}

static void test_invalid_credentials(void **state)
{
    (void)state;
    assert_int_equal(decide("/app/x", expired_token)->status, 401);
    assert_true(decision.credential_present);
    assert_string_equal(decision.description, "the token has expired");
    assert_int_equal(decide("/app/x", foreign_token)->status, 401);
    assert_string_equal(decision.description, "the token's signature is invalid");
    assert_int_equal(decide("/app/x", "not.a.token")->status, 401);
    assert_int_equal(decide("/app/x", "garbage")->status, 401);
    /* Authorization header shapes. */
    const char *shapes[] = {"Basic dXNlcjpwYXNz", "Token abc", "Bearer", "Bearer ",
                            "Bearer  two-spaces", "Bearertoken"};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        decide_full("GET", "/app/x", shapes[i], NULL, NULL);
        if (decision.status != 401 || !decision.credential_present)
            fail_msg("'%s' gave %d", shapes[i], decision.status);
    }
    /* The scheme is case-insensitive. */
    char header[TG_TOKEN_MAX];
    snprintf(header, sizeof header, "bEaReR %s", owner_token);
    assert_int_equal(decide_full("GET", "/app/x", header, NULL, NULL)->status, 200);
}

static void test_optional_rule(void **state)
{
    (void)state;
    const struct tg_decision *d = decide("/maybe/x", NULL);
    assert_int_equal(d->status, 200);
    assert_string_equal(tg_decision_variable(d, "AUTH_PRINCIPAL"), "-");
    assert_null(tg_decision_variable(d, "AUTH_USER_ID"));
    d = decide("/maybe/x", expired_token);
    assert_int_equal(d->status, 200);
    assert_null(tg_decision_variable(d, "AUTH_USER_ID"));
    d = decide_full("GET", "/maybe/x", "Basic abc", NULL, NULL);
    assert_int_equal(d->status, 200);
    d = decide("/maybe/x", member_token);
    assert_int_equal(d->status, 200);
    assert_string_equal(tg_decision_variable(d, "AUTH_USER_ID"), "member-1");
}

static void test_org_rules(void **state)
{
    (void)state;
    /* min_role Admin + can_view_billing in o-1. */
    assert_int_equal(decide("/api/org/o-1/billing/invoices", owner_token)->status, 200);
    assert_string_equal(tg_decision_variable(&decision, "AUTH_ORG_ID"), "o-1");
    assert_string_equal(tg_decision_variable(&decision, "AUTH_ORG_ROLE"), "Owner");
    /* Member is below Admin. */
    assert_int_equal(decide("/api/org/o-1/billing/invoices", member_token)->status, 403);
    assert_string_equal(decision.error, "insufficient_scope");
    /* Admin in o-2 but without the permission. */
    assert_int_equal(decide("/api/org/o-2/billing", member_token)->status, 403);
    assert_string_equal(decision.description, "the user lacks a required permission");
    /* Not a member. */
    assert_int_equal(decide("/api/org/o-1/billing", outsider_token)->status, 403);
    assert_string_equal(decision.description, "the user is not a member of the organisation");
    /* Exact role. */
    assert_int_equal(decide("/api/org/o-1/owners", owner_token)->status, 200);
    assert_int_equal(decide("/api/org/o-2/owners", member_token)->status, 403);
    /* The token is checked before the org: invalid token on an org route. */
    assert_int_equal(decide("/api/org/o-1/billing", expired_token)->status, 401);
    assert_int_equal(decide("/api/org/o-1/billing", NULL)->status, 401);
}

static void test_org_sources(void **state)
{
    (void)state;
    assert_int_equal(decide("/q?org=o-1", owner_token)->status, 200);
    assert_string_equal(tg_decision_variable(&decision, "AUTH_ORG_ID"), "o-1");
    assert_int_equal(decide("/q?x=1&org=o%2D1", owner_token)->status, 200);
    assert_int_equal(decide("/q", owner_token)->status, 403);            /* not given */
    assert_string_equal(decision.description, "the request names no organisation");
    assert_int_equal(decide("/q?org=", owner_token)->status, 403);
    assert_int_equal(decide("/q?org=o-9", owner_token)->status, 403);
    assert_int_equal(decide("/q?org=o-1&org=o-9", owner_token)->status, 400); /* ambiguous */
    assert_int_equal(decide("/q?org=o-1%", owner_token)->status, 400);
    assert_int_equal(decide("/q?org=o-1%0a", owner_token)->status, 400);

    snprintf(bearer, sizeof bearer, "Bearer %s", owner_token);
    assert_int_equal(decide_full("GET", "/h", bearer, "HTTP_X_ORG_ID=o-1", NULL)->status, 200);
    assert_int_equal(decide_full("GET", "/h", bearer, "HTTP_X_ORG_ID=o-2", NULL)->status, 403);
    assert_int_equal(decide_full("GET", "/h", bearer, NULL, NULL)->status, 403);

    assert_int_equal(decide("/fixed", owner_token)->status, 200);
    assert_int_equal(decide("/fixed", outsider_token)->status, 403);

    /* An encoded "/" anywhere in the path is refused. */
    assert_int_equal(decide("/api/org/o-1%2Fx/billing", owner_token)->status, 400);
    /* Unreserved escapes in the capture are just the org id. */
    assert_int_equal(decide("/api/org/%6F-1/billing", owner_token)->status, 200);
}

static void test_methods_and_default(void **state)
{
    (void)state;
    snprintf(bearer, sizeof bearer, "Bearer %s", outsider_token);
    assert_int_equal(decide_full("POST", "/api/write", bearer, NULL, NULL)->status, 200);
    assert_string_equal(decision.rule, "write");
    assert_int_equal(decide_full("GET", "/api/write", bearer, NULL, NULL)->status, 403);
    assert_string_equal(decision.rule, "(default)");
    assert_int_equal(decide("/unlisted", owner_token)->status, 403);

    config->default_policy = TG_DEFAULT_USER;
    assert_int_equal(decide("/unlisted", NULL)->status, 401);
    assert_int_equal(decide("/unlisted", outsider_token)->status, 200);
    config->default_policy = TG_DEFAULT_OPEN;
    assert_int_equal(decide("/unlisted", NULL)->status, 200);
    config->default_policy = TG_DEFAULT_DENY;
}

static void test_no_keys_is_503(void **state)
{
    (void)state;
    struct tg_keyset empty = {0};
    char *params[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/app/x", bearer, NULL};
    snprintf(bearer, sizeof bearer, "HTTP_AUTHORIZATION=Bearer %s", owner_token);
    struct tg_request request;
    tg_request_init(&request, (const char *const *)params, SUPPORT_NOW);
    tg_decide(config, &empty, &request, &decision);
    assert_int_equal(decision.status, 503);
    assert_int_equal(decision.retry_after, config->refresh_min_interval);
    /* An optional rule with a token it cannot check is 503 too, never 200. */
    params[1] = "REQUEST_URI=/maybe/x";
    tg_request_init(&request, (const char *const *)params, SUPPORT_NOW);
    tg_decide(config, &empty, &request, &decision);
    assert_int_equal(decision.status, 503);
}

static void test_variables(void **state)
{
    (void)state;
    const struct tg_decision *d = decide("/api/org/o-1/billing", owner_token);
    assert_int_equal(d->status, 200);
    static const char *const expected[][2] = {
        {"REMOTE_USER", "owner-1"},
        {"AUTH_USER_ID", "owner-1"},
        {"AUTH_PRINCIPAL", "owner-1"},
        {"AUTH_EMAIL", "owner-1@example.com"},
        {"AUTH_FIRST_NAME", "First"},
        {"AUTH_LAST_NAME", "Last"},
        {"AUTH_LOGIN_METHOD", "password"},
        {"AUTH_METHOD", "jwt"},
        {"AUTH_ORG_ID", "o-1"},
        {"AUTH_ORG_NAME", "Org o-1"},
        {"AUTH_URL_SAFE_ORG_NAME", "o-1"},
        {"AUTH_ORG_ROLE", "Owner"},
        {"AUTH_ORG_ROLES", "Owner,Admin,Member"},
        {"AUTH_ORG_PERMISSIONS", "can_view_billing,can_invite"},
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        const char *value = tg_decision_variable(d, expected[i][0]);
        if (!value || strcmp(value, expected[i][1]) != 0)
            fail_msg("%s = %s, expected %s", expected[i][0], value ? value : "(unset)",
                     expected[i][1]);
    }
    assert_int_equal(d->variable_count, sizeof expected / sizeof expected[0]);
    assert_string_equal(d->user_id, "owner-1");
    assert_null(tg_decision_variable(d, "AUTH_USERNAME"));
    /* No org requirement and no active org: no org variables. */
    d = decide("/app/x", owner_token);
    assert_null(tg_decision_variable(d, "AUTH_ORG_ID"));
    assert_string_equal(tg_decision_variable(d, "AUTH_USER_ID"), "owner-1");
}

static void test_variable_prefix(void **state)
{
    (void)state;
    char *saved = config->variable_prefix;
    config->variable_prefix = "PA_";
    const struct tg_decision *d = decide("/fixed", owner_token);
    assert_string_equal(tg_decision_variable(d, "PA_ORG_ID"), "o-1");
    assert_string_equal(tg_decision_variable(d, "REMOTE_USER"), "owner-1");
    assert_null(tg_decision_variable(d, "AUTH_ORG_ID"));
    config->variable_prefix = saved;
}

static void test_control_character_in_claim_is_401(void **state)
{
    (void)state;
    char claims[512];
    snprintf(claims, sizeof claims,
             "{\"iss\":\"" ISSUER "\",\"user_id\":\"u\",\"exp\":%ld,"
             "\"email\":\"a@example.com\\r\\nVariable-AUTH_ORG_ROLE: Owner\"}",
             SUPPORT_NOW + 60);
    char *token = support_token(support_key_rsa(), NULL, "RS256", "{\"alg\":\"RS256\"}", claims);
    assert_int_equal(decide("/app/x", token)->status, 401);
    assert_int_equal(decision.variable_count, 0);
    free(token);
}

/* What the application receives joined by commas cannot hold a comma, and
 * line separators count as control characters. */
static void test_values_the_application_receives(void **state)
{
    (void)state;
    const char *claims_bodies[] = {
        "\"iss\":\"" ISSUER "\",\"user_id\":\"u\",\"org_id_to_org_member_info\":"
        "{\"o-1\":{\"org_id\":\"o-1\",\"user_role\":\"Member,Owner\"}}",
        "\"iss\":\"" ISSUER "\",\"user_id\":\"u\",\"org_id_to_org_member_info\":"
        "{\"o-1\":{\"org_id\":\"o-1\",\"user_role\":\"Owner\","
        "\"user_permissions\":[\"can_view_billing,can_delete\"]}}",
        "\"iss\":\"" ISSUER "\",\"user_id\":\"u\\u2028x\"",
        "\"iss\":\"" ISSUER "\",\"user_id\":\"u\",\"email\":\"a\\u2029b\"",
    };
    const char *paths[] = {"/api/org/o-1/owners", "/api/org/o-1/owners", "/app/x", "/app/x"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char claims[512];
        snprintf(claims, sizeof claims, "{%s,\"exp\":%ld}", claims_bodies[i], SUPPORT_NOW + 60);
        char *token =
            support_token(support_key_rsa(), NULL, "RS256", "{\"alg\":\"RS256\"}", claims);
        if (decide(paths[i], token)->status != 401)
            fail_msg("claims %zu gave %d, expected 401", i, decision.status);
        assert_int_equal(decision.variable_count, 0);
        free(token);
    }
}

/* Decides PARAMS and writes its log line in FORMAT (at a fixed time, 7 us)
 * into LINE. */
static const char *log_line_of(const char *const *params, enum tg_log_format format,
                               bool journal, char *line, size_t size)
{
    struct tg_request request;
    tg_request_init(&request, params, SUPPORT_NOW);
    tg_decide(config, &keys, &request, &decision);
    struct tg_decision_log log;
    tg_decision_log_fill(&decision, &request, 7, false, &log);
    struct timespec when = {.tv_sec = 0, .tv_nsec = 0};
    tg_log_line_format(line, size, format, journal, TG_LOG_INFO, &when, log.fields, log.count,
                       NULL);
    return line;
}

/* The decision log line: every value from outside is quoted and escaped,
 * so a user id cannot forge a status field nor a path a new line. */
static void test_log_line_cannot_be_forged(void **state)
{
    (void)state;
    char claims[512];
    snprintf(claims, sizeof claims,
             "{\"iss\":\"" ISSUER "\",\"user_id\":\"u\\\" status=200 x=\\\"\","
             "\"exp\":%ld}", SUPPORT_NOW + 60);
    char *token = support_token(support_key_rsa(), NULL, "RS256", "{\"alg\":\"RS256\"}", claims);
    char authorization[TG_TOKEN_MAX + 64];
    snprintf(authorization, sizeof authorization, "HTTP_AUTHORIZATION=Bearer %s", token);
    char line[2048];
    const char *allowed[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/app/caf%C3%A9", authorization,
                             "REMOTE_ADDR=127.0.0.1", NULL};
    assert_string_equal(log_line_of(allowed, TG_LOG_FORMAT_TEXT, false, line, sizeof line),
                        "1970-01-01T00:00:00.000Z tokengate[info] method=GET "
                        "path=/app/caf%C3%A9 rule=app status=200 user=\"u\\\" status=200 "
                        "x=\\\"\" client=127.0.0.1 us=7\n");
    free(token);
    const char *refused[] = {"REQUEST_METHOD=po\"st\n", "REQUEST_URI=/app/x",
                             "HTTP_X_REQUEST_ID=id\n status=200", NULL};
    assert_string_equal(log_line_of(refused, TG_LOG_FORMAT_TEXT, false, line, sizeof line),
                        "1970-01-01T00:00:00.000Z tokengate[info] method=\"po\\\"st\\n\" path=- "
                        "rule=- status=400 reason=\"the method is not an upper-case HTTP "
                        "method\" request_id=\"id\\n status=200\" us=7\n");

    /* Bytes beyond ASCII and every control are escaped; a cut line is said. */
    char out[64];
    struct tg_buffer buffer;
    tg_buffer_init(&buffer, out, sizeof out);
    assert_true(tg_buffer_logfmt(&buffer, "k", "\xe2\x80\xa8\x1b=\\"));
    assert_string_equal(out, " k=\"\\xe2\\x80\\xa8\\x1b=\\\\\"");
    tg_buffer_init(&buffer, out, 8);
    assert_false(tg_buffer_logfmt(&buffer, "key", "a long value"));
    assert_int_equal(strlen(out), 7);
    /* Overflow is sticky: nothing more is added, and it is said. */
    assert_false(tg_buffer_puts(&buffer, ""));
    assert_false(tg_buffer_printf(&buffer, "%s", ""));
    assert_int_equal(strlen(out), 7);
}

/* What an auditor needs of a refusal: who, in which org, holding which
 * role, from where, under which request id. */
static void test_log_line_names_user_org_role_and_request(void **state)
{
    (void)state;
    char authorization[TG_TOKEN_MAX + 64];
    snprintf(authorization, sizeof authorization, "HTTP_AUTHORIZATION=Bearer %s", member_token);
    const char *params[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/api/org/o-2/owners",
                            authorization, "REMOTE_ADDR=192.0.2.7", "HTTP_X_REQUEST_ID=r-42",
                            NULL};
    char line[2048];
    assert_string_equal(log_line_of(params, TG_LOG_FORMAT_TEXT, false, line, sizeof line),
                        "1970-01-01T00:00:00.000Z tokengate[info] method=GET "
                        "path=/api/org/o-2/owners rule=owners status=403 user=member-1 org=o-2 "
                        "role=Admin reason=\"the user does not have the required role\" "
                        "client=192.0.2.7 request_id=r-42 us=7\n");
    assert_int_equal(decision.refusal, TG_REFUSAL_ROLE);
    /* Not a member: the org is named, no role is held. */
    params[1] = "REQUEST_URI=/api/org/o-9/owners";
    log_line_of(params, TG_LOG_FORMAT_TEXT, false, line, sizeof line);
    assert_non_null(strstr(line, " user=member-1 org=o-9 reason="));
    assert_int_equal(decision.refusal, TG_REFUSAL_NOT_MEMBER);
    /* Two different request ids: neither is logged (nor is the request
     * refused for it). */
    const char *twice[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/public/x",
                           "HTTP_X_REQUEST_ID=a", "HTTP_X_REQUEST_ID=b", NULL};
    log_line_of(twice, TG_LOG_FORMAT_TEXT, false, line, sizeof line);
    assert_non_null(strstr(line, " status=200 "));
    assert_null(strstr(line, "request_id"));
    /* Under the journal, a text line starts with its priority. */
    log_line_of(twice, TG_LOG_FORMAT_TEXT, true, line, sizeof line);
    assert_true(strncmp(line, "<6>1970-01-01T", 14) == 0);
}

/* log_format = json: one object per line that a JSON parser reads back
 * whole, whatever the values hold; numbers are numbers. */
static void test_json_log_line_parses(void **state)
{
    (void)state;
    char authorization[TG_TOKEN_MAX + 64];
    snprintf(authorization, sizeof authorization, "HTTP_AUTHORIZATION=Bearer %s", owner_token);
    const char *params[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/api/org/o-1/owners",
                            authorization, "REMOTE_ADDR=::1",
                            "HTTP_X_REQUEST_ID=\"}\n\xe2\x80\xa8\xff\x01\xc3\xa9", NULL};
    char line[2048];
    log_line_of(params, TG_LOG_FORMAT_JSON, true, line, sizeof line);
    size_t len = strlen(line);
    assert_true(len > 2 && line[len - 1] == '\n');
    assert_null(memchr(line, '\n', len - 1));
    json_error_t error;
    json_t *object = json_loadb(line, len - 1, 0, &error);
    if (!object)
        fail_msg("not JSON (%s): %s", error.text, line);
    assert_string_equal(json_string_value(json_object_get(object, "time")),
                        "1970-01-01T00:00:00.000Z");
    assert_string_equal(json_string_value(json_object_get(object, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(object, "method")), "GET");
    assert_string_equal(json_string_value(json_object_get(object, "path")),
                        "/api/org/o-1/owners");
    assert_string_equal(json_string_value(json_object_get(object, "rule")), "owners");
    assert_int_equal(json_integer_value(json_object_get(object, "status")), 200);
    assert_int_equal(json_integer_value(json_object_get(object, "us")), 7);
    assert_string_equal(json_string_value(json_object_get(object, "user")), "owner-1");
    assert_string_equal(json_string_value(json_object_get(object, "org")), "o-1");
    assert_string_equal(json_string_value(json_object_get(object, "role")), "Owner");
    assert_string_equal(json_string_value(json_object_get(object, "client")), "::1");
    /* Controls and U+2028 escaped, the byte that is not UTF-8 replaced. */
    assert_string_equal(json_string_value(json_object_get(object, "request_id")),
                        "\"}\n\xe2\x80\xa8\xef\xbf\xbd\x01\xc3\xa9");
    assert_non_null(strstr(line, "\\u2028"));
    assert_null(json_object_get(object, "reason"));
    json_decref(object);

    /* A message line, cut when too long, still parses. */
    struct timespec when = {0, 0};
    char small[96];
    tg_log_line_format(small, sizeof small, TG_LOG_FORMAT_JSON, false, TG_LOG_WARN, &when, NULL,
                       0, "a message much longer than the line it has to fit into, by far");
    object = json_loads(small, 0, &error);
    if (!object)
        fail_msg("cut line is not JSON (%s): %s", error.text, small);
    assert_string_equal(json_string_value(json_object_get(object, "level")), "warn");
    json_decref(object);
}

static void test_active_org_token(void **state)
{
    (void)state;
    char claims[1024];
    snprintf(claims, sizeof claims,
             "{\"iss\":\"" ISSUER "\",\"user_id\":\"u-a\",\"exp\":%ld,\"org_member_info\":{"
             "\"org_id\":\"o-7\",\"org_name\":\"Seven\",\"user_role\":\"Admin\","
             "\"inherited_user_roles_plus_current_role\":[\"Admin\",\"Member\"],"
             "\"user_permissions\":[\"can_view_billing\"]}}",
             SUPPORT_NOW + 60);
    char *token = support_token(support_key_rsa(), NULL, "RS256", "{\"alg\":\"RS256\"}", claims);
    /* No org in the rule: the active org fills the variables. */
    assert_int_equal(decide("/app/x", token)->status, 200);
    assert_string_equal(tg_decision_variable(&decision, "AUTH_ORG_ID"), "o-7");
    assert_string_equal(tg_decision_variable(&decision, "AUTH_ORG_ROLES"), "Admin,Member");
    assert_int_equal(decide("/api/org/o-7/billing", token)->status, 200);
    assert_int_equal(decide("/api/org/o-1/billing", token)->status, 403);
    /* The active org is kept for the log... */
    assert_string_equal(decide("/app/x", token)->org_id, "o-7");
    free(token);
    /* ...unless it is too long to keep whole: then it is left out, never
     * logged cut. */
    char long_org[TG_ORG_ID_MAX + 8];
    memset(long_org, 'o', sizeof long_org - 1);
    long_org[sizeof long_org - 1] = '\0';
    char long_claims[2048];
    snprintf(long_claims, sizeof long_claims,
             "{\"iss\":\"" ISSUER "\",\"user_id\":\"u-a\",\"exp\":%ld,\"org_member_info\":{"
             "\"org_id\":\"%s\",\"org_name\":\"Long\",\"user_role\":\"Admin\"}}",
             SUPPORT_NOW + 60, long_org);
    token = support_token(support_key_rsa(), NULL, "RS256", "{\"alg\":\"RS256\"}", long_claims);
    assert_int_equal(decide("/app/x", token)->status, 200);
    assert_string_equal(decision.org_id, "");
    free(token);
}

/* The credential's kind is read with the request: "Token KEY" and a bearer
 * credential that is not a compact JWS are API keys, which no rule accepts
 * yet: 401, never taken for a token (contract section 10). */
static void test_api_keys_are_told_from_tokens(void **state)
{
    (void)state;
    const struct {
        const char *header;
        enum tg_credential kind;
    } cases[] = {
        {"HTTP_AUTHORIZATION=Token tg_abcdef", TG_CREDENTIAL_API_KEY},
        {"HTTP_AUTHORIZATION=token tg_abcdef", TG_CREDENTIAL_API_KEY},
        {"HTTP_AUTHORIZATION=Bearer 0123456789abcdef", TG_CREDENTIAL_API_KEY},
        {"HTTP_AUTHORIZATION=Bearer a.b", TG_CREDENTIAL_API_KEY},
        {"HTTP_AUTHORIZATION=Bearer a.b.c.d.e", TG_CREDENTIAL_API_KEY},
        {"HTTP_AUTHORIZATION=Bearer a.b.c", TG_CREDENTIAL_TOKEN},
        {"HTTP_AUTHORIZATION=Basic dXNlcjpwYXNz", TG_CREDENTIAL_UNUSABLE},
        {"HTTP_AUTHORIZATION=Token two words", TG_CREDENTIAL_UNUSABLE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *params[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/app/x", cases[i].header,
                                NULL};
        struct tg_request request;
        tg_request_init(&request, params, SUPPORT_NOW);
        if (request.credential != cases[i].kind)
            fail_msg("%s read as kind %d", cases[i].header, (int)request.credential);
        tg_decide(config, &keys, &request, &decision);
        assert_int_equal(decision.status, 401);
        if (cases[i].kind == TG_CREDENTIAL_API_KEY) {
            assert_string_equal(decision.description, "API keys are not accepted here");
            assert_string_equal(decision.error, "invalid_token");
        }
    }
    /* Even where a token is optional, a key is refused, not anonymous. */
    const char *optional[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/maybe/x",
                              "HTTP_AUTHORIZATION=Token tg_abcdef", NULL};
    struct tg_request request;
    tg_request_init(&request, optional, SUPPORT_NOW);
    tg_decide(config, &keys, &request, &decision);
    assert_int_equal(decision.status, 401);
}

static void test_cookie(void **state)
{
    (void)state;
    char cookie[TG_TOKEN_MAX + 64];
    snprintf(cookie, sizeof cookie, "HTTP_COOKIE=theme=dark; __pa_at=%s; other=1", owner_token);
    assert_int_equal(decide_full("GET", "/app/x", NULL, cookie, NULL)->status, 200);
    snprintf(cookie, sizeof cookie, "HTTP_COOKIE=__pa_at=%s", expired_token);
    assert_int_equal(decide_full("GET", "/app/x", NULL, cookie, NULL)->status, 401);
    assert_true(decision.credential_present);
    assert_int_equal(decide_full("GET", "/app/x", NULL, "HTTP_COOKIE=x__pa_at=1", NULL)->status,
                     401);
    assert_false(decision.credential_present);
    /* The Authorization header wins over the cookie. */
    snprintf(cookie, sizeof cookie, "HTTP_COOKIE=__pa_at=%s", owner_token);
    assert_int_equal(decide_full("GET", "/app/x", "Bearer bad", cookie, NULL)->status, 401);
}

static void test_bad_requests(void **state)
{
    (void)state;
    assert_int_equal(decide_full(NULL, "/app/x", NULL, NULL, NULL)->status, 400);
    assert_int_equal(decide_full("GET", NULL, NULL, NULL, NULL)->status, 400);
    assert_int_equal(decide_full("", "/app/x", NULL, NULL, NULL)->status, 400);
    assert_int_equal(decide("/app/%00", owner_token)->status, 400);
    assert_int_equal(decide("/app/%zz", owner_token)->status, 400);
    assert_int_equal(decide("/../app/x", owner_token)->status, 400);
    assert_int_equal(decide("app/x", owner_token)->status, 400);
    /* Without REQUEST_URI, SCRIPT_NAME + PATH_INFO say what is routed. */
    snprintf(bearer, sizeof bearer, "Bearer %s", owner_token);
    decide_full("GET", NULL, bearer, "SCRIPT_NAME=/app/run.cgi", "PATH_INFO=/extra");
    assert_int_equal(decision.status, 200);
    assert_string_equal(decision.path, "/app/run.cgi/extra");
    decide_full("GET", NULL, NULL, "SCRIPT_NAME=/public/../app/run.cgi", NULL);
    assert_int_equal(decision.status, 401);
}

/* One view of the request: everything a web server or an application could
 * read another way than we do is refused (400), never guessed. Each of
 * these was decided on a reading the server did not serve. */
static void test_request_view(void **state)
{
    (void)state;
    /* lighttpd and nginx route on the part before "#" but pass it raw. */
    assert_int_equal(decide("/app/whoami.cgi#/../../public/x", NULL)->status, 400);
    assert_string_equal(decision.description, "the request target holds a #");
    assert_int_equal(decide("/app/x?a=1#/../../public/x", NULL)->status, 400);
    /* Both servers decode %2F and run billing/whoami.cgi. */
    assert_int_equal(decide("/api/org/o-1/billing%2Fwhoami.cgi", member_token)->status, 400);
    assert_int_equal(decide("/api/org/o-1/billing%2fx", member_token)->status, 400);
    assert_int_equal(decide("/app%5cx", owner_token)->status, 400);
    assert_int_equal(decide("/app\\x", owner_token)->status, 400);

    /* The org header twice, under one or two spellings (lighttpd passes
     * X-Org-Id and X_Org_Id both as HTTP_X_ORG_ID). */
    snprintf(bearer, sizeof bearer, "Bearer %s", owner_token);
    assert_int_equal(
        decide_full("GET", "/h", bearer, "HTTP_X_ORG_ID=o-1", "HTTP_X_ORG_ID=o-2")->status, 400);
    assert_int_equal(
        decide_full("GET", "/h", bearer, "HTTP_X_ORG_ID=o-1", "HTTP_X_ORG_ID=o-1")->status, 400);
    /* Refused before the credential is looked at. */
    snprintf(bearer, sizeof bearer, "Bearer %s", expired_token);
    assert_int_equal(
        decide_full("GET", "/h", bearer, "HTTP_X_ORG_ID=o-1", "HTTP_X_ORG_ID=o-2")->status, 400);
    /* A header named with a dot is found as the server passes it. */
    snprintf(bearer, sizeof bearer, "Bearer %s", owner_token);
    assert_int_equal(decide_full("GET", "/hd", bearer, "HTTP_X_ORG=o-1", NULL)->status, 200);

    /* Query parameter names are compared decoded, and as PHP reads them. */
    const char *ambiguous[] = {
        "/q?%6Frg=o-9&org=o-1", "/q?org=o-1&%6frg=o-9", "/q?o%72g=o-9&org=o-1",
        "/q?org=o-1&org%5B%5D=o-9", "/q?org=o-1&org[x]=o-9", "/q?+org=o-9&org=o-1",
        "/q?org=o-1;x=1", "/q?x=1;org=o-1", "/q?org=o-1;org=o-9", "/q?%zz=1&org=o-1",
        "/q?org=o-1&%00=1", "/q?org=o-1&org",
    };
    for (size_t i = 0; i < sizeof ambiguous / sizeof ambiguous[0]; i++)
        if (decide(ambiguous[i], owner_token)->status != 400)
            fail_msg("%s gave %d, expected 400", ambiguous[i], decision.status);
    /* A name PHP would read as another one is refused only for that one. */
    assert_int_equal(decide("/q?o.rg=o-9&org=o-1", owner_token)->status, 200);
    assert_int_equal(decide("/q?x=%zz&org=o-1&y=a;b", owner_token)->status, 200);
    assert_int_equal(decide("/q?org=o%2D1&x=1", owner_token)->status, 200);
    assert_string_equal(tg_decision_variable(&decision, "AUTH_ORG_ID"), "o-1");

    /* Methods: only upper-case tokens (Apache passes "post" on). */
    assert_int_equal(decide_full("post", "/api/write", NULL, NULL, NULL)->status, 400);
    assert_int_equal(decide_full("GET ", "/app/x", NULL, NULL, NULL)->status, 400);
    assert_int_equal(decide_full("G\xc3\x89T", "/app/x", NULL, NULL, NULL)->status, 400);
    assert_int_equal(decide_full("M-SEARCH", "/public/x", NULL, NULL, NULL)->status, 200);

    /* Two different copies of what the view is built from. */
    assert_int_equal(
        decide_full("GET", "/public/x", NULL, "REQUEST_URI=/app/x", NULL)->status, 400);
    assert_int_equal(
        decide_full("GET", "/public/x", NULL, "REQUEST_URI=/public/x", NULL)->status, 200);
    assert_int_equal(
        decide_full("GET", "/public/x", NULL, "REQUEST_METHOD=POST", NULL)->status, 400);
    snprintf(bearer, sizeof bearer, "Bearer %s", owner_token);
    assert_int_equal(
        decide_full("GET", "/app/x", bearer, "HTTP_AUTHORIZATION=Bearer x", NULL)->status, 400);

    /* Without REQUEST_URI, a decoded SCRIPT_NAME is read as what it names. */
    decide_full("GET", NULL, NULL, "SCRIPT_NAME=/public/100%/x?#", NULL);
    assert_int_equal(decision.status, 200);
    assert_string_equal(decision.path, "/public/100%25/x%3F%23");
}

/* Rule patterns are spelled as normalised paths: they match what browsers
 * send, whichever spelling the request uses. */
static void test_patterns_match_what_browsers_send(void **state)
{
    (void)state;
    const char *open_paths[] = {
        "/caf%C3%A9/x", "/caf%c3%a9/x", "/caf\xc3\xa9/x", "/~alice/x", "/%7ealice/x",
        "/%7Ealice/", "/a@b/x", "/a%40b/x",
    };
    for (size_t i = 0; i < sizeof open_paths / sizeof open_paths[0]; i++)
        if (decide(open_paths[i], NULL)->status != 200)
            fail_msg("%s gave %d (rule %s)", open_paths[i], decision.status,
                     decision.rule ? decision.rule : "-");
    assert_int_equal(decide("/cafe/x", NULL)->status, 403);
}

/* Every spelling reaches /app/x on the server: none may pass unauthenticated
 * through the open /public rule. */
static void test_traversal_spellings(void **state)
{
    (void)state;
    const char *spellings[] = {
        "/public/../app/x",
        "/public/%2e%2e/app/x",
        "/public/%2E%2E/app/x",
        "/public/.%2e/app/x",
        "/public/%2e./app/x",
        "//public/../app/x",
        "/public//../app/x",
        "/public/./../app/x",
        "/public/x/../../app/x",
        "/./public/../app/x",
        "/%70ublic/../%61pp/x",
        "/public/../app/x?/public/",
        "/public/..%2fapp/x",
        "/public/x%2F..%2F..%2Fapp/x",
        "/public/..%5capp/x",
        "/app/./x",
        "//app//x",
        "/public/%2e%2e%2fapp/x",
    };
    for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++) {
        decide(spellings[i], NULL);
        if (decision.status == 200)
            fail_msg("%s passed without a token (rule %s)", spellings[i], decision.rule);
        if (decision.status != 401 && decision.status != 400)
            fail_msg("%s gave %d", spellings[i], decision.status);
        /* With a valid token it is the protected rule that decides. */
        decide(spellings[i], owner_token);
        if (decision.status == 200 && strcmp(decision.rule, "app") != 0)
            fail_msg("%s decided by rule %s", spellings[i], decision.rule);
    }
    /* The control: the open path itself stays open. */
    assert_int_equal(decide("/public/x/../y", NULL)->status, 200);
    assert_string_equal(decision.path, "/public/y");
}

static void test_response_bytes(void **state)
{
    (void)state;
    char out[TG_RESPONSE_MAX];
    decide("/fixed", owner_token);
    size_t len = tg_response_format(&decision, config->realm, out, sizeof out);
    assert_true(len > 0);
    assert_int_equal(strncmp(out, "Status: 200\n", 12), 0);
    assert_non_null(strstr(out, "\nVariable-AUTH_ORG_ID: o-1\n"));
    assert_non_null(strstr(out, "\nVariable-REMOTE_USER: owner-1\n"));
    assert_null(strstr(out, "Content-Type"));
    assert_int_equal(strcmp(out + len - 2, "\n\n"), 0);
    /* No token, no signature in any response. */
    assert_null(strstr(out, owner_token));
    assert_null(strstr(out, strrchr(owner_token, '.') + 1));

    decide("/app/x", NULL);
    tg_response_format(&decision, config->realm, out, sizeof out);
    assert_string_equal(out,
        "Status: 401\n"
        "Content-Type: application/json\n"
        "WWW-Authenticate: Bearer realm=\"example\"\n"
        "\n"
        "{\"error\": \"unauthorized\", \"error_description\": \"no bearer token in the request\"}\n");

    decide("/app/x", expired_token);
    tg_response_format(&decision, config->realm, out, sizeof out);
    assert_string_equal(out,
        "Status: 401\n"
        "Content-Type: application/json\n"
        "WWW-Authenticate: Bearer realm=\"example\", error=\"invalid_token\", "
        "error_description=\"the token has expired\"\n"
        "\n"
        "{\"error\": \"invalid_token\", \"error_description\": \"the token has expired\"}\n");
    assert_null(strstr(out, strrchr(expired_token, '.') + 1));

    decide("/admin/x", owner_token);
    tg_response_format(&decision, config->realm, out, sizeof out);
    assert_int_equal(strncmp(out, "Status: 403\n", 12), 0);
    assert_non_null(strstr(out, "WWW-Authenticate: Bearer realm=\"example\", "
                                "error=\"insufficient_scope\"\n"));

    decide("/app/%00", NULL);
    tg_response_format(&decision, config->realm, out, sizeof out);
    assert_int_equal(strncmp(out, "Status: 400\n", 12), 0);
    assert_null(strstr(out, "WWW-Authenticate"));
    assert_non_null(strstr(out, "\"error\": \"invalid_request\""));

    struct tg_decision unavailable = {.status = 503, .error = "temporarily_unavailable",
                                      .description = "no verification key is loaded yet",
                                      .retry_after = 30};
    tg_response_format(&unavailable, config->realm, out, sizeof out);
    assert_non_null(strstr(out, "\nRetry-After: 30\n"));
    /* Too small a buffer: nothing, never a truncated response. */
    assert_int_equal(tg_response_format(&unavailable, config->realm, out, 20), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_rule),
        cmocka_unit_test(test_deny_rule),
        cmocka_unit_test(test_no_credential),
        cmocka_unit_test(test_invalid_credentials),
        cmocka_unit_test(test_optional_rule),
        cmocka_unit_test(test_org_rules),
        cmocka_unit_test(test_org_sources),
        cmocka_unit_test(test_methods_and_default),
        cmocka_unit_test(test_no_keys_is_503),
        cmocka_unit_test(test_variables),
        cmocka_unit_test(test_variable_prefix),
        cmocka_unit_test(test_control_character_in_claim_is_401),
        cmocka_unit_test(test_values_the_application_receives),
        cmocka_unit_test(test_log_line_cannot_be_forged),
        cmocka_unit_test(test_log_line_names_user_org_role_and_request),
        cmocka_unit_test(test_json_log_line_parses),
        cmocka_unit_test(test_active_org_token),
        cmocka_unit_test(test_api_keys_are_told_from_tokens),
        cmocka_unit_test(test_cookie),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_request_view),
        cmocka_unit_test(test_patterns_match_what_browsers_send),
        cmocka_unit_test(test_traversal_spellings),
        cmocka_unit_test(test_response_bytes),
    };
    return cmocka_run_group_tests_name("decision", tests, setup, teardown);
}
