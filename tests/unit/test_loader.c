/* SPDX-License-Identifier: Apache-2.0 */
/* Loading a configuration as every entry point does (loader.h): URLs read
 * by libcurl's parser, auth_url giving the issuer, what the file's syntax
 * alone cannot say. */
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
#include "tokengate/fleet.h"
#include "tokengate/loader.h"

static char *key_path;

static int setup(void **state)
{
    (void)state;
    char *pem = support_public_pem(support_key_rsa());
    key_path = support_file_write(pem);
    free(pem);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(key_path);
    free(key_path);
    return 0;
}

/* TOKEN_LINES after a verifier key in [token]. */
static char *text_with(const char *token_lines)
{
    char *text = NULL;
    if (asprintf(&text, "[token]\nverifier_key = %s\n%s\n", key_path, token_lines) < 0)
        abort();
    return text;
}

static void expect_problem(const char *token_lines, const char *fragment)
{
    char *text = text_with(token_lines);
    char *problems = support_loader_problems(text);
    if (!problems || !strstr(problems, fragment))
        fail_msg("expected '%s' for:\n%s\ngot: %s", fragment, text, problems ? problems : "none");
    free(problems);
    free(text);
}

/* PropelAuth's issuer is https://HOST[:PORT] of auth_url, whatever its
 * scheme or path; the authority is what X-Propelauth-url carries. */
static void test_auth_url_forms(void **state)
{
    (void)state;
    const char *forms[][3] = {
        {"https://auth.example.com", "https://auth.example.com", "auth.example.com"},
        {"https://auth.example.com/", "https://auth.example.com", "auth.example.com"},
        {"http://localhost:3000", "https://localhost:3000", "localhost:3000"},
        {"auth.example.com:8443", "https://auth.example.com:8443", "auth.example.com:8443"},
        {"HTTPS://Auth.Example.com/x", "https://Auth.Example.com", "Auth.Example.com"},
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        char line[128];
        snprintf(line, sizeof line, "auth_url = %s", forms[i][0]);
        char *text = text_with(line);
        struct tg_config *config = support_loader_load(text);
        if (!config)
            fail_msg("auth_url = %s was refused", forms[i][0]);
        assert_string_equal(config->issuer, forms[i][1]);
        assert_string_equal(config->auth_authority, forms[i][2]);
        tg_config_free(config);
        free(text);
    }
}

static void test_url_problems_name_the_line(void **state)
{
    (void)state;
    /* Lines: 1 [token], 2 verifier_key, 3 onwards the lines given. */
    expect_problem("auth_url = https://auth.example.com\nissuer = https://other.example.com",
                   ":4: issuer https://other.example.com differs from https://auth.example.com");
    expect_problem("auth_url = https://user@auth.example.com", ":3: auth_url: expected");
    expect_problem("auth_url = https:///auth.example.com", ":3: auth_url: expected");
    /* Keys must not travel in clear: http:// only to loopback. */
    expect_problem("issuer = https://i.example\njwks = http://idp.example/jwks",
                   ":4: jwks: expected a file or an https:// URL");
    char *text = text_with("issuer = https://i.example\njwks = http://127.0.0.1:8443/jwks");
    char *problems = support_loader_problems(text);
    if (problems)
        fail_msg("a loopback http:// JWK set was refused: %s", problems);
    free(text);
    expect_problem("oidc_issuer = ftp://idp.example", ":3: oidc_issuer: expected an https://");
    expect_problem("auth_url = https://a.example\napi_key_file = /x\n"
                   "backend_url = http://backend.example",
                   ":5: backend_url: expected an https:// URL");
}

/* [fleet] redis, read by libcurl's URL parser like every other URL. */
static void test_redis_addresses(void **state)
{
    (void)state;
    struct tg_redis_address address;
    const char *why;
    assert_int_equal(tg_redis_address_parse("unix:/run/redis/r.sock", &address, &why), 0);
    assert_string_equal(address.path, "/run/redis/r.sock");
    assert_int_equal(tg_redis_address_parse("redis://10.0.0.5:6380/2", &address, &why), 0);
    assert_string_equal(address.host, "10.0.0.5");
    assert_int_equal(address.port, 6380);
    assert_int_equal(address.database, 2);
    assert_int_equal(tg_redis_address_parse("redis://cache.internal", &address, &why), 0);
    assert_int_equal(address.port, 6379);
    assert_int_equal(address.database, 0);
    assert_int_equal(tg_redis_address_parse("redis://[::1]:7000", &address, &why), 0);
    assert_string_equal(address.host, "::1");
    const char *refused[] = {"unix:relative.sock", "redis://user:pw@host", "redis://host/db",
                             "redis://host:0", "redis://host:99999", "redis://host/1?x=y",
                             "rediss://host", "http://host", "redis://", "unix:"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (tg_redis_address_parse(refused[i], &address, &why) == 0)
            fail_msg("'%s' was accepted", refused[i]);
    /* Lines: 1 [token], 2 verifier_key, 3 issuer, 4 [fleet], 5 redis. */
    expect_problem("issuer = https://i.example\n[fleet]\nredis = redis://u:p@host",
                   ":5: redis: a user, password or query");
    expect_problem("issuer = https://i.example\n[fleet]\nredis = tcp://host",
                   ":5: redis: expected unix:/PATH or redis://");
    expect_problem("issuer = https://i.example\n[fleet]\nredis_prefix = has space",
                   ":5: redis_prefix: expected");
    expect_problem("issuer = https://i.example\n[fleet]\nredis_prefix = tg*:",
                   ":5: redis_prefix: expected");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_url_forms),
        cmocka_unit_test(test_url_problems_name_the_line),
        cmocka_unit_test(test_redis_addresses),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
