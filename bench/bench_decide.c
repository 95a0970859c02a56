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
#include "tokengate/base64url.h"
#include "tokengate/decision.h"
#include "tokengate/response.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 5;
    int per_round = argc > 2 ? atoi(argv[2]) : 4000;

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
    struct tg_config *config = support_config_load(config_text);
    struct tg_keyset keys = {0};
    struct tg_problems problems = {0};
    if (!config || tg_config_keys_load(config, &keys, &problems) != 0)
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
