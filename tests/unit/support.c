/* SPDX-License-Identifier: Apache-2.0 */
/* support.c - helpers shared by the unit tests and the benchmark. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "tokengate/base64url.h"
#include "tokengate/sources.h"

static void die(const char *what)
{
    fprintf(stderr, "test support: %s\n", what);
    abort();
}

EVP_PKEY *support_key_new(const char *type)
{
    EVP_PKEY *key = NULL;
    if (!strcmp(type, "RSA2048"))
        key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    else if (!strcmp(type, "RSA1024"))
        key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    else if (!strcmp(type, "RSA3072"))
        key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
    else if (!strcmp(type, "EC-P256"))
        key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    else if (!strcmp(type, "EC-P384"))
        key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    else if (!strcmp(type, "EC-P521"))
        key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
    else if (!strcmp(type, "ED25519"))
        key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!key)
        die(type);
    return key;
}

EVP_PKEY *support_key_rsa(void)
{
    static EVP_PKEY *key;
    if (!key)
        key = support_key_new("RSA2048");
    return key;
}

char *support_public_pem(EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio || !PEM_write_bio_PUBKEY(bio, key))
        die("PEM_write_bio_PUBKEY");
    char *data;
    long len = BIO_get_mem_data(bio, &data);
    char *pem = strndup(data, (size_t)len);
    BIO_free(bio);
    return pem;
}

void support_keyset_add(struct tg_keyset *set, EVP_PKEY *key, const char *kid)
{
    char *pem = support_public_pem(key);
    struct tg_error err;
    if (tg_keyset_add_pem(set, pem, strlen(pem), kid, &err) != 0)
        die(err.text);
    free(pem);
}

char *support_base64url(const char *text, size_t len)
{
    char *out = malloc(TG_BASE64URL_ENCODED_SIZE(len));
    tg_base64url_encode((const unsigned char *)text, len, out);
    return out;
}

char *support_token_parts(const char *header_json, const char *claims_json,
                          const char *signature_base64url)
{
    char *header = support_base64url(header_json, strlen(header_json));
    char *claims = support_base64url(claims_json, strlen(claims_json));
    char *token = NULL;
    if (asprintf(&token, "%s.%s.%s", header, claims, signature_base64url) < 0)
        die("asprintf");
    free(header);
    free(claims);
    return token;
}

char *support_token(EVP_PKEY *key, const char *secret, const char *alg,
                    const char *header_json, const char *claims_json)
{
    char *unsigned_token = support_token_parts(header_json, claims_json, "");
    size_t input_len = strlen(unsigned_token) - 1; /* without the final '.' */
    unsigned char signature[1024];
    long len = tg_signature_sign(key, (const unsigned char *)secret, secret ? strlen(secret) : 0,
                                 tg_alg_from_name(alg, strlen(alg)),
                                 (unsigned char *)unsigned_token, input_len, signature,
                                 sizeof signature);
    if (len < 0)
        die("tg_signature_sign");
    char *encoded = malloc(TG_BASE64URL_ENCODED_SIZE((size_t)len));
    tg_base64url_encode(signature, (size_t)len, encoded);
    char *token = NULL;
    if (asprintf(&token, "%s%s", unsigned_token, encoded) < 0)
        die("asprintf");
    free(unsigned_token);
    free(encoded);
    return token;
}

char *support_file_write(const char *content)
{
    const char *directory = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char *path = NULL;
    if (asprintf(&path, "%s/tokengate-test-XXXXXX", directory) < 0)
        die("asprintf");
    int fd = mkstemp(path);
    if (fd < 0)
        die("mkstemp");
    size_t len = strlen(content);
    if (write(fd, content, len) != (ssize_t)len)
        die("write");
    close(fd);
    return path;
}

char *support_problems_join(struct tg_problems *problems)
{
    size_t size = 1;
    for (size_t i = 0; i < problems->count; i++)
        size += strlen(problems->lines[i]) + 1;
    char *joined = calloc(1, size);
    for (size_t i = 0; i < problems->count; i++) {
        strcat(joined, problems->lines[i]);
        strcat(joined, "\n");
    }
    return joined;
}

struct tg_config *support_load_text(const char *text, support_load_fn load, char **problems)
{
    char *path = support_file_write(text);
    struct tg_problems found = {0};
    struct tg_config *config = load(path, &found);
    if (problems) {
        *problems = found.count ? support_problems_join(&found) : NULL;
    } else {
        for (size_t i = 0; i < found.count; i++)
            fprintf(stderr, "%s\n", found.lines[i]);
    }
    tg_problems_clear(&found);
    unlink(path);
    free(path);
    return config;
}

/* The syntax, and for the problems the key files too (config.c and
 * sources.c: the core alone). */
static struct tg_config *core_load(const char *path, struct tg_problems *problems)
{
    return tg_config_load(path, problems);
}

static struct tg_config *core_load_with_keys(const char *path, struct tg_problems *problems)
{
    static struct tg_keyset keys;
    struct tg_config *config = tg_config_load(path, problems);
    if (config)
        tg_sources_keys_load(config, &keys, problems, NULL);
    tg_keyset_clear(&keys);
    return config;
}

char *support_config_problems(const char *text)
{
    char *problems;
    tg_config_free(support_load_text(text, core_load_with_keys, &problems));
    return problems;
}

struct tg_config *support_config_load(const char *text)
{
    return support_load_text(text, core_load, NULL);
}
