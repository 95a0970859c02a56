/* SPDX-License-Identifier: Apache-2.0 */
/* Path normalisation: what every web server routes, and what we refuse. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tokengate/path.h"

struct path_case {
    const char *raw;
    const char *normalised; /* NULL: refused */
};

static void check_cases(const struct path_case *cases, size_t count)
{
    char out[TG_PATH_MAX + 1];
    for (size_t i = 0; i < count; i++) {
        const char *why = NULL;
        int rc = tg_path_normalize(cases[i].raw, out, &why);
        if (cases[i].normalised) {
            if (rc != 0)
                fail_msg("'%s' refused (%s), expected '%s'", cases[i].raw, why,
                         cases[i].normalised);
            if (strcmp(out, cases[i].normalised) != 0)
                fail_msg("'%s' gave '%s', expected '%s'", cases[i].raw, out, cases[i].normalised);
        } else {
            if (rc == 0)
                fail_msg("'%s' accepted as '%s', expected a refusal", cases[i].raw, out);
            assert_non_null(why);
        }
    }
}

static void test_plain_paths(void **state)
{
    (void)state;
    static const struct path_case cases[] = {
        {"/", "/"},
        {"/app", "/app"},
        {"/app/", "/app/"},
        {"/app/x?y=1&z=/../..", "/app/x"},
        {"/app/x?", "/app/x"},
        {"/a/b/c.cgi", "/a/b/c.cgi"},
        {"/~user/x-y_z.txt", "/~user/x-y_z.txt"},
    };
    check_cases(cases, sizeof cases / sizeof cases[0]);
}

static void test_dot_segments_and_slashes(void **state)
{
    (void)state;
    static const struct path_case cases[] = {
        {"/public/../app/x", "/app/x"},
        {"/public/./../app/x", "/app/x"},
        {"/app/./x", "/app/x"},
        {"//app//x", "/app/x"},
        {"///app///x///", "/app/x/"},
        {"/app/x/.", "/app/x/"},
        {"/app/x/..", "/app/"},
        {"/app/x/y/../../z", "/app/z"},
        {"/..app/x", "/..app/x"},     /* only a whole segment is a dot segment */
        {"/app/.x", "/app/.x"},
        {"/app/x..", "/app/x.."},
        {"/a/..", "/"},
        {"/..", NULL},
        {"/../app/x", NULL},
        {"/app/../../x", NULL},
    };
    check_cases(cases, sizeof cases / sizeof cases[0]);
}

static void test_escapes(void **state)
{
    (void)state;
    static const struct path_case cases[] = {
        {"/%61pp/x", "/app/x"},                 /* unreserved: decoded */
        {"/app/%7Euser", "/app/~user"},
        {"/public/%2e%2e/app/x", "/app/x"},      /* encoded dots are dots */
        {"/public/%2E%2E/app/x", "/app/x"},
        {"/public/.%2e/app/x", "/app/x"},
        {"/app/%2e/x", "/app/x"},
        {"/app/a%20b", "/app/a%20b"},           /* reserved: kept, one spelling */
        {"/app/%c3%a9", "/app/%C3%A9"},
        {"/app/caf\xc3\xa9", "/app/caf%C3%A9"},   /* raw non-ASCII: its escape */
        {"/app/a@b;c=d", "/app/a%40b%3Bc%3Dd"},  /* raw reserved: its escape too */
        {"/app/a%40b%3bc%3Dd", "/app/a%40b%3Bc%3Dd"},
        {"/app/a+b", "/app/a%2Bb"},
        {"/app/%25%2e", "/app/%25."},           /* an escaped % stays one */
        {"/app/%252e%252e/x", "/app/%252e%252e/x"},
        {"/app/%23", "/app/%23"},               /* an escaped # is a character */
        {"/app/%3F", "/app/%3F"},
        {"/app/%c0%ae%c0%ae/x", "/app/%C0%AE%C0%AE/x"},
        {"/app/%", NULL},                       /* invalid escapes */
        {"/app/%2", NULL},
        {"/app/%zz", NULL},
        {"/app/%00", NULL},                     /* NUL */
        {"/app/%0a", NULL},                     /* control characters */
        {"/app/%7f", NULL},
        {"/app/\x01", NULL},
        {"/app/a%2fb", NULL},                   /* encoded separators, any case */
        {"/app/a%2Fb", NULL},
        {"/app/a%5cb", NULL},
        {"/app/a%5Cb", NULL},
        {"/app/a\\b", NULL},                    /* a raw backslash */
        {"/app/x#/../../public", NULL},         /* a fragment */
        {"/public/..%2Fapp/x", NULL},
        {"/public/x%2F..%2F..%2Fapp/x", NULL},
        {"/public/x%2f%2e%2e%2fapp", NULL},
        {"/public/..%5Capp", NULL},
    };
    check_cases(cases, sizeof cases / sizeof cases[0]);
}

static void test_refuses_bad_shapes(void **state)
{
    (void)state;
    static const struct path_case cases[] = {
        {"", NULL},
        {"app/x", NULL},
        {"http://example.com/app", NULL},
        {"*", NULL},
        {"?x=1", NULL},
    };
    check_cases(cases, sizeof cases / sizeof cases[0]);

    /* Over the limit: refused, never truncated into something else. */
    char *long_path = malloc(TG_PATH_MAX + 10);
    long_path[0] = '/';
    memset(long_path + 1, 'a', TG_PATH_MAX + 5);
    long_path[TG_PATH_MAX + 6] = '\0';
    char out[TG_PATH_MAX + 1];
    const char *why;
    assert_int_equal(tg_path_normalize(long_path, out, &why), -1);
    /* Exactly at the limit is fine. */
    long_path[TG_PATH_MAX] = '\0';
    assert_int_equal(tg_path_normalize(long_path, out, &why), 0);
    assert_int_equal(strlen(out), TG_PATH_MAX);
    free(long_path);
}

static void test_canonical_limits(void **state)
{
    (void)state;
    char out[8];
    const char *why = NULL;
    assert_int_equal(tg_path_canonical("abc", 3, out, sizeof out, &why), 3);
    assert_string_equal(out, "abc");
    /* Expanding escapes past the buffer is an error, never a truncation. */
    assert_int_equal(tg_path_canonical("a@b", 3, out, 5, &why), -1);
    assert_string_equal(why, "the path is too long");
    assert_int_equal(tg_path_canonical("a@b", 3, out, 6, &why), 5);
    assert_string_equal(out, "a%40b");
    /* A path that grows past TG_PATH_MAX when spelled canonically. */
    char *path = malloc(TG_PATH_MAX + 1);
    path[0] = '/';
    memset(path + 1, '@', TG_PATH_MAX - 1);
    path[TG_PATH_MAX] = '\0';
    char normalised[TG_PATH_MAX + 1];
    assert_int_equal(tg_path_normalize(path, normalised, &why), -1);
    free(path);
}

static void test_percent_decode(void **state)
{
    (void)state;
    char out[32];
    assert_int_equal(tg_percent_decode("org%2D1", 7, out), 5);
    assert_string_equal(out, "org-1");
    assert_int_equal(tg_percent_decode("a%2Fb", 5, out), 3);
    assert_string_equal(out, "a/b");
    assert_int_equal(tg_percent_decode("a%00", 4, out), -1);
    assert_int_equal(tg_percent_decode("a%4", 3, out), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_paths),
        cmocka_unit_test(test_dot_segments_and_slashes),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_refuses_bad_shapes),
        cmocka_unit_test(test_canonical_limits),
        cmocka_unit_test(test_percent_decode),
    };
    return cmocka_run_group_tests_name("path", tests, NULL, NULL);
}
