/* SPDX-License-Identifier: Apache-2.0 */
/* server.h - the FastCGI server: front, workers, keys, signals, reload.
 *
 * The front (front.h) holds connections until a whole, checked request has
 * arrived; the workers decide it with the current state and answer it, or
 * park it with the validator (validator.h) until PropelAuth has answered
 * about its API key; the refresher (refresh.h) publishes new key sets, the
 * fleet (fleet.h) new revocations; the main thread takes the signals
 * (SIGHUP reloads, SIGTERM and SIGINT stop).
 *
 * Lock order, written down once: the refresher's lock, then state_lock.
 * The refresher publishes keys holding its own lock and takes state_lock
 * for the swap; so nothing may wait on the refresher (await an unknown
 * key, configure its sources) while holding state_lock. Workers release
 * state_lock before they wait for a fetch; a reload swaps the configuration
 * under state_lock, releases it, and only then reconfigures the refresher.
 * Workers take the validator's lock (its cache) under state_lock; the
 * validator calls back (a parked request's answer) holding none of its
 * locks, and the fleet publishes revocations holding none of its own.
 */
#ifndef TOKENGATE_SERVER_H
#define TOKENGATE_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "tokengate/cache.h"
#include "tokengate/config.h"
#include "tokengate/front.h"
#include "tokengate/keys.h"
#include "tokengate/listen.h"
#include "tokengate/refresh.h"
#include "tokengate/revocations.h"
#include "tokengate/validator.h"

struct tg_worker;

struct tg_server {
    const char *config_path;

    /* What requests are decided with: replaced by a reload (config) and by
     * the refresher's publications (keys, and the cache that belongs to
     * them), always whole, under state_lock. generation counts the swaps,
     * so a worker can tell whether its decision still stands. */
    pthread_rwlock_t state_lock;
    struct tg_config *config;
    struct tg_keyset *keys;         /* never NULL once serving */
    struct tg_cache *cache;         /* NULL: none */
    unsigned long generation;

    struct tg_refresher *refresher;
    struct tg_front *front;

    /* API keys PropelAuth validates, and the fleet's Redis (which also
     * publishes revocations: the set in force is swapped whole under
     * state_lock, like the keys). */
    struct tg_validator *validator;
    struct tg_fleet *fleet;
    struct tg_revocations *revocations;

    /* Workers waiting for an unknown-kid fetch, and how many may: the rest
     * keep answering requests whose key is known. */
    atomic_int key_waiters;
    int key_waiters_max;

    int listen_fd;
    bool own_socket;                /* opened from listen (not inherited) */
    char socket_path[TG_SOCKET_PATH_MAX + 1];          /* a unix socket to unlink at the end */
    char listen_address[TG_CONFIG_VALUE_MAX + 1]; /* listen when started ("": inherited) */

    /* The status socket (status_listen): a front and one worker of its own. */
    int status_fd;                  /* -1: none */
    char status_path[TG_SOCKET_PATH_MAX + 1];
    char status_address[TG_CONFIG_VALUE_MAX + 1]; /* status_listen when started ("": none) */
    struct tg_front *status_front;
    struct tg_worker *status_worker;

    /* Metrics: counting slots for decisions without a rule, and the counts
     * of token caches already replaced (under state_lock). */
    int default_slot, unread_slot;
    unsigned long cache_hits_retired, cache_misses_retired;

    struct tg_worker **workers;
    int threads;
};

/* Serves FastCGI with the configuration at CONFIG_PATH until SIGTERM or
 * SIGINT. Returns the process's exit status. */
int tg_serve(const char *config_path);

#endif
