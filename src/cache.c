/* SPDX-License-Identifier: Apache-2.0 */
/* cache.c - tokens whose signature has been verified. */
#include "tokengate/cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#define SHARDS 16                /* a power of two */
#define ENTRY_OVERHEAD 64        /* bookkeeping per entry, for the memory bound */
/* A hit moves its entry to the front of the LRU list at most this often.
 * Moving it touches its two neighbours, which with a large cache are cold
 * in the CPU's cache: most of what a hit costs beyond the lookup. Eviction
 * order is then exact to within this many seconds (memcached does the same
 * with 60 s). */
#define TOUCH_INTERVAL 10

struct entry {
    struct entry *next_in_bucket;
    struct entry *newer, *older; /* the shard's least-recently-used list */
    uint64_t hash;
    time_t expires;
    time_t touched;              /* when last put at the front */
    size_t len;
    char token[];
};

struct shard {
    pthread_mutex_t lock;
    /* Bucket heads are atomic (relaxed) only for tg_cache_prefetch(), which
     * reads them without the lock; everything else runs under it. */
    _Atomic(struct entry *) *buckets;
    size_t bucket_mask;
    struct entry *newest, *oldest;
    size_t entries, bytes;
    size_t max_entries, max_bytes;
    size_t hits, misses, evictions;
};

struct tg_cache {
    uint64_t seed;               /* random: bucket choice is not predictable */
    struct shard shards[SHARDS];
};

/* The signature is the token's most random part: hashing its last bytes
 * (with the length and a secret seed) spreads tokens well at a fraction of
 * the cost of hashing all of it. Only the bucket depends on this. */
static uint64_t token_hash(const struct tg_cache *cache, const char *token, size_t len)
{
    uint64_t hash = cache->seed ^ (len * 0x9e3779b97f4a7c15ull);
    size_t start = len > 64 ? len - 64 : 0;
    for (size_t i = start; i < len; i += 8) {
        uint64_t chunk = 0;
        memcpy(&chunk, token + i, len - i < 8 ? len - i : 8);
        hash ^= chunk;
        hash *= 0xff51afd7ed558ccdull;
        hash ^= hash >> 32;
    }
    /* MurmurHash3's finaliser: the shard comes from the top bits and the
     * bucket from the bottom ones, and both must depend on every input bit
     * (without it, tokens differing in their last byte shared shards). */
    hash ^= hash >> 33;
    hash *= 0xff51afd7ed558ccdull;
    hash ^= hash >> 33;
    hash *= 0xc4ceb9fe1a85ec53ull;
    hash ^= hash >> 33;
    return hash;
}

static size_t entry_bytes(size_t len) { return sizeof(struct entry) + len + ENTRY_OVERHEAD; }

struct tg_cache *tg_cache_new(size_t max_entries, size_t max_bytes)
{
    if (max_entries == 0)
        return NULL;
    struct tg_cache *cache = calloc(1, sizeof *cache);
    if (!cache)
        return NULL;
    if (RAND_bytes((unsigned char *)&cache->seed, sizeof cache->seed) != 1)
        cache->seed = (uint64_t)(uintptr_t)cache ^ (uint64_t)time(NULL);
    size_t per_shard = (max_entries + SHARDS - 1) / SHARDS;
    /* At most one entry per two buckets: every entry walked past on the way
     * to a hit is a memory access the CPU's cache rarely holds. */
    size_t buckets = 16;
    while (buckets < 2 * per_shard)
        buckets <<= 1;
    for (int i = 0; i < SHARDS; i++) {
        struct shard *shard = &cache->shards[i];
        pthread_mutex_init(&shard->lock, NULL);
        shard->buckets = calloc(buckets, sizeof *shard->buckets);
        shard->bucket_mask = buckets - 1;
        shard->max_entries = per_shard;
        shard->max_bytes = max_bytes / SHARDS;
        if (!shard->buckets) {
            tg_cache_free(cache);
            return NULL;
        }
    }
    return cache;
}

static void list_unlink(struct shard *shard, struct entry *entry)
{
    if (entry->newer)
        entry->newer->older = entry->older;
    else
        shard->newest = entry->older;
    if (entry->older)
        entry->older->newer = entry->newer;
    else
        shard->oldest = entry->newer;
    entry->newer = entry->older = NULL;
}

static void list_push_newest(struct shard *shard, struct entry *entry)
{
    entry->older = shard->newest;
    entry->newer = NULL;
    if (shard->newest)
        shard->newest->newer = entry;
    shard->newest = entry;
    if (!shard->oldest)
        shard->oldest = entry;
}

static void entry_remove(struct shard *shard, struct entry *entry)
{
    _Atomic(struct entry *) *bucket = &shard->buckets[entry->hash & shard->bucket_mask];
    struct entry *previous = atomic_load_explicit(bucket, memory_order_relaxed);
    if (previous == entry) {
        atomic_store_explicit(bucket, entry->next_in_bucket, memory_order_relaxed);
    } else {
        while (previous->next_in_bucket != entry)
            previous = previous->next_in_bucket;
        previous->next_in_bucket = entry->next_in_bucket;
    }
    list_unlink(shard, entry);
    shard->entries--;
    shard->bytes -= entry_bytes(entry->len);
    free(entry);
}

static struct entry *entry_find(struct shard *shard, uint64_t hash, const char *token,
                                size_t len)
{
    for (struct entry *entry = atomic_load_explicit(&shard->buckets[hash & shard->bucket_mask],
                                                    memory_order_relaxed);
         entry; entry = entry->next_in_bucket)
        if (entry->hash == hash && entry->len == len && memcmp(entry->token, token, len) == 0)
            return entry;
    return NULL;
}

void tg_cache_prefetch(struct tg_cache *cache, const char *token, size_t len)
{
    if (!cache)
        return;
    uint64_t hash = token_hash(cache, token, len);
    struct shard *shard = &cache->shards[(hash >> 56) & (SHARDS - 1)];
    /* Without the lock: the entry may be freed meanwhile, but prefetching
     * never faults, and tg_cache_contains() decides under the lock. */
    struct entry *entry =
        atomic_load_explicit(&shard->buckets[hash & shard->bucket_mask], memory_order_relaxed);
    if (!entry)
        return;
    const char *start = (const char *)entry;
    const char *end = entry->token + (len < TG_CACHE_PREFETCH_MAX ? len : TG_CACHE_PREFETCH_MAX);
    for (const char *line = start; line < end; line += 64)
        __builtin_prefetch(line, 0, 3);
}

bool tg_cache_contains(struct tg_cache *cache, const char *token, size_t len, time_t now)
{
    if (!cache)
        return false;
    uint64_t hash = token_hash(cache, token, len);
    struct shard *shard = &cache->shards[(hash >> 56) & (SHARDS - 1)];
    pthread_mutex_lock(&shard->lock);
    struct entry *entry = entry_find(shard, hash, token, len);
    bool found = false;
    if (entry && entry->expires <= now) {
        entry_remove(shard, entry); /* expired: gone at its exp */
    } else if (entry) {
        if (now - entry->touched >= TOUCH_INTERVAL) {
            list_unlink(shard, entry);
            list_push_newest(shard, entry);
            entry->touched = now;
        }
        found = true;
    }
    if (found)
        shard->hits++;
    else
        shard->misses++;
    pthread_mutex_unlock(&shard->lock);
    return found;
}

void tg_cache_add(struct tg_cache *cache, const char *token, size_t len, time_t now,
                  time_t expires)
{
    if (!cache)
        return;
    uint64_t hash = token_hash(cache, token, len);
    struct shard *shard = &cache->shards[(hash >> 56) & (SHARDS - 1)];
    if (entry_bytes(len) > shard->max_bytes)
        return;
    /* Built outside the lock: allocation need not make others wait. */
    struct entry *fresh = malloc(sizeof *fresh + len);
    if (!fresh)
        return;
    fresh->hash = hash;
    fresh->expires = expires;
    fresh->touched = now;        /* it goes to the front now */
    fresh->len = len;
    memcpy(fresh->token, token, len);

    pthread_mutex_lock(&shard->lock);
    if (entry_find(shard, hash, token, len)) {
        pthread_mutex_unlock(&shard->lock);
        free(fresh); /* another thread got there first */
        return;
    }
    while (shard->oldest && (shard->entries >= shard->max_entries ||
                             shard->bytes + entry_bytes(len) > shard->max_bytes)) {
        entry_remove(shard, shard->oldest);
        shard->evictions++;
    }
    _Atomic(struct entry *) *bucket = &shard->buckets[hash & shard->bucket_mask];
    fresh->next_in_bucket = atomic_load_explicit(bucket, memory_order_relaxed);
    atomic_store_explicit(bucket, fresh, memory_order_relaxed);
    list_push_newest(shard, fresh);
    shard->entries++;
    shard->bytes += entry_bytes(len);
    pthread_mutex_unlock(&shard->lock);
}

void tg_cache_clear(struct tg_cache *cache)
{
    if (!cache)
        return;
    for (int i = 0; i < SHARDS; i++) {
        struct shard *shard = &cache->shards[i];
        pthread_mutex_lock(&shard->lock);
        while (shard->oldest)
            entry_remove(shard, shard->oldest);
        pthread_mutex_unlock(&shard->lock);
    }
}

void tg_cache_stats(struct tg_cache *cache, struct tg_cache_stats *stats)
{
    memset(stats, 0, sizeof *stats);
    for (int i = 0; cache && i < SHARDS; i++) {
        struct shard *shard = &cache->shards[i];
        pthread_mutex_lock(&shard->lock);
        stats->entries += shard->entries;
        stats->bytes += shard->bytes;
        stats->hits += shard->hits;
        stats->misses += shard->misses;
        stats->evictions += shard->evictions;
        pthread_mutex_unlock(&shard->lock);
    }
}

void tg_cache_free(struct tg_cache *cache)
{
    if (!cache)
        return;
    tg_cache_clear(cache);
    for (int i = 0; i < SHARDS; i++) {
        free(cache->shards[i].buckets);
        pthread_mutex_destroy(&cache->shards[i].lock);
    }
    free(cache);
}
