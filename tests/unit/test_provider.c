/* SPDX-License-Identifier: Apache-2.0 */
/* What providers answer, read without a network: PropelAuth metadata, OIDC
 * discovery, status explanations, HTTP cache headers, the fetch schedule,
 * which URLs may be fetched, and key set copies and comparisons. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "support.h"
#include "tokengate/base64url.h"
#include "tokengate/url.h"
#include "tokengate/provider.h"

static char *metadata_for(EVP_PKEY *key)
{
    char *pem = support_public_pem(key);
    /* JSON-escape the PEM's newlines. */
    char *escaped = calloc(1, strlen(pem) * 2 + 64);
    char *out = escaped + sprintf(escaped, "{\"verifier_key_pem\": \"");
    for (const char *p = pem; *p; p++)
        out += *p == '\n' ? sprintf(out, "\\n") : sprintf(out, "%c", *p);
    strcpy(out, "\"}");
    free(pem);
    return escaped;
}

static void test_metadata_gives_the_verifier_key(void **state)
{
    (void)state;
    struct tg_keyset set = {0};
    struct tg_error err;
    char *body = metadata_for(support_key_rsa());
    assert_int_equal(tg_provider_metadata_read(body, strlen(body), &set, &err), 0);
    assert_int_equal(set.count, 1);
    assert_string_equal(set.keys[0].kid, "");
    assert_true(set.keys[0].algs & TG_ALG_BIT(TG_ALG_RS256));
    free(body);

    static const char *const bad[] = {
        "", "<html>", "[]", "{}", "{\"verifier_key_pem\": 7}",
        "{\"verifier_key_pem\": \"-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----\"}",
        "{\"verifier_key_pem\": \"x\", \"verifier_key_pem\": \"y\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err.text[0] = '\0';
        assert_int_equal(tg_provider_metadata_read(bad[i], strlen(bad[i]), &set, &err),
                         -1);
        assert_true(err.text[0] != '\0');
    }
    assert_int_equal(set.count, 1);
    tg_keyset_clear(&set);
}

static void test_discovery_requires_the_exact_issuer(void **state)
{
    (void)state;
    char uri[TG_URL_MAX];
    struct tg_error err;
    const char *good = "{\"issuer\": \"https://idp.example/realms/x\", "
                       "\"jwks_uri\": \"https://idp.example/realms/x/certs\"}";
    assert_int_equal(tg_provider_discovery_read(good, strlen(good), "https://idp.example/realms/x",
                                                uri, &err), 0);
    assert_string_equal(uri, "https://idp.example/realms/x/certs");
    /* Another issuer, a trailing slash, no jwks_uri, a jwks_uri in clear. */
    assert_int_equal(tg_provider_discovery_read(good, strlen(good), "https://idp.example/realms/y",
                                                uri, &err), -1);
    assert_non_null(strstr(err.text, "names issuer"));
    assert_int_equal(tg_provider_discovery_read(good, strlen(good),
                                                "https://idp.example/realms/x/", uri, &err), -1);
    const char *no_uri = "{\"issuer\": \"https://i.example\"}";
    assert_int_equal(tg_provider_discovery_read(no_uri, strlen(no_uri), "https://i.example", uri,
                                                &err), -1);
    assert_non_null(strstr(err.text, "no jwks_uri"));
    /* An empty one is none (the fuzzer found it read as a URL). */
    const char *empty_uri = "{\"issuer\": \"https://i.example\", \"jwks_uri\": \"\"}";
    assert_int_equal(tg_provider_discovery_read(empty_uri, strlen(empty_uri), "https://i.example",
                                                uri, &err), -1);
    assert_non_null(strstr(err.text, "no jwks_uri"));
    /* A jwks_uri in clear is read, and then refused where it would be
     * fetched (refresh.c asks tg_url_fetchable). */
    const char *clear = "{\"issuer\": \"https://i.example\", \"jwks_uri\": \"http://i.example/k\"}";
    assert_int_equal(tg_provider_discovery_read(clear, strlen(clear), "https://i.example", uri,
                                                &err), 0);
    assert_false(tg_url_fetchable(uri));
}

static void test_statuses_are_explained(void **state)
{
    (void)state;
    assert_non_null(strstr(tg_provider_status_explain(TG_SOURCE_PROPELAUTH, 401),
                           "API key"));
    assert_non_null(strstr(tg_provider_status_explain(TG_SOURCE_PROPELAUTH, 404), "auth_url"));
    assert_non_null(strstr(tg_provider_status_explain(TG_SOURCE_PROPELAUTH, 429),
                           "rate limiting"));
    assert_non_null(strstr(tg_provider_status_explain(TG_SOURCE_JWKS_URL, 503), "server error"));
    assert_non_null(strstr(tg_provider_status_explain(TG_SOURCE_OIDC, 404), "check the"));
}

static void test_cache_headers_are_read(void **state)
{
    (void)state;
    assert_int_equal(tg_provider_max_age_parse("max-age=300"), 300);
    assert_int_equal(tg_provider_max_age_parse("public, max-age=86400, must-revalidate"), 86400);
    assert_int_equal(tg_provider_max_age_parse("Max-Age=\"60\""), 60);
    assert_int_equal(tg_provider_max_age_parse("public"), -1);
    assert_int_equal(tg_provider_max_age_parse("max-age=x"), -1);
    assert_int_equal(tg_provider_max_age_parse("no-store, max-age=60"), -1);
    assert_int_equal(tg_provider_max_age_parse("s-maxage=10"), -1);
    assert_true(tg_provider_max_age_parse("max-age=99999999999999999999999") > 1000000000L);

    time_t now = 1700000000;
    assert_int_equal(tg_provider_retry_after_parse("120", now), 120);
    assert_int_equal(tg_provider_retry_after_parse(" 7 ", now), 7);
    assert_int_equal(tg_provider_retry_after_parse("12s", now), -1);
    assert_int_equal(tg_provider_retry_after_parse("soon", now), -1);
    /* 1700000000 is Tue, 14 Nov 2023 22:13:20 GMT. */
    assert_int_equal(tg_provider_retry_after_parse("Tue, 14 Nov 2023 22:15:00 GMT", now), 100);
    assert_int_equal(tg_provider_retry_after_parse("Tue, 14 Nov 2023 22:00:00 GMT", now), 0);
}

static void test_fetch_schedule(void **state)
{
    (void)state;
    /* Success: refresh_interval, or max-age bounded to [min, interval]. */
    assert_int_equal(tg_provider_next_fetch(true, -1, -1, 0, 600, 30), 600);
    assert_int_equal(tg_provider_next_fetch(true, 120, -1, 0, 600, 30), 120);
    assert_int_equal(tg_provider_next_fetch(true, 0, -1, 0, 600, 30), 30);
    assert_int_equal(tg_provider_next_fetch(true, 86400, -1, 0, 600, 30), 600);
    /* Failure: doubling from min_interval up to interval. */
    assert_int_equal(tg_provider_next_fetch(false, -1, -1, 1, 600, 30), 30);
    assert_int_equal(tg_provider_next_fetch(false, -1, -1, 2, 600, 30), 60);
    assert_int_equal(tg_provider_next_fetch(false, -1, -1, 4, 600, 30), 240);
    assert_int_equal(tg_provider_next_fetch(false, -1, -1, 60, 600, 30), 600);
    /* Told to wait: honoured up to refresh_interval, so that one answer
     * cannot freeze a source for a day. */
    assert_int_equal(tg_provider_next_fetch(false, -1, 300, 1, 600, 30), 300);
    assert_int_equal(tg_provider_next_fetch(false, -1, 900, 1, 600, 30), 600);
    assert_int_equal(tg_provider_next_fetch(false, -1, 5, 1, 600, 30), 30);
    assert_int_equal(tg_provider_next_fetch(false, -1, 86400, 1, 600, 30), 600);
    assert_int_equal(tg_provider_next_fetch(false, -1, 86400, 1, 3600, 30), 3600);
}

static void test_only_https_or_loopback_is_fetched(void **state)
{
    (void)state;
    assert_true(tg_url_fetchable("https://propelauth-api.com"));
    assert_true(tg_url_fetchable("https://idp.example:8443/realms/x"));
    assert_true(tg_url_fetchable("http://127.0.0.1:8080/jwks"));
    assert_true(tg_url_fetchable("http://127.9.9.9/jwks"));
    assert_true(tg_url_fetchable("http://localhost:9/x"));
    assert_true(tg_url_fetchable("http://[::1]:9/x"));
    assert_false(tg_url_fetchable("http://idp.example/jwks"));
    assert_false(tg_url_fetchable("http://127.0.0.1.evil.example/jwks"));
    assert_false(tg_url_fetchable("http://localhost.evil.example/jwks"));
    assert_false(tg_url_fetchable("http://user@127.0.0.1/jwks"));
    assert_false(tg_url_fetchable("https://user:pw@idp.example/"));
    assert_false(tg_url_fetchable("ftp://idp.example/jwks"));
    assert_false(tg_url_fetchable("file:///etc/passwd"));
    assert_false(tg_url_fetchable("https:///nohost"));
    assert_false(tg_url_fetchable("https:/idp.example/"));
    assert_true(tg_url_fetchable("HTTPS://IDP.EXAMPLE/"));
    assert_false(tg_url_fetchable("/etc/jwks.json"));
}

static void test_keyset_copies_and_comparisons(void **state)
{
    (void)state;
    EVP_PKEY *other = support_key_new("EC-P256");
    struct tg_keyset a = {0}, b = {0}, c = {0};
    struct tg_error err;
    support_keyset_add(&a, support_key_rsa(), "k1");
    support_keyset_add(&a, other, "k2");
    assert_int_equal(tg_keyset_add_all(&b, &a, &err), 0);
    assert_int_equal(b.count, 2);
    assert_true(tg_keyset_contains_all(&a, &b) && tg_keyset_contains_all(&b, &a));
    /* The copy verifies on its own once the original is gone. */
    tg_keyset_clear(&a);
    char *token = support_token(support_key_rsa(), NULL, "RS256",
                                "{\"alg\":\"RS256\",\"kid\":\"k1\"}", "{}");
    char *dot = strrchr(token, '.');
    unsigned char signature[512];
    size_t len = tg_base64url_decode(dot + 1, strlen(dot + 1), signature);
    assert_true(tg_signature_verify(&b.keys[0], TG_ALG_RS256, (unsigned char *)token,
                                    (size_t)(dot - token), signature, len));
    free(token);
    /* Same material under another kid is another key. */
    support_keyset_add(&c, support_key_rsa(), "k1-renamed");
    assert_false(tg_keyset_contains_all(&b, &c));
    assert_true(tg_keyset_contains_all(&b, &(struct tg_keyset){0}));
    tg_keyset_clear(&b);
    support_keyset_add(&b, support_key_rsa(), "k1-renamed");
    assert_true(tg_keyset_contains_all(&b, &c));
    /* Secrets compare by value. */
    unsigned char secret[32] = "0123456789abcdef0123456789abcdef";
    assert_int_equal(tg_keyset_add_secret(&b, secret, 32, "h", TG_ALG_UNKNOWN, &err), 0);
    assert_int_equal(tg_keyset_add_all(&c, &b, &err), 0);
    assert_true(tg_keyset_contains_all(&c, &b));
    secret[0] ^= 1;
    struct tg_keyset d = {0};
    assert_int_equal(tg_keyset_add_secret(&d, secret, 32, "h", TG_ALG_UNKNOWN, &err), 0);
    assert_false(tg_keyset_contains_all(&c, &d));
    tg_keyset_clear(&b);
    tg_keyset_clear(&c);
    tg_keyset_clear(&d);
    EVP_PKEY_free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metadata_gives_the_verifier_key),
        cmocka_unit_test(test_discovery_requires_the_exact_issuer),
        cmocka_unit_test(test_statuses_are_explained),
        cmocka_unit_test(test_cache_headers_are_read),
        cmocka_unit_test(test_fetch_schedule),
        cmocka_unit_test(test_only_https_or_loopback_is_fetched),
        cmocka_unit_test(test_keyset_copies_and_comparisons),
    };
    return cmocka_run_group_tests_name("provider", tests, NULL, NULL);
}
