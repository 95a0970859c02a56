/* SPDX-License-Identifier: Apache-2.0 */
/* fleet.h - what the nodes of a fleet share through Redis (contract
 * section 11): API-key validations and revocations.
 *
 * With [fleet] redis set, a thread of the fleet keeps a subscription to
 * the revocations channel, loads every revocation held in Redis when it
 * (re)connects, and hands each new set to the server, so that no request
 * ever waits on Redis for them. When Redis goes away the node keeps
 * deciding with what it holds, logs it once, reports it in
 * tokengate_redis_up and reconnects with a back-off of at most 5 s.
 *
 * API-key results are read and written by the validator's threads through
 * short connections of their own, each step bounded (50 ms to read a
 * result; the lock that elects the one node asking PropelAuth lives a few
 * seconds). Redis holds only key hashes and PropelAuth's answers, never a
 * key.
 *
 * Names in Redis, after redis_prefix:
 *   apikey:HEX           a validation: "VERDICT RETRY_AFTER" and, for a
 *                        valid key, a newline and PropelAuth's answer
 *   apikey-lock:HEX      the node validating HEX now
 *   revoked:KIND:ID      a revocation's line (revocations.h), expiring
 *                        with it
 *   revocations          the channel each new revocation's line is
 *                        published on
 */
#ifndef TOKENGATE_FLEET_H
#define TOKENGATE_FLEET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "tokengate/apikey.h"
#include "tokengate/config.h"
#include "tokengate/revocations.h"
#include "tokengate/text.h"

#define TG_FLEET_READ_MILLISECONDS 50      /* a shared result, before asking PropelAuth */
#define TG_FLEET_LOCK_SECONDS 5            /* the validating node's lock */
#define TG_FLEET_BACKOFF_MAX_SECONDS 5
#define TG_FLEET_REVOKE_DEFAULT_SECONDS 86400
#define TG_FLEET_START_WAIT_SECONDS 3      /* for the revocations, at start */

/* Where Redis is: a unix socket, or a TCP host and port, and a database. */
struct tg_redis_address {
    char path[108];                /* unix socket, or "" */
    char host[256];
    int port;
    int database;
};

/* Reads "unix:/PATH" or "redis://HOST[:PORT][/DB]" (libcurl's URL parser).
 * 0, or -1 with WHY. */
int tg_redis_address_parse(const char *text, struct tg_redis_address *address,
                           const char **why);

/* Receives a whole new set of revocations, which it owns from then on.
 * Called from the fleet's thread. */
typedef void (*tg_revocations_publish_fn)(void *context, struct tg_revocations *set);

struct tg_fleet;

struct tg_fleet *tg_fleet_new(tg_revocations_publish_fn publish, void *context);

/* Adopts CONFIG's [fleet] (none: the fleet does nothing). 0, or -1 with
 * PROBLEMS. A changed address takes effect at the next reconnection. */
int tg_fleet_configure(struct tg_fleet *fleet, const struct tg_config *config,
                       struct tg_problems *problems);

/* Starts the subscription thread (nothing without [fleet] redis), and
 * returns once the revocations Redis holds are loaded, or Redis could not
 * be reached, or TG_FLEET_START_WAIT_SECONDS have passed. 0 or -1. */
int tg_fleet_start(struct tg_fleet *fleet);
void tg_fleet_stop(struct tg_fleet *fleet);
void tg_fleet_free(struct tg_fleet *fleet);

/* Whether Redis is configured, and reachable as far as the fleet knows. */
bool tg_fleet_enabled(struct tg_fleet *fleet);
bool tg_fleet_up(struct tg_fleet *fleet);

/* How a shared validation went for the key with HEX:
 *  FOUND     - another node's result, in *VALIDATION (held) until *EXPIRES;
 *  MINE      - this node holds the lock: it asks PropelAuth, then calls
 *              tg_fleet_key_put();
 *  UNSHARED  - no fleet, Redis unreachable, or the lock's holder gave no
 *              result in time: ask PropelAuth and keep the answer locally. */
enum tg_fleet_claim { TG_FLEET_FOUND, TG_FLEET_MINE, TG_FLEET_UNSHARED };

enum tg_fleet_claim tg_fleet_key_claim(struct tg_fleet *fleet, const char *hex,
                                       struct tg_key_validation **validation, time_t *expires,
                                       const atomic_bool *cancel);

/* Shares VALIDATION of HEX for TTL seconds (0: not at all) and releases
 * the lock. */
void tg_fleet_key_put(struct tg_fleet *fleet, const char *hex,
                      const struct tg_key_validation *validation, long ttl);

/* `tokengate revoke`: stores REVOCATION in the Redis of CONFIG and
 * publishes it. 0, or -1 with ERROR. */
int tg_fleet_revoke(const struct tg_config *config, const struct tg_revocation *revocation,
                    struct tg_error *error);

#endif
