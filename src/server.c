/* SPDX-License-Identifier: Apache-2.0 */
/* server.c - the FastCGI server: front, workers, keys, signals, reload.
 *
 * The main thread owns the signals: SIGTERM, SIGINT and SIGHUP are blocked
 * in every thread and taken with sigwait(). SIGHUP builds a whole new
 * configuration beside the old one and swaps it in under the state lock, so
 * a request never sees half of a reload, and a broken new configuration
 * leaves the old one serving. Keys are swapped the same way whenever the
 * refresher publishes a new set.
 *
 * A worker takes a checked request from the front and hands its bytes to
 * libfcgi through a memory file: libfcgi parses the parameters and writes
 * the response records there, and the worker sends them to the web server
 * without blocking. So libfcgi never reads from a client (no client can
 * make it wait, and a kept-alive connection goes back to the front at a
 * record boundary), and a worker never waits for a client either.
 */
#include "tokengate/server.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <fastcgi.h>
#include <fcgiapp.h>

#include "tokengate/decision.h"
#include "tokengate/fleet.h"
#include "tokengate/listen.h"
#include "tokengate/loader.h"
#include "tokengate/log.h"
#include "tokengate/metrics.h"
#include "tokengate/request.h"
#include "tokengate/response.h"

/* libfcgi frames the response in records of at most 8 KiB, each with an
 * 8-byte header and up to 7 bytes of padding, then the end records. */
#define WIRE_MAX (TG_RESPONSE_MAX + (TG_RESPONSE_MAX / 8192 + 1) * 16 + 64)

/* The status worker's answer: the exposition and its headers, framed. */
#define STATUS_WIRE_MAX (TG_METRICS_TEXT_MAX + (TG_METRICS_TEXT_MAX / 8192 + 1) * 16 + 1024)
/* How long the status worker waits for a slow reader of a large answer. */
#define STATUS_SEND_MILLISECONDS 5000

struct tg_worker {
    pthread_t thread;
    bool started;
    struct tg_server *server;
    struct tg_front *front;     /* where its connections come from */
    bool status;                /* answers status requests, never decisions */
    int memory_fd;              /* what libfcgi reads and writes */
    FCGX_Request fcgi;
    struct tg_request request;
    struct tg_key_validation *validation; /* brought by a parked request */
    struct tg_decision decision;
    struct tg_decision_log log;
    char response[TG_RESPONSE_MAX];
    uint8_t *wire;              /* the framed answer: WIRE_MAX or STATUS_WIRE_MAX */
    size_t wire_size;
    char *status_text;          /* the status worker's exposition */
};

/* Loads the configuration and the keys in files; logs every problem. */
static struct tg_config *config_load(const char *path, struct tg_keyset **static_keys)
{
    struct tg_problems problems = {0};
    *static_keys = calloc(1, sizeof **static_keys);
    struct tg_config *config = *static_keys ? tg_loader_load(path, *static_keys, &problems) : NULL;
    for (size_t i = 0; i < problems.count; i++)
        tg_log(TG_LOG_ERROR, "%s", problems.lines[i]);
    bool ok = config && *static_keys && problems.count == 0 && problems.dropped == 0;
    tg_problems_clear(&problems);
    /* Counting slots are looked up now, never while deciding. */
    for (size_t i = 0; ok && i < config->rule_count; i++)
        config->rules[i].metrics_slot = tg_metrics_rule_slot(config->rules[i].name);
    if (!ok) {
        tg_config_free(config);
        tg_keyset_free(*static_keys);
        *static_keys = NULL;
        return NULL;
    }
    return config;
}

/* Keeps the counts of a cache about to go, for the metrics' totals;
 * state_lock is held for writing. */
static void cache_retire(struct tg_server *server, struct tg_cache *cache)
{
    struct tg_cache_stats stats;
    tg_cache_stats(cache, &stats);
    server->cache_hits_retired += stats.hits;
    server->cache_misses_retired += stats.misses;
}

/* The refresher's publications (with the refresher's lock held). A cache
 * stays only while every key it was filled under is still there: a token
 * verified with a rotated-out key must be verified again, and fail. A new
 * cache is built outside the write lock, so that requests do not wait for
 * its allocation; if a reload slipped in meanwhile, it is built again. */
static void keys_receive(void *context, struct tg_keyset *keys)
{
    struct tg_server *server = context;
    struct tg_cache *fresh = NULL;
    for (;;) {
        pthread_rwlock_rdlock(&server->state_lock);
        unsigned long seen = server->generation;
        bool keep = server->cache && server->keys && tg_keyset_contains_all(keys, server->keys);
        size_t entries = (size_t)server->config->cache_size;
        size_t bytes = (size_t)server->config->cache_memory * 1024 * 1024;
        pthread_rwlock_unlock(&server->state_lock);
        fresh = keep ? NULL : tg_cache_new(entries, bytes);
        if (!keep && entries > 0 && !fresh)
            tg_log(TG_LOG_WARN, "no memory for the token cache: every signature is checked");

        pthread_rwlock_wrlock(&server->state_lock);
        if (server->generation != seen) {
            pthread_rwlock_unlock(&server->state_lock);
            tg_cache_free(fresh);
            continue;
        }
        struct tg_keyset *old_keys = server->keys;
        struct tg_cache *old_cache = keep ? NULL : server->cache;
        if (!keep) {
            cache_retire(server, old_cache);
            server->cache = fresh;
        }
        server->keys = keys;
        server->generation++;
        pthread_rwlock_unlock(&server->state_lock);
        tg_cache_free(old_cache);
        tg_keyset_free(old_keys);
        return;
    }
}

/* The fleet's publications: a whole new set of revocations. The old set
 * is freed only once no request can be reading it. */
static void revocations_receive(void *context, struct tg_revocations *set)
{
    struct tg_server *server = context;
    pthread_rwlock_wrlock(&server->state_lock);
    struct tg_revocations *old = server->revocations;
    server->revocations = set;
    pthread_rwlock_unlock(&server->state_lock);
    tg_revocations_free(old);
}

/* Hands CONFIG's API-key and fleet settings to the validator and the
 * fleet. False with the problems logged. */
static bool sharing_configure(struct tg_server *server, const struct tg_config *config)
{
    struct tg_problems problems = {0};
    bool ok = tg_fleet_configure(server->fleet, config, &problems) == 0 &&
              tg_validator_configure(server->validator, config, &problems) == 0;
    for (size_t i = 0; i < problems.count; i++)
        tg_log(TG_LOG_ERROR, "%s", problems.lines[i]);
    tg_problems_clear(&problems);
    return ok;
}

/* Hands the refresher CONFIG's sources and STATIC_KEYS (consumed); it
 * publishes the resulting keys before returning. */
static bool keys_configure(struct tg_server *server, const struct tg_config *config,
                           struct tg_keyset *static_keys)
{
    struct tg_problems problems = {0};
    int rc = tg_refresher_configure(server->refresher, config, static_keys, &problems);
    for (size_t i = 0; i < problems.count; i++)
        tg_log(TG_LOG_ERROR, "%s", problems.lines[i]);
    tg_problems_clear(&problems);
    tg_keyset_free(static_keys);
    return rc == 0;
}

/* Decides WORKER's request with the current state; state_lock is held. */
static void decide_current(struct tg_worker *worker)
{
    struct tg_server *server = worker->server;
    int role = worker->fcgi.role;
    worker->request.revocations = server->revocations;
    worker->request.key_validation = worker->validation;
    if (role == FCGI_AUTHORIZER || role == FCGI_RESPONDER)
        tg_decide_cached(server->config, server->keys, server->cache, &worker->request,
                         &worker->decision);
    else
        tg_decision_refuse_request(&worker->decision, "unsupported FastCGI role");
}

static long microseconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - start->tv_sec) * 1000000L + (now.tv_nsec - start->tv_nsec) / 1000;
}

/* A validation for a parked request (validator.h): the connection goes
 * back to the workers' queue with it. */
static void validation_release(void *validation)
{
    tg_key_validation_release(validation);
}

static void validation_done(void *context, void *waiter, struct tg_key_validation *validation)
{
    struct tg_server *server = context;
    tg_front_requeue(server->front, waiter, validation, validation_release);
}

/* The request needs its API key validated, and none is cached: the
 * connection is parked with the validator (true), and this worker goes on
 * with other requests. */
static bool validation_start(struct tg_worker *worker, struct tg_connection *connection)
{
    struct tg_server *server = worker->server;
    const struct tg_request *request = &worker->request;
    if (tg_validator_submit(server->validator, request->credential_text,
                            request->credential_len, connection) == 0)
        return true;
    /* max_pending validations run: the decision's 503 stands. */
    worker->decision.reason = "too many API key validations in flight";
    return false;
}

/* Decides the request libfcgi parsed and writes the response through it;
 * false when the request was parked instead (validation_start). */
static bool request_handle(struct tg_worker *worker, struct tg_connection *connection)
{
    struct tg_server *server = worker->server;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    struct tg_decision *decision = &worker->decision;

    /* The request's stdin is never read: Apache and mod_fcgid send none,
     * and the front drops whatever body comes. */
    tg_request_init(&worker->request, (const char *const *)worker->fcgi.envp, time(NULL));
    unsigned long publications = tg_refresher_publications(server->refresher);
    pthread_rwlock_rdlock(&server->state_lock);
    /* A key PropelAuth validated lately is decided at once, in one pass. */
    if (!worker->validation && worker->request.credential == TG_CREDENTIAL_API_KEY &&
        server->config->api_keys_propelauth)
        worker->validation = tg_validator_cached(server->validator, worker->request.key_hash);
    decide_current(worker);
    if (decision->key_unknown) {
        /* Fresh keys might change the answer. The fetch publishes under the
         * write lock: wait outside it, and only while few enough workers
         * wait, so that requests whose key is known are never held up. The
         * decision stands unless keys or configuration changed meanwhile
         * (it points into the configuration, which a reload frees). */
        unsigned long seen = server->generation;
        pthread_rwlock_unlock(&server->state_lock);
        bool wait = atomic_fetch_add(&server->key_waiters, 1) < server->key_waiters_max;
        tg_refresher_demand_unknown_key(server->refresher, wait, publications);
        atomic_fetch_sub(&server->key_waiters, 1);
        pthread_rwlock_rdlock(&server->state_lock);
        if (server->generation != seen)
            decide_current(worker);
    }
    if (decision->validation_needed && validation_start(worker, connection)) {
        pthread_rwlock_unlock(&server->state_lock);
        return false;
    }
    size_t len = tg_response_format(decision, server->config->realm, worker->response,
                                    sizeof worker->response);
    long microseconds = microseconds_since(&start);
    /* Counted under the governing rule; "-" for a request refused before
     * any rule could be looked up. */
    int slot = decision->matched_rule ? decision->matched_rule->metrics_slot
               : decision->rule       ? server->default_slot
                                      : server->unread_slot;
    tg_metrics_decision_count(slot, decision->status, decision->refusal, microseconds);
    /* The log line names the rule, which lives in the configuration: it is
     * queued before the lock is released, as a reload may free it (queuing
     * never waits for stderr). */
    if (tg_log_enabled(TG_LOG_INFO)) {
        tg_decision_log_fill(decision, &worker->request, microseconds,
                             tg_log_enabled(TG_LOG_DEBUG), &worker->log);
        tg_log_fields(TG_LOG_INFO, worker->log.fields, worker->log.count);
    }
    pthread_rwlock_unlock(&server->state_lock);

    if (len == 0) {
        /* Cannot happen with TG_RESPONSE_MAX; fail closed all the same. */
        tg_decision_refuse_request(decision, "response too large");
        len = tg_response_format(decision, "tokengate", worker->response,
                                 sizeof worker->response);
    }
    FCGX_PutStr(worker->response, (int)len, worker->fcgi.out);
    return true;
}

/* Answers a request on the status socket (contract section 8): /health,
 * or the metrics. Never a decision, whatever the request carries. */
static void status_handle(struct tg_worker *worker)
{
    struct tg_server *server = worker->server;
    tg_request_init(&worker->request, (const char *const *)worker->fcgi.envp, time(NULL));
    const char *path = worker->request.path;
    size_t path_len = strlen(path);
    bool health = path_len >= 7 && strcmp(path + path_len - 7, "/health") == 0;
    pthread_rwlock_rdlock(&server->state_lock);
    size_t keys_loaded = server->keys ? server->keys->count : 0;
    struct tg_cache_stats cache;
    tg_cache_stats(server->cache, &cache);
    unsigned long hits = server->cache_hits_retired + cache.hits;
    unsigned long misses = server->cache_misses_retired + cache.misses;
    pthread_rwlock_unlock(&server->state_lock);
    const char *text;
    if (health) {
        text = keys_loaded ? "Status: 200\nContent-Type: text/plain\n\nok\n"
                           : "Status: 503\nContent-Type: text/plain\n\n"
                             "no verification key is loaded\n";
        FCGX_PutS(text, worker->fcgi.out);
        return;
    }
    struct tg_refresher_report sources[TG_REFRESHER_SOURCES_MAX];
    size_t source_count = tg_refresher_report(server->refresher, sources,
                                              TG_REFRESHER_SOURCES_MAX);
    struct tg_metrics_source metric_sources[TG_REFRESHER_SOURCES_MAX];
    for (size_t i = 0; i < source_count; i++)
        metric_sources[i] = (struct tg_metrics_source){sources[i].url, sources[i].successes,
                                                       sources[i].failures,
                                                       sources[i].last_success};
    struct tg_metrics_gauges gauges = {
        .keys_loaded = keys_loaded,
        .cache_hits = hits,
        .cache_misses = misses,
        .cache_entries = cache.entries,
        .connections_open = tg_front_open(server->front),
        .closed_timeout = tg_front_closed(server->front, TG_CLOSED_TIMEOUT),
        .closed_malformed = tg_front_closed(server->front, TG_CLOSED_MALFORMED),
        .closed_too_large = tg_front_closed(server->front, TG_CLOSED_TOO_LARGE),
        .closed_limit = tg_front_closed(server->front, TG_CLOSED_LIMIT),
        .log_lines_dropped = tg_log_dropped(),
        .sources = metric_sources,
        .source_count = source_count,
        .redis_configured = tg_fleet_enabled(server->fleet),
        .redis_up = tg_fleet_up(server->fleet),
    };
    struct tg_validator_report validations;
    tg_validator_report(server->validator, &validations);
    memcpy(gauges.api_key_validations, validations.results, sizeof validations.results);
    gauges.api_key_cache_hits = validations.cache_hits;
    gauges.api_key_cache_misses = validations.cache_misses;
    gauges.api_key_fleet_hits = validations.fleet_hits;
    gauges.api_key_cache_entries = validations.cache_entries;
    gauges.api_key_validations_pending = validations.pending;
    size_t len = tg_metrics_render(&gauges, worker->status_text, TG_METRICS_TEXT_MAX);
    if (len == 0) {
        FCGX_PutS("Status: 500\nContent-Type: text/plain\n\nthe metrics do not fit\n",
                  worker->fcgi.out);
        return;
    }
    FCGX_PutS("Status: 200\nContent-Type: " TG_METRICS_CONTENT_TYPE "\n\n",
              worker->fcgi.out);
    FCGX_PutStr(worker->status_text, (int)len, worker->fcgi.out);
}

/* Sends the whole answer. A decision's goes out in one non-blocking send: a
 * web server reads its authorizer's answer at once, and one that does not
 * loses the connection rather than a worker. The status worker's may be
 * larger than a socket buffer: it waits for the reader, briefly. */
static bool answer_send(struct tg_worker *worker, int fd, size_t len)
{
    if (!worker->status)
        return send(fd, worker->wire, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    size_t sent = 0;
    while (sent < len) {
        ssize_t n = send(fd, worker->wire + sent, len - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
            continue;
        }
        long left = STATUS_SEND_MILLISECONDS - microseconds_since(&start) / 1000;
        if ((n < 0 && errno != EAGAIN && errno != EINTR) || left <= 0)
            return false;
        struct pollfd writable = {.fd = fd, .events = POLLOUT};
        poll(&writable, 1, (int)left);
    }
    return true;
}

static bool write_at(int fd, const void *data, size_t len, off_t offset)
{
    const uint8_t *bytes = data;
    while (len > 0) {
        ssize_t n = pwrite(fd, bytes, len, offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        bytes += n;
        len -= (size_t)n;
        offset += n;
    }
    return true;
}

enum answer { ANSWERED, CLOSE, PARKED };

/* Answers one checked request: libfcgi reads it from the memory file and
 * writes its response records behind it; they go to the web server in one
 * non-blocking send. CLOSE when the connection must be closed; PARKED when
 * it belongs to the validator now. */
static enum answer connection_answer(struct tg_worker *worker, struct tg_connection *connection)
{
    size_t request_len;
    const uint8_t *request = tg_connection_request(connection, &request_len);
    int fd = worker->memory_fd;
    /* libfcgi reads up to the end of the file, which ends with the request,
     * so its writes start right behind it. */
    if (!write_at(fd, request, request_len, 0) || ftruncate(fd, (off_t)request_len) != 0 ||
        lseek(fd, 0, SEEK_SET) != 0)
        return CLOSE;
    worker->fcgi.ipcFd = fd;
    /* keepConnection stops FCGX_Accept_r and FCGX_Finish_r from closing
     * the memory file, whatever the web server asked. */
    worker->fcgi.keepConnection = 1;
    if (FCGX_Accept_r(&worker->fcgi) != 0) {
        /* The checked request did not parse: libfcgi closed the file. */
        worker->memory_fd = -1;
        return CLOSE;
    }
    bool answered = true;
    if (worker->status)
        status_handle(worker);
    else
        answered = request_handle(worker, connection);
    worker->fcgi.keepConnection = 1;
    FCGX_Finish_r(&worker->fcgi);
    if (worker->fcgi.ipcFd < 0) {
        worker->memory_fd = -1;
        return answered ? CLOSE : PARKED;
    }
    /* The validator may hand the connection to another worker at any
     * moment: it is not touched again. */
    if (!answered)
        return PARKED;
    off_t end = lseek(fd, 0, SEEK_CUR);
    if (end < (off_t)request_len || end - (off_t)request_len > (off_t)worker->wire_size)
        return CLOSE;
    size_t wire_len = (size_t)(end - (off_t)request_len);
    if (pread(fd, worker->wire, wire_len, (off_t)request_len) != (ssize_t)wire_len)
        return CLOSE;
    return answer_send(worker, tg_connection_fd(connection), wire_len) ? ANSWERED : CLOSE;
}

static int memory_file_open(void) { return memfd_create("tokengate-worker", MFD_CLOEXEC); }

static void *worker_run(void *argument)
{
    struct tg_worker *worker = argument;
    /* libfcgi never accepts: its listen socket is none, so an accept it
     * might try after a protocol error fails at once. */
    FCGX_InitRequest(&worker->fcgi, -1, 0);
    struct tg_connection *connection;
    while ((connection = tg_front_take(worker->front))) {
        worker->validation = tg_connection_attachment_take(connection);
        if (worker->memory_fd < 0)
            worker->memory_fd = memory_file_open();
        enum answer answer = worker->memory_fd >= 0 ? connection_answer(worker, connection)
                                                    : CLOSE;
        tg_key_validation_release(worker->validation);
        worker->validation = NULL;
        if (answer != PARKED)
            tg_front_give_back(worker->front, connection, answer == CLOSE);
    }
    worker->fcgi.ipcFd = -1;
    FCGX_Free(&worker->fcgi, 0);
    if (worker->memory_fd >= 0)
        close(worker->memory_fd);
    return NULL;
}

static struct tg_front_limits front_limits(const struct tg_config *config)
{
    return (struct tg_front_limits){
        .request_timeout = config->request_timeout,
        .max_connections = (size_t)config->max_connections,
        .max_request_bytes = (size_t)config->max_request_bytes,
    };
}

/* Logs that KEY (at LINE) now says WANTED ("" for none) while the socket
 * opened at start is STARTED ("" for NONE): a reload cannot move it. */
static void address_change_check(const struct tg_config *config, const char *key, int line,
                                 const char *wanted, const char *started, const char *none)
{
    if (strcmp(wanted ? wanted : "", started) != 0)
        tg_log(TG_LOG_WARN, "%s:%d: %s changed to %s, but a reload cannot move its socket: it "
                            "stays %s until tokengate is restarted",
               config->file, line, key, wanted ? wanted : "(none)", started[0] ? started : none);
}

/* Says which changed settings a reload cannot apply: the sockets stay
 * open as they are and the workers as many as they were. */
static void restart_settings_check(const struct tg_server *server,
                                   const struct tg_config *config)
{
    address_change_check(config, "listen", config->listen_line, config->listen,
                         server->listen_address, "the inherited socket");
    address_change_check(config, "status_listen", config->status_listen_line,
                         config->status_listen, server->status_address, "off");
    if (config->threads != server->threads)
        tg_log(TG_LOG_WARN, "threads changed to %d: takes effect at the next restart",
               config->threads);
}

static void reload(struct tg_server *server)
{
    struct tg_keyset *static_keys;
    struct tg_config *config = config_load(server->config_path, &static_keys);
    if (!config) {
        tg_metrics_reload_count(false);
        tg_log(TG_LOG_ERROR, "reload failed: the previous configuration keeps serving");
        return;
    }
    tg_metrics_reload_count(true);
    restart_settings_check(server, config);
    struct tg_front_limits limits = front_limits(config);
    tg_front_limits_set(server->front, &limits);
    /* The cache goes with the old configuration (its size may have
     * changed); the keys' publication below starts a new one. */
    pthread_rwlock_wrlock(&server->state_lock);
    struct tg_config *old_config = server->config;
    struct tg_cache *old_cache = server->cache;
    cache_retire(server, old_cache);
    server->config = config;
    server->cache = NULL;
    server->generation++;
    pthread_rwlock_unlock(&server->state_lock);
    tg_config_free(old_config);
    tg_cache_free(old_cache);
    tg_log_set_level((enum tg_log_level)config->log_level);
    tg_log_set_format((enum tg_log_format)config->log_format);
    if (!keys_configure(server, config, static_keys))
        tg_log(TG_LOG_ERROR, "reload: the new key sources could not be set up; the previous "
                             "keys stay in use");
    if (!sharing_configure(server, config))
        tg_log(TG_LOG_ERROR, "reload: API-key validation or the fleet could not be set up");
    pthread_rwlock_rdlock(&server->state_lock);
    tg_log(TG_LOG_INFO, "configuration reloaded: %zu rules, %zu keys", config->rule_count,
           server->keys->count);
    pthread_rwlock_unlock(&server->state_lock);
}

/* Opens the socket at ADDRESS (from LINE of the configuration), keeping a
 * unix socket's path in PATH (PATH_SIZE bytes) to unlink at the end.
 * Returns the descriptor, or -1 with the reason logged. */
static int address_open(const struct tg_config *config, const char *address, int line,
                        char *path, size_t path_size)
{
    struct tg_error err;
    int fd = tg_listen_open(address, config->socket_mode, config->socket_owner, &err);
    if (fd < 0) {
        tg_log(TG_LOG_ERROR, "%s:%d: %s", config->file, line, err.text);
        return -1;
    }
    if (address[0] == '/')
        snprintf(path, path_size, "%s", address);
    if (!tg_listen_is_local(address))
        tg_log(TG_LOG_WARN, "listening on %s, which is not loopback: any host that can "
                            "connect can take connections; firewall it so that only the web "
                            "server can",
               address);
    return fd;
}

/* Opens the listening sockets from the configuration, or takes the one on
 * fd 0, and the status socket. False (with the reason logged) when there
 * is none. */
static bool sockets_open(struct tg_server *server)
{
    const struct tg_config *config = server->config;
    server->own_socket = config->listen != NULL;
    server->listen_fd = -1;
    /* Kept for the end and for reloads: a reload may change listen, not the
     * open socket. */
    snprintf(server->listen_address, sizeof server->listen_address, "%s",
             config->listen ? config->listen : "");
    snprintf(server->status_address, sizeof server->status_address, "%s",
             config->status_listen ? config->status_listen : "");
    bool inherited = tg_listen_is_socket(0);
    if (server->own_socket && inherited) {
        /* Which one the operator meant cannot be told: serving either could
         * leave the web server talking to nobody, or to the wrong rules. */
        tg_log(TG_LOG_ERROR, "%s:%d: listen is set, but a listening socket was also passed on "
                             "file descriptor 0 (systemd socket activation, spawn-fcgi, a web "
                             "server's bin-path): remove listen, or stop passing the socket",
               config->file, config->listen_line);
        return false;
    }
    if (!server->own_socket) {
        if (!inherited) {
            tg_log(TG_LOG_ERROR, "no listen in %s and file descriptor 0 is not a listening "
                                 "socket: set listen = 127.0.0.1:PORT or start tokengate from "
                                 "the web server",
                   server->config_path);
            return false;
        }
        server->listen_fd = 0;
    } else {
        server->listen_fd = address_open(config, config->listen, config->listen_line,
                                         server->socket_path, sizeof server->socket_path);
        if (server->listen_fd < 0)
            return false;
    }
    if (config->status_listen) {
        server->status_fd = address_open(config, config->status_listen,
                                         config->status_listen_line, server->status_path,
                                         sizeof server->status_path);
        if (server->status_fd < 0)
            return false;
    }
    return true;
}

/* A worker taking connections from FRONT; STATUS: the status worker. */
static struct tg_worker *worker_start(struct tg_server *server, struct tg_front *front,
                                      bool status)
{
    struct tg_worker *worker = calloc(1, sizeof *worker);
    if (!worker)
        return NULL;
    worker->server = server;
    worker->front = front;
    worker->status = status;
    worker->wire_size = status ? STATUS_WIRE_MAX : WIRE_MAX;
    worker->wire = malloc(worker->wire_size);
    worker->status_text = status ? malloc(TG_METRICS_TEXT_MAX) : NULL;
    worker->memory_fd = memory_file_open();
    if (worker->wire && (!status || worker->status_text) && worker->memory_fd >= 0 &&
        pthread_create(&worker->thread, NULL, worker_run, worker) == 0)
        worker->started = true;
    return worker;
}

/* Ends (after the front has stopped) and frees WORKER. */
static void worker_free(struct tg_worker *worker)
{
    if (!worker)
        return;
    if (worker->started)
        pthread_join(worker->thread, NULL);
    else if (worker->memory_fd >= 0)
        close(worker->memory_fd);
    free(worker->wire);
    free(worker->status_text);
    free(worker);
}

static bool workers_start(struct tg_server *server)
{
    server->workers = calloc((size_t)server->threads, sizeof *server->workers);
    if (!server->workers)
        return false;
    for (int i = 0; i < server->threads; i++) {
        server->workers[i] = worker_start(server, server->front, false);
        if (!server->workers[i] || !server->workers[i]->started) {
            tg_log(TG_LOG_ERROR, "cannot start worker thread %d", i);
            return false;
        }
    }
    if (server->status_front) {
        server->status_worker = worker_start(server, server->status_front, true);
        if (!server->status_worker || !server->status_worker->started) {
            tg_log(TG_LOG_ERROR, "cannot start the status thread");
            return false;
        }
    }
    return true;
}

/* Requests waiting for a fetch are released first, so that none holds up
 * the shutdown for a fetch's timeout; the front then stops taking
 * connections, and the workers answer what is queued and end. */
static void server_stop(struct tg_server *server)
{
    if (server->refresher)
        tg_refresher_stop(server->refresher);
    /* Parked requests get their answers (503s when cancelled) and go back
     * to the workers while the front still takes them. */
    if (server->validator)
        tg_validator_stop(server->validator);
    if (server->fleet)
        tg_fleet_stop(server->fleet);
    if (server->front)
        tg_front_stop(server->front);
    if (server->status_front)
        tg_front_stop(server->status_front);
    for (int i = 0; server->workers && i < server->threads; i++)
        worker_free(server->workers[i]);
    free(server->workers);
    server->workers = NULL;
    worker_free(server->status_worker);
    server->status_worker = NULL;
    tg_front_free(server->status_front);
    server->status_front = NULL;
    if (server->front && tg_log_enabled(TG_LOG_INFO))
        tg_log(TG_LOG_INFO, "connections closed before a whole request: %lu timed out, %lu "
                            "malformed, %lu too large; the connection limit was reached %lu "
                            "times",
               tg_front_closed(server->front, TG_CLOSED_TIMEOUT),
               tg_front_closed(server->front, TG_CLOSED_MALFORMED),
               tg_front_closed(server->front, TG_CLOSED_TOO_LARGE),
               tg_front_closed(server->front, TG_CLOSED_LIMIT));
    tg_front_free(server->front);
    server->front = NULL;
}

/* Every connection held is a descriptor: raise the soft limit as far as
 * the hard one allows, and say so when max_connections cannot fit. */
static void files_limit_raise(const struct tg_config *config)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
        return;
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
        getrlimit(RLIMIT_NOFILE, &limit);
    }
    rlim_t needed = (rlim_t)config->max_connections + (rlim_t)config->threads + 64;
    if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed)
        tg_log(TG_LOG_WARN, "max_connections = %ld needs about %lu file descriptors, but the "
                            "limit is %lu: raise LimitNOFILE",
               config->max_connections, (unsigned long)needed, (unsigned long)limit.rlim_cur);
}

int tg_serve(const char *config_path)
{
    struct tg_server server_storage = {.config_path = config_path, .listen_fd = -1,
                                       .status_fd = -1};
    struct tg_server *server = &server_storage;
    int status = 1;
    bool serving = false;

    pthread_rwlockattr_t attributes;
    pthread_rwlockattr_init(&attributes);
    /* A steady stream of readers must not starve a reload. */
    pthread_rwlockattr_setkind_np(&attributes, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&server->state_lock, &attributes);
    pthread_rwlockattr_destroy(&attributes);

    /* Signals: TERM, INT and HUP go to sigwait() below, in every thread
     * created from here on too. */
    signal(SIGPIPE, SIG_IGN);
    sigset_t handled;
    sigemptyset(&handled);
    sigaddset(&handled, SIGTERM);
    sigaddset(&handled, SIGINT);
    sigaddset(&handled, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &handled, NULL);

    struct tg_keyset *static_keys = NULL;
    server->config = config_load(config_path, &static_keys);
    if (!server->config)
        goto fail;
    const struct tg_config *config = server->config;
    tg_log_set_level((enum tg_log_level)config->log_level);
    tg_log_set_format((enum tg_log_format)config->log_format);
    tg_log_journal_detect();
    server->default_slot = tg_metrics_rule_slot("(default)");
    server->unread_slot = tg_metrics_rule_slot("-");
    if (tg_log_writer_start() != 0)
        tg_log(TG_LOG_WARN, "cannot start the log writer: log lines are written directly");
    files_limit_raise(config);
    if (geteuid() == 0)
        tg_log(TG_LOG_WARN, "running as root: run tokengate as its own user (see "
                            "contrib/tokengate.service)");
    server->threads = config->threads;
    server->key_waiters_max = config->threads / 4;
    server->refresher = tg_refresher_new(keys_receive, server);
    if (!server->refresher) {
        tg_keyset_free(static_keys);
        goto fail;
    }
    if (!keys_configure(server, config, static_keys) || !server->keys)
        goto fail;
    server->fleet = tg_fleet_new(revocations_receive, server);
    server->validator = server->fleet ? tg_validator_new(validation_done, server, server->fleet)
                                      : NULL;
    if (!server->validator || !sharing_configure(server, config))
        goto fail;
    if (FCGX_Init() != 0) {
        tg_log(TG_LOG_ERROR, "libfcgi failed to initialise");
        goto fail;
    }
    if (!sockets_open(server))
        goto fail;
    struct tg_front_limits limits = front_limits(config);
    server->front = tg_front_new(server->listen_fd, &limits);
    /* The status socket has a front of its own: its clients are held to the
     * same limits, and can never take a decision worker. */
    if (server->front && server->status_fd >= 0)
        server->status_front = tg_front_new(server->status_fd, &limits);
    if (!server->front || (server->status_fd >= 0 && !server->status_front)) {
        tg_log(TG_LOG_ERROR, "cannot set up the connection front: %s", strerror(errno));
        goto fail;
    }

    /* Read before the refresher starts: from then on the keys may be
     * replaced at any moment, and are only read under the lock. */
    size_t key_count = server->keys->count;
    if (tg_refresher_start(server->refresher) != 0) {
        tg_log(TG_LOG_ERROR, "cannot start the key refresher thread");
        goto fail;
    }
    if (key_count == 0)
        tg_log(TG_LOG_WARN, "no verification key yet (none in files, none saved in %s): "
                            "requests with a token get 503 until a provider answers",
               config->state_dir);
    if (tg_fleet_start(server->fleet) != 0) {
        tg_log(TG_LOG_ERROR, "cannot start the fleet's thread");
        goto fail;
    }
    if (!workers_start(server) || tg_front_start(server->front) != 0 ||
        (server->status_front && tg_front_start(server->status_front) != 0))
        goto fail;
    serving = true;
    tg_log(TG_LOG_INFO, "tokengate %s serving on %s with %d threads, %zu rules, %zu keys%s%s",
           PACKAGE_VERSION, config->listen ? config->listen : "inherited socket",
           server->threads, config->rule_count, key_count,
           config->status_listen ? "; status on " : "",
           config->status_listen ? config->status_listen : "");

    for (;;) {
        int received = 0;
        if (sigwait(&handled, &received) != 0)
            continue;
        if (received == SIGHUP) {
            reload(server);
            continue;
        }
        tg_log(TG_LOG_INFO, "%s: finishing requests in flight",
               received == SIGTERM ? "SIGTERM" : "SIGINT");
        break;
    }
    status = 0;

fail:
    if (!serving)
        tg_log(TG_LOG_ERROR, "not starting: fix %s (tokengate -t lists every problem)",
               config_path);
    server_stop(server);
    tg_refresher_free(server->refresher);
    tg_validator_free(server->validator);
    tg_fleet_free(server->fleet);
    tg_revocations_free(server->revocations);
    if (server->own_socket && server->listen_fd >= 0)
        close(server->listen_fd);
    if (server->socket_path[0])
        unlink(server->socket_path);
    if (server->status_fd >= 0)
        close(server->status_fd);
    if (server->status_path[0])
        unlink(server->status_path);
    tg_cache_free(server->cache);
    tg_keyset_free(server->keys);
    tg_config_free(server->config);
    pthread_rwlock_destroy(&server->state_lock);
    if (tg_log_dropped() > 0)
        tg_log(TG_LOG_WARN, "%lu log lines were dropped: stderr did not keep up",
               tg_log_dropped());
    if (serving)
        tg_log(TG_LOG_INFO, "stopped");
    tg_log_writer_stop();
    return status;
}
