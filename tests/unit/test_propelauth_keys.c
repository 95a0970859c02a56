/* SPDX-License-Identifier: Apache-2.0 */
/* End-user API keys validated by PropelAuth (contract section 10): what its
 * answers mean (apikey.h), the cache of them, and the decision made with
 * them -- personal, org and generic keys through the token's org, role and
 * permission checks, refusals, 429 and 503. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "support.h"
#include "tokengate/apikey.h"
#include "tokengate/decision.h"
#include "tokengate/response.h"

static struct tg_config *config;
static struct tg_keyset keys;
static struct tg_decision decision;
static char *key_path, *integration_path;

static int setup(void **state)
{
    (void)state;
    char *pem = support_public_pem(support_key_rsa());
    key_path = support_file_write(pem);
    free(pem);
    integration_path = support_file_write("integration-key\n");
    chmod(integration_path, 0600);
    char *text = NULL;
    if (asprintf(&text,
                 "[token]\nverifier_key = %s\nissuer = https://auth.example.com\n"
                 "auth_url = https://auth.example.com\napi_key_file = %s\n"
                 "[api_keys]\npropelauth = yes\n"
                 "[rule admin]\npath = /orgs/{org_id}/admin/**\norg = path:org_id\n"
                 "min_role = Admin\napi_keys = yes\n"
                 "[rule billing]\npath = /orgs/{org_id}/billing/**\norg = path:org_id\n"
                 "permission = can_view_billing\napi_keys = yes\n"
                 "[rule member]\npath = /orgs/{org_id}/member/**\norg = path:org_id\n"
                 "api_keys = yes\n"
                 "[rule keys]\npath = /k/**\napi_keys = yes\n"
                 "[rule maybe]\npath = /maybe/**\nrequire = optional\napi_keys = yes\n",
                 key_path, integration_path) < 0)
        abort();
    config = support_config_load(text);
    free(text);
    assert_non_null(config);
    support_keyset_add(&keys, support_key_rsa(), NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tg_config_free(config);
    tg_keyset_clear(&keys);
    unlink(key_path);
    unlink(integration_path);
    free(key_path);
    free(integration_path);
    return 0;
}

#define ADMIN_IN_O1                                                                          \
    "{\"org_id\":\"o-1\",\"org_name\":\"Org One\",\"user_role\":\"Admin\","                  \
    "\"inherited_user_roles_plus_current_role\":[\"Admin\",\"Member\"],"                      \
    "\"user_permissions\":[\"can_view_billing\"]}"
#define MEMBER_IN_O1                                                                         \
    "{\"org_id\":\"o-1\",\"org_name\":\"Org One\",\"user_role\":\"Member\","                 \
    "\"inherited_user_roles_plus_current_role\":[\"Member\"],\"user_permissions\":[]}"
#define ORG_O1 "{\"org_id\":\"o-1\",\"name\":\"Org One\",\"metadata\":{}}"

static const char personal[] =
    "{\"user\":{\"user_id\":\"u-1\",\"email\":\"u@example.com\","
    "\"org_id_to_org_info\":{\"o-1\":" ADMIN_IN_O1 "}},\"org\":null,\"user_in_org\":null}";
static const char org_with_user[] =
    "{\"user\":{\"user_id\":\"u-2\",\"org_id_to_org_info\":{\"o-1\":" ADMIN_IN_O1 "}},"
    "\"org\":" ORG_O1 ",\"user_in_org\":" MEMBER_IN_O1 "}";
static const char org_only[] = "{\"user\":null,\"org\":" ORG_O1 ",\"user_in_org\":null}";
static const char generic[] = "{\"user\":null,\"org\":null,\"metadata\":{}}";

/* Decides URI for "Token KEY" with VALIDATION (NULL: none yet). */
static const struct tg_decision *decide(const char *uri, const struct tg_key_validation *validation)
{
    char uri_param[256];
    snprintf(uri_param, sizeof uri_param, "REQUEST_URI=%s", uri);
    const char *params[] = {"REQUEST_METHOD=GET", uri_param,
                            "HTTP_AUTHORIZATION=Token 0123456789abcdef0123456789abcdef", NULL};
    struct tg_request request;
    tg_request_init(&request, params, SUPPORT_NOW);
    request.key_validation = validation;
    tg_decide(config, &keys, &request, &decision);
    return &decision;
}

/* Decides with PropelAuth's 200 ANSWER. */
static const struct tg_decision *decide_valid(const char *uri, const char *answer)
{
    struct tg_key_validation *validation =
        tg_key_validation_new(TG_KEY_VALID, 0, answer, strlen(answer));
    decide(uri, validation);
    tg_key_validation_release(validation);
    return &decision;
}

static void assert_variable(const char *name, const char *value)
{
    const char *found = tg_decision_variable(&decision, name);
    if (value && (!found || strcmp(found, value) != 0))
        fail_msg("%s is %s, not %s", name, found ? found : "(absent)", value);
    if (!value && found)
        fail_msg("%s is %s, and should be absent", name, found);
}

static void test_answers_mean_what_the_contract_says(void **state)
{
    (void)state;
    struct tg_error error = {0};
    struct tg_key_validation *v;
    v = tg_key_validation_read(200, personal, strlen(personal), -1, 5, &error);
    assert_int_equal(v->verdict, TG_KEY_VALID);
    assert_string_equal(v->answer, personal);
    assert_int_equal(tg_key_validation_ttl(v, 60, 10), 60);
    tg_key_validation_release(v);
    for (int status = 400; status <= 404; status += 4) {
        v = tg_key_validation_read(status, "{}", 2, -1, 5, &error);
        assert_int_equal(v->verdict, TG_KEY_INVALID);
        assert_int_equal(tg_key_validation_ttl(v, 60, 10), 10);
        tg_key_validation_release(v);
    }
    /* Our integration key is wrong: 503, and the log names the file. */
    error.text[0] = '\0';
    v = tg_key_validation_read(401, "{}", 2, -1, 5, &error);
    assert_int_equal(v->verdict, TG_KEY_UNAVAILABLE);
    assert_true(v->integration_key_wrong);
    assert_int_equal(v->retry_after, 5);
    assert_non_null(strstr(error.text, "api_key_file"));
    assert_int_equal(tg_key_validation_ttl(v, 60, 10), 0);
    tg_key_validation_release(v);
    /* 429: at least wait_seconds, or Retry-After when that is longer. */
    const char *limited = "{\"wait_seconds\": 7, \"error\": \"slow down\"}";
    v = tg_key_validation_read(429, limited, strlen(limited), 3, 5, &error);
    assert_int_equal(v->verdict, TG_KEY_RATE_LIMITED);
    assert_int_equal(v->retry_after, 7);
    tg_key_validation_release(v);
    v = tg_key_validation_read(429, limited, strlen(limited), 12, 5, &error);
    assert_int_equal(v->retry_after, 12);
    tg_key_validation_release(v);
    v = tg_key_validation_read(429, "nonsense", 8, -1, 5, &error);
    assert_int_equal(v->verdict, TG_KEY_RATE_LIMITED);
    assert_true(v->retry_after >= 1);
    tg_key_validation_release(v);
    /* Anything else, and a 200 that is no JSON object: 503. */
    const char *bodies[] = {"<html>", "[1,2]", "{\"a\":1,\"a\":2}", ""};
    for (size_t i = 0; i < 4; i++) {
        v = tg_key_validation_read(200, bodies[i], strlen(bodies[i]), -1, 5, &error);
        assert_int_equal(v->verdict, TG_KEY_UNAVAILABLE);
        tg_key_validation_release(v);
    }
    char *large = malloc(TG_KEY_ANSWER_MAX + 100);
    memset(large, ' ', TG_KEY_ANSWER_MAX + 98);
    large[0] = '{';
    large[TG_KEY_ANSWER_MAX + 98] = '}';
    large[TG_KEY_ANSWER_MAX + 99] = '\0';
    v = tg_key_validation_read(200, large, strlen(large), -1, 5, &error);
    assert_int_equal(v->verdict, TG_KEY_UNAVAILABLE);
    tg_key_validation_release(v);
    free(large);
    long statuses[] = {500, 502, 503, 302, 0};
    for (size_t i = 0; i < 5; i++) {
        v = tg_key_validation_read(statuses[i], "", 0, 30, 5, &error);
        assert_int_equal(v->verdict, TG_KEY_UNAVAILABLE);
        assert_int_equal(v->retry_after, 30);
        tg_key_validation_release(v);
    }
}

static void test_request_body_escapes_the_key(void **state)
{
    (void)state;
    char text[256];
    struct tg_buffer body;
    tg_buffer_init(&body, text, sizeof text);
    assert_true(tg_key_validation_request("a\"b\\c", 5, &body));
    assert_string_equal(text, "{\"api_key_token\":\"a\\\"b\\\\c\"}");
    char *long_key = malloc(TG_KEY_TEXT_MAX + 2);
    memset(long_key, 'k', TG_KEY_TEXT_MAX + 1);
    tg_buffer_init(&body, text, sizeof text);
    assert_false(tg_key_validation_request(long_key, TG_KEY_TEXT_MAX + 1, &body));
    free(long_key);
}

static void test_cache_keeps_by_hash_and_ttl(void **state)
{
    (void)state;
    struct tg_key_cache *cache = tg_key_cache_new();
    unsigned char hash[TG_KEY_HASH_SIZE], other[TG_KEY_HASH_SIZE];
    tg_key_hash("key-one", 7, hash);
    tg_key_hash("key-two", 7, other);
    char hex[TG_KEY_HASH_HEX];
    tg_key_hash_hex(hash, hex);
    assert_int_equal(strlen(hex), 64);
    struct tg_key_validation *valid = tg_key_validation_new(TG_KEY_VALID, 0, "{}", 2);
    tg_key_cache_put(cache, hash, valid, 1060, 1000);
    struct tg_key_validation *found = tg_key_cache_get(cache, hash, 1059);
    assert_ptr_equal(found, valid);
    tg_key_validation_release(found);
    assert_null(tg_key_cache_get(cache, other, 1000));
    assert_null(tg_key_cache_get(cache, hash, 1060)); /* expired, and gone */
    assert_int_equal(tg_key_cache_count(cache), 0);
    /* Full: the entry that expires first goes. */
    for (int i = 0; i < TG_KEY_CACHE_ENTRIES_MAX + 10; i++) {
        char key[32];
        snprintf(key, sizeof key, "key-%d", i);
        unsigned char h[TG_KEY_HASH_SIZE];
        tg_key_hash(key, strlen(key), h);
        tg_key_cache_put(cache, h, valid, 2000 + i, 1000);
    }
    assert_int_equal(tg_key_cache_count(cache), TG_KEY_CACHE_ENTRIES_MAX);
    unsigned char first[TG_KEY_HASH_SIZE], last[TG_KEY_HASH_SIZE];
    tg_key_hash("key-0", 5, first);
    char last_key[32];
    snprintf(last_key, sizeof last_key, "key-%d", TG_KEY_CACHE_ENTRIES_MAX + 9);
    tg_key_hash(last_key, strlen(last_key), last);
    assert_null(tg_key_cache_get(cache, first, 1000));
    found = tg_key_cache_get(cache, last, 1000);
    assert_non_null(found);
    tg_key_validation_release(found);
    /* A result that may not be reused is not kept. */
    tg_key_cache_put(cache, other, valid, 1000, 1000);
    assert_null(tg_key_cache_get(cache, other, 999));
    tg_key_validation_release(valid);
    tg_key_cache_free(cache);
}

static void test_an_unvalidated_key_waits_for_propelauth(void **state)
{
    (void)state;
    assert_int_equal(decide("/k/x", NULL)->status, 503);
    assert_true(decision.validation_needed);
    assert_int_equal(decision.refusal, TG_REFUSAL_UNAVAILABLE);
    /* Where keys are not accepted nothing is asked. */
    assert_int_equal(decide("/elsewhere", NULL)->status, 403);
    assert_false(decision.validation_needed);
}

static void test_personal_key_acts_as_its_user(void **state)
{
    (void)state;
    assert_int_equal(decide_valid("/k/x", personal)->status, 200);
    assert_false(decision.validation_needed);
    assert_variable("REMOTE_USER", "u-1");
    assert_variable("AUTH_USER_ID", "u-1");
    assert_variable("AUTH_PRINCIPAL", "u-1");
    assert_variable("AUTH_EMAIL", "u@example.com");
    assert_variable("AUTH_METHOD", "api_key");
    assert_variable("AUTH_API_KEY_NAME", NULL);
    assert_int_equal(decide_valid("/orgs/o-1/admin/x", personal)->status, 200);
    assert_variable("AUTH_ORG_ROLE", "Admin");
    assert_variable("AUTH_ORG_NAME", "Org One");
    assert_int_equal(decide_valid("/orgs/o-1/billing/x", personal)->status, 200);
    assert_int_equal(decide_valid("/orgs/o-2/member/x", personal)->status, 403);
    assert_int_equal(decision.refusal, TG_REFUSAL_NOT_MEMBER);
}

static void test_org_key_acts_in_its_org_only(void **state)
{
    (void)state;
    /* With its user: the membership of user_in_org, not the user's map. */
    assert_int_equal(decide_valid("/orgs/o-1/member/x", org_with_user)->status, 200);
    assert_variable("AUTH_USER_ID", "u-2");
    assert_variable("AUTH_ORG_ID", "o-1");
    assert_variable("AUTH_ORG_ROLE", "Member");
    assert_int_equal(decide_valid("/orgs/o-1/admin/x", org_with_user)->status, 403);
    assert_int_equal(decision.refusal, TG_REFUSAL_ROLE);
    assert_int_equal(decide_valid("/orgs/o-1/billing/x", org_with_user)->status, 403);
    assert_int_equal(decision.refusal, TG_REFUSAL_PERMISSION);
    assert_int_equal(decide_valid("/orgs/o-2/member/x", org_with_user)->status, 403);
    assert_int_equal(decide_valid("/k/x", org_with_user)->status, 200);
    assert_variable("AUTH_ORG_ID", "o-1");
    /* Without one: the org, with no role. */
    assert_int_equal(decide_valid("/orgs/o-1/member/x", org_only)->status, 200);
    assert_variable("AUTH_PRINCIPAL", "org:o-1");
    assert_variable("AUTH_ORG_ID", "o-1");
    assert_variable("AUTH_ORG_NAME", "Org One");
    assert_variable("AUTH_USER_ID", NULL);
    assert_variable("REMOTE_USER", NULL);
    assert_int_equal(decide_valid("/orgs/o-1/admin/x", org_only)->status, 403);
    assert_int_equal(decide_valid("/orgs/o-1/billing/x", org_only)->status, 403);
    assert_int_equal(decide_valid("/orgs/o-2/member/x", org_only)->status, 403);
}

static void test_generic_key_passes_user_rules_only(void **state)
{
    (void)state;
    assert_int_equal(decide_valid("/k/x", generic)->status, 200);
    assert_variable("AUTH_PRINCIPAL", "api_key");
    assert_variable("AUTH_METHOD", "api_key");
    assert_variable("AUTH_USER_ID", NULL);
    assert_int_equal(decide_valid("/orgs/o-1/member/x", generic)->status, 403);
}

static void test_malformed_answers_never_allow(void **state)
{
    (void)state;
    const char *answers[] = {
        "{\"user\":\"u-1\"}",
        "{\"user\":{\"email\":\"no-id@example.com\"}}",
        "{\"user\":{\"user_id\":\"u\\n1\"}}",
        "{\"org\":{\"name\":\"no id\"}}",
        "{\"org\":{\"org_id\":7}}",
        "{\"user\":{\"user_id\":\"u-2\"},\"org\":" ORG_O1 ","
        "\"user_in_org\":{\"org_id\":\"o-9\",\"user_role\":\"Owner\"}}",
        "{\"user\":{\"user_id\":\"u-1\",\"org_id_to_org_info\":[]}}",
    };
    for (size_t i = 0; i < sizeof answers / sizeof answers[0]; i++) {
        decide_valid("/orgs/o-1/member/x", answers[i]);
        if (decision.status != 401)
            fail_msg("answer %zu gave %d, not 401", i, decision.status);
    }
}

static void test_refusals_of_propelauth(void **state)
{
    (void)state;
    struct tg_key_validation *invalid = tg_key_validation_new(TG_KEY_INVALID, 0, NULL, 0);
    assert_int_equal(decide("/k/x", invalid)->status, 401);
    assert_int_equal(decision.refusal, TG_REFUSAL_INVALID_TOKEN);
    /* On an optional rule, an invalid key is anonymous. */
    assert_int_equal(decide("/maybe/x", invalid)->status, 200);
    assert_variable("AUTH_PRINCIPAL", "-");
    tg_key_validation_release(invalid);

    struct tg_key_validation *limited = tg_key_validation_new(TG_KEY_RATE_LIMITED, 9, NULL, 0);
    assert_int_equal(decide("/k/x", limited)->status, 429);
    assert_int_equal(decision.refusal, TG_REFUSAL_RATE_LIMITED);
    char response[4096];
    assert_true(tg_response_format(&decision, "example", response, sizeof response) > 0);
    assert_non_null(strstr(response, "Status: 429\n"));
    assert_non_null(strstr(response, "Retry-After: 9\n"));
    assert_null(strstr(response, "0123456789abcdef"));
    tg_key_validation_release(limited);

    struct tg_key_validation *down = tg_key_validation_new(TG_KEY_UNAVAILABLE, 5, NULL, 0);
    assert_int_equal(decide("/k/x", down)->status, 503);
    assert_int_equal(decision.retry_after, 5);
    assert_false(decision.validation_needed);
    tg_key_validation_release(down);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answers_mean_what_the_contract_says),
        cmocka_unit_test(test_request_body_escapes_the_key),
        cmocka_unit_test(test_cache_keeps_by_hash_and_ttl),
        cmocka_unit_test(test_an_unvalidated_key_waits_for_propelauth),
        cmocka_unit_test(test_personal_key_acts_as_its_user),
        cmocka_unit_test(test_org_key_acts_in_its_org_only),
        cmocka_unit_test(test_generic_key_passes_user_rules_only),
        cmocka_unit_test(test_malformed_answers_never_allow),
        cmocka_unit_test(test_refusals_of_propelauth),
    };
    return cmocka_run_group_tests_name("propelauth_keys", tests, setup, teardown);
}
