/* SPDX-License-Identifier: Apache-2.0 */
/* The strict JSON reader used for token parts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tokengate/json.h"

static struct tg_json json;

static int parse(const char *text)
{
    return tg_json_parse(&json, text, strlen(text));
}

static void test_values_and_navigation(void **state)
{
    (void)state;
    assert_int_equal(parse(" {\"s\": \"x\", \"n\": -12, \"f\": 1.5e3, \"t\": true, \"no\": false,"
                           " \"z\": null, \"a\": [1, [2, 3], {\"k\": \"v\"}], \"o\": {}} "), 0);
    assert_int_equal(tg_json_type(&json, 0), TG_JSON_OBJECT);
    assert_int_equal(tg_json_size(&json, 0), 8);
    assert_string_equal(tg_json_string(&json, tg_json_get(&json, 0, "s")), "x");
    long long value = 0;
    assert_true(tg_json_integer(&json, tg_json_get(&json, 0, "n"), &value));
    assert_int_equal(value, -12);
    assert_false(tg_json_integer(&json, tg_json_get(&json, 0, "f"), &value));
    assert_int_equal(tg_json_type(&json, tg_json_get(&json, 0, "t")), TG_JSON_TRUE);
    assert_int_equal(tg_json_type(&json, tg_json_get(&json, 0, "no")), TG_JSON_FALSE);
    assert_int_equal(tg_json_type(&json, tg_json_get(&json, 0, "z")), TG_JSON_NULL);
    assert_int_equal(tg_json_get(&json, 0, "missing"), -1);
    assert_null(tg_json_string(&json, tg_json_get(&json, 0, "n")));
    int array = tg_json_get(&json, 0, "a");
    assert_int_equal(tg_json_size(&json, array), 3);
    int item = tg_json_first(array);
    assert_true(tg_json_integer(&json, item, &value));
    assert_int_equal(value, 1);
    item = tg_json_next(&json, item);
    assert_int_equal(tg_json_size(&json, item), 2);
    item = tg_json_next(&json, item); /* skips the nested [2, 3] */
    assert_string_equal(tg_json_string(&json, tg_json_get(&json, item, "k")), "v");
    assert_int_equal(tg_json_size(&json, tg_json_get(&json, 0, "o")), 0);
    /* Members after a nested container are still found. */
    assert_int_equal(tg_json_type(&json, tg_json_get(&json, 0, "o")), TG_JSON_OBJECT);
    /* Non-object top levels parse too. */
    assert_int_equal(parse("[]"), 0);
    assert_int_equal(parse("\"s\""), 0);
    assert_int_equal(parse("0"), 0);
}

static void test_string_escapes(void **state)
{
    (void)state;
    assert_int_equal(parse("{\"k\": \"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"}"), 0);
    assert_string_equal(tg_json_string(&json, tg_json_get(&json, 0, "k")),
                        "a\"b\\c/d\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80");
    assert_int_equal(parse("{\"\\u006Bey\": \"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}"), 0);
    assert_string_equal(tg_json_string(&json, tg_json_get(&json, 0, "key")),
                        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
}

static void test_integers(void **state)
{
    (void)state;
    long long value;
    assert_int_equal(parse("[9223372036854775807, 9223372036854775808, -0, 1.0, 1e3, 0]"), 0);
    int item = tg_json_first(0);
    assert_true(tg_json_integer(&json, item, &value));
    assert_true(value == 9223372036854775807LL);
    item = tg_json_next(&json, item);
    assert_false(tg_json_integer(&json, item, &value)); /* overflow */
    item = tg_json_next(&json, item);
    assert_true(tg_json_integer(&json, item, &value));
    assert_int_equal(value, 0);
    item = tg_json_next(&json, item);
    assert_false(tg_json_integer(&json, item, &value));
    item = tg_json_next(&json, item);
    assert_false(tg_json_integer(&json, item, &value));
}

static void test_refusals(void **state)
{
    (void)state;
    const char *bad[] = {
        "", " ", "{", "}", "{\"a\":1,}", "[1,]", "[,1]", "{\"a\" 1}", "{a:1}", "{'a':1}",
        "[01]", "[1.]", "[.5]", "[-]", "[1e]", "[+1]", "[NaN]", "[Infinity]", "[tru]",
        "[nul]", "{\"a\":1} x", "{\"a\":1}{}", "/* c */ {}", "[\"a\x01\"]", "[\"a\nb\"]",
        "[\"\\x\"]", "[\"\\u12\"]", "[\"\\u00zz\"]", "[\"\\ud83d\"]", "[\"\\ude00\"]",
        "[\"\\ud83d\\u0041\"]", "[\"\\u0000\"]", "[\"unterminated]",
        "[\"\xc0\x80\"]",          /* overlong NUL */
        "[\"\xc1\xbf\"]",          /* overlong */
        "[\"\xe0\x80\xaf\"]",      /* overlong / */
        "[\"\xed\xa0\x80\"]",      /* UTF-16 surrogate in UTF-8 */
        "[\"\xf4\x90\x80\x80\"]",  /* above U+10FFFF */
        "[\"\xf5\x80\x80\x80\"]",
        "[\"\xc3\"]",              /* truncated */
        "[\"\x80\"]",              /* stray continuation */
        "{\"a\":1,\"a\":2}",       /* duplicates */
        "{\"a\":1,\"\\u0061\":2}", /* the same name, spelled twice */
        "{\"x\":{\"b\":1,\"c\":{},\"b\":[]}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (parse(bad[i]) == 0)
            fail_msg("accepted case %zu: %s", i, bad[i]);
    /* An embedded NUL byte in the input. */
    assert_int_equal(tg_json_parse(&json, "[\"a\0b\"]", 7), -1);
}

/* Duplicate names are found among as many members as a document can hold,
 * wherever they stand (the check is a hash table, linear in the members). */
static void test_duplicates_among_many_members(void **state)
{
    (void)state;
    static char text[TG_JSON_TEXT_MAX + 1];
    for (int duplicate = 0; duplicate <= 1; duplicate++) {
        size_t used = 0;
        text[used++] = '{';
        int members = 0;
        while (used + 16 < TG_JSON_TEXT_MAX - 16) {
            used += (size_t)sprintf(text + used, "%s\"%x\":0", members ? "," : "", members);
            members++;
        }
        if (duplicate)
            used += (size_t)sprintf(text + used, ",\"%x\":1", members / 2);
        text[used++] = '}';
        text[used] = '\0';
        assert_true(members > 1000);
        assert_int_equal(tg_json_parse(&json, text, used), duplicate ? -1 : 0);
    }
}

static void test_limits(void **state)
{
    (void)state;
    char text[200];
    /* Exactly TG_JSON_DEPTH_MAX levels, then one more. */
    for (int depth = TG_JSON_DEPTH_MAX; depth <= TG_JSON_DEPTH_MAX + 1; depth++) {
        size_t used = 0;
        for (int i = 0; i < depth; i++)
            text[used++] = '[';
        for (int i = 0; i < depth; i++)
            text[used++] = ']';
        text[used] = '\0';
        assert_int_equal(parse(text), depth <= TG_JSON_DEPTH_MAX ? 0 : -1);
    }
    /* 100,000 levels: refused at once, no recursion to blow the stack. */
    size_t deep_len = TG_JSON_TEXT_MAX;
    char *deep = malloc(deep_len + 1);
    memset(deep, '[', deep_len);
    deep[deep_len] = '\0';
    assert_int_equal(tg_json_parse(&json, deep, deep_len), -1);
    /* The most tokens the text size allows still fit. */
    size_t used = 0;
    deep[used++] = '[';
    while (used + 3 < deep_len) {
        deep[used++] = '0';
        deep[used++] = ',';
    }
    deep[used++] = '0';
    deep[used++] = ']';
    assert_int_equal(tg_json_parse(&json, deep, used), 0);
    assert_int_equal(tg_json_size(&json, 0), (int)(used - 1) / 2);
    /* Larger than the text buffer: refused. */
    assert_int_equal(tg_json_parse(&json, deep, TG_JSON_TEXT_MAX + 1), -1);
    free(deep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_and_navigation),
        cmocka_unit_test(test_string_escapes),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_duplicates_among_many_members),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
