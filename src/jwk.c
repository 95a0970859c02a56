/* SPDX-License-Identifier: Apache-2.0 */
/* jwk.c - keys from JSON Web Keys and JWK sets. */
#include "tokengate/jwk.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/param_build.h>

#include "tokengate/base64url.h"
#include "tokengate/text.h"

#define JWK_FIELD_MAX 1024 /* bytes of one decoded member: RSA 8192 bits fit */

struct jwk_context {
    tg_jwk_warning_fn warn;
    void *context;
    size_t index;
    enum tg_jwk_origin origin;
};

static void warning(struct jwk_context *context, const char *kid, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
static void warning(struct jwk_context *context, const char *kid, const char *format, ...)
{
    if (!context->warn)
        return;
    char reason[256], message[512];
    va_list args;
    va_start(args, format);
    vsnprintf(reason, sizeof reason, format, args);
    va_end(args);
    snprintf(message, sizeof message, "key %zu%s%s%s skipped: %s", context->index,
             kid ? " (kid " : "", kid ? kid : "", kid ? ")" : "", reason);
    context->warn(context->context, message);
}

/* Decodes the base64url member NAME of JWK into OUT (JWK_FIELD_MAX bytes).
 * Returns the length, or -1 when absent, not a string or not base64url. */
static long member_decode(json_t *jwk, const char *name, unsigned char *out)
{
    json_t *value = json_object_get(jwk, name);
    if (!json_is_string(value))
        return -1;
    size_t len = json_string_length(value);
    if (TG_BASE64URL_DECODED_SIZE(len) > JWK_FIELD_MAX)
        return -1;
    return (long)tg_base64url_decode(json_string_value(value), len, out);
}

static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *builder)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(builder);
    EVP_PKEY_CTX *context = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pkey = NULL;
    if (!params || !context || EVP_PKEY_fromdata_init(context) != 1 ||
        EVP_PKEY_fromdata(context, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(context);
    OSSL_PARAM_free(params);
    return pkey;
}

static EVP_PKEY *rsa_key(json_t *jwk, const char **why)
{
    unsigned char n[JWK_FIELD_MAX], e[JWK_FIELD_MAX];
    long n_len = member_decode(jwk, "n", n), e_len = member_decode(jwk, "e", e);
    if (n_len <= 0 || e_len <= 0 || e_len > 8) {
        *why = "RSA key without valid n and e";
        return NULL;
    }
    BIGNUM *modulus = BN_bin2bn(n, (int)n_len, NULL);
    BIGNUM *exponent = BN_bin2bn(e, (int)e_len, NULL);
    OSSL_PARAM_BLD *builder = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey = NULL;
    if (modulus && exponent && builder &&
        OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_N, modulus) &&
        OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_E, exponent))
        pkey = pkey_from_params("RSA", builder);
    OSSL_PARAM_BLD_free(builder);
    BN_free(modulus);
    BN_free(exponent);
    if (!pkey)
        *why = "RSA key that OpenSSL refuses";
    return pkey;
}

static EVP_PKEY *ec_key(json_t *jwk, const char **why)
{
    static const struct { const char *crv, *group; size_t size; } curves[] = {
        {"P-256", "prime256v1", 32}, {"P-384", "secp384r1", 48}, {"P-521", "secp521r1", 66},
    };
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    size_t curve = 0;
    while (curve < 3 && (!crv || strcmp(crv, curves[curve].crv) != 0))
        curve++;
    if (curve == 3) {
        *why = "unsupported EC curve";
        return NULL;
    }
    /* The uncompressed point 04 || x || y, each coordinate at full size.
     * RFC 7518 wants full-size coordinates in the JWK too, but some
     * libraries drop their leading zero bytes (Debian 12's PyJWT, about one
     * key in 128): the number is the same, so a shorter coordinate is
     * padded back; a longer one is refused. */
    unsigned char x[JWK_FIELD_MAX], y[JWK_FIELD_MAX], point[1 + 2 * 66] = {0x04};
    size_t size = curves[curve].size;
    long x_len = member_decode(jwk, "x", x), y_len = member_decode(jwk, "y", y);
    if (x_len < 1 || y_len < 1 || x_len > (long)size || y_len > (long)size) {
        *why = "EC key without x and y of its curve's size";
        return NULL;
    }
    memcpy(point + 1 + size - (size_t)x_len, x, (size_t)x_len);
    memcpy(point + 1 + 2 * size - (size_t)y_len, y, (size_t)y_len);
    OSSL_PARAM_BLD *builder = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey = NULL;
    /* OpenSSL checks that the point lies on the curve. */
    if (builder &&
        OSSL_PARAM_BLD_push_utf8_string(builder, OSSL_PKEY_PARAM_GROUP_NAME,
                                        curves[curve].group, 0) &&
        OSSL_PARAM_BLD_push_octet_string(builder, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * size))
        pkey = pkey_from_params("EC", builder);
    OSSL_PARAM_BLD_free(builder);
    if (!pkey)
        *why = "EC point that is not on its curve";
    return pkey;
}

static EVP_PKEY *okp_key(json_t *jwk, const char **why)
{
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    if (!crv || strcmp(crv, "Ed25519") != 0) {
        *why = "unsupported OKP curve (only Ed25519 verifies signatures here)";
        return NULL;
    }
    unsigned char x[JWK_FIELD_MAX];
    if (member_decode(jwk, "x", x) != 32) {
        *why = "Ed25519 key without a 32-byte x";
        return NULL;
    }
    EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, 32);
    if (!pkey)
        *why = "Ed25519 key that OpenSSL refuses";
    return pkey;
}

/* False when the key declares it is not for verifying signatures. */
static bool usable_for_verification(json_t *jwk, const char **why)
{
    json_t *use = json_object_get(jwk, "use");
    if (use && (!json_is_string(use) || strcmp(json_string_value(use), "sig") != 0)) {
        *why = "\"use\" is not \"sig\"";
        return false;
    }
    json_t *operations = json_object_get(jwk, "key_ops");
    if (operations) {
        size_t index;
        json_t *operation;
        bool verify = false;
        json_array_foreach(operations, index, operation)
            verify |= json_is_string(operation) && !strcmp(json_string_value(operation), "verify");
        if (!verify) {
            *why = "\"key_ops\" does not include \"verify\"";
            return false;
        }
    }
    return true;
}

/* Adds one JWK; returns 1 when added, 0 when skipped (with a warning). */
static int jwk_add(struct tg_keyset *set, json_t *jwk, struct jwk_context *context)
{
    json_t *kid_value = json_object_get(jwk, "kid");
    const char *kid = json_string_value(kid_value);
    if (!json_is_object(jwk)) {
        warning(context, NULL, "not a JSON object");
        return 0;
    }
    if (kid_value && (!kid || strlen(kid) >= TG_KID_MAX || !tg_text_is_single_line(kid))) {
        warning(context, NULL, "invalid kid");
        return 0;
    }
    const char *why = NULL;
    if (!usable_for_verification(jwk, &why)) {
        warning(context, kid, "%s", why);
        return 0;
    }
    enum tg_alg only = TG_ALG_UNKNOWN;
    json_t *alg = json_object_get(jwk, "alg");
    if (alg) {
        const char *name = json_string_value(alg);
        only = name ? tg_alg_from_name(name, strlen(name)) : TG_ALG_UNKNOWN;
        if (only == TG_ALG_UNKNOWN) {
            warning(context, kid, "unsupported alg");
            return 0;
        }
    }
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    struct tg_error err;
    int rc;
    if (kty && !strcmp(kty, "oct") && context->origin != TG_JWK_LOCAL) {
        /* A set served at a URL is public by nature: a shared secret in it
         * would let anyone who can read it sign tokens. */
        warning(context, kid, "oct key skipped: shared secrets are accepted only from local files");
        return 0;
    }
    if (kty && !strcmp(kty, "oct")) {
        unsigned char secret[JWK_FIELD_MAX];
        long len = member_decode(jwk, "k", secret);
        if (len <= 0) {
            warning(context, kid, "oct key without a valid k");
            return 0;
        }
        rc = tg_keyset_add_secret(set, secret, (size_t)len, kid, only, &err);
        OPENSSL_cleanse(secret, sizeof secret);
    } else {
        EVP_PKEY *pkey = !kty                 ? NULL
                         : !strcmp(kty, "RSA") ? rsa_key(jwk, &why)
                         : !strcmp(kty, "EC")  ? ec_key(jwk, &why)
                         : !strcmp(kty, "OKP") ? okp_key(jwk, &why)
                                               : NULL;
        if (!pkey) {
            warning(context, kid, "%s", why ? why : "unsupported kty");
            return 0;
        }
        rc = tg_keyset_take_pkey(set, pkey, kid, only, &err);
    }
    if (rc != 0) {
        warning(context, kid, "%s", err.text);
        return 0;
    }
    return 1;
}

int tg_keyset_add_jwks(struct tg_keyset *set, const char *text, size_t len,
                       enum tg_jwk_origin origin, tg_jwk_warning_fn warn, void *context,
                       struct tg_error *error)
{
    json_error_t json_error;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &json_error);
    if (!json_is_object(root)) {
        tg_error_set(error, "not a JWK set (line %d: %s)", json_error.line,
                     root ? "not a JSON object" : json_error.text);
        json_decref(root);
        return -1;
    }
    json_t *keys = json_object_get(root, "keys");
    if (keys && !json_is_array(keys)) {
        tg_error_set(error, "not a JWK set: \"keys\" is not an array");
        json_decref(root);
        return -1;
    }
    struct jwk_context jwk_context = {.warn = warn, .context = context, .origin = origin};
    int added = 0;
    size_t count = keys ? json_array_size(keys) : 1;
    for (size_t i = 0; i < count; i++) {
        if (set->count >= TG_KEYS_MAX) {
            tg_error_set(error, "more than %d keys", TG_KEYS_MAX);
            json_decref(root);
            return -1;
        }
        jwk_context.index = i;
        added += jwk_add(set, keys ? json_array_get(keys, i) : root, &jwk_context);
    }
    json_decref(root);
    return added;
}

int tg_keyset_add_jwks_file(struct tg_keyset *set, const char *path, tg_jwk_warning_fn warn,
                            void *context, struct tg_error *error)
{
    size_t len;
    char *text = tg_file_read_trusted(path, TG_JWKS_MAX_BYTES, false, &len, error);
    if (!text)
        return -1;
    int added = tg_keyset_add_jwks(set, text, len, TG_JWK_LOCAL, warn, context, error);
    if (added < 0)
        tg_error_prefix(error, "%s", path);
    free(text);
    return added;
}
