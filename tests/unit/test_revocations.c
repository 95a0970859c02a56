/* SPDX-License-Identifier: Apache-2.0 */
/* Revocations (contract section 11): the lines nodes exchange, the set they
 * keep, and the decision refusing what a revocation covers -- a user's
 * tokens issued at or before it, keys acting as that user, an API key, an
 * organisation. */
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
#include "tokengate/apikey.h"
#include "tokengate/decision.h"
#include "tokengate/revocations.h"

#define NOW SUPPORT_NOW

static struct tg_config *config;
static struct tg_keyset keys;
static struct tg_decision decision;
static char *key_path, *keys_path;

static int setup(void **state)
{
    (void)state;
    char *pem = support_public_pem(support_key_rsa());
    key_path = support_file_write(pem);
    free(pem);
    unsigned char hash[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)"tg_robot", 8, hash);
    char file[512] = "[api_key robot]\nuser_id = robot-1\nhash = sha256:";
    for (size_t i = 0; i < sizeof hash; i++)
        snprintf(file + strlen(file), sizeof file - strlen(file), "%02x", hash[i]);
    strcat(file, "\n");
    keys_path = support_file_write(file);
    char *text = NULL;
    if (asprintf(&text,
                 "[token]\nverifier_key = %s\nissuer = https://auth.example.com\n"
                 "[api_keys]\nfile = %s\n"
                 "[rule org]\npath = /orgs/{org_id}/**\norg = path:org_id\n"
                 "[rule app]\npath = /app/**\napi_keys = yes\n",
                 key_path, keys_path) < 0)
        abort();
    config = support_config_load(text);
    free(text);
    assert_non_null(config);
    struct tg_problems problems = {0};
    assert_int_equal(tg_config_api_keys_load(config, &problems), 0);
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

static struct tg_revocation revocation(enum tg_revocation_kind kind, const char *id, time_t at,
                                       time_t until)
{
    struct tg_revocation made = {.kind = kind, .at = at, .until = until};
    snprintf(made.id, sizeof made.id, "%s", id);
    return made;
}

static void test_lines_read_and_written(void **state)
{
    (void)state;
    struct tg_revocation read;
    const char *line = "user 1700000000 1700086400 user-1";
    assert_int_equal(tg_revocation_parse(line, strlen(line), &read), 0);
    assert_int_equal(read.kind, TG_REVOKE_USER);
    assert_int_equal(read.at, 1700000000);
    assert_int_equal(read.until, 1700086400);
    assert_string_equal(read.id, "user-1");
    char text[TG_REVOCATION_LINE_MAX];
    struct tg_buffer out;
    tg_buffer_init(&out, text, sizeof text);
    assert_true(tg_revocation_format(&read, &out));
    assert_string_equal(text, line);
    const char *bad[] = {"", "user", "user 1 2", "user 1 2 ", "group 1 2 x", "user x 2 y",
                         "user 1 2 a b", "user -1 2 y", "user 1 2 a\tb",
                         "org 1234567890123 2 y", "api_key 1 2 \x7f"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (tg_revocation_parse(bad[i], strlen(bad[i]), &read) == 0)
            fail_msg("'%s' was read", bad[i]);
    char *long_id = malloc(TG_REVOCATION_ID_MAX + 32);
    int len = snprintf(long_id, 32, "org 1 2 ");
    memset(long_id + len, 'x', TG_REVOCATION_ID_MAX + 1);
    assert_int_equal(tg_revocation_parse(long_id, (size_t)len + TG_REVOCATION_ID_MAX + 1, &read),
                     -1);
    assert_int_equal(tg_revocation_parse(long_id, (size_t)len + TG_REVOCATION_ID_MAX, &read), 0);
    free(long_id);
}

static void test_sets_are_new_sorted_and_bounded_in_time(void **state)
{
    (void)state;
    struct tg_revocations *empty = tg_revocations_new();
    struct tg_revocation user = revocation(TG_REVOKE_USER, "u-1", NOW, NOW + 100);
    struct tg_revocations *one = tg_revocations_with(empty, &user, NOW);
    assert_int_equal(tg_revocations_count(empty), 0);
    assert_int_equal(tg_revocations_count(one), 1);
    /* Tokens issued at or before the revocation; held until its end. */
    assert_true(tg_revocations_cover(one, TG_REVOKE_USER, "u-1", NOW, NOW));
    assert_true(tg_revocations_cover(one, TG_REVOKE_USER, "u-1", 0, NOW + 99));
    assert_false(tg_revocations_cover(one, TG_REVOKE_USER, "u-1", NOW + 1, NOW + 1));
    assert_false(tg_revocations_cover(one, TG_REVOKE_USER, "u-1", 0, NOW + 100));
    assert_false(tg_revocations_cover(one, TG_REVOKE_ORG, "u-1", 0, NOW));
    assert_false(tg_revocations_cover(one, TG_REVOKE_USER, "u-2", 0, NOW));
    assert_false(tg_revocations_cover(NULL, TG_REVOKE_USER, "u-1", 0, NOW));
    /* A later revocation of the same user replaces the earlier one. */
    struct tg_revocation again = revocation(TG_REVOKE_USER, "u-1", NOW + 50, NOW + 500);
    struct tg_revocations *two = tg_revocations_with(one, &again, NOW + 50);
    assert_int_equal(tg_revocations_count(two), 1);
    assert_true(tg_revocations_cover(two, TG_REVOKE_USER, "u-1", NOW + 40, NOW + 400));
    /* Many, in any order: each found; expired ones are dropped. */
    struct tg_revocations *set = two;
    for (int i = 99; i >= 0; i--) {
        char id[16];
        snprintf(id, sizeof id, "o-%02d", i);
        struct tg_revocation org = revocation(TG_REVOKE_ORG, id, NOW, NOW + 10 + i);
        struct tg_revocations *grown = tg_revocations_with(set, &org, NOW);
        if (set != two)
            tg_revocations_free(set);
        set = grown;
    }
    assert_int_equal(tg_revocations_count(set), 101);
    for (int i = 0; i < 100; i++) {
        char id[16];
        snprintf(id, sizeof id, "o-%02d", i);
        assert_true(tg_revocations_cover(set, TG_REVOKE_ORG, id, 0, NOW + 5));
    }
    struct tg_revocation late = revocation(TG_REVOKE_API_KEY, "abc", NOW + 60, NOW + 600);
    struct tg_revocations *pruned = tg_revocations_with(set, &late, NOW + 60);
    /* o-51..o-99 still hold at NOW + 60, plus u-1 and the key. */
    assert_int_equal(tg_revocations_count(pruned), 51);
    /* One that has already ended is not added. */
    struct tg_revocation over = revocation(TG_REVOKE_ORG, "gone", NOW, NOW + 1);
    struct tg_revocations *same = tg_revocations_with(pruned, &over, NOW + 60);
    assert_int_equal(tg_revocations_count(same), 51);
    tg_revocations_free(same);
    tg_revocations_free(pruned);
    tg_revocations_free(set);
    tg_revocations_free(two);
    tg_revocations_free(one);
    tg_revocations_free(empty);
}

static void test_a_set_loads_in_one_pass(void **state)
{
    (void)state;
    struct tg_revocation items[] = {
        revocation(TG_REVOKE_USER, "b", NOW - 5, NOW + 10),
        revocation(TG_REVOKE_ORG, "o", NOW - 5, NOW - 1),       /* over */
        revocation(TG_REVOKE_USER, "a", NOW - 5, NOW + 10),
        revocation(TG_REVOKE_USER, "b", NOW - 1, NOW + 5),      /* later, shorter */
        revocation(TG_REVOKE_API_KEY, "a", NOW - 9, NOW + 10),
    };
    struct tg_revocations *set = tg_revocations_from(items, 5, NOW);
    assert_int_equal(tg_revocations_count(set), 3);
    /* "b": made at NOW - 1, held as long as the longer one. */
    assert_true(tg_revocations_cover(set, TG_REVOKE_USER, "b", NOW - 1, NOW + 9));
    assert_false(tg_revocations_cover(set, TG_REVOKE_USER, "b", NOW, NOW));
    assert_true(tg_revocations_cover(set, TG_REVOKE_USER, "a", 0, NOW));
    assert_true(tg_revocations_cover(set, TG_REVOKE_API_KEY, "a", 0, NOW));
    assert_false(tg_revocations_cover(set, TG_REVOKE_ORG, "o", 0, NOW));
    tg_revocations_free(set);
    /* Bounded: the latest made stay. */
    size_t many = TG_REVOCATIONS_MAX + 100;
    struct tg_revocation *all = malloc(many * sizeof *all);
    for (size_t i = 0; i < many; i++)
        all[i] = revocation(TG_REVOKE_ORG, "", NOW - 100000 + (long)i, NOW + 100);
    for (size_t i = 0; i < many; i++)
        snprintf(all[i].id, sizeof all[i].id, "org-%zu", i);
    set = tg_revocations_from(all, many, NOW);
    assert_int_equal(tg_revocations_count(set), TG_REVOCATIONS_MAX);
    assert_false(tg_revocations_cover(set, TG_REVOKE_ORG, "org-99", 0, NOW));
    assert_true(tg_revocations_cover(set, TG_REVOKE_ORG, "org-100", 0, NOW));
    char last[32];
    snprintf(last, sizeof last, "org-%zu", many - 1);
    assert_true(tg_revocations_cover(set, TG_REVOKE_ORG, last, 0, NOW));
    tg_revocations_free(set);
    free(all);
}

static char *token_for(const char *user, long issued_at)
{
    char claims[256];
    if (issued_at)
        snprintf(claims, sizeof claims,
                 "{\"iss\":\"https://auth.example.com\",\"user_id\":\"%s\",\"iat\":%ld,"
                 "\"exp\":%ld,\"org_member_info\":{\"org_id\":\"o-1\",\"user_role\":\"A\"}}",
                 user, issued_at, NOW + 3600);
    else
        snprintf(claims, sizeof claims,
                 "{\"iss\":\"https://auth.example.com\",\"user_id\":\"%s\",\"exp\":%ld}", user,
                 NOW + 3600);
    return support_token(support_key_rsa(), NULL, "RS256", "{\"alg\":\"RS256\"}", claims);
}

static int decide(const char *uri, const char *authorization,
                  const struct tg_revocations *revocations)
{
    char uri_param[256], header[2048];
    snprintf(uri_param, sizeof uri_param, "REQUEST_URI=%s", uri);
    snprintf(header, sizeof header, "HTTP_AUTHORIZATION=%s", authorization);
    const char *params[] = {"REQUEST_METHOD=GET", uri_param, header, NULL};
    struct tg_request request;
    tg_request_init(&request, params, NOW);
    request.revocations = revocations;
    tg_decide(config, &keys, &request, &decision);
    return decision.status;
}

static struct tg_revocations *only(enum tg_revocation_kind kind, const char *id)
{
    struct tg_revocation made = revocation(kind, id, NOW - 10, NOW + 100);
    return tg_revocations_with(NULL, &made, NOW);
}

static void test_decisions_refuse_what_is_revoked(void **state)
{
    (void)state;
    char bearer[2048];
    char *older = token_for("u-1", NOW - 20), *newer = token_for("u-1", NOW - 5);
    char *undated = token_for("u-1", 0), *someone = token_for("u-2", NOW - 20);
    struct tg_revocations *user = only(TG_REVOKE_USER, "u-1");
    snprintf(bearer, sizeof bearer, "Bearer %s", older);
    assert_int_equal(decide("/app/x", bearer, NULL), 200);
    assert_int_equal(decide("/app/x", bearer, user), 401);
    assert_int_equal(decision.refusal, TG_REFUSAL_REVOKED);
    assert_string_equal(decision.description, "revoked");
    assert_string_equal(decision.error, "invalid_token");
    snprintf(bearer, sizeof bearer, "Bearer %s", undated);
    assert_int_equal(decide("/app/x", bearer, user), 401);
    snprintf(bearer, sizeof bearer, "Bearer %s", newer);
    assert_int_equal(decide("/app/x", bearer, user), 200);
    snprintf(bearer, sizeof bearer, "Bearer %s", someone);
    assert_int_equal(decide("/app/x", bearer, user), 200);
    tg_revocations_free(user);

    /* An org: requests named in it, and the token's active org. */
    struct tg_revocations *org = only(TG_REVOKE_ORG, "o-1");
    snprintf(bearer, sizeof bearer, "Bearer %s", older);
    assert_int_equal(decide("/orgs/o-1/x", bearer, NULL), 200);
    assert_int_equal(decide("/orgs/o-1/x", bearer, org), 401);
    assert_int_equal(decide("/app/x", bearer, org), 401);
    snprintf(bearer, sizeof bearer, "Bearer %s", undated);
    assert_int_equal(decide("/app/x", bearer, org), 200);
    tg_revocations_free(org);

    /* Keys: by hash, and every key acting as a revoked user. */
    unsigned char hash[TG_KEY_HASH_SIZE];
    char hex[TG_KEY_HASH_HEX];
    tg_key_hash("tg_robot", 8, hash);
    tg_key_hash_hex(hash, hex);
    struct tg_revocations *key = only(TG_REVOKE_API_KEY, hex);
    assert_int_equal(decide("/app/x", "Token tg_robot", NULL), 200);
    assert_int_equal(decide("/app/x", "Token tg_robot", key), 401);
    assert_int_equal(decision.refusal, TG_REFUSAL_REVOKED);
    tg_revocations_free(key);
    struct tg_revocations *robot = only(TG_REVOKE_USER, "robot-1");
    assert_int_equal(decide("/app/x", "Token tg_robot", robot), 401);
    tg_revocations_free(robot);
    free(older);
    free(newer);
    free(undated);
    free(someone);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_read_and_written),
        cmocka_unit_test(test_sets_are_new_sorted_and_bounded_in_time),
        cmocka_unit_test(test_a_set_loads_in_one_pass),
        cmocka_unit_test(test_decisions_refuse_what_is_revoked),
    };
    return cmocka_run_group_tests_name("revocations", tests, setup, teardown);
}
