/* SPDX-License-Identifier: Apache-2.0 */
/* apikey.c - PropelAuth's answers about API keys, and their cache (see apikey.h). */
#include "tokengate/apikey.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

const char *tg_key_verdict_name(enum tg_key_verdict verdict)
{
    switch (verdict) {
    case TG_KEY_VALID: return "valid";
    case TG_KEY_INVALID: return "invalid";
    case TG_KEY_RATE_LIMITED: return "rate_limited";
    case TG_KEY_UNAVAILABLE: return "unavailable";
    }
    return "unavailable";
}

struct tg_key_validation *tg_key_validation_new(enum tg_key_verdict verdict, long retry_after,
                                                const char *answer, size_t answer_len)
{
    if (verdict != TG_KEY_VALID)
        answer_len = 0;
    struct tg_key_validation *validation = malloc(sizeof *validation + answer_len + 1);
    if (!validation)
        return NULL;
    atomic_init(&validation->references, 1);
    validation->verdict = verdict;
    validation->retry_after = retry_after;
    validation->integration_key_wrong = false;
    validation->answer_len = answer_len;
    if (answer_len)
        memcpy(validation->answer, answer, answer_len);
    validation->answer[answer_len] = '\0';
    return validation;
}

struct tg_key_validation *tg_key_validation_hold(struct tg_key_validation *validation)
{
    if (validation)
        atomic_fetch_add(&validation->references, 1);
    return validation;
}

void tg_key_validation_release(struct tg_key_validation *validation)
{
    if (validation && atomic_fetch_sub(&validation->references, 1) == 1)
        free(validation);
}

/* The wait_seconds of a 429's body, or -1. */
static long wait_seconds_read(struct tg_json *json, const char *body, size_t len)
{
    long long seconds;
    if (len > TG_JSON_TEXT_MAX || tg_json_parse(json, body, len) != 0 ||
        !tg_json_integer(json, tg_json_get(json, 0, "wait_seconds"), &seconds) || seconds < 0)
        return -1;
    return seconds > 86400 ? 86400 : (long)seconds;
}

struct tg_key_validation *tg_key_validation_read(long status, const char *body, size_t len,
                                                 long retry_after, long min_retry,
                                                 struct tg_error *error)
{
    /* The reader is large; it is needed only for 200 and 429. */
    struct tg_json *json = NULL;
    struct tg_key_validation *validation = NULL;
    if (status == 200 || status == 429) {
        json = malloc(sizeof *json);
        if (!json)
            return NULL;
    }
    if (status == 200) {
        if (len <= TG_KEY_ANSWER_MAX && tg_json_parse(json, body, len) == 0 &&
            tg_json_type(json, 0) == TG_JSON_OBJECT)
            validation = tg_key_validation_new(TG_KEY_VALID, 0, body, len);
        else {
            tg_error_set(error, len > TG_KEY_ANSWER_MAX
                                    ? "PropelAuth's answer about an API key is larger than %d bytes"
                                    : "PropelAuth's answer about an API key is not a JSON object",
                         TG_KEY_ANSWER_MAX);
            validation = tg_key_validation_new(TG_KEY_UNAVAILABLE, min_retry, NULL, 0);
        }
    } else if (status == 400 || status == 404) {
        validation = tg_key_validation_new(TG_KEY_INVALID, 0, NULL, 0);
    } else if (status == 429) {
        /* The client waits at least as long as PropelAuth asks us to. */
        long wait = wait_seconds_read(json, body, len);
        if (retry_after > wait)
            wait = retry_after;
        validation = tg_key_validation_new(TG_KEY_RATE_LIMITED, wait > 0 ? wait : 1, NULL, 0);
        tg_error_set(error, "PropelAuth rate-limits validating this API key (%ld s)",
                     wait > 0 ? wait : 1);
    } else {
        long wait = retry_after > min_retry ? retry_after : min_retry;
        validation = tg_key_validation_new(TG_KEY_UNAVAILABLE, wait > 0 ? wait : 1, NULL, 0);
        if (validation && status == 401) {
            validation->integration_key_wrong = true;
            tg_error_set(error, "PropelAuth refused the integration API key (401): check "
                                "api_key_file");
        } else {
            tg_error_set(error, "PropelAuth answered %ld to an API key validation", status);
        }
    }
    free(json);
    return validation;
}

long tg_key_validation_ttl(const struct tg_key_validation *validation, long cache_ttl,
                           long negative_ttl)
{
    switch (validation->verdict) {
    case TG_KEY_VALID: return cache_ttl;
    case TG_KEY_INVALID: return negative_ttl;
    default: return 0;
    }
}

bool tg_key_validation_request(const char *key, size_t len, struct tg_buffer *body)
{
    char text[TG_KEY_TEXT_MAX + 1];
    if (len >= sizeof text)
        return false;
    memcpy(text, key, len);
    text[len] = '\0';
    tg_buffer_puts(body, "{\"api_key_token\":");
    tg_buffer_json_string(body, text);
    tg_buffer_puts(body, "}");
    OPENSSL_cleanse(text, len);
    return !body->overflow;
}

void tg_key_hash(const char *key, size_t len, unsigned char hash[TG_KEY_HASH_SIZE])
{
    SHA256((const unsigned char *)key, len, hash);
}

void tg_key_hash_hex(const unsigned char hash[TG_KEY_HASH_SIZE], char hex[TG_KEY_HASH_HEX])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < TG_KEY_HASH_SIZE; i++) {
        hex[2 * i] = digits[hash[i] >> 4];
        hex[2 * i + 1] = digits[hash[i] & 15];
    }
    hex[TG_KEY_HASH_HEX - 1] = '\0';
}

/* ---- the cache ----------------------------------------------------------- */

/* Open hashing over a fixed array of entries: a bucket holds the index of
 * its first entry, an entry the index of the next one (-1 ends). The hash
 * is already uniform, so its first bytes pick the bucket. */
#define BUCKETS (TG_KEY_CACHE_ENTRIES_MAX * 2)

struct entry {
    unsigned char hash[TG_KEY_HASH_SIZE];
    struct tg_key_validation *validation;   /* NULL: free */
    time_t expires;
    int next;
};

struct tg_key_cache {
    int buckets[BUCKETS];
    struct entry entries[TG_KEY_CACHE_ENTRIES_MAX];
    int free_list;
    size_t count;
    size_t bytes;
};

struct tg_key_cache *tg_key_cache_new(void)
{
    struct tg_key_cache *cache = malloc(sizeof *cache);
    if (!cache)
        return NULL;
    for (int i = 0; i < BUCKETS; i++)
        cache->buckets[i] = -1;
    for (int i = 0; i < TG_KEY_CACHE_ENTRIES_MAX; i++) {
        cache->entries[i].validation = NULL;
        cache->entries[i].next = i + 1 < TG_KEY_CACHE_ENTRIES_MAX ? i + 1 : -1;
    }
    cache->free_list = 0;
    cache->count = 0;
    cache->bytes = 0;
    return cache;
}

void tg_key_cache_free(struct tg_key_cache *cache)
{
    if (!cache)
        return;
    for (int i = 0; i < TG_KEY_CACHE_ENTRIES_MAX; i++)
        tg_key_validation_release(cache->entries[i].validation);
    free(cache);
}

static int *bucket_of(struct tg_key_cache *cache, const unsigned char *hash)
{
    unsigned index = ((unsigned)hash[0] << 16 | (unsigned)hash[1] << 8 | hash[2]) % BUCKETS;
    return &cache->buckets[index];
}

/* Unlinks and frees the entry that *LINK points at. */
static void entry_remove(struct tg_key_cache *cache, int *link)
{
    int index = *link;
    struct entry *entry = &cache->entries[index];
    *link = entry->next;
    cache->bytes -= entry->validation->answer_len;
    tg_key_validation_release(entry->validation);
    entry->validation = NULL;
    entry->next = cache->free_list;
    cache->free_list = index;
    cache->count--;
}

/* The link that points at HASH's entry, or NULL. */
static int *entry_find(struct tg_key_cache *cache, const unsigned char *hash)
{
    int *link = bucket_of(cache, hash);
    while (*link >= 0) {
        if (CRYPTO_memcmp(cache->entries[*link].hash, hash, TG_KEY_HASH_SIZE) == 0)
            return link;
        link = &cache->entries[*link].next;
    }
    return NULL;
}

struct tg_key_validation *tg_key_cache_get(struct tg_key_cache *cache,
                                           const unsigned char hash[TG_KEY_HASH_SIZE], time_t now)
{
    int *link = entry_find(cache, hash);
    if (!link)
        return NULL;
    struct entry *entry = &cache->entries[*link];
    if (entry->expires <= now) {
        entry_remove(cache, link);
        return NULL;
    }
    return tg_key_validation_hold(entry->validation);
}

/* Makes room by removing the entry that expires first (the expired ones
 * first of all). Linear, but only on a store into a full cache. */
static void evict_one(struct tg_key_cache *cache)
{
    int victim = -1;
    for (int i = 0; i < TG_KEY_CACHE_ENTRIES_MAX; i++)
        if (cache->entries[i].validation &&
            (victim < 0 || cache->entries[i].expires < cache->entries[victim].expires))
            victim = i;
    if (victim >= 0)
        entry_remove(cache, entry_find(cache, cache->entries[victim].hash));
}

void tg_key_cache_put(struct tg_key_cache *cache, const unsigned char hash[TG_KEY_HASH_SIZE],
                      struct tg_key_validation *validation, time_t expires, time_t now)
{
    int *link = entry_find(cache, hash);
    if (link)
        entry_remove(cache, link);
    if (expires <= now || validation->answer_len > TG_KEY_CACHE_BYTES_MAX)
        return;
    while (cache->count > 0 && (cache->free_list < 0 ||
                                cache->bytes + validation->answer_len > TG_KEY_CACHE_BYTES_MAX))
        evict_one(cache);
    int index = cache->free_list;
    struct entry *entry = &cache->entries[index];
    cache->free_list = entry->next;
    memcpy(entry->hash, hash, TG_KEY_HASH_SIZE);
    entry->validation = tg_key_validation_hold(validation);
    entry->expires = expires;
    int *bucket = bucket_of(cache, hash);
    entry->next = *bucket;
    *bucket = index;
    cache->count++;
    cache->bytes += validation->answer_len;
}

size_t tg_key_cache_count(const struct tg_key_cache *cache)
{
    return cache->count;
}
