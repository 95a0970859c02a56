/* cache.c - tokens whose signature has been verified. */
#include "tokengate/cache.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#define SHARDS 16                /* a power of two */
#define ENTRY_OVERHEAD 64        /* bookkeeping per entry, for the memory bound */

struct entry {
    struct entry *next_in_bucket;
    struct entry *newer, *older; /* the shard's least-recently-used list */
    uint64_t hash;
    time_t expires;
    size_t len;
    char token[];
};

struct shard {
    pthread_mutex_t lock;
    struct entry **buckets;
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
    struct entry **link = &shard->buckets[entry->hash & shard->bucket_mask];
    while (*link != entry)
        link = &(*link)->next_in_bucket;
    *link = entry->next_in_bucket;
    list_unlink(shard, entry);
    shard->entries--;
    shard->bytes -= entry_bytes(entry->len);
    free(entry);
}

static struct entry *entry_find(struct shard *shard, uint64_t hash, const char *token,
                                size_t len)
{
    for (struct entry *entry = shard->buckets[hash & shard->bucket_mask]; entry;
         entry = entry->next_in_bucket)
        if (entry->hash == hash && entry->len == len && memcmp(entry->token, token, len) == 0)
            return entry;
    return NULL;
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
        list_unlink(shard, entry);
        list_push_newest(shard, entry);
        found = true;
    }
    if (found)
        shard->hits++;
    else
        shard->misses++;
    pthread_mutex_unlock(&shard->lock);
    return found;
}

void tg_cache_add(struct tg_cache *cache, const char *token, size_t len, time_t expires)
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
    struct entry **bucket = &shard->buckets[hash & shard->bucket_mask];
    fresh->next_in_bucket = *bucket;
    *bucket = fresh;
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
