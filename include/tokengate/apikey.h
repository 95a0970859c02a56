/* SPDX-License-Identifier: Apache-2.0 */
/* apikey.h - end-user API keys that PropelAuth validates: what its answers
 * mean, and the bounded cache of them (contract section 10).
 *
 * Pure: the validator (validator.h) asks PropelAuth and shares results
 * between threads and nodes; these functions turn an answer into a
 * validation, and keep validations by the SHA-256 of the key. A key's
 * text is never stored: only its hash, and only what PropelAuth said
 * about it.
 *
 * A validation is immutable once made and counted by reference, so the
 * cache and every request that uses it can hold it without copying.
 */
#ifndef TOKENGATE_APIKEY_H
#define TOKENGATE_APIKEY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "tokengate/json.h"
#include "tokengate/text.h"

#define TG_KEY_HASH_SIZE 32            /* SHA-256 */
#define TG_KEY_HASH_HEX (TG_KEY_HASH_SIZE * 2 + 1)
/* A longer credential is no key anyone issued: refused without asking. */
#define TG_KEY_TEXT_MAX 1024
/* PropelAuth's answer must fit the decision's JSON reader, as a token's
 * claims do: a larger one is taken as an unusable answer (503). */
#define TG_KEY_ANSWER_MAX TG_JSON_TEXT_MAX
#define TG_KEY_CACHE_ENTRIES_MAX 4096
#define TG_KEY_CACHE_BYTES_MAX (16L * 1024 * 1024)

enum tg_key_verdict {
    TG_KEY_VALID,          /* 200: ANSWER holds who the key acts as */
    TG_KEY_INVALID,        /* 400, 404: unknown, expired or revoked key (401) */
    TG_KEY_RATE_LIMITED,   /* 429: the client waits RETRY_AFTER seconds */
    TG_KEY_UNAVAILABLE,    /* no usable answer (503, RETRY_AFTER) */
};

struct tg_key_validation {
    atomic_int references;
    enum tg_key_verdict verdict;
    long retry_after;              /* seconds, for RATE_LIMITED and UNAVAILABLE */
    bool integration_key_wrong;    /* PropelAuth answered 401: api_key_file is wrong */
    size_t answer_len;
    char answer[];                 /* VALID: PropelAuth's JSON body, NUL-terminated */
};

/* "valid", "invalid", "rate_limited", "unavailable": for logs and metrics. */
const char *tg_key_verdict_name(enum tg_key_verdict verdict);

/* A validation with VERDICT (and for VALID, ANSWER_LEN bytes of ANSWER),
 * holding one reference; NULL when memory is short. */
struct tg_key_validation *tg_key_validation_new(enum tg_key_verdict verdict, long retry_after,
                                                const char *answer, size_t answer_len);
struct tg_key_validation *tg_key_validation_hold(struct tg_key_validation *validation);
void tg_key_validation_release(struct tg_key_validation *validation);

/* What PropelAuth's STATUS and BODY (LEN bytes) mean, with RETRY_AFTER the
 * answer's Retry-After header in seconds (-1: none) and MIN_RETRY the
 * fewest seconds a 503 asks the client to wait. A 200 whose body is not a
 * JSON object within TG_KEY_ANSWER_MAX is UNAVAILABLE, as is any status
 * the contract does not name; ERROR then says why, for the log (never a
 * byte of the key). NULL when memory is short. */
struct tg_key_validation *tg_key_validation_read(long status, const char *body, size_t len,
                                                 long retry_after, long min_retry,
                                                 struct tg_error *error);

/* How long a validation may be reused: CACHE_TTL for VALID, NEGATIVE_TTL
 * for INVALID, 0 (not at all) for the others, which speak of the moment. */
long tg_key_validation_ttl(const struct tg_key_validation *validation, long cache_ttl,
                           long negative_ttl);

/* The request body PropelAuth expects, {"api_key_token": KEY}, into BODY.
 * False when it does not fit. */
bool tg_key_validation_request(const char *key, size_t len, struct tg_buffer *body);

void tg_key_hash(const char *key, size_t len, unsigned char hash[TG_KEY_HASH_SIZE]);
/* Lower-case hex, as Redis names the shared result. */
void tg_key_hash_hex(const unsigned char hash[TG_KEY_HASH_SIZE], char hex[TG_KEY_HASH_HEX]);

/* Validations by key hash, at most TG_KEY_CACHE_ENTRIES_MAX entries and
 * TG_KEY_CACHE_BYTES_MAX bytes of answers; when full, the entry that would
 * expire first goes. Not locked: its owner serialises access. */
struct tg_key_cache;

struct tg_key_cache *tg_key_cache_new(void);
void tg_key_cache_free(struct tg_key_cache *cache);

/* The validation kept for HASH and unexpired at NOW, with a reference the
 * caller releases; NULL when none. */
struct tg_key_validation *tg_key_cache_get(struct tg_key_cache *cache,
                                           const unsigned char hash[TG_KEY_HASH_SIZE], time_t now);

/* Keeps VALIDATION (taking a reference of its own) for HASH until EXPIRES,
 * replacing what was kept for it. */
void tg_key_cache_put(struct tg_key_cache *cache, const unsigned char hash[TG_KEY_HASH_SIZE],
                      struct tg_key_validation *validation, time_t expires, time_t now);

size_t tg_key_cache_count(const struct tg_key_cache *cache);

#endif
