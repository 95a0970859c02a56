/* SPDX-License-Identifier: Apache-2.0 */
/* Strict base64url: known vectors, every refusal, and round trips. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tokengate/base64url.h"

static ssize_t decode(const char *text, unsigned char *out)
{
    return tg_base64url_decode(text, strlen(text), out);
}

static void test_known_vectors(void **state)
{
    (void)state;
    unsigned char out[64];
    assert_int_equal(decode("", out), 0);
    assert_int_equal(decode("Zg", out), 1);
    assert_memory_equal(out, "f", 1);
    assert_int_equal(decode("Zm8", out), 2);
    assert_memory_equal(out, "fo", 2);
    assert_int_equal(decode("Zm9v", out), 3);
    assert_memory_equal(out, "foo", 3);
    assert_int_equal(decode("Zm9vYmFy", out), 6);
    assert_memory_equal(out, "foobar", 6);
    /* The two characters where base64url differs from base64. */
    assert_int_equal(decode("-_8", out), 2);
    assert_int_equal(out[0], 0xfb);
    assert_int_equal(out[1], 0xff);
}

static void test_refuses_non_strict_input(void **state)
{
    (void)state;
    unsigned char out[64];
    const char *bad[] = {
        "Zg==",     /* padding */
        "Zm8=",     /* padding */
        "Z",        /* 4n+1 characters cannot occur */
        "Zm9vY",    /* likewise */
        "Zh",       /* non-zero leftover bits: a second spelling of "f" */
        "Zm9",      /* non-zero leftover bits */
        "Zm+v",     /* base64's +, not base64url */
        "Zm/v",     /* base64's / */
        "Zm9v\n",   /* white space */
        "Zm 9v",
        "Zm9v.",    /* a JWS separator is not data */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (decode(bad[i], out) != -1)
            fail_msg("accepted non-strict base64url: '%s'", bad[i]);
    }
    /* An embedded NUL is outside the alphabet too. */
    assert_int_equal(tg_base64url_decode("Zm\0v", 4, out), -1);
}

static void test_round_trip_every_length(void **state)
{
    (void)state;
    unsigned char input[200], output[200];
    char encoded[TG_BASE64URL_ENCODED_SIZE(200)];
    for (size_t i = 0; i < sizeof input; i++)
        input[i] = (unsigned char)(i * 37 + 11);
    for (size_t len = 0; len <= sizeof input; len++) {
        size_t encoded_len = tg_base64url_encode(input, len, encoded);
        assert_int_equal(encoded_len, strlen(encoded));
        assert_null(strpbrk(encoded, "=+/"));
        assert_int_equal(tg_base64url_decode(encoded, encoded_len, output), (ssize_t)len);
        assert_memory_equal(input, output, len);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_vectors),
        cmocka_unit_test(test_refuses_non_strict_input),
        cmocka_unit_test(test_round_trip_every_length),
    };
    return cmocka_run_group_tests_name("base64url", tests, NULL, NULL);
}
