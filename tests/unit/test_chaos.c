/* SPDX-License-Identifier: Apache-2.0 */
/* Allocation failures (jansson's test_chaos.c is the model): the N-th
 * allocation of tokengate's own code fails, for N = 1, 2, ... until a run
 * passes with none failed. Loading a configuration and setting up the key
 * refresher must then report a problem or succeed, never crash, never leak
 * (ASan's leak checker runs this too), never hand back half a result.
 *
 * The test links with --wrap for malloc, calloc, realloc, strdup and
 * strndup: calls from tokengate's libraries come here; the C library's and
 * other libraries' own allocations are not counted. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "support.h"
#include "tokengate/loader.h"
#include "tokengate/refresh.h"

void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t count, size_t size);
void *__wrap_realloc(void *pointer, size_t size);
char *__wrap_strdup(const char *text);
char *__wrap_strndup(const char *text, size_t size);
void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *pointer, size_t size);
char *__real_strdup(const char *text);
char *__real_strndup(const char *text, size_t size);

static long countdown = -1;   /* allocations left before one fails; -1: none fails */
static bool failed_one;

static bool allocation_fails(void)
{
    if (countdown < 0)
        return false;
    if (countdown-- == 0) {
        failed_one = true;
        return true;
    }
    return false;
}

void *__wrap_malloc(size_t size) { return allocation_fails() ? NULL : __real_malloc(size); }
void *__wrap_calloc(size_t count, size_t size)
{
    return allocation_fails() ? NULL : __real_calloc(count, size);
}
void *__wrap_realloc(void *pointer, size_t size)
{
    return allocation_fails() ? NULL : __real_realloc(pointer, size);
}
char *__wrap_strdup(const char *text) { return allocation_fails() ? NULL : __real_strdup(text); }
char *__wrap_strndup(const char *text, size_t size)
{
    return allocation_fails() ? NULL : __real_strndup(text, size);
}

static char *config_path, *keys_path;

static int setup(void **state)
{
    (void)state;
    char *pem = support_public_pem(support_key_rsa());
    char *key_path = support_file_write(pem);
    free(pem);
    keys_path = support_file_write(
        "[api_key robot]\nhash = sha256:"
        "69f703efa9f3c58c4e2cafa4d2ab8611a34d36b1eecb8c6746dff6ce9c0887e7\n"
        "user_id = robot-1\norg = o-1\nrole = Admin\npermission = a\npermission = b\n"
        "[api_key plain]\nhash = sha256:"
        "69f703efa9f3c58c4e2cafa4d2ab8611a34d36b1eecb8c6746dff6ce9c0887e8\n");
    char *text = NULL;
    if (asprintf(&text,
                 "[tokengate]\nlisten = 127.0.0.1:9000\nrealm = chaos\n"
                 "[token]\nverifier_key = %s\nauth_url = https://auth.example.com\n"
                 "jwks = https://idp.example/jwks.json\n"
                 "[roles]\nhierarchy = Owner > Admin > Member\n"
                 "[api_keys]\nfile = %s\n"
                 "[rule open]\npath = /public/**\nrequire = open\n"
                 "[rule admin]\npath = /orgs/{org_id}/admin/**\norg = path:org_id\n"
                 "min_role = Admin\npermission = can_admin\npermission = can_view\n"
                 "[rule api]\npath = /api/**\nmethods = GET POST\napi_keys = yes\n",
                 key_path, keys_path) < 0)
        abort();
    config_path = support_file_write(text);
    free(text);
    free(key_path);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(config_path);
    unlink(keys_path);
    free(config_path);
    free(keys_path);
    return 0;
}

static void publish_nothing(void *context, struct tg_keyset *keys)
{
    (void)context;
    tg_keyset_free(keys);
}

/* One load and refresher set-up with the COUNTDOWN-th allocation failing.
 * True when no allocation failed (the loop is done). */
static bool run_once(long fail_at)
{
    static struct tg_keyset keys;
    struct tg_problems problems = {0};
    failed_one = false;
    countdown = fail_at;
    struct tg_config *config = tg_loader_load(config_path, &keys, &problems);
    struct tg_refresher *refresher = NULL;
    if (config) {
        /* A loaded configuration is whole. */
        assert_int_equal(config->rule_count, 3);
        assert_non_null(config->issuer);
        assert_int_equal(keys.count, 1);
        assert_int_equal(config->local_key_count, 2);
        refresher = tg_refresher_new(publish_nothing, NULL);
        struct tg_keyset *static_keys = refresher ? calloc(1, sizeof *static_keys) : NULL;
        if (static_keys) {
            tg_keyset_move(static_keys, &keys);
            tg_refresher_configure(refresher, config, static_keys, &problems);
            tg_keyset_free(static_keys);
        }
    } else {
        /* Refused, and said why. */
        assert_true(problems.count > 0 || problems.dropped > 0 || failed_one);
    }
    countdown = -1;
    tg_refresher_stop(refresher);
    tg_refresher_free(refresher);
    tg_config_free(config);
    tg_keyset_clear(&keys);
    tg_problems_clear(&problems);
    return !failed_one;
}

static void test_every_allocation_failure_is_survived(void **state)
{
    (void)state;
    long runs = 0;
    while (!run_once(runs))
        runs++;
    /* The loop reached the end: every allocation on the way failed once. */
    assert_true(runs > 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_allocation_failure_is_survived),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
