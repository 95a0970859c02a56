/* SPDX-License-Identifier: Apache-2.0 */
/* The verified-token cache: exact bytes, expiry, bounds, invalidation,
 * policy still enforced on hits, and many threads at once. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "support.h"
#include "tokengate/cache.h"
#include "tokengate/jwt.h"

#define ISSUER "https://auth.example.com"

static struct tg_keyset keys;
static struct tg_json claims;

static int setup(void **state)
{
    (void)state;
    support_keyset_add(&keys, support_key_rsa(), NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tg_keyset_clear(&keys);
    return 0;
}

static char *token_with(const char *user, long exp)
{
    char text[256];
    snprintf(text, sizeof text, "{\"iss\":\"" ISSUER "\",\"user_id\":\"%s\",\"exp\":%ld}", user,
             exp);
    return support_token(support_key_rsa(), NULL, "RS256", "{\"alg\":\"RS256\"}", text);
}

static struct tg_jwt_policy policy_with(struct tg_cache *cache, const struct tg_keyset *set)
{
    return (struct tg_jwt_policy){.keys = set, .algorithms = TG_ALG_BIT(TG_ALG_RS256),
                                  .issuer = ISSUER, .leeway = 0, .cache = cache};
}

static enum tg_jwt_status verify(const struct tg_jwt_policy *policy, const char *token,
                                 long now)
{
    return tg_jwt_verify(policy, token, strlen(token), (time_t)now, &claims);
}

static void test_hit_skips_only_the_signature(void **state)
{
    (void)state;
    struct tg_cache *cache = tg_cache_new(100, 1 << 20);
    char *token = token_with("u", SUPPORT_NOW + 600);
    struct tg_jwt_policy policy = policy_with(cache, &keys);
    assert_int_equal(verify(&policy, token, SUPPORT_NOW), TG_JWT_VALID);
    struct tg_cache_stats stats;
    tg_cache_stats(cache, &stats);
    assert_int_equal(stats.entries, 1);

    /* With no key at all, only the cache can say the signature is good. */
    struct tg_keyset empty = {0};
    struct tg_jwt_policy keyless = policy_with(cache, &empty);
    assert_int_equal(verify(&keyless, token, SUPPORT_NOW), TG_JWT_VALID);
    /* Every other check still runs on a hit. */
    keyless.issuer = "https://other.example.com";
    assert_int_equal(verify(&keyless, token, SUPPORT_NOW), TG_JWT_BAD_ISSUER);
    keyless.issuer = ISSUER;
    keyless.algorithms = TG_ALG_BIT(TG_ALG_ES256);
    assert_int_equal(verify(&keyless, token, SUPPORT_NOW), TG_JWT_ALGORITHM_REFUSED);
    keyless.algorithms = TG_ALG_BIT(TG_ALG_RS256);
    keyless.audience = "api://x";
    assert_int_equal(verify(&keyless, token, SUPPORT_NOW), TG_JWT_BAD_AUDIENCE);
    keyless.audience = NULL;
    /* A key change clears the cache: then the keyless policy fails. */
    tg_cache_clear(cache);
    assert_int_equal(verify(&keyless, token, SUPPORT_NOW), TG_JWT_NO_KEY);
    free(token);
    tg_cache_free(cache);
}

static void test_exact_bytes_only(void **state)
{
    (void)state;
    struct tg_cache *cache = tg_cache_new(100, 1 << 20);
    char *token = token_with("u", SUPPORT_NOW + 600);
    struct tg_jwt_policy policy = policy_with(cache, &keys);
    assert_int_equal(verify(&policy, token, SUPPORT_NOW), TG_JWT_VALID);
    /* Two tokens differing in one signature byte: the second is a miss
     * and fails its own signature check. */
    char *other = strdup(token);
    char *last = other + strlen(other) - 2;
    *last = *last == 'A' ? 'B' : 'A';
    assert_false(tg_cache_contains(cache, other, strlen(other), SUPPORT_NOW));
    assert_int_equal(verify(&policy, other, SUPPORT_NOW), TG_JWT_BAD_SIGNATURE);
    /* A prefix or an extension of the cached bytes is no hit either. */
    assert_false(tg_cache_contains(cache, token, strlen(token) - 1, SUPPORT_NOW));
    assert_true(tg_cache_contains(cache, token, strlen(token), SUPPORT_NOW));
    struct tg_cache_stats stats;
    tg_cache_stats(cache, &stats);
    assert_int_equal(stats.entries, 1); /* the failure was not remembered */
    free(other);
    free(token);
    tg_cache_free(cache);
}

static void test_entries_expire_at_exp(void **state)
{
    (void)state;
    struct tg_cache *cache = tg_cache_new(100, 1 << 20);
    char *token = token_with("u", SUPPORT_NOW + 10);
    struct tg_jwt_policy policy = policy_with(cache, &keys);
    assert_int_equal(verify(&policy, token, SUPPORT_NOW), TG_JWT_VALID);
    assert_true(tg_cache_contains(cache, token, strlen(token), SUPPORT_NOW + 9));
    assert_false(tg_cache_contains(cache, token, strlen(token), SUPPORT_NOW + 10));
    struct tg_cache_stats stats;
    tg_cache_stats(cache, &stats);
    assert_int_equal(stats.entries, 0);
    assert_int_equal(verify(&policy, token, SUPPORT_NOW + 10), TG_JWT_EXPIRED);
    /* An expired token is never added. */
    tg_cache_stats(cache, &stats);
    assert_int_equal(stats.entries, 0);
    free(token);
    tg_cache_free(cache);
}

static void test_bounded_by_entries_and_memory(void **state)
{
    (void)state;
    struct tg_cache *cache = tg_cache_new(32, 1 << 20);
    char token[64];
    for (int i = 0; i < 1000; i++) {
        snprintf(token, sizeof token, "token-%d", i);
        tg_cache_add(cache, token, strlen(token), SUPPORT_NOW, SUPPORT_NOW + 60);
    }
    struct tg_cache_stats stats;
    tg_cache_stats(cache, &stats);
    assert_true(stats.entries <= 32);
    assert_true(stats.entries >= 16);
    assert_int_equal(stats.entries + stats.evictions, 1000);
    /* The newest survive. */
    assert_true(tg_cache_contains(cache, "token-999", 9, SUPPORT_NOW));
    assert_false(tg_cache_contains(cache, "token-0", 7, SUPPORT_NOW));
    tg_cache_free(cache);

    /* Hits keep a token: with one shard's worth of room, the token hit
     * (after the touch interval) survives a stream of newer tokens that
     * evicts its unhit twin, added just after it. */
    cache = tg_cache_new(16 * 8, 1 << 20);
    tg_cache_add(cache, "kept", 4, SUPPORT_NOW, SUPPORT_NOW + 100000);
    tg_cache_add(cache, "lost", 4, SUPPORT_NOW, SUPPORT_NOW + 100000);
    for (int i = 0; i < 2000; i++) {
        snprintf(token, sizeof token, "stream-%d", i);
        tg_cache_add(cache, token, strlen(token), SUPPORT_NOW, SUPPORT_NOW + 100000);
        /* A second per token: moved to the front every tenth. */
        assert_true(tg_cache_contains(cache, "kept", 4, SUPPORT_NOW + i));
    }
    assert_false(tg_cache_contains(cache, "lost", 4, SUPPORT_NOW));
    tg_cache_free(cache);

    /* Memory: 16 shards of 4 KiB hold a handful of 1 KiB tokens each. */
    cache = tg_cache_new(100000, 64 * 1024);
    char big[1024];
    for (int i = 0; i < 1000; i++) {
        memset(big, 'a' + i % 26, sizeof big);
        snprintf(big, 16, "%d-", i);
        tg_cache_add(cache, big, sizeof big, SUPPORT_NOW, SUPPORT_NOW + 60);
    }
    tg_cache_stats(cache, &stats);
    assert_true(stats.bytes <= 64 * 1024);
    assert_true(stats.entries > 0 && stats.entries < 64);
    tg_cache_free(cache);
    /* cache_size = 0 turns caching off. */
    assert_null(tg_cache_new(0, 1 << 20));
    assert_false(tg_cache_contains(NULL, "x", 1, SUPPORT_NOW));
}

struct worker_arguments {
    struct tg_cache *cache;
    char **tokens;
    int count;
    int wrong;
};

static void *worker(void *argument)
{
    struct worker_arguments *arguments = argument;
    struct tg_jwt_policy policy = policy_with(arguments->cache, &keys);
    static __thread struct tg_json thread_claims;
    for (int i = 0; i < 400; i++) {
        const char *token = arguments->tokens[i % arguments->count];
        if (tg_jwt_verify(&policy, token, strlen(token), SUPPORT_NOW, &thread_claims) !=
            TG_JWT_VALID)
            arguments->wrong++;
        char bad[64];
        snprintf(bad, sizeof bad, "bad-%d", i);
        if (tg_cache_contains(arguments->cache, bad, strlen(bad), SUPPORT_NOW))
            arguments->wrong++;
    }
    return NULL;
}

/* Tokens alike but for their last bytes spread over the shards and stay
 * (the shard must depend on them, as commit 0d5c9c2 made sure: tokens
 * crowding into one shard would evict each other long before the cache is
 * full). */
static void test_tokens_alike_but_their_end_spread(void **state)
{
    (void)state;
    /* 320 entries: 20 a shard. */
    struct tg_cache *cache = tg_cache_new(320, 1 << 20);
    assert_non_null(cache);
    char token[200];
    memset(token, 'a', sizeof token);
    for (int i = 0; i < 160; i++) {
        token[sizeof token - 2] = (char)('A' + i / 26);
        token[sizeof token - 1] = (char)('a' + i % 26);
        tg_cache_add(cache, token, sizeof token, 1000, 5000);
    }
    int kept = 0;
    for (int i = 0; i < 160; i++) {
        token[sizeof token - 2] = (char)('A' + i / 26);
        token[sizeof token - 1] = (char)('a' + i % 26);
        kept += tg_cache_contains(cache, token, sizeof token, 1001);
    }
    /* One shard alone would keep 20; spread, nearly all stay. */
    if (kept < 140)
        fail_msg("only %d of 160 tokens stayed: they crowd into few shards", kept);
    tg_cache_free(cache);
}

static void test_concurrent_hits(void **state)
{
    (void)state;
    /* Small enough to evict while threads hit it. */
    struct tg_cache *cache = tg_cache_new(16, 1 << 20);
    char *tokens[40];
    for (int i = 0; i < 40; i++) {
        char user[16];
        snprintf(user, sizeof user, "u%d", i);
        tokens[i] = token_with(user, SUPPORT_NOW + 600);
    }
    pthread_t threads[8];
    struct worker_arguments arguments[8];
    for (int i = 0; i < 8; i++) {
        arguments[i] = (struct worker_arguments){cache, tokens, 40, 0};
        assert_int_equal(pthread_create(&threads[i], NULL, worker, &arguments[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(arguments[i].wrong, 0);
    }
    struct tg_cache_stats stats;
    tg_cache_stats(cache, &stats);
    assert_true(stats.hits > 0);
    assert_true(stats.entries <= 16);
    for (int i = 0; i < 40; i++)
        free(tokens[i]);
    tg_cache_free(cache);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_skips_only_the_signature),
        cmocka_unit_test(test_exact_bytes_only),
        cmocka_unit_test(test_entries_expire_at_exp),
        cmocka_unit_test(test_bounded_by_entries_and_memory),
        cmocka_unit_test(test_tokens_alike_but_their_end_spread),
        cmocka_unit_test(test_concurrent_hits),
    };
    return cmocka_run_group_tests_name("cache", tests, setup, teardown);
}
