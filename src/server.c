/* server.c - the FastCGI server: workers, signals, reload.
 *
 * The main thread owns the signals: SIGTERM, SIGINT and SIGHUP are blocked
 * in every thread and taken with sigwait(), because libfcgi's own handling
 * cannot wake workers blocked in accept. Workers decide requests with the
 * configuration and keys of the current state; SIGHUP builds a whole new
 * state beside it and swaps it in under a write lock, so a request never
 * sees half of a reload, and a broken new configuration leaves the old one
 * serving. Keys are swapped the same way whenever the refresher publishes a
 * new set; a request whose token names an unknown kid leaves the lock, waits
 * for the refresher's fetch, and is decided again.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <fastcgi.h>
#include <fcgiapp.h>

#include "tokengate/cache.h"
#include "tokengate/config.h"
#include "tokengate/decision.h"
#include "tokengate/listen.h"
#include "tokengate/log.h"
#include "tokengate/refresh.h"
#include "tokengate/request.h"
#include "tokengate/response.h"

#define SHUTDOWN_GRACE_SECONDS 10

int tg_serve(const char *config_path);

/* What requests are decided with. The configuration is replaced on reload,
 * the keys whenever the refresher publishes; both under state_lock. */
struct state {
    struct tg_config *config;
    struct tg_keyset *keys;     /* never NULL once serving */
    struct tg_cache *cache;     /* belongs to these keys; NULL: none */
};

/* Per worker thread, allocated once: the decision and response buffers are
 * large, and reusing them keeps allocation off the request path. */
struct worker {
    pthread_t thread;
    bool started;
    atomic_bool finished;
    int listen_fd;
    FCGX_Request fcgi;
    struct tg_request request;
    struct tg_decision decision;
    char response[TG_RESPONSE_MAX];
    char log_line[1024];
};

static struct state current;
static unsigned long state_generation;  /* counts swaps of config or keys */
static pthread_rwlock_t state_lock;
static atomic_bool stopping;
static struct tg_refresher *refresher;

/* Loads the configuration and the keys in files; logs every problem. */
static struct tg_config *config_load(const char *path, struct tg_keyset **static_keys)
{
    struct tg_problems problems = {0};
    struct tg_config *config = tg_config_load(path, &problems);
    *static_keys = calloc(1, sizeof **static_keys);
    if (config && *static_keys)
        tg_config_keys_load(config, *static_keys, &problems);
    for (size_t i = 0; i < problems.count; i++)
        tg_log(TG_LOG_ERROR, "%s", problems.lines[i]);
    bool ok = config && *static_keys && problems.count == 0 && problems.dropped == 0;
    tg_problems_clear(&problems);
    if (!ok) {
        tg_config_free(config);
        tg_keyset_free(*static_keys);
        *static_keys = NULL;
        return NULL;
    }
    return config;
}

/* The refresher's publications. A cache stays only while every key it was
 * filled under is still there: a token verified with a rotated-out key must
 * be verified again, and fail. */
static void keys_receive(void *context, struct tg_keyset *keys)
{
    (void)context;
    pthread_rwlock_wrlock(&state_lock);
    struct tg_keyset *old_keys = current.keys;
    struct tg_cache *old_cache = current.cache;
    if (old_cache && old_keys && tg_keyset_contains_all(keys, old_keys)) {
        old_cache = NULL;
    } else {
        current.cache = tg_cache_new((size_t)current.config->cache_size,
                                     (size_t)current.config->cache_memory * 1024 * 1024);
        if (current.config->cache_size > 0 && !current.cache)
            tg_log(TG_LOG_WARN, "no memory for the token cache: every signature is checked");
    }
    current.keys = keys;
    state_generation++;
    pthread_rwlock_unlock(&state_lock);
    tg_cache_free(old_cache);
    tg_keyset_free(old_keys);
}

/* Hands the refresher CONFIG's sources and STATIC_KEYS (consumed); it
 * publishes the resulting keys before returning. */
static bool keys_configure(const struct tg_config *config, struct tg_keyset *static_keys)
{
    struct tg_problems problems = {0};
    int rc = tg_refresher_configure(refresher, config, static_keys, &problems);
    for (size_t i = 0; i < problems.count; i++)
        tg_log(TG_LOG_ERROR, "%s", problems.lines[i]);
    tg_problems_clear(&problems);
    tg_keyset_free(static_keys);
    return rc == 0;
}

/* Decides WORKER's request with the current state; state_lock is held. */
static void decide_current(struct worker *worker)
{
    int role = worker->fcgi.role;
    if (role == FCGI_AUTHORIZER || role == FCGI_RESPONDER)
        tg_decide_cached(current.config, current.keys, current.cache, &worker->request,
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

static void request_handle(struct worker *worker)
{
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    FCGX_Request *fcgi = &worker->fcgi;
    struct tg_decision *decision = &worker->decision;

    /* The request's stdin is never read: Apache and mod_fcgid send none,
     * and a read would block for ever. */
    tg_request_init(&worker->request, (const char *const *)fcgi->envp, time(NULL));
    pthread_rwlock_rdlock(&state_lock);
    decide_current(worker);
    if (decision->key_unknown) {
        /* The fetch publishes under the write lock: wait outside it. The
         * decision stands unless keys or configuration changed meanwhile
         * (it points into the configuration, which a reload frees). */
        unsigned long seen = state_generation;
        pthread_rwlock_unlock(&state_lock);
        tg_refresher_await_unknown_key(refresher);
        pthread_rwlock_rdlock(&state_lock);
        if (state_generation != seen)
            decide_current(worker);
    }
    size_t len = tg_response_format(decision, current.config->realm, worker->response,
                                    sizeof worker->response);
    /* The log line names the rule, which lives in the configuration: it is
     * written before the lock is released, as a reload may free it. */
    bool logging = tg_log_enabled(TG_LOG_INFO);
    if (logging)
        tg_decision_log_format(decision, worker->request.method, microseconds_since(&start),
                               tg_log_enabled(TG_LOG_DEBUG), worker->log_line,
                               sizeof worker->log_line);
    pthread_rwlock_unlock(&state_lock);

    if (len == 0) {
        /* Cannot happen with TG_RESPONSE_MAX; fail closed all the same. */
        tg_decision_refuse_request(decision, "response too large");
        len = tg_response_format(decision, "tokengate", worker->response,
                                 sizeof worker->response);
    }
    FCGX_PutStr(worker->response, (int)len, fcgi->out);
    if (logging)
        tg_log(TG_LOG_INFO, "%s", worker->log_line);
}

static void *worker_run(void *argument)
{
    struct worker *worker = argument;
    FCGX_InitRequest(&worker->fcgi, worker->listen_fd, 0);
    while (!atomic_load(&stopping)) {
        if (FCGX_Accept_r(&worker->fcgi) < 0)
            break;
        request_handle(worker);
        FCGX_Finish_r(&worker->fcgi);
    }
    FCGX_Free(&worker->fcgi, 1);
    atomic_store(&worker->finished, true);
    return NULL;
}

/* Interrupts a worker blocked in accept or read: the handler does nothing,
 * but without SA_RESTART the system call returns EINTR, and libfcgi gives
 * up once FCGX_ShutdownPending() has been called. */
static void wake_handler(int signal_number) { (void)signal_number; }

static void reload(const char *config_path, int threads)
{
    struct tg_keyset *static_keys;
    struct tg_config *config = config_load(config_path, &static_keys);
    if (!config) {
        tg_log(TG_LOG_ERROR, "reload failed: the previous configuration keeps serving");
        return;
    }
    if (config->threads != threads)
        tg_log(TG_LOG_WARN, "threads changed to %d: takes effect at the next restart",
               config->threads);
    /* The cache goes with the old configuration (its size may have
     * changed); the keys' publication below starts a new one. */
    pthread_rwlock_wrlock(&state_lock);
    struct tg_config *old_config = current.config;
    struct tg_cache *old_cache = current.cache;
    current.config = config;
    state_generation++;
    current.cache = NULL;
    pthread_rwlock_unlock(&state_lock);
    tg_config_free(old_config);
    tg_cache_free(old_cache);
    tg_log_set_level((enum tg_log_level)config->log_level);
    if (!keys_configure(config, static_keys))
        tg_log(TG_LOG_ERROR, "reload: the new key sources could not be set up; the previous "
                             "keys stay in use");
    pthread_rwlock_rdlock(&state_lock);
    tg_log(TG_LOG_INFO, "configuration reloaded: %zu rules, %zu keys", config->rule_count,
           current.keys->count);
    pthread_rwlock_unlock(&state_lock);
}

static void workers_stop(struct worker **workers, int count, int listen_fd, bool own_socket)
{
    atomic_store(&stopping, true);
    FCGX_ShutdownPending();
    /* Shutting down a socket we opened wakes every accept at once; an
     * inherited one may be shared with sibling processes, so it is left
     * alone and the workers are woken by signal instead. */
    if (own_socket)
        shutdown(listen_fd, SHUT_RDWR);
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += SHUTDOWN_GRACE_SECONDS;
    for (;;) {
        int running = 0;
        for (int i = 0; i < count; i++)
            if (workers[i]->started && !atomic_load(&workers[i]->finished)) {
                running++;
                pthread_kill(workers[i]->thread, SIGUSR1);
            }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (running == 0 || now.tv_sec > deadline.tv_sec) {
            if (running)
                tg_log(TG_LOG_WARN, "%d workers still busy after %d s; exiting anyway", running,
                       SHUTDOWN_GRACE_SECONDS);
            break;
        }
        nanosleep(&(struct timespec){.tv_nsec = 20 * 1000 * 1000}, NULL);
    }
    for (int i = 0; i < count; i++)
        if (workers[i]->started && atomic_load(&workers[i]->finished))
            pthread_join(workers[i]->thread, NULL);
}

int tg_serve(const char *config_path)
{
    pthread_rwlockattr_t attributes;
    pthread_rwlockattr_init(&attributes);
    /* A steady stream of readers must not starve a reload. */
    pthread_rwlockattr_setkind_np(&attributes, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&state_lock, &attributes);

    struct tg_keyset *static_keys;
    current.config = config_load(config_path, &static_keys);
    if (current.config)
        tg_log_set_level((enum tg_log_level)current.config->log_level);
    refresher = current.config ? tg_refresher_new(keys_receive, NULL) : NULL;
    if (!current.config || !refresher || !keys_configure(current.config, static_keys) ||
        !current.keys) {
        tg_log(TG_LOG_ERROR, "not starting: fix %s (tokengate -t lists every problem)",
               config_path);
        tg_refresher_free(refresher);
        tg_config_free(current.config);
        return 1;
    }
    const struct tg_config *config = current.config;

    int listen_fd = 0;
    bool own_socket = config->listen != NULL;
    /* Kept for the end: a reload may change listen, not the open socket. */
    char socket_path[256] = "";
    if (own_socket && config->listen[0] == '/')
        snprintf(socket_path, sizeof socket_path, "%s", config->listen);
    char err[512];
    if (FCGX_Init() != 0) {
        tg_log(TG_LOG_ERROR, "libfcgi failed to initialise");
        return 1;
    }
    if (own_socket) {
        listen_fd = tg_listen_open(config->listen, config->socket_mode, config->socket_owner,
                                   err, sizeof err);
        if (listen_fd < 0) {
            tg_log(TG_LOG_ERROR, "%s:%d: %s", config->file, config->listen_line, err);
            return 1;
        }
        if (!tg_listen_is_local(config->listen))
            tg_log(TG_LOG_WARN, "listening on %s, which is not loopback: libfcgi can be "
                                "crashed by one crafted record from anyone who can connect; "
                                "firewall it so that only the web server can",
                   config->listen);
    } else if (!tg_listen_is_socket(0)) {
        tg_log(TG_LOG_ERROR, "no listen in %s and file descriptor 0 is not a socket: set "
                             "listen = 127.0.0.1:PORT or start tokengate from the web server",
               config_path);
        return 1;
    }

    /* Signals: TERM, INT and HUP go to sigwait() below; USR1 only wakes. */
    signal(SIGPIPE, SIG_IGN);
    struct sigaction wake = {.sa_handler = wake_handler};
    sigemptyset(&wake.sa_mask);
    sigaction(SIGUSR1, &wake, NULL);
    sigset_t handled;
    sigemptyset(&handled);
    sigaddset(&handled, SIGTERM);
    sigaddset(&handled, SIGINT);
    sigaddset(&handled, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &handled, NULL);

    /* Read before the refresher starts: from then on the keys may be
     * replaced at any moment, and are only read under the lock. */
    size_t key_count = current.keys->count;
    int status = 0;
    if (tg_refresher_start(refresher) != 0) {
        tg_log(TG_LOG_ERROR, "cannot start the key refresher thread");
        status = 1;
    }
    if (key_count == 0)
        tg_log(TG_LOG_WARN, "no verification key yet (none in files, none saved in %s): "
                            "requests with a token get 503 until a provider answers",
               config->state_dir);

    int threads = config->threads;
    struct worker **workers = calloc((size_t)threads, sizeof *workers);
    for (int i = 0; workers && status == 0 && i < threads; i++) {
        workers[i] = calloc(1, sizeof **workers);
        if (!workers[i]) {
            status = 1;
            break;
        }
        workers[i]->listen_fd = listen_fd;
        if (pthread_create(&workers[i]->thread, NULL, worker_run, workers[i]) != 0) {
            tg_log(TG_LOG_ERROR, "cannot start worker thread %d", i);
            status = 1;
            break;
        }
        workers[i]->started = true;
    }
    if (!workers)
        status = 1;
    tg_log(TG_LOG_INFO, "tokengate %s serving on %s with %d threads, %zu rules, %zu keys",
           PACKAGE_VERSION, config->listen ? config->listen : "inherited socket", threads,
           config->rule_count, key_count);

    while (status == 0) {
        int received = 0;
        if (sigwait(&handled, &received) != 0)
            continue;
        if (received == SIGHUP) {
            reload(config_path, threads);
            continue;
        }
        tg_log(TG_LOG_INFO, "%s: finishing requests in flight",
               received == SIGTERM ? "SIGTERM" : "SIGINT");
        break;
    }
    /* Requests waiting for a fetch are released first, so that none holds
     * up the shutdown for a fetch's timeout. */
    tg_refresher_stop(refresher);
    if (workers)
        workers_stop(workers, threads, listen_fd, own_socket);
    if (own_socket) {
        close(listen_fd);
        if (socket_path[0])
            unlink(socket_path);
    }
    for (int i = 0; workers && i < threads; i++)
        if (workers[i] && (!workers[i]->started || atomic_load(&workers[i]->finished)))
            free(workers[i]);
    free(workers);
    tg_refresher_free(refresher);
    refresher = NULL;
    tg_cache_free(current.cache);
    tg_keyset_free(current.keys);
    tg_config_free(current.config);
    memset(&current, 0, sizeof current);
    tg_log(TG_LOG_INFO, "stopped");
    return status;
}
