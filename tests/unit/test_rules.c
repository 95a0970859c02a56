/* SPDX-License-Identifier: Apache-2.0 */
/* Rule patterns: literal segments, {captures}, ** tails, methods, order. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tokengate/rules.h"

static struct tg_rule rule_new(const char *name, const char *pattern)
{
    struct tg_rule rule;
    memset(&rule, 0, sizeof rule);
    rule.name = strdup(name);
    const char *why = NULL;
    if (tg_rule_pattern_compile(&rule, pattern, &why) != 0)
        fail_msg("pattern %s refused: %s", pattern, why);
    return rule;
}

static bool matches(const char *pattern, const char *path)
{
    struct tg_rule rule = rule_new("r", pattern);
    struct tg_captures captures;
    bool matched = tg_rule_matches(&rule, "GET", path, &captures);
    tg_rule_clear(&rule);
    return matched;
}

static void test_literal_and_tail(void **state)
{
    (void)state;
    assert_true(matches("/app", "/app"));
    assert_true(matches("/app", "/app/"));
    assert_false(matches("/app", "/app/x"));
    assert_false(matches("/app", "/apple"));
    assert_false(matches("/app", "/"));
    assert_true(matches("/app/**", "/app"));
    assert_true(matches("/app/**", "/app/"));
    assert_true(matches("/app/**", "/app/x/y/z"));
    assert_false(matches("/app/**", "/apple/x"));
    assert_false(matches("/app/**", "/ap"));
    assert_true(matches("/**", "/"));
    assert_true(matches("/**", "/anything/at/all"));
    assert_true(matches("/", "/"));
    assert_false(matches("/", "/x"));
    assert_true(matches("/a/b/", "/a/b"));
}

static void test_captures(void **state)
{
    (void)state;
    struct tg_rule rule = rule_new("r", "/api/org/{org_id}/billing/**");
    struct tg_captures captures;
    assert_true(tg_rule_matches(&rule, "GET", "/api/org/o-42/billing/invoices", &captures));
    const struct tg_capture *capture = tg_captures_get(&captures, "org_id");
    assert_non_null(capture);
    assert_int_equal(capture->len, 4);
    assert_memory_equal(capture->value, "o-42", 4);
    assert_null(tg_captures_get(&captures, "other"));
    assert_false(tg_rule_matches(&rule, "GET", "/api/org//billing", &captures));
    assert_false(tg_rule_matches(&rule, "GET", "/api/org/billing", &captures));
    tg_rule_clear(&rule);
}

static void test_methods(void **state)
{
    (void)state;
    struct tg_rule rule = rule_new("r", "/x");
    rule.methods[0] = strdup("GET");
    rule.methods[1] = strdup("HEAD");
    rule.method_count = 2;
    struct tg_captures captures;
    assert_true(tg_rule_matches(&rule, "GET", "/x", &captures));
    assert_true(tg_rule_matches(&rule, "HEAD", "/x", &captures));
    assert_false(tg_rule_matches(&rule, "POST", "/x", &captures));
    assert_false(tg_rule_matches(&rule, "get", "/x", &captures));
    tg_rule_clear(&rule);
}

static void test_first_match_wins(void **state)
{
    (void)state;
    struct tg_rule rules[3] = {
        rule_new("public", "/app/public/**"),
        rule_new("app", "/app/**"),
        rule_new("all", "/**"),
    };
    struct tg_captures captures;
    assert_string_equal(tg_rules_find(rules, 3, "GET", "/app/public/x", &captures)->name,
                        "public");
    assert_string_equal(tg_rules_find(rules, 3, "GET", "/app/x", &captures)->name, "app");
    assert_string_equal(tg_rules_find(rules, 3, "GET", "/other", &captures)->name, "all");
    assert_null(tg_rules_find(rules, 2, "GET", "/other", &captures));
    for (int i = 0; i < 3; i++)
        tg_rule_clear(&rules[i]);
}

static void test_bad_patterns(void **state)
{
    (void)state;
    const char *bad[] = {"app", "/app/**/x", "/a/{}", "/a/{b c}", "/a/{x}/{x}", "/a/../b",
                         "/a/./b", "/a/*", "/a//b", "/a/b{c}", "/a/{b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct tg_rule rule;
        memset(&rule, 0, sizeof rule);
        const char *why = NULL;
        if (tg_rule_pattern_compile(&rule, bad[i], &why) == 0)
            fail_msg("accepted pattern %s", bad[i]);
        assert_non_null(why);
        tg_rule_clear(&rule);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal_and_tail),
        cmocka_unit_test(test_captures),
        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_first_match_wins),
        cmocka_unit_test(test_bad_patterns),
    };
    return cmocka_run_group_tests_name("rules", tests, NULL, NULL);
}
