/* SPDX-License-Identifier: Apache-2.0 */
/* metrics.h - what the status socket tells Prometheus (contract section 8).
 *
 * Counters live here for the whole process and survive reloads. Counting
 * is lock-free (atomics), so a decision never waits for a scrape; the one
 * lock guards the table of rule names, which grows only when a
 * configuration is loaded. tg_metrics_render() writes the counters and the
 * gauges the server samples for it (keys, cache, connections, fetches) in
 * the Prometheus text exposition format, version 0.0.4.
 */
#ifndef TOKENGATE_METRICS_H
#define TOKENGATE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "tokengate/apikey.h"
#include "tokengate/decision.h"

/* Distinct rule names counted over the process's life; decisions under
 * names beyond it count as rule="(other)". */
#define TG_METRICS_RULES_MAX 2048
/* The largest exposition rendered (status worker's buffer). */
#define TG_METRICS_TEXT_MAX (1024 * 1024)
#define TG_METRICS_CONTENT_TYPE "text/plain; version=0.0.4"

/* The slot that counts decisions of the rule NAME ("(default)" for the
 * default policy), made on first use. Called when a configuration is
 * loaded, so that deciding never looks a name up. -1 when the table is
 * full. */
int tg_metrics_rule_slot(const char *name);

/* Counts one decision of the rule in SLOT (-1: "(other)"). */
void tg_metrics_decision_count(int slot, int status, enum tg_refusal refusal,
                               long microseconds);

/* Counts one configuration reload, accepted or refused. */
void tg_metrics_reload_count(bool accepted);

/* One remote key source, as the refresher reports it. */
struct tg_metrics_source {
    const char *url;
    unsigned long successes, failures;
    time_t last_success;            /* wall clock; 0: never */
};

/* What the server samples at each scrape. */
struct tg_metrics_gauges {
    size_t keys_loaded;
    unsigned long cache_hits, cache_misses;
    size_t cache_entries;
    size_t connections_open;
    unsigned long closed_timeout, closed_malformed, closed_too_large, closed_limit;
    unsigned long log_lines_dropped;
    const struct tg_metrics_source *sources;
    size_t source_count;
    /* API keys PropelAuth validated (by verdict), and the fleet. */
    unsigned long api_key_validations[TG_KEY_UNAVAILABLE + 1];
    unsigned long api_key_cache_hits, api_key_cache_misses, api_key_fleet_hits;
    size_t api_key_cache_entries;
    long api_key_validations_pending;
    bool redis_configured, redis_up;
};

/* Writes the exposition (counters and GAUGES) into OUT of SIZE bytes.
 * Returns its length, or 0 when it did not fit. */
size_t tg_metrics_render(const struct tg_metrics_gauges *gauges, char *out, size_t size);

/* Forgets every count and rule name (for tests). */
void tg_metrics_reset(void);

#endif
