/* SPDX-License-Identifier: Apache-2.0 */
/* mint.c - `tokengate mint`: sign a token for local testing.
 *
 * Uses the same algorithm table and signature code as verification, so a
 * minted token exercises exactly the path a provider's token takes.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "tokengate/base64url.h"
#include "tokengate/cli.h"
#include "tokengate/jwt.h"
#include "tokengate/keys.h"

#define CLAIMS_MAX (12 * 1024)

static const char mint_usage[] =
    "usage: tokengate mint --key PRIVATE_KEY.pem [--alg ALG] [--kid KID] [--ttl SECONDS] "
    "[CLAIMS.json|-]\n"
    "       (for HS256/384/512, --key names the file holding the shared secret)\n";

static char *stream_read(FILE *stream, size_t max, size_t *len)
{
    char *buffer = malloc(max + 1);
    if (!buffer)
        return NULL;
    size_t n = fread(buffer, 1, max + 1, stream);
    if (ferror(stream) || n > max) {
        free(buffer);
        return NULL;
    }
    buffer[n] = '\0';
    *len = n;
    return buffer;
}

static json_t *claims_read(const char *source)
{
    FILE *stream = !source || !strcmp(source, "-") ? stdin : fopen(source, "rb");
    if (!stream) {
        fprintf(stderr, "tokengate mint: cannot open %s: %s\n", source, strerror(errno));
        return NULL;
    }
    size_t len = 0;
    char *text = stream_read(stream, CLAIMS_MAX, &len);
    if (stream != stdin)
        fclose(stream);
    if (!text) {
        fprintf(stderr, "tokengate mint: cannot read the claims (at most %d bytes)\n", CLAIMS_MAX);
        return NULL;
    }
    json_error_t error;
    json_t *claims = json_loadb(text, len, JSON_REJECT_DUPLICATES, &error);
    free(text);
    if (!json_is_object(claims)) {
        fprintf(stderr, "tokengate mint: the claims must be a JSON object (line %d: %s)\n",
                error.line, claims ? "not an object" : error.text);
        json_decref(claims);
        return NULL;
    }
    return claims;
}

/* base64url(JSON of VALUE) appended to OUT at *USED. */
static bool part_append(json_t *value, char *out, size_t size, size_t *used)
{
    char *json = json_dumps(value, JSON_COMPACT);
    if (!json)
        return false;
    size_t len = strlen(json);
    bool fits = *used + TG_BASE64URL_ENCODED_SIZE(len) <= size;
    if (fits)
        *used += tg_base64url_encode((unsigned char *)json, len, out + *used);
    free(json);
    return fits;
}

int tg_cli_mint(int argc, char **argv)
{
    const char *key_path = NULL, *alg_name = NULL, *kid = NULL, *claims_source = NULL;
    long ttl = 3600;
    static const struct option options[] = {
        {"key", required_argument, NULL, 'k'},
        {"alg", required_argument, NULL, 'a'},
        {"kid", required_argument, NULL, 'i'},
        {"ttl", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    optind = 0; /* GNU getopt: start afresh (main() parsed its own options) */
    opterr = 0;
    int option;
    /* A required value is taken even when it starts with "-" (--ttl -600). */
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        char *end;
        switch (option) {
        case 'k':
            key_path = optarg;
            break;
        case 'a':
            alg_name = optarg;
            break;
        case 'i':
            kid = optarg;
            break;
        case 't':
            ttl = strtol(optarg, &end, 10);
            if (!optarg[0] || *end || ttl < -TG_TIME_MAX || ttl > TG_TIME_MAX) {
                fprintf(stderr, "tokengate mint: --ttl expects seconds\n");
                return 2;
            }
            break;
        default:
            fprintf(stderr, "tokengate mint: unknown option, or one without its value: %s\n%s",
                    argv[optind - 1], mint_usage);
            return 2;
        }
    }
    if (optind < argc - 1) {
        fprintf(stderr, "tokengate mint: give one claims file\n%s", mint_usage);
        return 2;
    }
    claims_source = optind < argc ? argv[optind] : NULL;
    if (!key_path) {
        fputs(mint_usage, stderr);
        return 2;
    }

    enum tg_alg alg = alg_name ? tg_alg_from_name(alg_name, strlen(alg_name)) : TG_ALG_UNKNOWN;
    if (alg_name && alg == TG_ALG_UNKNOWN) {
        fprintf(stderr, "tokengate mint: unknown algorithm %s\n", alg_name);
        return 2;
    }
    bool hmac = alg == TG_ALG_HS256 || alg == TG_ALG_HS384 || alg == TG_ALG_HS512;
    FILE *key_file = fopen(key_path, "rb");
    if (!key_file) {
        fprintf(stderr, "tokengate mint: cannot open %s: %s\n", key_path, strerror(errno));
        return 2;
    }
    EVP_PKEY *pkey = NULL;
    char *secret = NULL;
    size_t secret_len = 0;
    if (hmac) {
        secret = stream_read(key_file, 64 * 1024, &secret_len);
        while (secret && secret_len &&
               (secret[secret_len - 1] == '\n' || secret[secret_len - 1] == '\r'))
            secret_len--;
    } else {
        pkey = PEM_read_PrivateKey(key_file, NULL, NULL, NULL);
    }
    fclose(key_file);
    if (!pkey && !secret) {
        fprintf(stderr, "tokengate mint: %s is not a PEM private key\n", key_path);
        return 2;
    }
    if (!hmac && alg == TG_ALG_UNKNOWN)
        alg = tg_key_default_algorithm(pkey);

    int status = 2;
    json_t *claims = claims_read(claims_source);
    json_t *header = json_pack("{s:s, s:s}", "alg", tg_alg_name(alg), "typ", "JWT");
    if (!claims || !header)
        goto done;
    if (kid)
        json_object_set_new(header, "kid", json_string(kid));
    time_t now = time(NULL);
    if (!json_object_get(claims, "iat"))
        json_object_set_new(claims, "iat", json_integer(now));
    if (!json_object_get(claims, "exp"))
        json_object_set_new(claims, "exp", json_integer(now + ttl));

    static char token[TG_TOKEN_MAX * 2];
    size_t used = 0;
    if (!part_append(header, token, sizeof token, &used) || used + 1 >= sizeof token)
        goto done;
    token[used++] = '.';
    if (!part_append(claims, token, sizeof token, &used))
        goto done;
    unsigned char signature[1024];
    long signature_len = tg_signature_sign(pkey, (unsigned char *)secret, secret_len, alg,
                                           (unsigned char *)token, used, signature,
                                           sizeof signature);
    if (signature_len < 0) {
        fprintf(stderr, "tokengate mint: cannot sign %s with this key\n", tg_alg_name(alg));
        goto done;
    }
    if (used + 1 + TG_BASE64URL_ENCODED_SIZE((size_t)signature_len) > sizeof token)
        goto done;
    token[used++] = '.';
    used += tg_base64url_encode(signature, (size_t)signature_len, token + used);
    printf("%s\n", token);
    status = 0;
done:
    json_decref(claims);
    json_decref(header);
    EVP_PKEY_free(pkey);
    if (secret) {
        OPENSSL_cleanse(secret, secret_len);
        free(secret);
    }
    return status;
}
