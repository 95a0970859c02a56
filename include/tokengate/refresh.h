/* SPDX-License-Identifier: Apache-2.0 */
/* refresh.h - keys that stay fresh: remote key sources fetched in the
 * background.
 *
 * The refresher owns the configured remote sources (PropelAuth metadata, JWK
 * set URLs, OIDC discovery), each with its last good keys. It fetches them in
 * its own thread, never on a request's path: at start, every
 * refresh_interval (or the provider's Cache-Control max-age, bounded), after
 * a failure with a doubling back-off, and when a request brings a token whose
 * kid no key has (at most once per refresh_min_interval). Every good key set
 * is saved in state_dir and read back at start, so a restart while the
 * provider is down still verifies.
 *
 * Whenever the keys change it publishes a whole new key set (the static keys
 * from files plus every source's last good keys) through a callback; the
 * receiver swaps it in. A failed fetch never removes a key.
 */
#ifndef TOKENGATE_REFRESH_H
#define TOKENGATE_REFRESH_H

#include <stdbool.h>
#include <time.h>

#include "tokengate/config.h"
#include "tokengate/keys.h"
#include "tokengate/provider.h"
#include "tokengate/text.h"

/* How long a request with an unknown kid may wait for the fetch it
 * started (or joined): a round fetches every source in turn (an OIDC issuer
 * twice, discovery then keys), each within the HTTP total timeout, so the
 * wait is that many timeouts and a little more -- but never beyond this. */
#define TG_REFRESH_WAIT_MAX_SECONDS 60

/* Receives a complete key set; the receiver owns it from then on. Called
 * with the refresher's lock held: it must not call back into the refresher. */
typedef void (*tg_keys_publish_fn)(void *context, struct tg_keyset *keys);

struct tg_refresher;

struct tg_refresher *tg_refresher_new(tg_keys_publish_fn publish, void *context);

/* Adopts CONFIG's remote sources and STATIC_KEYS (moved into the refresher;
 * emptied). Sources already known keep their keys and schedule; new ones
 * start from the keys saved in state_dir, if any, and are fetched at once.
 * Publishes the resulting key set before returning. Returns 0, or -1 with
 * PROBLEMS (the refresher is then unchanged). */
int tg_refresher_configure(struct tg_refresher *refresher, const struct tg_config *config,
                           struct tg_keyset *static_keys, struct tg_problems *problems);

/* Starts the background thread. Returns 0 or -1. */
int tg_refresher_start(struct tg_refresher *refresher);

/* Fetches every source that has no keys yet, in the calling thread (for
 * `tokengate check`, which has no background thread). */
void tg_refresher_fetch_missing(struct tg_refresher *refresher);

/* Called by a request whose token names a kid no key has (or when no key is
 * loaded at all), with PUBLICATIONS_SEEN read before it was decided. Returns
 * true at once when keys were published since. Otherwise starts a fetch of every source unless one ran less than
 * refresh_min_interval ago, or joins a fetch already under way; with WAIT,
 * waits for it (a round's worth of fetch timeouts, at most
 * TG_REFRESH_WAIT_MAX_SECONDS). True when a fetch
 * finished, so that deciding again may give another answer; false at once
 * without WAIT, when rate limited, or when there is nothing to fetch. The
 * caller must hold no lock a publication needs. */
bool tg_refresher_demand_unknown_key(struct tg_refresher *refresher, bool wait,
                                     unsigned long publications_seen);

/* How many key sets the refresher has published. A request reads it before
 * it is decided, and passes it to tg_refresher_demand_unknown_key(): when a
 * set was published since, no fetch is asked for, and deciding again is
 * said to be worth it. */
unsigned long tg_refresher_publications(struct tg_refresher *refresher);

/* Whether STATE_DIR can be trusted with key sets (tg_file_trust_check on
 * the directory): NULL when it can or does not exist yet, else the
 * sentence it puts in WHY. Saved key sets in an untrusted directory are
 * neither read nor written. */
const char *tg_state_dir_check(const char *state_dir, struct tg_error *why);

/* How many fetches of sources have been started (the tests count them). */
/* What the metrics say of each remote source: copied into REPORT (at most
 * MAX entries). Returns the number of sources. */
struct tg_refresher_report {
    char url[TG_URL_MAX];
    unsigned long successes, failures;
    time_t last_success;            /* wall clock; 0: never */
};
#define TG_REFRESHER_SOURCES_MAX (TG_KEY_SOURCES_MAX + 2)
size_t tg_refresher_report(struct tg_refresher *refresher, struct tg_refresher_report *report,
                           size_t max);

unsigned long tg_refresher_fetch_count(struct tg_refresher *refresher);

/* Stops fetching: a fetch under way is cancelled, waiting requests return.
 * Then tg_refresher_free() joins the thread and frees everything. */
void tg_refresher_stop(struct tg_refresher *refresher);
void tg_refresher_free(struct tg_refresher *refresher);

#endif
