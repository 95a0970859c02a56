/* SPDX-License-Identifier: Apache-2.0 */
/* fleet.c - Redis between the nodes: shared API-key results and
 * revocations (see fleet.h). */
#include "tokengate/fleet.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <hiredis/hiredis.h>

#include "tokengate/log.h"

/* The subscription's liveness: a PING this often, and a connection that
 * answers nothing for this long is taken for dead. */
#define PING_SECONDS 2
#define SILENCE_SECONDS 6
#define CONNECT_MILLISECONDS 1000
/* What the validator's threads allow for a write and for waiting on the
 * node that holds a key's lock. */
#define WRITE_MILLISECONDS 500
#define POLL_MILLISECONDS 50
#define PREFIX_MAX 65
#define NAME_MAX_BYTES (PREFIX_MAX + 16 + TG_REVOCATION_ID_MAX)

/* ---- the address --------------------------------------------------------- */

int tg_redis_address_parse(const char *text, struct tg_redis_address *address,
                           const char **why)
{
    memset(address, 0, sizeof *address);
    if (strncmp(text, "unix:", 5) == 0) {
        const char *path = text + 5;
        if (path[0] != '/' || strlen(path) >= sizeof address->path) {
            *why = "a unix socket is unix: and an absolute path shorter than 108 bytes";
            return -1;
        }
        strcpy(address->path, path);
        return 0;
    }
    *why = "expected unix:/PATH or redis://HOST[:PORT][/DB]";
    if (strncmp(text, "redis://", 8) != 0)
        return -1;
    CURLU *url = curl_url();
    char *host = NULL, *port = NULL, *path = NULL, *user = NULL, *password = NULL, *query = NULL;
    int result = -1;
    if (!url || curl_url_set(url, CURLUPART_URL, text, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
        curl_url_get(url, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host[0])
        goto done;
    if (curl_url_get(url, CURLUPART_USER, &user, 0) == CURLUE_OK ||
        curl_url_get(url, CURLUPART_PASSWORD, &password, 0) == CURLUE_OK ||
        curl_url_get(url, CURLUPART_QUERY, &query, 0) == CURLUE_OK) {
        *why = "a user, password or query in the Redis URL is not supported";
        goto done;
    }
    address->port = 6379;
    if (curl_url_get(url, CURLUPART_PORT, &port, 0) == CURLUE_OK)
        address->port = atoi(port);
    curl_url_get(url, CURLUPART_PATH, &path, 0);
    if (path && strcmp(path, "/") != 0 && path[0]) {
        char *end;
        errno = 0;
        long database = strtol(path + 1, &end, 10);
        if (path[1] < '0' || path[1] > '9' || *end || errno || database > 1000) {
            *why = "the path of a Redis URL is a database number";
            goto done;
        }
        address->database = (int)database;
    }
    if (strlen(host) >= sizeof address->host || address->port <= 0 || address->port > 65535) {
        *why = "a Redis URL's host or port is out of range";
        goto done;
    }
    /* hiredis takes an IPv6 address without its brackets. */
    if (host[0] == '[') {
        size_t len = strlen(host);
        memcpy(address->host, host + 1, len - 2);
        address->host[len - 2] = '\0';
    } else {
        strcpy(address->host, host);
    }
    result = 0;
done:
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(user);
    curl_free(password);
    curl_free(query);
    curl_url_cleanup(url);
    return result;
}

static struct timeval milliseconds(long ms)
{
    return (struct timeval){.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
}

/* A connection whose connect and every command are bounded by MS. NULL
 * with ERROR. */
static redisContext *redis_open(const struct tg_redis_address *address, long ms,
                                struct tg_error *error)
{
    redisContext *context = address->path[0]
                                ? redisConnectUnixWithTimeout(address->path, milliseconds(ms))
                                : redisConnectWithTimeout(address->host, address->port,
                                                          milliseconds(ms));
    if (!context || context->err) {
        tg_error_set(error, "%s", context ? context->errstr : "out of memory");
        redisFree(context);
        return NULL;
    }
    redisSetTimeout(context, milliseconds(ms));
    if (address->database) {
        redisReply *reply = redisCommand(context, "SELECT %d", address->database);
        bool ok = reply && reply->type == REDIS_REPLY_STATUS;
        if (!ok)
            tg_error_set(error, "SELECT %d: %s", address->database,
                         reply && reply->type == REDIS_REPLY_ERROR ? reply->str
                                                                   : context->errstr);
        freeReplyObject(reply);
        if (!ok) {
            redisFree(context);
            return NULL;
        }
    }
    return context;
}

/* ---- the fleet ----------------------------------------------------------- */

struct tg_fleet {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool configured;
    struct tg_redis_address address;
    char description[300];          /* the address as configured, for the log */
    char prefix[PREFIX_MAX];
    unsigned long generation;       /* configurations adopted */

    pthread_t thread;
    bool thread_running;
    atomic_bool stopping;
    atomic_bool up;
    bool ever_reported;
    bool first_attempt_done;        /* under lock: the start waits for it */

    tg_revocations_publish_fn publish;
    void *context;
    /* The set last published: the next one is built on it. The receiver
     * frees a set only when the next one replaces it. */
    const struct tg_revocations *basis;
};

struct tg_fleet *tg_fleet_new(tg_revocations_publish_fn publish, void *context)
{
    struct tg_fleet *fleet = calloc(1, sizeof *fleet);
    if (!fleet)
        return NULL;
    pthread_mutex_init(&fleet->lock, NULL);
    pthread_cond_init(&fleet->wake, NULL);
    atomic_init(&fleet->stopping, false);
    atomic_init(&fleet->up, false);
    fleet->publish = publish;
    fleet->context = context;
    return fleet;
}

int tg_fleet_configure(struct tg_fleet *fleet, const struct tg_config *config,
                       struct tg_problems *problems)
{
    struct tg_redis_address address;
    const char *why;
    if (config->fleet_redis &&
        tg_redis_address_parse(config->fleet_redis, &address, &why) != 0) {
        tg_problems_add(problems, config->file, config->fleet_redis_line, "redis: %s, got '%s'",
                        why, config->fleet_redis);
        return -1;
    }
    pthread_mutex_lock(&fleet->lock);
    bool changed = fleet->configured != (config->fleet_redis != NULL) ||
                   (config->fleet_redis && (strcmp(fleet->description, config->fleet_redis) != 0 ||
                                            strcmp(fleet->prefix, config->fleet_redis_prefix) != 0));
    fleet->configured = config->fleet_redis != NULL;
    if (fleet->configured) {
        fleet->address = address;
        snprintf(fleet->description, sizeof fleet->description, "%s", config->fleet_redis);
        snprintf(fleet->prefix, sizeof fleet->prefix, "%s", config->fleet_redis_prefix);
    }
    if (changed) {
        fleet->generation++;
        pthread_cond_broadcast(&fleet->wake);
    }
    pthread_mutex_unlock(&fleet->lock);
    return 0;
}

bool tg_fleet_enabled(struct tg_fleet *fleet)
{
    pthread_mutex_lock(&fleet->lock);
    bool configured = fleet->configured;
    pthread_mutex_unlock(&fleet->lock);
    return configured;
}

bool tg_fleet_up(struct tg_fleet *fleet)
{
    return atomic_load(&fleet->up);
}

/* Says once per change whether Redis can be reached. */
static void state_report(struct tg_fleet *fleet, bool up, const char *where, const char *why)
{
    bool was = atomic_exchange(&fleet->up, up);
    if (was == up && fleet->ever_reported)
        return;
    fleet->ever_reported = true;
    if (up)
        tg_log(TG_LOG_INFO, "fleet: connected to Redis at %s", where);
    else
        tg_log(TG_LOG_ERROR, "fleet: Redis at %s is unreachable (%s): deciding with the "
                             "revocations and API-key results held here; retrying",
               where, why);
}

/* Publishes SET (taking it) as the node's revocations. */
static void revocations_publish(struct tg_fleet *fleet, struct tg_revocations *set)
{
    fleet->basis = set;
    fleet->publish(fleet->context, set);
}

/* Adds the revocation line TEXT to the set held, or ignores it (with a
 * warning) when it cannot be read. */
static void revocation_receive(struct tg_fleet *fleet, const char *text, size_t len)
{
    struct tg_revocation revocation;
    if (tg_revocation_parse(text, len, &revocation) != 0) {
        tg_log(TG_LOG_WARN, "fleet: ignoring a revocation that cannot be read");
        return;
    }
    struct tg_revocations *set = tg_revocations_with(fleet->basis, &revocation, time(NULL));
    if (!set) {
        tg_log(TG_LOG_ERROR, "fleet: no memory for a revocation");
        return;
    }
    tg_log(TG_LOG_INFO, "fleet: %s %s revoked until %" PRIdMAX,
           tg_revocation_kind_name(revocation.kind),
           revocation.kind == TG_REVOKE_API_KEY ? "(an API key)" : revocation.id,
           (intmax_t)revocation.until);
    revocations_publish(fleet, set);
}

/* Reads every revocation Redis holds into a new set, published whole:
 * what expired or was removed meanwhile is gone. The values of each SCAN
 * batch are asked for in one pipeline, and the set is built in one pass,
 * so that ten thousand revocations load in a moment. 0, or -1 with ERROR. */
static int revocations_load(struct tg_fleet *fleet, redisContext *redis, const char *prefix,
                            struct tg_error *error)
{
    struct tg_revocation *items = NULL;
    size_t count = 0, capacity = 0;
    char pattern[NAME_MAX_BYTES];
    snprintf(pattern, sizeof pattern, "%srevoked:*", prefix);
    char cursor[32] = "0";
    int result = 0;
    do {
        redisReply *reply = redisCommand(redis, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
        if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
            reply->element[0]->type != REDIS_REPLY_STRING ||
            reply->element[1]->type != REDIS_REPLY_ARRAY) {
            tg_error_set(error, "SCAN: %s", reply && reply->type == REDIS_REPLY_ERROR
                                                ? reply->str : redis->errstr);
            freeReplyObject(reply);
            result = -1;
            break;
        }
        snprintf(cursor, sizeof cursor, "%s", reply->element[0]->str);
        redisReply *names = reply->element[1];
        size_t asked = 0;
        for (size_t i = 0; i < names->elements; i++)
            if (names->element[i]->type == REDIS_REPLY_STRING &&
                redisAppendCommand(redis, "GET %b", names->element[i]->str,
                                   names->element[i]->len) == REDIS_OK)
                asked++;
        for (size_t i = 0; i < asked; i++) {
            void *value_object = NULL;
            if (redisGetReply(redis, &value_object) != REDIS_OK) {
                tg_error_set(error, "GET: %s", redis->errstr);
                result = -1;
                break;
            }
            redisReply *value = value_object;
            if (count == capacity && count < TG_REVOCATIONS_MAX * 4) {
                size_t grown = capacity ? capacity * 2 : 64;
                struct tg_revocation *more = realloc(items, grown * sizeof *items);
                if (more) {
                    items = more;
                    capacity = grown;
                }
            }
            if (count < capacity && value->type == REDIS_REPLY_STRING &&
                tg_revocation_parse(value->str, value->len, &items[count]) == 0)
                count++;
            freeReplyObject(value);
        }
        freeReplyObject(reply);
    } while (result == 0 && strcmp(cursor, "0") != 0);
    struct tg_revocations *set =
        result == 0 ? tg_revocations_from(items, count, time(NULL)) : NULL;
    free(items);
    if (result == 0 && !set) {
        tg_error_set(error, "no memory for %zu revocations", count);
        result = -1;
    }
    if (result != 0)
        return -1;
    revocations_publish(fleet, set);
    return 0;
}

/* Waits up to SECONDS or until stopped or reconfigured. */
static void fleet_sleep(struct tg_fleet *fleet, double seconds, unsigned long generation)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    long nanoseconds = (long)((seconds - (long)seconds) * 1e9) + deadline.tv_nsec;
    deadline.tv_sec += (time_t)seconds + nanoseconds / 1000000000L;
    deadline.tv_nsec = nanoseconds % 1000000000L;
    pthread_mutex_lock(&fleet->lock);
    while (!atomic_load(&fleet->stopping) && fleet->generation == generation &&
           pthread_cond_timedwait(&fleet->wake, &fleet->lock, &deadline) == 0) {
    }
    pthread_mutex_unlock(&fleet->lock);
}

/* Follows the channel on SUBSCRIBER until the connection fails, the fleet
 * stops or is reconfigured. Returns why it ended (for the log). */
static const char *subscription_follow(struct tg_fleet *fleet, redisContext *subscriber,
                                       unsigned long generation)
{
    time_t last_heard = time(NULL), last_ping = last_heard;
    for (;;) {
        pthread_mutex_lock(&fleet->lock);
        bool current = fleet->generation == generation;
        pthread_mutex_unlock(&fleet->lock);
        if (atomic_load(&fleet->stopping) || !current)
            return NULL;
        time_t now = time(NULL);
        if (now - last_heard >= SILENCE_SECONDS)
            return "no answer to PING";
        if (now - last_ping >= PING_SECONDS) {
            int done = 0;
            if (redisAppendCommand(subscriber, "PING") != REDIS_OK)
                return subscriber->errstr;
            while (!done)
                if (redisBufferWrite(subscriber, &done) != REDIS_OK)
                    return subscriber->errstr;
            last_ping = now;
        }
        struct pollfd readable = {.fd = subscriber->fd, .events = POLLIN};
        int ready = poll(&readable, 1, 500);
        if (ready < 0 && errno != EINTR)
            return strerror(errno);
        if (ready <= 0)
            continue;
        if (redisBufferRead(subscriber) != REDIS_OK)
            return subscriber->errstr[0] ? subscriber->errstr : "connection closed";
        void *reply_object;
        while (redisGetReplyFromReader(subscriber, &reply_object) == REDIS_OK && reply_object) {
            redisReply *reply = reply_object;
            last_heard = time(NULL);
            if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 3 &&
                reply->element[0]->type == REDIS_REPLY_STRING &&
                strcmp(reply->element[0]->str, "message") == 0 &&
                reply->element[2]->type == REDIS_REPLY_STRING)
                revocation_receive(fleet, reply->element[2]->str, reply->element[2]->len);
            freeReplyObject(reply);
        }
        if (subscriber->err)
            return subscriber->errstr;
    }
}

/* Lets tg_fleet_start() return: the revocations Redis holds are loaded, or
 * Redis could not be reached. */
static void first_attempt_end(struct tg_fleet *fleet)
{
    pthread_mutex_lock(&fleet->lock);
    fleet->first_attempt_done = true;
    pthread_cond_broadcast(&fleet->wake);
    pthread_mutex_unlock(&fleet->lock);
}

static void *fleet_run(void *argument)
{
    struct tg_fleet *fleet = argument;
    double backoff = 0.25;
    while (!atomic_load(&fleet->stopping)) {
        pthread_mutex_lock(&fleet->lock);
        bool configured = fleet->configured;
        struct tg_redis_address address = fleet->address;
        char where[sizeof fleet->description], prefix[PREFIX_MAX];
        snprintf(where, sizeof where, "%s", fleet->description);
        snprintf(prefix, sizeof prefix, "%s", fleet->prefix);
        unsigned long generation = fleet->generation;
        if (!configured) {
            atomic_store(&fleet->up, false);
            fleet->first_attempt_done = true;
            pthread_cond_broadcast(&fleet->wake);
            while (!atomic_load(&fleet->stopping) && fleet->generation == generation)
                pthread_cond_wait(&fleet->wake, &fleet->lock);
            pthread_mutex_unlock(&fleet->lock);
            continue;
        }
        pthread_mutex_unlock(&fleet->lock);

        /* Subscribe first, then load: a revocation published between the
         * two is then in both, never in neither. */
        struct tg_error error = {0};
        const char *why = NULL;
        redisContext *subscriber = redis_open(&address, CONNECT_MILLISECONDS, &error);
        redisContext *loader = NULL;
        if (subscriber) {
            redisReply *reply = redisCommand(subscriber, "SUBSCRIBE %srevocations", prefix);
            if (!reply || reply->type != REDIS_REPLY_ARRAY)
                tg_error_set(&error, "SUBSCRIBE: %s", reply && reply->type == REDIS_REPLY_ERROR
                                                          ? reply->str : subscriber->errstr);
            else
                loader = redis_open(&address, CONNECT_MILLISECONDS, &error);
            freeReplyObject(reply);
        }
        bool loaded = loader && revocations_load(fleet, loader, prefix, &error) == 0;
        if (loaded)
            state_report(fleet, true, where, NULL);
        else
            state_report(fleet, false, where, error.text[0] ? error.text : "cannot connect");
        first_attempt_end(fleet);
        if (loaded) {
            redisFree(loader);
            loader = NULL;
            backoff = 0.25;
            why = subscription_follow(fleet, subscriber, generation);
            if (why) {
                tg_error_set(&error, "%s", why);
                state_report(fleet, false, where, error.text);
            }
        }
        redisFree(loader);
        redisFree(subscriber);
        if (atomic_load(&fleet->stopping))
            break;
        if (why || !tg_fleet_up(fleet)) {
            fleet_sleep(fleet, backoff, generation);
            backoff = backoff * 2 > TG_FLEET_BACKOFF_MAX_SECONDS ? TG_FLEET_BACKOFF_MAX_SECONDS
                                                                 : backoff * 2;
        }
    }
    return NULL;
}

int tg_fleet_start(struct tg_fleet *fleet)
{
    if (pthread_create(&fleet->thread, NULL, fleet_run, fleet) != 0)
        return -1;
    fleet->thread_running = true;
    /* No request is decided before the revocations are known, unless
     * Redis cannot tell them (then as when it goes away later). */
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += TG_FLEET_START_WAIT_SECONDS;
    pthread_mutex_lock(&fleet->lock);
    while (!fleet->first_attempt_done &&
           pthread_cond_timedwait(&fleet->wake, &fleet->lock, &deadline) == 0) {
    }
    pthread_mutex_unlock(&fleet->lock);
    return 0;
}

void tg_fleet_stop(struct tg_fleet *fleet)
{
    if (!fleet)
        return;
    pthread_mutex_lock(&fleet->lock);
    atomic_store(&fleet->stopping, true);
    pthread_cond_broadcast(&fleet->wake);
    pthread_mutex_unlock(&fleet->lock);
    if (fleet->thread_running)
        pthread_join(fleet->thread, NULL);
    fleet->thread_running = false;
}

void tg_fleet_free(struct tg_fleet *fleet)
{
    if (!fleet)
        return;
    tg_fleet_stop(fleet);
    pthread_mutex_destroy(&fleet->lock);
    pthread_cond_destroy(&fleet->wake);
    free(fleet);
}

/* ---- shared API-key results ---------------------------------------------- */

/* The address and prefix to use now, or false when Redis is not to be
 * asked (none configured, or known to be down). */
static bool fleet_target(struct tg_fleet *fleet, struct tg_redis_address *address, char *prefix)
{
    if (!fleet || !atomic_load(&fleet->up))
        return false;
    pthread_mutex_lock(&fleet->lock);
    bool configured = fleet->configured;
    *address = fleet->address;
    snprintf(prefix, PREFIX_MAX, "%s", fleet->prefix);
    pthread_mutex_unlock(&fleet->lock);
    return configured;
}

/* A shared validation: "VERDICT RETRY_AFTER EXPIRES" and, for a valid key,
 * a newline and PropelAuth's answer. NULL when it cannot be read. */
static struct tg_key_validation *shared_read(const redisReply *reply, time_t *expires)
{
    if (!reply || reply->type != REDIS_REPLY_STRING)
        return NULL;
    const char *newline = memchr(reply->str, '\n', reply->len);
    size_t head_len = newline ? (size_t)(newline - reply->str) : reply->len;
    char head[64];
    if (head_len >= sizeof head)
        return NULL;
    memcpy(head, reply->str, head_len);
    head[head_len] = '\0';
    char verdict[16];
    long long until;
    /* The retry-after field is kept in the format: valid and invalid
     * results wait for nothing. */
    if (sscanf(head, "%15s %*s %lld", verdict, &until) != 2)
        return NULL;
    /* Only what may be kept is shared, and it is read as PropelAuth's own
     * answer would be: a "valid" whose answer the decision could not read
     * is no result. */
    bool valid = strcmp(verdict, tg_key_verdict_name(TG_KEY_VALID)) == 0;
    if (!valid && strcmp(verdict, tg_key_verdict_name(TG_KEY_INVALID)) != 0)
        return NULL;
    const char *answer = newline ? newline + 1 : "";
    size_t answer_len = newline ? reply->len - head_len - 1 : 0;
    struct tg_error error;
    struct tg_key_validation *validation =
        tg_key_validation_read(valid ? 200 : 404, answer, answer_len, -1, 1, &error);
    if (validation && validation->verdict != (valid ? TG_KEY_VALID : TG_KEY_INVALID)) {
        tg_key_validation_release(validation);
        return NULL;
    }
    *expires = (time_t)until;
    return validation;
}

static struct tg_key_validation *shared_get(redisContext *redis, const char *prefix,
                                            const char *hex, time_t *expires)
{
    redisReply *reply = redisCommand(redis, "GET %sapikey:%s", prefix, hex);
    struct tg_key_validation *validation = shared_read(reply, expires);
    freeReplyObject(reply);
    if (validation && *expires <= time(NULL)) {
        tg_key_validation_release(validation);
        return NULL;
    }
    return validation;
}

enum tg_fleet_claim tg_fleet_key_claim(struct tg_fleet *fleet, const char *hex,
                                       struct tg_key_validation **validation, time_t *expires,
                                       const atomic_bool *cancel)
{
    struct tg_redis_address address;
    char prefix[PREFIX_MAX];
    *validation = NULL;
    if (!fleet_target(fleet, &address, prefix))
        return TG_FLEET_UNSHARED;
    struct tg_error error;
    redisContext *redis = redis_open(&address, TG_FLEET_READ_MILLISECONDS, &error);
    if (!redis)
        return TG_FLEET_UNSHARED;
    enum tg_fleet_claim claim = TG_FLEET_UNSHARED;
    if ((*validation = shared_get(redis, prefix, hex, expires))) {
        claim = TG_FLEET_FOUND;
        goto done;
    }
    /* One node asks; the lock lives a few seconds, so a node that dies
     * holding it delays the others by that much at most. */
    redisSetTimeout(redis, milliseconds(WRITE_MILLISECONDS));
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        redisReply *reply = redisCommand(redis, "SET %sapikey-lock:%s 1 NX EX %d", prefix, hex,
                                         TG_FLEET_LOCK_SECONDS);
        bool mine = reply && reply->type == REDIS_REPLY_STATUS;
        bool failed = !reply || reply->type == REDIS_REPLY_ERROR;
        freeReplyObject(reply);
        if (failed)
            break;
        /* Whoever held the lock may have stored a result just before
         * letting it go: read again before asking, or wait and read. */
        if ((*validation = shared_get(redis, prefix, hex, expires))) {
            claim = TG_FLEET_FOUND;
            if (mine)
                freeReplyObject(redisCommand(redis, "DEL %sapikey-lock:%s", prefix, hex));
            break;
        }
        if (mine) {
            claim = TG_FLEET_MINE;
            break;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((cancel && atomic_load(cancel)) || now.tv_sec - start.tv_sec > TG_FLEET_LOCK_SECONDS)
            break;
        usleep(POLL_MILLISECONDS * 1000);
    }
done:
    redisFree(redis);
    return claim;
}

void tg_fleet_key_put(struct tg_fleet *fleet, const char *hex,
                      const struct tg_key_validation *validation, long ttl)
{
    struct tg_redis_address address;
    char prefix[PREFIX_MAX];
    if (!fleet_target(fleet, &address, prefix))
        return;
    struct tg_error error;
    redisContext *redis = redis_open(&address, WRITE_MILLISECONDS, &error);
    if (!redis)
        return;
    if (ttl > 0) {
        char head[64];
        int head_len = snprintf(head, sizeof head, "%s %ld %" PRIdMAX "\n",
                                tg_key_verdict_name(validation->verdict), validation->retry_after,
                                (intmax_t)(time(NULL) + ttl));
        freeReplyObject(redisCommand(redis, "SET %sapikey:%s %b%b EX %ld", prefix, hex, head,
                                     (size_t)head_len, validation->answer,
                                     validation->answer_len, ttl));
    }
    freeReplyObject(redisCommand(redis, "DEL %sapikey-lock:%s", prefix, hex));
    redisFree(redis);
}

/* ---- revoke ---------------------------------------------------------------- */

int tg_fleet_revoke(const struct tg_config *config, const struct tg_revocation *revocation,
                    struct tg_error *error)
{
    struct tg_redis_address address;
    const char *why;
    if (!config->fleet_redis) {
        tg_error_set(error, "revocations need [fleet] redis in %s: without Redis there is "
                            "nothing to share them through", config->file);
        return -1;
    }
    if (tg_redis_address_parse(config->fleet_redis, &address, &why) != 0) {
        tg_error_set(error, "%s:%d: redis: %s", config->file, config->fleet_redis_line, why);
        return -1;
    }
    char line[TG_REVOCATION_LINE_MAX];
    struct tg_buffer text;
    tg_buffer_init(&text, line, sizeof line);
    if (!tg_revocation_format(revocation, &text) || text.overflow) {
        tg_error_set(error, "the revocation is too long");
        return -1;
    }
    redisContext *redis = redis_open(&address, CONNECT_MILLISECONDS * 2, error);
    if (!redis) {
        tg_error_prefix(error, "Redis at %s", config->fleet_redis);
        return -1;
    }
    const char *prefix = config->fleet_redis_prefix;
    long seconds = (long)(revocation->until - revocation->at);
    redisReply *stored = redisCommand(redis, "SET %srevoked:%s:%s %b EX %ld", prefix,
                                      tg_revocation_kind_name(revocation->kind), revocation->id,
                                      line, text.used, seconds > 0 ? seconds : 1);
    redisReply *published = stored && stored->type == REDIS_REPLY_STATUS
                                ? redisCommand(redis, "PUBLISH %srevocations %b", prefix, line,
                                               text.used)
                                : NULL;
    int result = published && published->type == REDIS_REPLY_INTEGER ? 0 : -1;
    if (result != 0) {
        const redisReply *failed = published ? published : stored;
        tg_error_set(error, "Redis at %s: %s", config->fleet_redis,
                     failed && failed->type == REDIS_REPLY_ERROR ? failed->str : redis->errstr);
    }
    freeReplyObject(stored);
    freeReplyObject(published);
    redisFree(redis);
    return result;
}
