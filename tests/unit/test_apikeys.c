/* SPDX-License-Identifier: Apache-2.0 */
/* Local end-user API keys in the decision (contract section 10): found by
 * hash, expiring, acting as their section says through the same org, role
 * and permission checks as tokens, with AUTH_METHOD=api_key. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/sha.h>

#include "support.h"
#include "tokengate/decision.h"
#include "tokengate/response.h"

#define ISSUER "https://auth.example.com"

static struct tg_config *config;
static struct tg_keyset keys;
static struct tg_decision decision;
static char *key_path, *keys_path;

/* The section of key KEY named NAME with more LINES, its hash computed. */
static void section_append(char *out, size_t size, const char *name, const char *key,
                           const char *lines)
{
    unsigned char hash[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)key, strlen(key), hash);
    size_t used = strlen(out);
    used += (size_t)snprintf(out + used, size - used, "[api_key %s]\nhash = sha256:", name);
    for (size_t i = 0; i < sizeof hash; i++)
        used += (size_t)snprintf(out + used, size - used, "%02x", hash[i]);
    snprintf(out + used, size - used, "\n%s", lines);
}

static int setup(void **state)
{
    (void)state;
    char *pem = support_public_pem(support_key_rsa());
    key_path = support_file_write(pem);
    free(pem);
    char file[8192] = "";
    section_append(file, sizeof file, "robot", "tg_robot", "user_id = robot-1\norg = o-1\n"
                   "role = Admin\npermission = can_admin\npermission = can_view\n");
    section_append(file, sizeof file, "member", "tg_member", "user_id = m-1\norg = o-1\n"
                   "role = Member\n");
    section_append(file, sizeof file, "orgkey", "tg_orgkey", "org = o-1\nrole = Owner\n"
                   "permission = can_admin\n");
    section_append(file, sizeof file, "generic", "tg_generic", "");
    section_append(file, sizeof file, "old", "tg_old", "user_id = old-1\n"
                   "expires = 2023-01-01T00:00:00Z\n");
    keys_path = support_file_write(file);
    char *text = NULL;
    if (asprintf(&text,
                 "[token]\nverifier_key = %s\nissuer = " ISSUER "\n"
                 "[roles]\nhierarchy = Owner > Admin > Member\n"
                 "[api_keys]\nfile = %s\n"
                 "[rule admin]\npath = /orgs/{org_id}/admin/**\norg = path:org_id\n"
                 "min_role = Admin\npermission = can_admin\napi_keys = yes\n"
                 "[rule owners]\npath = /orgs/{org_id}/owners\norg = path:org_id\nrole = Owner\n"
                 "api_keys = yes\n"
                 "[rule keys]\npath = /k/**\napi_keys = yes\n"
                 "[rule maybe]\npath = /maybe/**\nrequire = optional\napi_keys = yes\n"
                 "[rule app]\npath = /app/**\n",
                 key_path, keys_path) < 0)
        abort();
    config = support_config_load(text);
    free(text);
    assert_non_null(config);
    struct tg_problems problems = {0};
    assert_int_equal(tg_config_api_keys_load(config, &problems), 0);
    assert_int_equal(config->local_key_count, 5);
    support_keyset_add(&keys, support_key_rsa(), NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tg_config_free(config);
    tg_keyset_clear(&keys);
    unlink(key_path);
    unlink(keys_path);
    free(key_path);
    free(keys_path);
    return 0;
}

static const struct tg_decision *decide(const char *uri, const char *authorization)
{
    char header[256];
    snprintf(header, sizeof header, "HTTP_AUTHORIZATION=%s", authorization);
    const char *params[] = {"REQUEST_METHOD=GET", "REQUEST_URI=dummy", header, NULL};
    char uri_param[256];
    snprintf(uri_param, sizeof uri_param, "REQUEST_URI=%s", uri);
    params[1] = uri_param;
    struct tg_request request;
    tg_request_init(&request, params, SUPPORT_NOW);
    tg_decide(config, &keys, &request, &decision);
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

static void test_user_key_acts_as_its_user(void **state)
{
    (void)state;
    /* "Token KEY" and a bearer key alike. */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(decide("/orgs/o-1/admin/x", i ? "Bearer tg_robot" : "Token tg_robot")
                             ->status, 200);
        assert_variable("REMOTE_USER", "robot-1");
        assert_variable("AUTH_USER_ID", "robot-1");
        assert_variable("AUTH_PRINCIPAL", "robot-1");
        assert_variable("AUTH_ORG_ID", "o-1");
        assert_variable("AUTH_ORG_ROLE", "Admin");
        assert_variable("AUTH_ORG_ROLES", "Admin,Member");
        assert_variable("AUTH_ORG_PERMISSIONS", "can_admin,can_view");
        assert_variable("AUTH_METHOD", "api_key");
        assert_variable("AUTH_API_KEY_NAME", "robot");
    }
    /* Its org only; its role and permissions as the rules ask. */
    assert_int_equal(decide("/orgs/o-2/admin/x", "Token tg_robot")->status, 403);
    assert_int_equal(decision.refusal, TG_REFUSAL_NOT_MEMBER);
    assert_int_equal(decide("/orgs/o-1/owners", "Token tg_robot")->status, 403);
    assert_int_equal(decision.refusal, TG_REFUSAL_ROLE);
    assert_int_equal(decide("/orgs/o-1/admin/x", "Token tg_member")->status, 403);
    assert_int_equal(decision.refusal, TG_REFUSAL_ROLE);
}

static void test_org_and_generic_keys(void **state)
{
    (void)state;
    assert_int_equal(decide("/orgs/o-1/owners", "Token tg_orgkey")->status, 200);
    assert_variable("AUTH_PRINCIPAL", "org:o-1");
    assert_variable("REMOTE_USER", NULL);
    assert_variable("AUTH_USER_ID", NULL);
    assert_variable("AUTH_ORG_ID", "o-1");
    assert_int_equal(decide("/orgs/o-1/admin/x", "Token tg_orgkey")->status, 200);
    /* A generic key: any user rule, no org rule. */
    assert_int_equal(decide("/k/x", "Token tg_generic")->status, 200);
    assert_variable("AUTH_PRINCIPAL", "api_key");
    assert_variable("AUTH_ORG_ID", NULL);
    assert_variable("REMOTE_USER", NULL);
    assert_int_equal(decide("/orgs/o-1/admin/x", "Token tg_generic")->status, 403);
    assert_int_equal(decision.refusal, TG_REFUSAL_NOT_MEMBER);
}

static void test_wrong_expired_and_unaccepted_keys(void **state)
{
    (void)state;
    assert_int_equal(decide("/k/x", "Token tg_nobody")->status, 401);
    assert_string_equal(decision.description, "the API key is not valid");
    assert_int_equal(decision.refusal, TG_REFUSAL_INVALID_TOKEN);
    assert_int_equal(decide("/k/x", "Token tg_old")->status, 401);
    assert_string_equal(decision.description, "the API key has expired");
    assert_int_equal(decision.refusal, TG_REFUSAL_EXPIRED);
    /* A valid key where keys are not accepted: refused unlooked-at. */
    assert_int_equal(decide("/app/x", "Token tg_robot")->status, 401);
    assert_string_equal(decision.description, "API keys are not accepted here");
    /* On an optional rule a bad key is anonymous, as a bad token is. */
    assert_int_equal(decide("/maybe/x", "Token tg_nobody")->status, 200);
    assert_variable("AUTH_PRINCIPAL", "-");
    assert_int_equal(decide("/maybe/x", "Token tg_robot")->status, 200);
    assert_variable("AUTH_USER_ID", "robot-1");
    /* No response or log field holds the key. */
    decide("/k/x", "Token tg_nobody");
    char response[4096];
    size_t len = tg_response_format(&decision, "example", response, sizeof response);
    assert_true(len > 0);
    assert_null(strstr(response, "tg_nobody"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user_key_acts_as_its_user),
        cmocka_unit_test(test_org_and_generic_keys),
        cmocka_unit_test(test_wrong_expired_and_unaccepted_keys),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
