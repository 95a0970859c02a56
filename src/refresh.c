/* SPDX-License-Identifier: Apache-2.0 */
/* refresh.c - the background key refresher (see refresh.h).
 *
 * One lock guards everything here. Fetches run without it: the thread takes
 * a snapshot of what to fetch (a "job" per source), fetches, then applies the
 * results under the lock to the sources that still exist. Each source has an
 * id that a reconfiguration never reuses, so a fetch started for an old
 * configuration cannot touch the new one.
 */
#include "tokengate/refresh.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "tokengate/http.h"
#include "tokengate/jwk.h"
#include "tokengate/log.h"
#include "tokengate/provider.h"
#include "tokengate/sources.h"
#include "tokengate/text.h"
#include "tokengate/url.h"

#define SOURCES_MAX TG_REFRESHER_SOURCES_MAX

/* Warnings about skipped keys, reported when they differ from the last
 * ones: a provider publishing an unusable key would otherwise have it
 * reported at every refresh. */
struct warnings {
    char text[2048];              /* one warning per line */
    size_t used;
};

struct source {
    unsigned long id;
    enum tg_source_kind kind;
    char url[TG_URL_MAX];         /* metadata URL, JWK set URL, or the OIDC issuer */
    char authority[sizeof ((struct tg_url *)0)->authority]; /* PropelAuth: X-Propelauth-url */
    char state_path[PATH_MAX];    /* where its last good answer is kept */
    char where[PATH_MAX + 16];    /* "FILE:LINE" of its entry, for the log */
    struct tg_keyset keys;        /* last good keys (count 0: none yet) */
    time_t next_fetch;            /* monotonic seconds */
    time_t not_before;            /* monotonic: the provider asked us to wait */
    int failures;                 /* consecutive */
    unsigned long successes_total, failures_total; /* for the metrics */
    time_t last_success;          /* wall clock, for the metrics; 0: never */
    struct warnings reported;     /* the skipped keys last reported */
};

/* What a fetch needs, copied out of the lock. */
struct job {
    unsigned long id;
    enum tg_source_kind kind;
    char url[TG_URL_MAX];
    char authority[sizeof ((struct tg_url *)0)->authority];
    char where[PATH_MAX + 16];
};

struct outcome {
    bool success;
    struct warnings warnings;
    struct tg_keyset keys;
    char *body;                   /* the JWK set or metadata, to save */
    size_t body_len;
    long max_age;
    long retry_after;
};

struct tg_refresher {
    pthread_mutex_t lock;
    pthread_cond_t wake;          /* the thread: work or stop */
    pthread_cond_t finished;      /* waiting requests: a round ended */
    pthread_t thread;
    bool thread_running;
    atomic_bool stopping;

    tg_keys_publish_fn publish;
    void *context;

    struct source *sources[SOURCES_MAX];
    size_t source_count;
    unsigned long next_id;
    struct tg_keyset static_keys;
    char api_key[TG_API_KEY_MAX];
    char ca_file[PATH_MAX];
    char state_dir[PATH_MAX];
    long interval;
    long min_interval;
    long wait_seconds;            /* a demand's longest wait (see refresh.h) */

    /* Unknown-kid fetches: DEMAND asks the next round to fetch everything;
     * waiters wait until ROUNDS_FINISHED reaches the round that serves them. */
    bool demand;
    bool round_serves_demand;
    bool round_running;
    bool demanded_ever;
    time_t last_demand;
    unsigned long rounds_started;
    unsigned long rounds_finished;
    atomic_ulong fetches;
    atomic_ulong publications;    /* key sets handed to the receiver */
};

static time_t monotonic_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec;
}

struct tg_refresher *tg_refresher_new(tg_keys_publish_fn publish, void *context)
{
    struct tg_refresher *refresher = calloc(1, sizeof *refresher);
    if (!refresher)
        return NULL;
    pthread_condattr_t attributes;
    pthread_condattr_init(&attributes);
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    pthread_mutex_init(&refresher->lock, NULL);
    pthread_cond_init(&refresher->wake, &attributes);
    pthread_cond_init(&refresher->finished, &attributes);
    pthread_condattr_destroy(&attributes);
    refresher->publish = publish;
    refresher->context = context;
    refresher->next_id = 1;
    return refresher;
}

/* ---- sources from the configuration ---------------------------------- */

/* The file a source's last good answer lives in: named by kind and a hash
 * of what identifies the source, so that changing a URL never loads keys
 * saved for another. */
static void source_state_path(struct source *source, const char *state_dir)
{
    static const char *const prefixes[] = {"propelauth", "jwks", "oidc"};
    char identity[sizeof source->url + sizeof source->authority + 16];
    snprintf(identity, sizeof identity, "%d %s %s", (int)source->kind, source->url,
             source->authority);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned digest_len = 0;
    EVP_Digest(identity, strlen(identity), digest, &digest_len, EVP_sha256(), NULL);
    char hex[17];
    for (int i = 0; i < 8; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    snprintf(source->state_path, sizeof source->state_path, "%s/%s-%s.json", state_dir,
             prefixes[source->kind], hex);
}

static struct source *source_new(enum tg_source_kind kind, const char *url,
                                 const char *authority, const char *file, int line)
{
    struct source *source = calloc(1, sizeof *source);
    if (!source)
        return NULL;
    source->kind = kind;
    snprintf(source->url, sizeof source->url, "%s", url);
    snprintf(source->authority, sizeof source->authority, "%s", authority ? authority : "");
    snprintf(source->where, sizeof source->where, "%s:%d", file, line);
    return source;
}

static void source_free(struct source *source)
{
    if (!source)
        return;
    tg_keyset_clear(&source->keys);
    free(source);
}

/* Builds the remote sources CONFIG names into SOURCES. Returns the count, or
 * -1 with PROBLEMS. */
static int sources_from_config(const struct tg_config *config, struct source **sources,
                               struct tg_problems *problems)
{
    int count = 0;
    bool failed = false;
    if (config->api_key_file && config->auth_url) {
        char url[TG_URL_MAX];
        if (tg_url_join(config->backend_url, "/api/v1/token_verification_metadata", url,
                        sizeof url) != 0) {
            tg_problems_add(problems, config->file, config->api_key_file_line,
                            "backend_url is too long to fetch metadata from");
            return -1;
        }
        if (!(sources[count++] = source_new(TG_SOURCE_PROPELAUTH, url, config->auth_authority,
                                            config->file, config->api_key_file_line)))
            failed = true;
    }
    for (size_t i = 0; i < config->jwks_count && !failed; i++)
        if (tg_source_is_url(config->jwks[i].value) &&
            !(sources[count++] = source_new(TG_SOURCE_JWKS_URL, config->jwks[i].value, NULL,
                                            config->file, config->jwks[i].line)))
            failed = true;
    if (config->oidc_issuer && !failed &&
        !(sources[count++] = source_new(TG_SOURCE_OIDC, config->oidc_issuer, NULL, config->file,
                                        config->oidc_issuer_line)))
        failed = true;
    if (failed) {
        for (int i = 0; i < count; i++)
            source_free(sources[i]);
        tg_problems_add(problems, config->file, 0, "out of memory");
        return -1;
    }
    for (int i = 0; i < count; i++)
        source_state_path(sources[i], config->state_dir);
    return count;
}

/* ---- reading and saving a source's answer ----------------------------- */

static void warning_keep(void *context, const char *message)
{
    struct warnings *warnings = context;
    int written = snprintf(warnings->text + warnings->used, sizeof warnings->text - warnings->used,
                           "%s\n", message);
    if (written > 0 && (size_t)written < sizeof warnings->text - warnings->used)
        warnings->used += (size_t)written;
}

static void warnings_log(const struct warnings *warnings, const char *where, const char *url)
{
    const char *line = warnings->text;
    for (const char *end;
         (end = memchr(line, '\n', warnings->used - (size_t)(line - warnings->text)));
         line = end + 1)
        tg_log(TG_LOG_WARN, "%s: %s: %.*s", where, url, (int)(end - line), line);
}

/* Turns a source's answer (metadata or JWK set) into keys, keeping the
 * warnings about skipped keys in WARNINGS. */
static int answer_read(enum tg_source_kind kind, const char *body, size_t len,
                       struct tg_keyset *keys, struct warnings *warnings, struct tg_error *error)
{
    if (kind == TG_SOURCE_PROPELAUTH)
        return tg_provider_metadata_read(body, len, keys, error);
    int added = tg_keyset_add_jwks(keys, body, len, TG_JWK_REMOTE, warning_keep, warnings, error);
    if (added == 0) {
        tg_error_set(error, "the JWK set holds no key that can verify signatures");
        return -1;
    }
    return added < 0 ? -1 : 0;
}

static void job_from_source(struct job *job, const struct source *source)
{
    job->id = source->id;
    job->kind = source->kind;
    memcpy(job->url, source->url, sizeof job->url);
    memcpy(job->authority, source->authority, sizeof job->authority);
    memcpy(job->where, source->where, sizeof job->where);
}

const char *tg_state_dir_check(const char *state_dir, struct tg_error *why)
{
    int fd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return NULL;  /* created at the first save */
        tg_error_set(why, "cannot open %s: %s", state_dir, strerror(errno));
        return why->text;
    }
    const char *problem = tg_file_trust_check(fd, state_dir, false, why);
    close(fd);
    return problem;
}

/* Keys written by an earlier run, or none. Whoever can write state_dir or a
 * file in it could plant keys: such a directory or file is not read. */
static void source_load_saved(struct source *source, const char *state_dir)
{
    size_t len;
    struct tg_error err;
    if (tg_state_dir_check(state_dir, &err)) {
        tg_log(TG_LOG_WARN, "%s: ignoring the keys saved for %s: state_dir: %s", source->where,
               source->url, err.text);
        return;
    }
    errno = 0;
    char *body = tg_file_read_trusted(source->state_path, TG_HTTP_BODY_MAX, false, &len, &err);
    if (!body) {
        if (errno != ENOENT)
            tg_log(TG_LOG_WARN, "%s: ignoring the keys saved for %s: %s", source->where,
                   source->url, err.text);
        return;
    }
    struct warnings warnings = {.used = 0};
    int rc = answer_read(source->kind, body, len, &source->keys, &warnings, &err);
    warnings_log(&warnings, source->where, source->url);
    source->reported = warnings;
    if (rc != 0) {
        tg_keyset_clear(&source->keys);
        tg_log(TG_LOG_WARN, "%s: ignoring saved keys in %s: %s", source->where,
               source->state_path, err.text);
    } else {
        tg_log(TG_LOG_INFO, "%s: %zu keys for %s loaded from %s", source->where,
               source->keys.count, source->url, source->state_path);
    }
    free(body);
}

/* Written to a temporary file and renamed, so that a crash never leaves
 * half a key set for the next start. */
static void answer_save(const char *state_dir, const char *path, const char *where,
                        const char *body, size_t len)
{
    if (mkdir(state_dir, 0755) != 0 && errno != EEXIST) {
        tg_log(TG_LOG_WARN, "%s: cannot create state_dir %s (%s): keys are not saved for the "
                            "next start", where, state_dir, strerror(errno));
        return;
    }
    struct tg_error why;
    if (tg_state_dir_check(state_dir, &why)) {
        tg_log(TG_LOG_WARN, "%s: keys are not saved: state_dir: %s", where, why.text);
        return;
    }
    char temporary[PATH_MAX + 8];
    snprintf(temporary, sizeof temporary, "%s.new", path);
    /* A fresh file of our own, never one planted in its place. */
    unlink(temporary);
    int fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    FILE *file = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (fd >= 0 && !file)
        close(fd);
    bool ok = file && fwrite(body, 1, len, file) == len;
    ok = file && fflush(file) == 0 && fsync(fileno(file)) == 0 && ok;
    if (file && fclose(file) != 0)
        ok = false;
    if (!ok || rename(temporary, path) != 0) {
        tg_log(TG_LOG_WARN, "%s: cannot save keys to %s (%s): the next start needs the "
                            "provider", where, path, strerror(errno));
        unlink(temporary);
    }
}

/* ---- fetching --------------------------------------------------------- */

struct fetch_settings {
    char api_key[TG_API_KEY_MAX];
    char ca_file[PATH_MAX];
    const atomic_bool *cancel;
};

static bool fetch_document(struct tg_refresher *refresher, const struct fetch_settings *settings,
                           const struct job *job, const char *url, bool send_api_key,
                           struct tg_http_response *response)
{
    struct tg_http_options options = {
        .ca_file = settings->ca_file[0] ? settings->ca_file : NULL,
        .cancel = settings->cancel,
    };
    struct tg_propelauth_headers headers = {.list = {NULL}};
    if (send_api_key)
        tg_provider_propelauth_headers(settings->api_key, job->authority, &headers);
    struct tg_error err;
    atomic_fetch_add(&refresher->fetches, 1);
    int rc = tg_http_fetch(&options, url, headers.list, NULL, response, &err);
    OPENSSL_cleanse(headers.authorization, sizeof headers.authorization);
    if (rc != 0) {
        /* A fetch cancelled by a stop is no failure of the provider's. */
        if (!atomic_load(&refresher->stopping))
            tg_log(TG_LOG_ERROR, "%s: fetching keys failed: %s", job->where, err.text);
        return false;
    }
    if (response->status != 200) {
        tg_log(TG_LOG_ERROR, "%s: %s answered %ld: %s", job->where, url, response->status,
               tg_provider_status_explain(job->kind, response->status));
        return false;
    }
    return true;
}

static void source_fetch(struct tg_refresher *refresher, const struct fetch_settings *settings,
                         const struct job *job, struct outcome *outcome)
{
    struct tg_http_response response;
    const char *url = job->url;
    char discovery_url[TG_URL_MAX + 64], jwks_uri[TG_URL_MAX];
    struct tg_error err;
    outcome->max_age = outcome->retry_after = -1;
    if (job->kind == TG_SOURCE_OIDC) {
        /* oidc_issuer is at most TG_URL_MAX: the join always fits. */
        tg_url_join(job->url, "/.well-known/openid-configuration", discovery_url,
                    sizeof discovery_url);
        bool ok = fetch_document(refresher, settings, job, discovery_url, false, &response);
        outcome->retry_after = response.retry_after;
        if (ok && tg_provider_discovery_read(response.body, response.body_len, job->url, jwks_uri,
                                             &err) != 0) {
            tg_log(TG_LOG_ERROR, "%s: %s: %s", job->where, discovery_url, err.text);
            ok = false;
        } else if (ok && !tg_url_fetchable(jwks_uri)) {
            tg_log(TG_LOG_ERROR, "%s: %s: the discovery document's jwks_uri '%.200s' is not an "
                                 "https:// URL", job->where, discovery_url, jwks_uri);
            ok = false;
        }
        tg_http_response_clear(&response);
        if (!ok)
            return;
        url = jwks_uri;
    }
    bool ok = fetch_document(refresher, settings, job, url, job->kind == TG_SOURCE_PROPELAUTH,
                             &response);
    outcome->retry_after = response.retry_after;
    outcome->max_age = response.max_age;
    if (ok && answer_read(job->kind, response.body, response.body_len, &outcome->keys,
                          &outcome->warnings, &err) != 0) {
        warnings_log(&outcome->warnings, job->where, url);
        tg_log(TG_LOG_ERROR, "%s: %s: %s; the previous keys stay in use", job->where, url,
               err.text);
        tg_keyset_clear(&outcome->keys);
        ok = false;
    }
    if (ok) {
        outcome->success = true;
        outcome->body = response.body;
        outcome->body_len = response.body_len;
        response.body = NULL;
    }
    tg_http_response_clear(&response);
}

/* ---- publishing ------------------------------------------------------- */

/* Static keys plus every source's last good keys, handed to the receiver.
 * Called with the lock held. */
static void keys_publish(struct tg_refresher *refresher)
{
    struct tg_keyset *keys = calloc(1, sizeof *keys);
    struct tg_error err = {"out of memory"};
    bool ok = keys && tg_keyset_add_all(keys, &refresher->static_keys, &err) == 0;
    for (size_t i = 0; ok && i < refresher->source_count; i++)
        ok = tg_keyset_add_all(keys, &refresher->sources[i]->keys, &err) == 0;
    if (!ok) {
        tg_log(TG_LOG_ERROR, "cannot assemble the key set (%s): the previous keys stay in use",
               err.text);
        tg_keyset_free(keys);
        return;
    }
    refresher->publish(refresher->context, keys);
    atomic_fetch_add(&refresher->publications, 1);
}

static struct source *source_find(struct tg_refresher *refresher, unsigned long id)
{
    for (size_t i = 0; i < refresher->source_count; i++)
        if (refresher->sources[i]->id == id)
            return refresher->sources[i];
    return NULL;
}

/* Applies one fetch's outcome to its source, if that still exists. Returns
 * true when the source's keys changed. Called with the lock held. */
static bool outcome_apply(struct tg_refresher *refresher, const struct job *job,
                          struct outcome *outcome, time_t now)
{
    struct source *source = source_find(refresher, job->id);
    if (!source)
        return false;
    if (!outcome->success) {
        source->failures++;
        source->failures_total++;
        long delay = tg_provider_next_fetch(false, -1, outcome->retry_after, source->failures,
                                            refresher->interval, refresher->min_interval);
        source->next_fetch = now + delay;
        /* Demands for an unknown kid may ask again after
         * refresh_min_interval whatever the provider said: a rotation must
         * not wait out a long Retry-After. */
        if (outcome->retry_after > 0)
            source->not_before =
                now + (delay < refresher->min_interval ? delay : refresher->min_interval);
        tg_log(TG_LOG_WARN, "%s: %s: next attempt in %ld s%s", source->where, source->url, delay,
               source->keys.count ? "; the last good keys stay in use"
                                  : "; no key from this source yet");
        return false;
    }
    source->failures = 0;
    source->successes_total++;
    source->last_success = time(NULL);
    source->not_before = 0;
    source->next_fetch = now + tg_provider_next_fetch(true, outcome->max_age, -1, 0,
                                                      refresher->interval,
                                                      refresher->min_interval);
    bool same = source->keys.count && tg_keyset_contains_all(&outcome->keys, &source->keys) &&
                tg_keyset_contains_all(&source->keys, &outcome->keys);
    /* Skipped keys are reported when they change, not at every refresh; a
     * new unusable key beside unchanged usable ones is reported too (a
     * rotation to a key tokengate cannot use would otherwise go unseen). */
    if (outcome->warnings.used != source->reported.used ||
        memcmp(outcome->warnings.text, source->reported.text, outcome->warnings.used) != 0) {
        warnings_log(&outcome->warnings, source->where, source->url);
        source->reported = outcome->warnings;
    }
    if (same) {
        tg_keyset_clear(&outcome->keys);
        return false;
    }
    tg_keyset_move(&source->keys, &outcome->keys);
    answer_save(refresher->state_dir, source->state_path, source->where, outcome->body,
                outcome->body_len);
    char storage[256];
    struct tg_buffer kids;
    tg_buffer_init(&kids, storage, sizeof storage - 4);
    for (size_t i = 0; i < source->keys.count; i++)
        tg_buffer_printf(&kids, "%s%s", i ? ", " : "",
                         source->keys.keys[i].kid[0] ? source->keys.keys[i].kid : "-");
    if (kids.overflow)
        strcpy(storage + kids.used, "...");  /* the 4 bytes kept back */
    tg_log(TG_LOG_INFO, "%s: new keys from %s: %zu (kid %s)", source->where, source->url,
           source->keys.count, storage);
    return true;
}

/* One round: fetches every source that is due (or all, for a demand) and
 * applies the results. Called and returns with the lock held; drops it
 * while fetching. */
static void round_run(struct tg_refresher *refresher, bool only_missing)
{
    time_t now = monotonic_now();
    bool demand = refresher->demand;
    refresher->demand = false;
    refresher->round_serves_demand = demand;
    refresher->round_running = true;
    refresher->rounds_started++;

    struct job *jobs = calloc(refresher->source_count ? refresher->source_count : 1,
                              sizeof *jobs);
    struct outcome *outcomes = calloc(refresher->source_count ? refresher->source_count : 1,
                                      sizeof *outcomes);
    struct fetch_settings *settings = calloc(1, sizeof *settings);
    size_t job_count = 0;
    if (jobs && outcomes && settings) {
        for (size_t i = 0; i < refresher->source_count; i++) {
            struct source *source = refresher->sources[i];
            bool due = only_missing ? source->keys.count == 0
                                    : demand || source->next_fetch <= now;
            if (due && source->not_before <= now)
                job_from_source(&jobs[job_count++], source);
        }
        memcpy(settings->api_key, refresher->api_key, sizeof settings->api_key);
        memcpy(settings->ca_file, refresher->ca_file, sizeof settings->ca_file);
        settings->cancel = &refresher->stopping;
    }

    pthread_mutex_unlock(&refresher->lock);
    for (size_t i = 0; i < job_count && !atomic_load(&refresher->stopping); i++)
        source_fetch(refresher, settings, &jobs[i], &outcomes[i]);
    if (settings)
        OPENSSL_cleanse(settings->api_key, sizeof settings->api_key);
    pthread_mutex_lock(&refresher->lock);

    now = monotonic_now();
    bool changed = false;
    bool stopping = atomic_load(&refresher->stopping);
    for (size_t i = 0; i < job_count; i++) {
        /* Fetches cut short by a stop are not failures worth a log line. */
        if (!stopping && outcome_apply(refresher, &jobs[i], &outcomes[i], now))
            changed = true;
        tg_keyset_clear(&outcomes[i].keys);
        free(outcomes[i].body);
    }
    if (changed)
        keys_publish(refresher);
    free(jobs);
    free(outcomes);
    free(settings);
    refresher->round_running = false;
    refresher->rounds_finished++;
    pthread_cond_broadcast(&refresher->finished);
}

static void *refresher_run(void *argument)
{
    struct tg_refresher *refresher = argument;
    pthread_mutex_lock(&refresher->lock);
    while (!atomic_load(&refresher->stopping)) {
        time_t now = monotonic_now();
        time_t next = now + 24 * 3600;
        for (size_t i = 0; i < refresher->source_count; i++) {
            const struct source *source = refresher->sources[i];
            time_t due = source->next_fetch > source->not_before ? source->next_fetch
                                                                 : source->not_before;
            if (due < next)
                next = due;
        }
        if (refresher->demand || (refresher->source_count && next <= now)) {
            round_run(refresher, false);
            continue;
        }
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += next - now;
        pthread_cond_timedwait(&refresher->wake, &refresher->lock, &deadline);
    }
    pthread_mutex_unlock(&refresher->lock);
    return NULL;
}

/* ---- the interface ---------------------------------------------------- */

int tg_refresher_configure(struct tg_refresher *refresher, const struct tg_config *config,
                           struct tg_keyset *static_keys, struct tg_problems *problems)
{
    char api_key[TG_API_KEY_MAX] = "";
    if (config->api_key_file &&
        tg_sources_api_key_read(config, api_key, sizeof api_key, problems) != 0)
        return -1;
    struct source *sources[SOURCES_MAX];
    int count = sources_from_config(config, sources, problems);
    if (count < 0) {
        OPENSSL_cleanse(api_key, sizeof api_key);
        return -1;
    }

    pthread_mutex_lock(&refresher->lock);
    time_t now = monotonic_now();
    for (int i = 0; i < count; i++) {
        struct source *fresh = sources[i];
        fresh->id = refresher->next_id++;
        fresh->next_fetch = now;
        /* A source the old configuration had too keeps what it knows. */
        for (size_t j = 0; j < refresher->source_count; j++) {
            struct source *old = refresher->sources[j];
            if (old && strcmp(old->state_path, fresh->state_path) == 0) {
                tg_keyset_move(&fresh->keys, &old->keys);
                fresh->next_fetch = old->next_fetch;
                fresh->not_before = old->not_before;
                fresh->failures = old->failures;
                fresh->successes_total = old->successes_total;
                fresh->failures_total = old->failures_total;
                fresh->last_success = old->last_success;
                fresh->reported = old->reported;
                break;
            }
        }
        if (fresh->keys.count == 0)
            source_load_saved(fresh, config->state_dir);
    }
    for (size_t j = 0; j < refresher->source_count; j++)
        source_free(refresher->sources[j]);
    memcpy(refresher->sources, sources, (size_t)count * sizeof *sources);
    refresher->source_count = (size_t)count;
    tg_keyset_move(&refresher->static_keys, static_keys);
    OPENSSL_cleanse(refresher->api_key, sizeof refresher->api_key);
    memcpy(refresher->api_key, api_key, sizeof api_key);
    OPENSSL_cleanse(api_key, sizeof api_key);
    snprintf(refresher->ca_file, sizeof refresher->ca_file, "%s",
             config->ca_file ? config->ca_file : "");
    snprintf(refresher->state_dir, sizeof refresher->state_dir, "%s", config->state_dir);
    refresher->interval = config->refresh_interval;
    long fetches = 0;
    for (int i = 0; i < count; i++)
        fetches += sources[i]->kind == TG_SOURCE_OIDC ? 2 : 1;
    long wait = fetches * (TG_HTTP_TOTAL_TIMEOUT_MS / 1000) + 2;
    refresher->wait_seconds =
        wait < TG_REFRESH_WAIT_MAX_SECONDS ? wait : TG_REFRESH_WAIT_MAX_SECONDS;
    refresher->min_interval = config->refresh_min_interval;
    keys_publish(refresher);
    pthread_cond_signal(&refresher->wake);
    pthread_mutex_unlock(&refresher->lock);
    return 0;
}

int tg_refresher_start(struct tg_refresher *refresher)
{
    pthread_mutex_lock(&refresher->lock);
    int rc = 0;
    if (!refresher->thread_running) {
        rc = pthread_create(&refresher->thread, NULL, refresher_run, refresher);
        refresher->thread_running = rc == 0;
    }
    pthread_mutex_unlock(&refresher->lock);
    return rc == 0 ? 0 : -1;
}

void tg_refresher_fetch_missing(struct tg_refresher *refresher)
{
    pthread_mutex_lock(&refresher->lock);
    round_run(refresher, true);
    pthread_mutex_unlock(&refresher->lock);
}

unsigned long tg_refresher_publications(struct tg_refresher *refresher)
{
    return atomic_load(&refresher->publications);
}

bool tg_refresher_demand_unknown_key(struct tg_refresher *refresher, bool wait,
                                     unsigned long publications_seen)
{
    pthread_mutex_lock(&refresher->lock);
    /* Keys were published after the request was decided: deciding again
     * may be all it needs. (Without this, requests that were decided just
     * before a fetch's keys arrived asked for another fetch.) */
    if (atomic_load(&refresher->publications) != publications_seen) {
        pthread_mutex_unlock(&refresher->lock);
        return true;
    }
    time_t now = monotonic_now();
    bool any_fetchable = false;
    for (size_t i = 0; i < refresher->source_count; i++)
        if (refresher->sources[i]->not_before <= now)
            any_fetchable = true;
    unsigned long target;
    if (!refresher->thread_running || atomic_load(&refresher->stopping) || !any_fetchable) {
        pthread_mutex_unlock(&refresher->lock);
        return false;
    }
    /* A demand round asked for or under way is joined, whatever time has
     * passed: a slow fetch must not let a burst of requests queue a second
     * round behind it (refresh_min_interval counts from a demand's start,
     * and a round can outlast it). */
    if (refresher->demand) {
        target = refresher->rounds_started + 1;        /* asked for, not yet started */
    } else if (refresher->round_running && refresher->round_serves_demand) {
        target = refresher->rounds_started;            /* the one under way */
    } else if (!refresher->demanded_ever ||
               now - refresher->last_demand >= refresher->min_interval) {
        refresher->demand = true;
        refresher->demanded_ever = true;
        refresher->last_demand = now;
        target = refresher->rounds_started + 1;
        pthread_cond_signal(&refresher->wake);
    } else {
        pthread_mutex_unlock(&refresher->lock);
        return false;                                   /* rate limited */
    }
    if (!wait) {
        pthread_mutex_unlock(&refresher->lock);
        return false;
    }
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += refresher->wait_seconds;
    while (refresher->rounds_finished < target && !atomic_load(&refresher->stopping))
        if (pthread_cond_timedwait(&refresher->finished, &refresher->lock, &deadline) == ETIMEDOUT)
            break;
    bool done = refresher->rounds_finished >= target;
    pthread_mutex_unlock(&refresher->lock);
    return done;
}

size_t tg_refresher_report(struct tg_refresher *refresher, struct tg_refresher_report *report,
                           size_t max)
{
    pthread_mutex_lock(&refresher->lock);
    size_t count = 0;
    for (size_t i = 0; i < refresher->source_count && count < max; i++, count++) {
        const struct source *source = refresher->sources[i];
        snprintf(report[count].url, sizeof report[count].url, "%s", source->url);
        report[count].successes = source->successes_total;
        report[count].failures = source->failures_total;
        report[count].last_success = source->last_success;
    }
    pthread_mutex_unlock(&refresher->lock);
    return count;
}

unsigned long tg_refresher_fetch_count(struct tg_refresher *refresher)
{
    return atomic_load(&refresher->fetches);
}

void tg_refresher_stop(struct tg_refresher *refresher)
{
    if (!refresher)
        return;
    pthread_mutex_lock(&refresher->lock);
    atomic_store(&refresher->stopping, true);
    pthread_cond_broadcast(&refresher->wake);
    pthread_cond_broadcast(&refresher->finished);
    pthread_mutex_unlock(&refresher->lock);
}

void tg_refresher_free(struct tg_refresher *refresher)
{
    if (!refresher)
        return;
    tg_refresher_stop(refresher);
    if (refresher->thread_running)
        pthread_join(refresher->thread, NULL);
    for (size_t i = 0; i < refresher->source_count; i++)
        source_free(refresher->sources[i]);
    tg_keyset_clear(&refresher->static_keys);
    OPENSSL_cleanse(refresher->api_key, sizeof refresher->api_key);
    pthread_cond_destroy(&refresher->wake);
    pthread_cond_destroy(&refresher->finished);
    pthread_mutex_destroy(&refresher->lock);
    free(refresher);
}
