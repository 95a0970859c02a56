/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzing what providers send over the network: the first byte picks the
 * reader (PropelAuth metadata, OIDC discovery, a JWK set, Cache-Control,
 * Retry-After), the rest is the body. None may crash, leak or read out of
 * bounds; discovery hands back a URL that fits (refresh.c checks that it
 * may be fetched), and the header readers never return less than -1. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokengate/jwk.h"
#include "tokengate/provider.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *body = malloc(size);
    memcpy(body, data + 1, size - 1);
    body[size - 1] = '\0';
    size_t len = size - 1;
    static struct tg_keyset keys;
    struct tg_error err;
    char uri[TG_URL_MAX];
    switch (data[0] % 5) {
    case 0:
        tg_provider_metadata_read(body, len, &keys, &err);
        break;
    case 1:
        if (tg_provider_discovery_read(body, len, "https://idp.example", uri, &err) ==
                0 && (!uri[0] || strlen(uri) >= TG_URL_MAX))
            abort();
        break;
    case 2:
        tg_keyset_add_jwks(&keys, body, len, TG_JWK_REMOTE, NULL, NULL, &err);
        break;
    case 3:
        if (tg_provider_max_age_parse(body) < -1)
            abort();
        break;
    default:
        if (tg_provider_retry_after_parse(body, 1700000000) < -1)
            abort();
        break;
    }
    tg_keyset_clear(&keys);
    free(body);
    return 0;
}
