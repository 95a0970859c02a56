/* SPDX-License-Identifier: Apache-2.0 */
/* cache.h - tokens whose signature has been verified.
 *
 * What a hit saves is the signature check and nothing else: every other
 * check (algorithm allow-list, issuer, times, audience, claims, rules) runs
 * on every request, so a cached token can never outlive its exp or a
 * policy change. A hit needs the token's exact bytes: the hash only picks
 * the bucket, so no collision can grant anything.
 *
 * Shared by all worker threads: entries are spread over shards, each with
 * its own lock, hash table and least-recently-used list, so eviction is
 * O(1) and threads rarely wait on each other (a hit moves its entry to the
 * front at most every 10 s). Bounded by an entry count and by memory. Only
 * tokens that passed every check are added, so invalid tokens cannot push
 * valid ones out. A configuration reload starts a new cache, and so does a
 * key rotation that removes a key; tg_cache_clear() empties one.
 */
#ifndef TOKENGATE_CACHE_H
#define TOKENGATE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct tg_cache;

/* A cache of at most MAX_ENTRIES tokens and MAX_BYTES of memory, or NULL
 * when MAX_ENTRIES is 0 (caching off) or memory is short. */
struct tg_cache *tg_cache_new(size_t max_entries, size_t max_bytes);
void tg_cache_free(struct tg_cache *cache);

#define TG_CACHE_PREFETCH_MAX 4096

/* A hint: starts bringing TOKEN's entry, if cached, into the CPU's cache
 * and returns at once, so that with many tokens cached the memory access
 * overlaps the work done before tg_cache_contains(). Decides nothing. */
void tg_cache_prefetch(struct tg_cache *cache, const char *token, size_t len);

/* True when TOKEN (LEN bytes) was added and has not expired by NOW. */
bool tg_cache_contains(struct tg_cache *cache, const char *token, size_t len, time_t now);

/* Remembers TOKEN, verified at NOW, until EXPIRES (its exp plus leeway). */
void tg_cache_add(struct tg_cache *cache, const char *token, size_t len, time_t now,
                  time_t expires);

/* Forgets every token (for a key change). */
void tg_cache_clear(struct tg_cache *cache);

struct tg_cache_stats {
    size_t entries, bytes, hits, misses, evictions;
};
void tg_cache_stats(struct tg_cache *cache, struct tg_cache_stats *stats);

#endif
