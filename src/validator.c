/* SPDX-License-Identifier: Apache-2.0 */
/* validator.c - PropelAuth's API-key validations, off the workers' path
 * (see validator.h). */
#include "tokengate/validator.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "tokengate/fleet.h"
#include "tokengate/http.h"
#include "tokengate/log.h"
#include "tokengate/provider.h"
#include "tokengate/sources.h"
#include "tokengate/url.h"

#define VALIDATE_PATH "/api/backend/v1/end_user_api_keys/validate"

/* What one validation needs, copied when it starts: a reload meanwhile
 * changes nothing under it. */
struct settings {
    char url[TG_URL_MAX];
    char authority[sizeof ((struct tg_url *)0)->authority]; /* X-Propelauth-url */
    char api_key[TG_API_KEY_MAX];   /* the integration key */
    char api_key_file[PATH_MAX];    /* named in the log when PropelAuth refuses it */
    char ca_file[PATH_MAX];
    long cache_ttl, negative_ttl;
};

/* One key being validated, and the requests waiting for it. */
struct flight {
    struct tg_validator *validator;
    unsigned char hash[TG_KEY_HASH_SIZE];
    char key[TG_KEY_TEXT_MAX + 1];
    size_t key_len;
    struct settings settings;
    void **waiters;
    size_t waiter_count, waiter_capacity;
    struct flight *next;
};

struct tg_validator {
    pthread_mutex_t lock;
    pthread_cond_t idle;            /* signalled when the last flight ends */
    struct tg_key_cache *cache;
    struct flight *flights;
    long pending, max_pending;
    bool configured;
    struct settings settings;
    atomic_bool stopping;
    tg_validation_done_fn done;
    void *context;
    struct tg_fleet *fleet;

    atomic_ulong results[TG_KEY_UNAVAILABLE + 1];
    atomic_ulong cache_hits, cache_misses, fleet_hits;
};

struct tg_validator *tg_validator_new(tg_validation_done_fn done, void *context,
                                      struct tg_fleet *fleet)
{
    struct tg_validator *validator = calloc(1, sizeof *validator);
    if (!validator || !(validator->cache = tg_key_cache_new())) {
        free(validator);
        return NULL;
    }
    pthread_mutex_init(&validator->lock, NULL);
    pthread_cond_init(&validator->idle, NULL);
    atomic_init(&validator->stopping, false);
    validator->done = done;
    validator->context = context;
    validator->fleet = fleet;
    validator->max_pending = 64;
    return validator;
}

int tg_validator_configure(struct tg_validator *validator, const struct tg_config *config,
                           struct tg_problems *problems)
{
    struct settings settings = {0};
    bool propelauth = config->api_keys_propelauth;
    if (propelauth) {
        /* The configuration was checked: auth_url and api_key_file are set. */
        if (tg_sources_api_key_read(config, settings.api_key, sizeof settings.api_key,
                                    problems) != 0)
            return -1;
        if (tg_url_join(config->backend_url, VALIDATE_PATH, settings.url, sizeof settings.url) ||
            !config->auth_authority) {
            tg_problems_add(problems, config->file, config->backend_url_line,
                            "backend_url: too long to validate API keys at");
            OPENSSL_cleanse(settings.api_key, sizeof settings.api_key);
            return -1;
        }
        snprintf(settings.authority, sizeof settings.authority, "%s", config->auth_authority);
        snprintf(settings.api_key_file, sizeof settings.api_key_file, "%s",
                 config->api_key_file);
        snprintf(settings.ca_file, sizeof settings.ca_file, "%s",
                 config->ca_file ? config->ca_file : "");
    }
    settings.cache_ttl = config->api_key_cache_ttl;
    settings.negative_ttl = config->api_key_negative_ttl;
    pthread_mutex_lock(&validator->lock);
    /* Answers from another provider, or under another integration key,
     * are not this configuration's. */
    if (strcmp(settings.url, validator->settings.url) != 0 ||
        strcmp(settings.authority, validator->settings.authority) != 0 ||
        strcmp(settings.api_key, validator->settings.api_key) != 0) {
        tg_key_cache_free(validator->cache);
        validator->cache = tg_key_cache_new();
    }
    OPENSSL_cleanse(&validator->settings, sizeof validator->settings);
    validator->settings = settings;
    validator->configured = propelauth;
    validator->max_pending = config->api_key_max_pending;
    pthread_mutex_unlock(&validator->lock);
    OPENSSL_cleanse(&settings, sizeof settings);
    return validator->cache ? 0 : -1;
}

struct tg_key_validation *tg_validator_cached(struct tg_validator *validator,
                                              const unsigned char hash[TG_KEY_HASH_SIZE])
{
    pthread_mutex_lock(&validator->lock);
    struct tg_key_validation *validation =
        validator->cache ? tg_key_cache_get(validator->cache, hash, time(NULL)) : NULL;
    pthread_mutex_unlock(&validator->lock);
    atomic_fetch_add(validation ? &validator->cache_hits : &validator->cache_misses, 1);
    return validation;
}

/* Asks PropelAuth about KEY with SETTINGS. Never NULL but when memory is
 * short. */
static struct tg_key_validation *provider_ask(struct tg_validator *validator,
                                              const struct settings *settings, const char *key,
                                              size_t len)
{
    char body_text[TG_KEY_TEXT_MAX * 6 + 32];
    struct tg_buffer body;
    tg_buffer_init(&body, body_text, sizeof body_text);
    if (!tg_key_validation_request(key, len, &body))
        return tg_key_validation_new(TG_KEY_INVALID, 0, NULL, 0);
    struct tg_propelauth_headers headers;
    tg_provider_propelauth_headers(settings->api_key, settings->authority, &headers);
    struct tg_http_options options = {
        .ca_file = settings->ca_file[0] ? settings->ca_file : NULL,
        .cancel = &validator->stopping,
    };
    struct tg_http_response response;
    struct tg_error error = {0};
    int rc = tg_http_fetch(&options, settings->url, headers.list, body_text, &response, &error);
    OPENSSL_cleanse(headers.authorization, sizeof headers.authorization);
    OPENSSL_cleanse(body_text, body.used);
    struct tg_key_validation *validation;
    if (rc != 0) {
        if (!atomic_load(&validator->stopping))
            tg_log(TG_LOG_WARN, "API key validation failed: %s", error.text);
        return tg_key_validation_new(TG_KEY_UNAVAILABLE, TG_VALIDATION_RETRY_SECONDS, NULL, 0);
    }
    error.text[0] = '\0';
    validation = tg_key_validation_read(response.status, response.body, response.body_len,
                                        response.retry_after, TG_VALIDATION_RETRY_SECONDS, &error);
    OPENSSL_cleanse(response.body, response.body_len);
    tg_http_response_clear(&response);
    if (validation && validation->integration_key_wrong)
        tg_log(TG_LOG_ERROR, "%s: %s", settings->api_key_file, error.text);
    else if (error.text[0])
        tg_log(TG_LOG_WARN, "%s", error.text);
    return validation;
}

/* Validates through the fleet when there is one, else with PropelAuth.
 * *TTL says how long the result may be reused here. */
static struct tg_key_validation *validate(struct tg_validator *validator,
                                          const struct settings *settings,
                                          const unsigned char *hash, const char *key, size_t len,
                                          long *ttl)
{
    char hex[TG_KEY_HASH_HEX];
    tg_key_hash_hex(hash, hex);
    struct tg_key_validation *validation = NULL;
    time_t expires = 0;
    enum tg_fleet_claim claim = validator->fleet
                                    ? tg_fleet_key_claim(validator->fleet, hex, &validation,
                                                         &expires, &validator->stopping)
                                    : TG_FLEET_UNSHARED;
    if (claim == TG_FLEET_FOUND) {
        atomic_fetch_add(&validator->fleet_hits, 1);
        *ttl = (long)(expires - time(NULL));
        return validation;
    }
    validation = provider_ask(validator, settings, key, len);
    *ttl = validation ? tg_key_validation_ttl(validation, settings->cache_ttl,
                                              settings->negative_ttl)
                      : 0;
    if (claim == TG_FLEET_MINE)
        tg_fleet_key_put(validator->fleet, hex, validation, validation ? *ttl : 0);
    if (validation)
        atomic_fetch_add(&validator->results[validation->verdict], 1);
    return validation;
}

static void flight_free(struct flight *flight)
{
    OPENSSL_cleanse(flight->key, sizeof flight->key);
    OPENSSL_cleanse(&flight->settings, sizeof flight->settings);
    free(flight->waiters);
    free(flight);
}

static void *flight_run(void *argument)
{
    struct flight *flight = argument;
    struct tg_validator *validator = flight->validator;
    long ttl = 0;
    struct tg_key_validation *validation =
        validate(validator, &flight->settings, flight->hash, flight->key, flight->key_len, &ttl);
    OPENSSL_cleanse(flight->key, sizeof flight->key);
    if (!validation)
        validation = tg_key_validation_new(TG_KEY_UNAVAILABLE, TG_VALIDATION_RETRY_SECONDS,
                                           NULL, 0);

    /* Cached and unlinked in one step: a request that misses the cache
     * after this finds no flight either, and starts a new one. */
    pthread_mutex_lock(&validator->lock);
    time_t now = time(NULL);
    if (validation && ttl > 0 && validator->cache)
        tg_key_cache_put(validator->cache, flight->hash, validation, now + ttl, now);
    for (struct flight **link = &validator->flights; *link; link = &(*link)->next)
        if (*link == flight) {
            *link = flight->next;
            break;
        }
    pthread_mutex_unlock(&validator->lock);

    for (size_t i = 0; i < flight->waiter_count; i++)
        validator->done(validator->context, flight->waiters[i],
                        tg_key_validation_hold(validation));
    tg_key_validation_release(validation);
    flight_free(flight);

    pthread_mutex_lock(&validator->lock);
    if (--validator->pending == 0)
        pthread_cond_broadcast(&validator->idle);
    pthread_mutex_unlock(&validator->lock);
    return NULL;
}

static bool waiter_add(struct flight *flight, void *waiter)
{
    if (flight->waiter_count == flight->waiter_capacity) {
        size_t capacity = flight->waiter_capacity ? flight->waiter_capacity * 2 : 4;
        void **grown = realloc(flight->waiters, capacity * sizeof *grown);
        if (!grown)
            return false;
        flight->waiters = grown;
        flight->waiter_capacity = capacity;
    }
    flight->waiters[flight->waiter_count++] = waiter;
    return true;
}

int tg_validator_submit(struct tg_validator *validator, const char *key, size_t len,
                        void *waiter)
{
    if (len > TG_KEY_TEXT_MAX)
        return -1;
    unsigned char hash[TG_KEY_HASH_SIZE];
    tg_key_hash(key, len, hash);
    int result = -1;
    pthread_mutex_lock(&validator->lock);
    if (atomic_load(&validator->stopping) || !validator->configured)
        goto done;
    /* A flight may have ended since the caller missed the cache. */
    struct tg_key_validation *cached =
        validator->cache ? tg_key_cache_get(validator->cache, hash, time(NULL)) : NULL;
    if (cached) {
        pthread_mutex_unlock(&validator->lock);
        validator->done(validator->context, waiter, cached);
        return 0;
    }
    for (struct flight *flight = validator->flights; flight; flight = flight->next)
        if (CRYPTO_memcmp(flight->hash, hash, sizeof hash) == 0) {
            result = waiter_add(flight, waiter) ? 0 : -1;
            goto done;
        }
    if (validator->pending >= validator->max_pending)
        goto done;
    struct flight *flight = calloc(1, sizeof *flight);
    if (!flight || !waiter_add(flight, waiter)) {
        free(flight);
        goto done;
    }
    flight->validator = validator;
    memcpy(flight->hash, hash, sizeof hash);
    memcpy(flight->key, key, len);
    flight->key_len = len;
    flight->settings = validator->settings;
    /* Each flight has a thread of its own, at most max_pending of them:
     * a hanging provider holds those, and nothing else. */
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attributes, 256 * 1024);
    pthread_t thread;
    validator->pending++;
    flight->next = validator->flights;
    validator->flights = flight;
    if (pthread_create(&thread, &attributes, flight_run, flight) != 0) {
        validator->flights = flight->next;
        validator->pending--;
        flight_free(flight);
    } else {
        result = 0;
    }
    pthread_attr_destroy(&attributes);
done:
    pthread_mutex_unlock(&validator->lock);
    OPENSSL_cleanse(hash, sizeof hash);
    return result;
}

struct tg_key_validation *tg_validator_validate(struct tg_validator *validator, const char *key,
                                                size_t len)
{
    if (len > TG_KEY_TEXT_MAX)
        return tg_key_validation_new(TG_KEY_INVALID, 0, NULL, 0);
    unsigned char hash[TG_KEY_HASH_SIZE];
    tg_key_hash(key, len, hash);
    struct tg_key_validation *validation = tg_validator_cached(validator, hash);
    if (validation)
        return validation;
    pthread_mutex_lock(&validator->lock);
    struct settings settings = validator->settings;
    pthread_mutex_unlock(&validator->lock);
    long ttl = 0;
    validation = validate(validator, &settings, hash, key, len, &ttl);
    OPENSSL_cleanse(&settings, sizeof settings);
    if (validation && ttl > 0) {
        pthread_mutex_lock(&validator->lock);
        time_t now = time(NULL);
        tg_key_cache_put(validator->cache, hash, validation, now + ttl, now);
        pthread_mutex_unlock(&validator->lock);
    }
    return validation;
}

void tg_validator_report(struct tg_validator *validator, struct tg_validator_report *report)
{
    for (int i = 0; i <= TG_KEY_UNAVAILABLE; i++)
        report->results[i] = atomic_load(&validator->results[i]);
    report->cache_hits = atomic_load(&validator->cache_hits);
    report->cache_misses = atomic_load(&validator->cache_misses);
    report->fleet_hits = atomic_load(&validator->fleet_hits);
    pthread_mutex_lock(&validator->lock);
    report->cache_entries = validator->cache ? tg_key_cache_count(validator->cache) : 0;
    report->pending = validator->pending;
    pthread_mutex_unlock(&validator->lock);
}

void tg_validator_stop(struct tg_validator *validator)
{
    if (!validator)
        return;
    pthread_mutex_lock(&validator->lock);
    atomic_store(&validator->stopping, true);
    while (validator->pending > 0)
        pthread_cond_wait(&validator->idle, &validator->lock);
    pthread_mutex_unlock(&validator->lock);
}

void tg_validator_free(struct tg_validator *validator)
{
    if (!validator)
        return;
    tg_validator_stop(validator);
    tg_key_cache_free(validator->cache);
    OPENSSL_cleanse(&validator->settings, sizeof validator->settings);
    pthread_mutex_destroy(&validator->lock);
    pthread_cond_destroy(&validator->idle);
    free(validator);
}
