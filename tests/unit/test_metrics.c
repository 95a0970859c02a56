/* SPDX-License-Identifier: Apache-2.0 */
/* The metrics' counting and their Prometheus exposition. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tokengate/metrics.h"

static char text[TG_METRICS_TEXT_MAX];

static const char *render(const struct tg_metrics_gauges *gauges)
{
    assert_true(tg_metrics_render(gauges, text, sizeof text) > 0);
    return text;
}

static void assert_line(const char *exposition, const char *line)
{
    char wanted[512];
    snprintf(wanted, sizeof wanted, "\n%s\n", line);
    if (!strstr(exposition, wanted))
        fail_msg("no line '%s' in:\n%s", line, exposition);
}

static void test_decisions_are_counted_by_rule_status_and_reason(void **state)
{
    (void)state;
    tg_metrics_reset();
    int api = tg_metrics_rule_slot("api");
    assert_int_equal(tg_metrics_rule_slot("billing"), api + 1);
    assert_int_equal(tg_metrics_rule_slot("api"), api); /* a reload finds the same slot */
    tg_metrics_decision_count(api, 200, TG_REFUSAL_NONE, 40);
    tg_metrics_decision_count(api, 200, TG_REFUSAL_NONE, 3000);
    tg_metrics_decision_count(api, 401, TG_REFUSAL_EXPIRED, 120);
    tg_metrics_decision_count(-1, 403, TG_REFUSAL_DENY_RULE, 20000000);
    tg_metrics_reload_count(true);
    tg_metrics_reload_count(false);
    tg_metrics_reload_count(false);
    struct tg_metrics_source source = {"https://idp.example/jwks?a=\"b\"", 3, 1, 1700000000};
    struct tg_metrics_gauges gauges = {.keys_loaded = 2, .cache_hits = 5, .cache_misses = 6,
                                       .cache_entries = 4, .connections_open = 9,
                                       .closed_timeout = 1, .closed_limit = 2,
                                       .log_lines_dropped = 3, .sources = &source,
                                       .source_count = 1};
    const char *out = render(&gauges);
    assert_true(strncmp(out, "# HELP tokengate_build_info ", 28) == 0);
    assert_line(out, "tokengate_build_info{version=\"" PACKAGE_VERSION "\"} 1");
    assert_line(out, "tokengate_decisions_total{status=\"200\",rule=\"api\"} 2");
    assert_line(out, "tokengate_decisions_total{status=\"401\",rule=\"api\"} 1");
    assert_line(out, "tokengate_decisions_total{status=\"403\",rule=\"(other)\"} 1");
    assert_null(strstr(out, "rule=\"billing\"")); /* nothing counted: no line */
    assert_line(out, "tokengate_refusals_total{reason=\"expired\"} 1");
    assert_line(out, "tokengate_refusals_total{reason=\"deny_rule\"} 1");
    assert_line(out, "tokengate_refusals_total{reason=\"no_keys\"} 0");
    assert_line(out, "tokengate_decision_duration_seconds_bucket{le=\"5e-05\"} 1");
    assert_line(out, "tokengate_decision_duration_seconds_bucket{le=\"0.0025\"} 2");
    assert_line(out, "tokengate_decision_duration_seconds_bucket{le=\"0.005\"} 3");
    assert_line(out, "tokengate_decision_duration_seconds_bucket{le=\"10\"} 3");
    assert_line(out, "tokengate_decision_duration_seconds_bucket{le=\"+Inf\"} 4");
    assert_line(out, "tokengate_decision_duration_seconds_sum 20.003160");
    assert_line(out, "tokengate_decision_duration_seconds_count 4");
    assert_line(out, "tokengate_token_cache_hits_total 5");
    assert_line(out, "tokengate_token_cache_misses_total 6");
    assert_line(out, "tokengate_token_cache_entries 4");
    assert_line(out, "tokengate_keys_loaded 2");
    assert_line(out, "tokengate_key_fetches_total{source=\"https://idp.example/jwks?a=\\\"b\\\"\","
                     "result=\"success\"} 3");
    assert_line(out, "tokengate_key_fetches_total{source=\"https://idp.example/jwks?a=\\\"b\\\"\","
                     "result=\"failure\"} 1");
    assert_line(out, "tokengate_key_last_success_timestamp_seconds{source=\"https://idp.example/"
                     "jwks?a=\\\"b\\\"\"} 1700000000");
    assert_line(out, "tokengate_connections_open 9");
    assert_line(out, "tokengate_connections_closed_total{reason=\"timeout\"} 1");
    assert_line(out, "tokengate_connections_closed_total{reason=\"limit\"} 2");
    assert_line(out, "tokengate_config_reloads_total{result=\"success\"} 1");
    assert_line(out, "tokengate_config_reloads_total{result=\"failure\"} 2");
    assert_line(out, "tokengate_log_lines_dropped_total 3");
    assert_int_equal(out[strlen(out) - 1], '\n');
}

/* Rule names come from the configuration: a quote, a backslash or a line
 * feed in one cannot break the exposition. */
static void test_label_values_are_escaped(void **state)
{
    (void)state;
    tg_metrics_reset();
    int slot = tg_metrics_rule_slot("a\"b\\c\nd");
    tg_metrics_decision_count(slot, 200, TG_REFUSAL_NONE, 1);
    struct tg_metrics_gauges gauges = {0};
    assert_line(render(&gauges),
                "tokengate_decisions_total{status=\"200\",rule=\"a\\\"b\\\\c\\nd\"} 1");
}

/* The table of names is bounded: beyond it, "(other)"; and an exposition
 * that does not fit is an error, never a cut answer. */
static void test_bounds(void **state)
{
    (void)state;
    tg_metrics_reset();
    char name[32];
    for (int i = 0; i < TG_METRICS_RULES_MAX; i++) {
        snprintf(name, sizeof name, "rule-%d", i);
        assert_int_equal(tg_metrics_rule_slot(name), i);
    }
    assert_int_equal(tg_metrics_rule_slot("one too many"), -1);
    struct tg_metrics_gauges gauges = {0};
    char small[256];
    assert_int_equal(tg_metrics_render(&gauges, small, sizeof small), 0);
    tg_metrics_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decisions_are_counted_by_rule_status_and_reason),
        cmocka_unit_test(test_label_values_are_escaped),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
