/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzing what the fleet and PropelAuth send about API keys: the first byte
 * picks the reader -- a validation answer under a status (and, when it
 * reads as valid, a decision made with it on an org rule), or a revocation
 * line from Redis, which must read back the same once written. None may
 * crash, leak or read out of bounds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../unit/support.h"
#include "tokengate/apikey.h"
#include "tokengate/decision.h"
#include "tokengate/revocations.h"

static struct tg_config *config;
static struct tg_keyset keys;

static void config_make(void)
{
    char *key = support_file_write("fuzz-integration-key\n");
    chmod(key, 0600);
    char *text = NULL;
    if (asprintf(&text,
                 "[token]\nhmac_secret_file = %s\nissuer = https://i.example\n"
                 "algorithms = HS256\nauth_url = https://i.example\napi_key_file = %s\n"
                 "[api_keys]\npropelauth = yes\n"
                 "[rule org]\npath = /orgs/{org_id}/**\norg = path:org_id\nmin_role = Admin\n"
                 "permission = p\napi_keys = yes\n",
                 key, key) < 0)
        abort();
    config = support_config_load(text);
    if (!config)
        abort();
    unlink(key);
    free(key);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (!config)
        config_make();
    char *body = malloc(size);
    memcpy(body, data + 1, size - 1);
    body[size - 1] = '\0';
    size_t len = size - 1;
    struct tg_error error;
    if (data[0] % 2 == 0) {
        static const long statuses[] = {200, 400, 401, 404, 429, 500};
        long status = statuses[(data[0] / 2) % 6];
        struct tg_key_validation *validation =
            tg_key_validation_read(status, body, len, -1, 5, &error);
        if (!validation)
            abort();
        if (validation->verdict != TG_KEY_VALID && validation->verdict != TG_KEY_INVALID &&
            validation->retry_after < 1)
            abort();
        if (validation->verdict == TG_KEY_VALID) {
            const char *params[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/orgs/o-1/x",
                                    "HTTP_AUTHORIZATION=Token 0123456789abcdef", NULL};
            static struct tg_request request;
            static struct tg_decision decision;
            tg_request_init(&request, params, 1700000000);
            request.key_validation = validation;
            tg_decide(config, &keys, &request, &decision);
            if (decision.status == 0 || decision.validation_needed)
                abort();
        }
        tg_key_validation_release(validation);
    } else {
        struct tg_revocation revocation, again;
        if (tg_revocation_parse(body, len, &revocation) == 0) {
            char line[TG_REVOCATION_LINE_MAX];
            struct tg_buffer out;
            tg_buffer_init(&out, line, sizeof line);
            if (!tg_revocation_format(&revocation, &out) ||
                tg_revocation_parse(line, out.used, &again) != 0 ||
                again.kind != revocation.kind || again.at != revocation.at ||
                again.until != revocation.until || strcmp(again.id, revocation.id) != 0)
                abort();
        }
    }
    free(body);
    return 0;
}
