/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzing the whole token check: any input, one real RSA key. It must
 * never crash, read out of bounds (ASan), or call a forged token valid. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/support.h"
#include "tokengate/jwt.h"

static struct tg_keyset keys;
static struct tg_json claims;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (keys.count == 0) {
        support_keyset_add(&keys, support_key_rsa(), NULL);
        char *secret_path = support_file_write("fuzzing-secret-fuzzing-secret-fuzzing");
        struct tg_error err;
        tg_keyset_add_secret_file(&keys, secret_path, "h", &err);
        free(secret_path);
    }
    struct tg_jwt_policy policy = {.keys = &keys, .algorithms = ~0u,
                                   .issuer = "https://auth.example.com", .leeway = 60};
    enum tg_jwt_status status =
        tg_jwt_verify(&policy, (const char *)data, size, SUPPORT_NOW, &claims);
    /* Nobody but us holds the private key or the secret. */
    if (status == TG_JWT_VALID)
        abort();
    return 0;
}
