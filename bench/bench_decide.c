/* SPDX-License-Identifier: Apache-2.0 */
/* bench_decide - what one decision costs next to one RSA-2048 verify.
 *
 * Measures, interleaved in rounds so machine noise hits all alike:
 *   verify   tg_signature_verify alone on a real RS256 token's input
 *   decide   the whole request path: request facts, tg_decide (path, rule,
 *            token, claims, org check, variables) and tg_response_format
 * and prints microseconds per operation, "decide - verify" (everything that
 * is not the signature check) and decide / verify. The shell wrapper
 * (bench/decide.sh) puts `openssl speed rsa2048` beside it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../tests/unit/support.h"
#include <pthread.h>
#include <sys/stat.h>

#include "tokengate/apikey.h"
#include "tokengate/base64url.h"
#include "tokengate/sources.h"
#include "tokengate/decision.h"
#include "tokengate/cache.h"
#include "tokengate/response.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int budget(int rounds, int per_round);
static int cache_modes(int argc, char **argv);

int main(int argc, char **argv)
{
    if (argc > 1 && (argv[1][0] < '0' || argv[1][0] > '9'))
        return cache_modes(argc, argv);
    return budget(argc > 1 ? atoi(argv[1]) : 5, argc > 2 ? atoi(argv[2]) : 4000);
}

static int budget(int rounds, int per_round)
{

    EVP_PKEY *key = support_key_rsa();
    char *pem = support_public_pem(key);
    char *pem_path = support_file_write(pem);
    char *config_text = NULL;
    if (asprintf(&config_text,
                 "[token]\nverifier_key = %s\nauth_url = https://auth.example.com\n"
                 "[roles]\nhierarchy = Owner > Admin > Member\n"
                 "[rule public]\npath = /public/**\nrequire = open\n"
                 "[rule billing]\npath = /api/org/{org_id}/billing/**\norg = path:org_id\n"
                 "min_role = Admin\npermission = can_view_billing\n",
                 pem_path) < 0)
        return 1;
    struct tg_config *config = support_loader_load(config_text);
    struct tg_keyset keys = {0};
    struct tg_problems problems = {0};
    if (!config || tg_sources_keys_load(config, &keys, &problems, NULL) != 0)
        return 1;

    /* A realistic PropelAuth token: a kid, names, three orgs. */
    char claims[4096];
    snprintf(claims, sizeof claims,
             "{\"sub\":\"2c5b1a3e-0000-4000-8000-000000000001\","
             "\"user_id\":\"2c5b1a3e-0000-4000-8000-000000000001\","
             "\"iss\":\"https://auth.example.com\",\"iat\":%ld,\"exp\":%ld,"
             "\"email\":\"ada@example.com\",\"first_name\":\"Ada\",\"last_name\":\"Lovelace\","
             "\"login_method\":{\"login_method\":\"password\"},"
             "\"org_id_to_org_member_info\":{"
             "\"o-1\":{\"org_id\":\"o-1\",\"org_name\":\"Acme\",\"url_safe_org_name\":\"acme\","
             "\"org_metadata\":{},\"user_role\":\"Owner\","
             "\"inherited_user_roles_plus_current_role\":[\"Owner\",\"Admin\",\"Member\"],"
             "\"org_role_structure\":\"single_role_in_hierarchy\",\"additional_roles\":[],"
             "\"user_permissions\":[\"can_view_billing\",\"propelauth::can_invite\"]},"
             "\"o-2\":{\"org_id\":\"o-2\",\"org_name\":\"Beta\",\"user_role\":\"Member\","
             "\"inherited_user_roles_plus_current_role\":[\"Member\"],\"user_permissions\":[]},"
             "\"o-3\":{\"org_id\":\"o-3\",\"org_name\":\"Gamma\",\"user_role\":\"Admin\","
             "\"inherited_user_roles_plus_current_role\":[\"Admin\",\"Member\"],"
             "\"user_permissions\":[\"can_view_billing\"]}}}",
             (long)time(NULL) - 10, (long)time(NULL) + 3600);
    char *token = support_token(key, NULL, "RS256",
                                "{\"alg\":\"RS256\",\"kid\":\"bench\",\"typ\":\"JWT\"}", claims);

    char *authorization = NULL;
    if (asprintf(&authorization, "HTTP_AUTHORIZATION=Bearer %s", token) < 0)
        return 1;
    const char *params[] = {"FCGI_ROLE=AUTHORIZER", "REQUEST_METHOD=GET",
                            "REQUEST_URI=/api/org/o-1/billing/invoices?page=2",
                            "QUERY_STRING=page=2", "REMOTE_ADDR=127.0.0.1",
                            "HTTP_HOST=localhost", "HTTP_USER_AGENT=bench/1.0",
                            "HTTP_ACCEPT=*/*", authorization, NULL};

    /* The signature check alone, on the same bytes the decision verifies. */
    const char *last_dot = strrchr(token, '.');
    unsigned char signature[512];
    ssize_t signature_len = tg_base64url_decode(last_dot + 1, strlen(last_dot + 1), signature);

    static struct tg_decision decision;
    static char response[TG_RESPONSE_MAX];
    struct tg_request request;
    double best_verify = 1e9, best_decide = 1e9, sum_verify = 0, sum_decide = 0;
    for (int round = 0; round < rounds; round++) {
        double start = now_seconds();
        for (int i = 0; i < per_round; i++)
            if (!tg_signature_verify(&keys.keys[0], TG_ALG_RS256, (const unsigned char *)token,
                                     (size_t)(last_dot - token), signature,
                                     (size_t)signature_len))
                return 1;
        double verify = (now_seconds() - start) / per_round;

        start = now_seconds();
        for (int i = 0; i < per_round; i++) {
            tg_request_init(&request, params, time(NULL));
            tg_decide(config, &keys, &request, &decision);
            if (decision.status != 200 ||
                tg_response_format(&decision, config->realm, response, sizeof response) == 0)
                return 1;
        }
        double decide = (now_seconds() - start) / per_round;
        best_verify = verify < best_verify ? verify : best_verify;
        best_decide = decide < best_decide ? decide : best_decide;
        sum_verify += verify;
        sum_decide += decide;
    }
    printf("verify_us=%.2f decide_us=%.2f overhead_us=%.2f ratio=%.3f (best of %d rounds of %d)\n",
           best_verify * 1e6, best_decide * 1e6, (best_decide - best_verify) * 1e6,
           best_decide / best_verify, rounds, per_round);
    printf("mean: verify_us=%.2f decide_us=%.2f\n", sum_verify / rounds * 1e6,
           sum_decide / rounds * 1e6);

    unlink(pem_path);
    free(pem_path);
    free(pem);
    free(config_text);
    free(token);
    free(authorization);
    tg_config_free(config);
    tg_keyset_clear(&keys);
    return 0;
}

/* ---- the token cache ----------------------------------------------------
 *
 *   bench_decide cached           cached decision cost with 1, 10 and
 *                                 100,000 distinct tokens in the cache, and
 *                                 the resident memory 100,000 tokens take
 *   bench_decide misses N         N never-seen tokens: decisions/s on one core
 *   bench_decide count MODE N     N decisions, no timing (for callgrind):
 *                                 MODE is cached or uncached
 */

struct setup {
    struct tg_config *config;
    struct tg_keyset keys;
    struct tg_cache *cache;
    EVP_PKEY *key;
};

static struct setup setup_make(size_t cache_entries)
{
    struct setup setup = {.key = support_key_rsa()};
    char *pem = support_public_pem(setup.key);
    char *pem_path = support_file_write(pem);
    char *text = NULL;
    if (asprintf(&text,
                 "[token]\nverifier_key = %s\nauth_url = https://auth.example.com\n"
                 "[rule billing]\npath = /api/org/{org_id}/billing/**\norg = path:org_id\n"
                 "min_role = Admin\npermission = can_view_billing\n",
                 pem_path) < 0)
        exit(1);
    setup.config = support_loader_load(text);
    struct tg_problems problems = {0};
    if (!setup.config || tg_sources_keys_load(setup.config, &setup.keys, &problems, NULL) != 0)
        exit(1);
    setup.cache = tg_cache_new(cache_entries, (size_t)4096 * 1024 * 1024);
    unlink(pem_path);
    free(pem_path);
    free(pem);
    free(text);
    return setup;
}

/* A realistic token for user number N (about 1.3 KiB, like PropelAuth's). */
static char *token_for_user(EVP_PKEY *key, long n)
{
    char claims[2048];
    snprintf(claims, sizeof claims,
             "{\"sub\":\"user-%08ld-0000-4000-8000-000000000001\","
             "\"user_id\":\"user-%08ld-0000-4000-8000-000000000001\","
             "\"iss\":\"https://auth.example.com\",\"iat\":%ld,\"exp\":%ld,"
             "\"email\":\"user%ld@example.com\",\"login_method\":{\"login_method\":\"password\"},"
             "\"org_id_to_org_member_info\":{\"o-1\":{\"org_id\":\"o-1\",\"org_name\":\"Acme\","
             "\"url_safe_org_name\":\"acme\",\"user_role\":\"Admin\","
             "\"inherited_user_roles_plus_current_role\":[\"Admin\",\"Member\"],"
             "\"org_role_structure\":\"single_role_in_hierarchy\",\"additional_roles\":[],"
             "\"user_permissions\":[\"can_view_billing\",\"propelauth::can_invite\"]}}}",
             n, n, (long)time(NULL) - 10, (long)time(NULL) + 7200, n);
    return support_token(key, NULL, "RS256", "{\"alg\":\"RS256\",\"kid\":\"bench\"}", claims);
}

static struct tg_decision bench_decision;
static char bench_response[TG_RESPONSE_MAX];

/* One whole decision, as the server makes it; returns the seconds the
 * decision took. The request is built first and not timed: in the server
 * the token has just been read from the socket and is hot in the CPU's
 * cache, while here it comes from an array of up to 100 MiB. */
static double decide_once(struct setup *setup, const char *token)
{
    static char authorization[TG_TOKEN_MAX + 64];
    snprintf(authorization, sizeof authorization, "HTTP_AUTHORIZATION=Bearer %s", token);
    const char *params[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/api/org/o-1/billing/x",
                            "HTTP_HOST=localhost", authorization, NULL};
    double start = now_seconds();
    struct tg_request request;
    tg_request_init(&request, params, time(NULL));
    tg_decide_cached(setup->config, &setup->keys, setup->cache, &request, &bench_decision);
    if (bench_decision.status != 200 ||
        tg_response_format(&bench_decision, setup->config->realm, bench_response,
                           sizeof bench_response) == 0)
        exit(1);
    return now_seconds() - start;
}

static long resident_kib(void)
{
    FILE *status = fopen("/proc/self/status", "r");
    char line[256];
    long kib = 0;
    while (status && fgets(line, sizeof line, status))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    if (status)
        fclose(status);
    return kib;
}

/* Microseconds per cached decision over the first COUNT tokens, best of 5. */
static double cached_cost(struct setup *setup, char **tokens, long count)
{
    double best = 1e9;
    long per_round = 20000;
    for (int round = 0; round < 5; round++) {
        double seconds = 0;
        for (long i = 0; i < per_round; i++)
            seconds += decide_once(setup, tokens[(i * 7919) % count]);
        double cost = seconds / per_round * 1e6;
        best = cost < best ? cost : best;
    }
    return best;
}

/* ---- a cached API key beside a cached token ------------------------------
 *
 *   bench_decide apikey [ROUNDS PER_ROUND]   microseconds per decision of a
 *                                 request with a PropelAuth key whose
 *                                 validation is cached, and of one with a
 *                                 cached token, interleaved; and the ratio
 *   bench_decide count apikey N   N cached-key decisions, no timing
 *
 * The key's path is the server's (request_handle): the request view
 * hashes the key; the cached validation is taken under the validator's
 * lock; the decision is made with it and formatted.
 * The validation describes the same user and org as the token.
 */

struct apikey_setup {
    struct setup tokens;            /* for the token beside it */
    char *token;
    struct tg_config *config;
    struct tg_keyset keys;
    struct tg_key_cache *cache;
    pthread_mutex_t lock;
};

#define BENCH_KEY "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"

static struct apikey_setup apikey_setup_make(void)
{
    struct apikey_setup setup = {.tokens = setup_make(1000)};
    setup.token = token_for_user(setup.tokens.key, 1);
    char *pem = support_public_pem(setup.tokens.key);
    char *pem_path = support_file_write(pem);
    char *integration = support_file_write("bench-integration-key\n");
    chmod(integration, 0600);
    char *text = NULL;
    if (asprintf(&text,
                 "[token]\nverifier_key = %s\nauth_url = https://auth.example.com\n"
                 "api_key_file = %s\n[api_keys]\npropelauth = yes\n"
                 "[rule billing]\npath = /api/org/{org_id}/billing/**\norg = path:org_id\n"
                 "min_role = Admin\npermission = can_view_billing\napi_keys = yes\n",
                 pem_path, integration) < 0)
        exit(1);
    setup.config = support_loader_load(text);
    struct tg_problems problems = {0};
    if (!setup.config || tg_sources_keys_load(setup.config, &setup.keys, &problems, NULL) != 0)
        exit(1);
    static const char answer[] =
        "{\"user\":{\"user_id\":\"user-00000001-0000-4000-8000-000000000001\","
        "\"email\":\"user1@example.com\",\"username\":\"user1\",\"first_name\":\"A\","
        "\"last_name\":\"B\",\"org_id_to_org_info\":{\"o-1\":{\"org_id\":\"o-1\","
        "\"org_name\":\"Acme\",\"url_safe_org_name\":\"acme\",\"user_role\":\"Admin\","
        "\"inherited_user_roles_plus_current_role\":[\"Admin\",\"Member\"],"
        "\"org_role_structure\":\"single_role_in_hierarchy\",\"additional_roles\":[],"
        "\"user_permissions\":[\"can_view_billing\",\"propelauth::can_invite\"]}}},"
        "\"org\":null,\"user_in_org\":null,\"metadata\":{},"
        "\"user_id\":\"user-00000001-0000-4000-8000-000000000001\",\"org_id\":null}";
    struct tg_key_validation *validation =
        tg_key_validation_new(TG_KEY_VALID, 0, answer, strlen(answer));
    unsigned char hash[TG_KEY_HASH_SIZE];
    tg_key_hash(BENCH_KEY, strlen(BENCH_KEY), hash);
    setup.cache = tg_key_cache_new();
    tg_key_cache_put(setup.cache, hash, validation, time(NULL) + 3600, time(NULL));
    tg_key_validation_release(validation);
    pthread_mutex_init(&setup.lock, NULL);
    unlink(pem_path);
    unlink(integration);
    free(pem_path);
    free(integration);
    free(pem);
    free(text);
    return setup;
}

static double apikey_decide_once(struct apikey_setup *setup)
{
    const char *params[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/api/org/o-1/billing/x",
                            "HTTP_HOST=localhost", "HTTP_AUTHORIZATION=Token " BENCH_KEY, NULL};
    double start = now_seconds();
    struct tg_request request;
    tg_request_init(&request, params, time(NULL));
    pthread_mutex_lock(&setup->lock);
    struct tg_key_validation *validation =
        tg_key_cache_get(setup->cache, request.key_hash, time(NULL));
    pthread_mutex_unlock(&setup->lock);
    request.key_validation = validation;
    tg_decide_cached(setup->config, &setup->keys, NULL, &request, &bench_decision);
    if (bench_decision.status != 200 ||
        tg_response_format(&bench_decision, setup->config->realm, bench_response,
                           sizeof bench_response) == 0)
        exit(1);
    tg_key_validation_release(validation);
    return now_seconds() - start;
}

static int apikey_mode(int argc, char **argv)
{
    int rounds = argc > 2 ? atoi(argv[2]) : 7;
    long per_round = argc > 3 ? atol(argv[3]) : 20000;
    struct apikey_setup setup = apikey_setup_make();
    decide_once(&setup.tokens, setup.token);   /* the token is cached from here on */
    apikey_decide_once(&setup);
    double best_token = 1e9, best_key = 1e9;
    for (int round = 0; round < rounds; round++) {
        double token = 0, key = 0;
        for (long i = 0; i < per_round; i++) {
            token += decide_once(&setup.tokens, setup.token);
            key += apikey_decide_once(&setup);
        }
        best_token = token / per_round < best_token ? token / per_round : best_token;
        best_key = key / per_round < best_key ? key / per_round : best_key;
    }
    printf("cached_token_us=%.2f cached_key_us=%.2f ratio=%.2f (best of %d rounds of %ld)\n",
           best_token * 1e6, best_key * 1e6, best_key / best_token, rounds, per_round);
    return 0;
}

static int cache_modes(int argc, char **argv)
{
    if (!strcmp(argv[1], "cached")) {
        long many = argc > 2 ? atol(argv[2]) : 100000;
        /* Headroom: the per-shard bounds fill unevenly, and this measures
         * hits, not evictions. */
        struct setup setup = setup_make((size_t)many * 2);
        fprintf(stderr, "signing %ld tokens...\n", many);
        char **tokens = malloc((size_t)many * sizeof *tokens);
        for (long i = 0; i < many; i++)
            tokens[i] = token_for_user(setup.key, i);
        double uncached = 0;
        {
            struct tg_cache *saved = setup.cache;
            setup.cache = NULL;
            double seconds = 0;
            for (int i = 0; i < 2000; i++)
                seconds += decide_once(&setup, tokens[0]);
            uncached = seconds / 2000 * 1e6;
            setup.cache = saved;
        }
        decide_once(&setup, tokens[0]);
        double one = cached_cost(&setup, tokens, 1);
        for (long i = 0; i < 10; i++)
            decide_once(&setup, tokens[i]);
        double ten = cached_cost(&setup, tokens, 10);
        long before = resident_kib();
        for (long i = 10; i < many; i++)
            decide_once(&setup, tokens[i]);
        long after = resident_kib();
        struct tg_cache_stats stats;
        tg_cache_stats(setup.cache, &stats);
        double all = cached_cost(&setup, tokens, many);
        printf("uncached_us=%.2f cached_us_1=%.2f cached_us_10=%.2f cached_us_%ld=%.2f "
               "ratio_%ld_vs_10=%.2f entries=%zu cache_bytes=%zu rss_growth_kib=%ld "
               "bytes_per_token=%.0f token_bytes=%zu\n",
               uncached, one, ten, many, all, many, all / ten, stats.entries, stats.bytes,
               after - before, (after - before) * 1024.0 / (double)(many - 10),
               strlen(tokens[0]));
        return 0;
    }
    if (!strcmp(argv[1], "misses")) {
        /* A long stream in its steady state: the cache is full and every
         * miss evicts, so memory is recycled. The first quarter of the
         * stream fills it and is not timed. */
        long count = argc > 2 ? atol(argv[2]) : 20000;
        long warm = count / 4;
        struct setup setup = setup_make((size_t)warm);
        fprintf(stderr, "signing %ld tokens...\n", count);
        char **tokens = malloc((size_t)count * sizeof *tokens);
        for (long i = 0; i < count; i++)
            tokens[i] = token_for_user(setup.key, i);
        for (long i = 0; i < warm; i++)
            decide_once(&setup, tokens[i]);
        double seconds = 0;
        for (long i = warm; i < count; i++)
            seconds += decide_once(&setup, tokens[i]);
        count -= warm;
        printf("misses_per_second=%.0f us_per_miss=%.2f\n", count / seconds,
               seconds / count * 1e6);
        return 0;
    }
    if (!strcmp(argv[1], "count") && argc > 3 && !strcmp(argv[2], "apikey")) {
        struct apikey_setup setup = apikey_setup_make();
        long count = atol(argv[3]);
        apikey_decide_once(&setup);
        for (long i = 0; i < count; i++)
            apikey_decide_once(&setup);
        return 0;
    }
    if (!strcmp(argv[1], "count") && argc > 3) {
        bool cached = !strcmp(argv[2], "cached");
        long count = atol(argv[3]);
        struct setup setup = setup_make(cached ? 1000 : 0);
        char *token = token_for_user(setup.key, 1);
        decide_once(&setup, token); /* warm: fills the cache, fetches digests */
        for (long i = 0; i < count; i++)
            decide_once(&setup, token);
        return 0;
    }
    if (!strcmp(argv[1], "apikey"))
        return apikey_mode(argc, argv);
    fprintf(stderr, "usage: bench_decide [ROUNDS PER_ROUND] | cached [N] | misses [N] | "
                    "count cached|uncached|apikey N | apikey [ROUNDS PER_ROUND]\n");
    return 2;
}
