/* SPDX-License-Identifier: Apache-2.0 */
/* validator.h - asks PropelAuth about end-user API keys, off the workers'
 * path (contract section 10).
 *
 * A worker that meets an API key it has no answer for submits it here and
 * goes on with other requests: the request waits, parked, while a thread of
 * the validator asks PropelAuth; the answer comes back through a callback,
 * which puts the request in the workers' queue again. So a slow or hanging
 * provider delays only the requests that carry an uncached key, never
 * tokens, local keys or cached keys.
 *
 * Concurrent requests with one key share one validation (single flight);
 * at most max_pending validations run at once, and a request beyond that
 * is refused at once (503). Answers are cached by the key's SHA-256 for
 * cache_ttl (valid) or negative_ttl (invalid); the key's text lives only
 * in the running validation's memory, wiped when it ends. With a fleet
 * (fleet.h), results are shared through Redis first.
 */
#ifndef TOKENGATE_VALIDATOR_H
#define TOKENGATE_VALIDATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "tokengate/apikey.h"
#include "tokengate/config.h"
#include "tokengate/text.h"

/* The Retry-After of a 503 when PropelAuth cannot be asked. */
#define TG_VALIDATION_RETRY_SECONDS 5

struct tg_validator;
struct tg_fleet;

/* Receives the validation of the key submitted for WAITER, holding one
 * reference the receiver releases. Called from a validator thread, with no
 * lock of the validator held. */
typedef void (*tg_validation_done_fn)(void *context, void *waiter,
                                      struct tg_key_validation *validation);

/* A validator that hands answers to DONE (NULL for synchronous use only);
 * FLEET (NULL: none) shares results between nodes. */
struct tg_validator *tg_validator_new(tg_validation_done_fn done, void *context,
                                      struct tg_fleet *fleet);

/* Adopts CONFIG's PropelAuth settings (URL, integration key, TTLs,
 * max_pending). 0, or -1 with PROBLEMS (the validator is then unchanged). */
int tg_validator_configure(struct tg_validator *validator, const struct tg_config *config,
                           struct tg_problems *problems);

/* The cached validation of the key with HASH, held, or NULL. Counts a
 * cache hit or miss. */
struct tg_key_validation *tg_validator_cached(struct tg_validator *validator,
                                              const unsigned char hash[TG_KEY_HASH_SIZE]);

/* Starts validating KEY (LEN bytes), or joins the validation of it
 * already running, on behalf of WAITER. 0, or -1 when max_pending
 * validations are running or the validator is stopping (the caller
 * answers 503). */
int tg_validator_submit(struct tg_validator *validator, const char *key, size_t len,
                        void *waiter);

/* Validates KEY in the calling thread, through the cache (for `tokengate
 * check`). Never NULL but when memory is short. */
struct tg_key_validation *tg_validator_validate(struct tg_validator *validator, const char *key,
                                                size_t len);

/* What the metrics report. */
struct tg_validator_report {
    unsigned long results[TG_KEY_UNAVAILABLE + 1];   /* by verdict */
    unsigned long cache_hits, cache_misses, fleet_hits;
    size_t cache_entries;
    long pending;
};
void tg_validator_report(struct tg_validator *validator, struct tg_validator_report *report);

/* Cancels the validations running (their waiters get 503s) and returns
 * once every validator thread has ended. Submissions fail from then on. */
void tg_validator_stop(struct tg_validator *validator);
void tg_validator_free(struct tg_validator *validator);

#endif
