/* SPDX-License-Identifier: Apache-2.0 */
/* metrics.c - process-wide counters and their Prometheus exposition. */
#include "tokengate/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokengate/text.h"

/* The statuses tokengate answers, in the order they are counted. */
static const int statuses[] = {200, 400, 401, 403, 503};
#define STATUS_COUNT (sizeof statuses / sizeof statuses[0])

/* Upper bounds of the duration histogram, in microseconds: from a cached
 * decision (tens of microseconds) to one that waited for a key fetch. */
static const long bucket_bounds[] = {50,     100,    250,     500,     1000,    2500,
                                     5000,   10000,  25000,   50000,   100000,  250000,
                                     500000, 1000000, 2500000, 5000000, 10000000};
#define BUCKET_COUNT (sizeof bucket_bounds / sizeof bucket_bounds[0])

static struct {
    pthread_mutex_t names_lock;       /* guards names and name_count */
    char *names[TG_METRICS_RULES_MAX];
    atomic_size_t name_count;
    atomic_ulong decisions[TG_METRICS_RULES_MAX + 1][STATUS_COUNT]; /* last: "(other)" */
    atomic_ulong refusals[TG_REFUSAL_COUNT];
    atomic_ulong buckets[BUCKET_COUNT + 1];                         /* last: +Inf */
    atomic_ullong duration_sum_us;
    atomic_ulong reloads[2];                                        /* refused, accepted */
} counters = {.names_lock = PTHREAD_MUTEX_INITIALIZER};

int tg_metrics_rule_slot(const char *name)
{
    pthread_mutex_lock(&counters.names_lock);
    size_t count = atomic_load(&counters.name_count);
    int slot = -1;
    for (size_t i = 0; i < count && slot < 0; i++)
        if (strcmp(counters.names[i], name) == 0)
            slot = (int)i;
    if (slot < 0 && count < TG_METRICS_RULES_MAX && (counters.names[count] = strdup(name))) {
        slot = (int)count;
        /* Published after the name is in place: render reads without the
         * lock only the count, then takes the lock for the names. */
        atomic_store(&counters.name_count, count + 1);
    }
    pthread_mutex_unlock(&counters.names_lock);
    return slot;
}

void tg_metrics_decision_count(int slot, int status, enum tg_refusal refusal,
                               long microseconds)
{
    size_t row = slot >= 0 && slot < TG_METRICS_RULES_MAX ? (size_t)slot : TG_METRICS_RULES_MAX;
    for (size_t i = 0; i < STATUS_COUNT; i++)
        if (statuses[i] == status)
            atomic_fetch_add_explicit(&counters.decisions[row][i], 1, memory_order_relaxed);
    if (refusal > TG_REFUSAL_NONE && refusal < TG_REFUSAL_COUNT)
        atomic_fetch_add_explicit(&counters.refusals[refusal], 1, memory_order_relaxed);
    if (microseconds < 0)
        microseconds = 0;
    size_t bucket = 0;
    while (bucket < BUCKET_COUNT && microseconds > bucket_bounds[bucket])
        bucket++;
    atomic_fetch_add_explicit(&counters.buckets[bucket], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&counters.duration_sum_us, (unsigned long long)microseconds,
                              memory_order_relaxed);
}

void tg_metrics_reload_count(bool accepted)
{
    atomic_fetch_add(&counters.reloads[accepted ? 1 : 0], 1);
}

void tg_metrics_reset(void)
{
    pthread_mutex_lock(&counters.names_lock);
    for (size_t i = 0; i < atomic_load(&counters.name_count); i++) {
        free(counters.names[i]);
        counters.names[i] = NULL;
    }
    atomic_store(&counters.name_count, 0);
    pthread_mutex_unlock(&counters.names_lock);
    for (size_t row = 0; row <= TG_METRICS_RULES_MAX; row++)
        for (size_t i = 0; i < STATUS_COUNT; i++)
            atomic_store(&counters.decisions[row][i], 0);
    for (size_t i = 0; i < TG_REFUSAL_COUNT; i++)
        atomic_store(&counters.refusals[i], 0);
    for (size_t i = 0; i <= BUCKET_COUNT; i++)
        atomic_store(&counters.buckets[i], 0);
    atomic_store(&counters.duration_sum_us, 0);
    atomic_store(&counters.reloads[0], 0);
    atomic_store(&counters.reloads[1], 0);
}

/* A label value as the exposition format wants it: backslash, double
 * quote and line feed escaped. Rule names and URLs come from the
 * configuration, which may hold any of them. */
static bool label_append(struct tg_buffer *out, const char *value)
{
    for (const char *p = value; *p; p++) {
        if (*p == '\\' || *p == '"' || *p == '\n')
            tg_buffer_append(out, "\\", 1);
        tg_buffer_append(out, *p == '\n' ? "n" : p, 1);
    }
    return !out->overflow;
}

static bool family(struct tg_buffer *out, const char *name, const char *type, const char *help)
{
    return tg_buffer_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                           type);
}

static bool decisions_render(struct tg_buffer *out)
{
    bool ok = family(out, "tokengate_decisions_total", "counter",
                     "Decisions by status and governing rule.");
    size_t count = atomic_load(&counters.name_count);
    pthread_mutex_lock(&counters.names_lock);
    for (size_t row = 0; ok && row <= TG_METRICS_RULES_MAX; row++) {
        if (row >= count && row < TG_METRICS_RULES_MAX)
            continue;
        const char *name = row < count ? counters.names[row] : "(other)";
        for (size_t i = 0; ok && i < STATUS_COUNT; i++) {
            unsigned long value = atomic_load(&counters.decisions[row][i]);
            if (value == 0)
                continue;
            ok = tg_buffer_printf(out, "tokengate_decisions_total{status=\"%d\",rule=\"",
                                  statuses[i]) &&
                 label_append(out, name) && tg_buffer_printf(out, "\"} %lu\n", value);
        }
    }
    pthread_mutex_unlock(&counters.names_lock);
    return ok;
}

static bool histogram_render(struct tg_buffer *out)
{
    const char *name = "tokengate_decision_duration_seconds";
    bool ok = family(out, name, "histogram",
                     "Time from a whole request to its answer, waits for keys included.");
    unsigned long cumulative = 0;
    for (size_t i = 0; ok && i <= BUCKET_COUNT; i++) {
        cumulative += atomic_load(&counters.buckets[i]);
        if (i < BUCKET_COUNT)
            ok = tg_buffer_printf(out, "%s_bucket{le=\"%g\"} %lu\n", name,
                                 (double)bucket_bounds[i] / 1e6, cumulative);
        else
            ok = tg_buffer_printf(out, "%s_bucket{le=\"+Inf\"} %lu\n", name,
                                 cumulative);
    }
    return ok && tg_buffer_printf(out, "%s_sum %.6f\n%s_count %lu\n", name,
                                 (double)atomic_load(&counters.duration_sum_us) / 1e6, name,
                                 cumulative);
}

static bool sources_render(struct tg_buffer *out, const struct tg_metrics_gauges *gauges)
{
    bool ok = family(out, "tokengate_key_fetches_total", "counter",
                     "Fetches of remote key sources, by source and result.");
    for (size_t i = 0; ok && i < gauges->source_count; i++) {
        const struct tg_metrics_source *source = &gauges->sources[i];
        for (int success = 1; ok && success >= 0; success--)
            ok = tg_buffer_printf(out, "tokengate_key_fetches_total{source=\"") &&
                 label_append(out, source->url) &&
                 tg_buffer_printf(out, "\",result=\"%s\"} %lu\n",
                                 success ? "success" : "failure",
                                 success ? source->successes : source->failures);
    }
    ok = ok && family(out, "tokengate_key_last_success_timestamp_seconds", "gauge",
                      "When each remote key source last answered well (Unix time).");
    for (size_t i = 0; ok && i < gauges->source_count; i++) {
        const struct tg_metrics_source *source = &gauges->sources[i];
        if (source->last_success == 0)
            continue;
        ok = tg_buffer_printf(out, "tokengate_key_last_success_timestamp_seconds{source=\"") &&
             label_append(out, source->url) &&
             tg_buffer_printf(out, "\"} %lld\n", (long long)source->last_success);
    }
    return ok;
}

/* A metric of one sample without labels. */
static bool scalar(struct tg_buffer *out, const char *name, const char *type, const char *help,
                   unsigned long long value)
{
    return family(out, name, type, help) &&
           tg_buffer_printf(out, "%s %llu\n", name, value);
}

static bool api_keys_render(struct tg_buffer *out, const struct tg_metrics_gauges *gauges)
{
    bool ok = family(out, "tokengate_api_key_validations_total", "counter",
                     "API keys PropelAuth was asked about, by result.");
    for (int i = TG_KEY_VALID; ok && i <= TG_KEY_UNAVAILABLE; i++)
        ok = tg_buffer_printf(out, "tokengate_api_key_validations_total{result=\"%s\"} %lu\n",
                              tg_key_verdict_name((enum tg_key_verdict)i),
                              gauges->api_key_validations[i]);
    ok = ok &&
         scalar(out, "tokengate_api_key_cache_hits_total", "counter",
                "API keys whose validation was remembered.", gauges->api_key_cache_hits) &&
         scalar(out, "tokengate_api_key_cache_misses_total", "counter",
                "API keys that had to be validated.", gauges->api_key_cache_misses) &&
         scalar(out, "tokengate_api_key_cache_entries", "gauge",
                "API-key validations remembered now.", gauges->api_key_cache_entries) &&
         scalar(out, "tokengate_api_key_fleet_hits_total", "counter",
                "API-key validations another node had made (read from Redis).",
                gauges->api_key_fleet_hits) &&
         scalar(out, "tokengate_api_key_validations_pending", "gauge",
                "API-key validations running now.",
                (unsigned long long)(gauges->api_key_validations_pending > 0
                                         ? gauges->api_key_validations_pending : 0));
    if (ok && gauges->redis_configured)
        ok = scalar(out, "tokengate_redis_up", "gauge",
                    "Whether the fleet's Redis can be reached (1) or not (0).", gauges->redis_up);
    return ok;
}

size_t tg_metrics_render(const struct tg_metrics_gauges *gauges, char *storage, size_t size)
{
    struct tg_buffer out;
    tg_buffer_init(&out, storage, size);
    bool ok = family(&out, "tokengate_build_info", "gauge",
                     "The running version (always 1).") &&
              tg_buffer_printf(&out, "tokengate_build_info{version=\"%s\"} 1\n",
                              PACKAGE_VERSION) &&
              decisions_render(&out) &&
              family(&out, "tokengate_refusals_total", "counter",
                     "Refused requests by reason.");
    for (int i = TG_REFUSAL_NONE + 1; ok && i < TG_REFUSAL_COUNT; i++)
        ok = tg_buffer_printf(&out, "tokengate_refusals_total{reason=\"%s\"} %lu\n",
                             tg_refusal_name((enum tg_refusal)i),
                             atomic_load(&counters.refusals[i]));
    ok = ok && histogram_render(&out) &&
         scalar(&out, "tokengate_token_cache_hits_total", "counter",
                "Tokens whose signature was verified before.", gauges->cache_hits) &&
         scalar(&out, "tokengate_token_cache_misses_total", "counter",
                "Tokens whose signature had to be verified.", gauges->cache_misses) &&
         scalar(&out, "tokengate_token_cache_entries", "gauge",
                "Verified tokens remembered now.", gauges->cache_entries) &&
         scalar(&out, "tokengate_keys_loaded", "gauge",
                "Verification keys in use (0: every request with a token gets 503).",
                gauges->keys_loaded) &&
         sources_render(&out, gauges) && api_keys_render(&out, gauges) &&
         scalar(&out, "tokengate_connections_open", "gauge",
                "Connections held on the main socket.", gauges->connections_open) &&
         family(&out, "tokengate_connections_closed_total", "counter",
                "Connections closed before a whole request arrived, by reason.") &&
         tg_buffer_printf(&out, "tokengate_connections_closed_total{reason=\"timeout\"} %lu\n"
                         "tokengate_connections_closed_total{reason=\"malformed\"} %lu\n"
                         "tokengate_connections_closed_total{reason=\"too_large\"} %lu\n"
                         "tokengate_connections_closed_total{reason=\"limit\"} %lu\n",
                         gauges->closed_timeout, gauges->closed_malformed,
                         gauges->closed_too_large, gauges->closed_limit) &&
         family(&out, "tokengate_config_reloads_total", "counter",
                "Configuration reloads (SIGHUP), by result.") &&
         tg_buffer_printf(&out, "tokengate_config_reloads_total{result=\"success\"} %lu\n"
                         "tokengate_config_reloads_total{result=\"failure\"} %lu\n",
                         atomic_load(&counters.reloads[1]), atomic_load(&counters.reloads[0])) &&
         scalar(&out, "tokengate_log_lines_dropped_total", "counter",
                "Log lines dropped because stderr did not keep up.", gauges->log_lines_dropped);
    return ok && !out.overflow ? out.used : 0;
}
