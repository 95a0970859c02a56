/* SPDX-License-Identifier: Apache-2.0 */
/* keys.c - JOSE algorithms, verification keys and signatures over OpenSSL EVP. */
#include "tokengate/keys.h"

#include "tokengate/text.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#define KEY_FILE_MAX (64 * 1024)

static const char *const alg_names[TG_ALG_COUNT] = {
    [TG_ALG_RS256] = "RS256", [TG_ALG_RS384] = "RS384", [TG_ALG_RS512] = "RS512",
    [TG_ALG_PS256] = "PS256", [TG_ALG_PS384] = "PS384", [TG_ALG_PS512] = "PS512",
    [TG_ALG_ES256] = "ES256", [TG_ALG_ES384] = "ES384", [TG_ALG_ES512] = "ES512",
    [TG_ALG_EDDSA] = "EdDSA",
    [TG_ALG_HS256] = "HS256", [TG_ALG_HS384] = "HS384", [TG_ALG_HS512] = "HS512",
};

#define RSA_ALGS (TG_ALG_BIT(TG_ALG_RS256) | TG_ALG_BIT(TG_ALG_RS384) | TG_ALG_BIT(TG_ALG_RS512))
#define PSS_ALGS (TG_ALG_BIT(TG_ALG_PS256) | TG_ALG_BIT(TG_ALG_PS384) | TG_ALG_BIT(TG_ALG_PS512))
#define HMAC_ALGS (TG_ALG_BIT(TG_ALG_HS256) | TG_ALG_BIT(TG_ALG_HS384) | TG_ALG_BIT(TG_ALG_HS512))

const char *tg_alg_name(enum tg_alg alg)
{
    return alg > TG_ALG_UNKNOWN && alg < TG_ALG_COUNT ? alg_names[alg] : NULL;
}

enum tg_alg tg_alg_from_name(const char *name, size_t len)
{
    for (int alg = TG_ALG_UNKNOWN + 1; alg < TG_ALG_COUNT; alg++)
        if (strlen(alg_names[alg]) == len && memcmp(alg_names[alg], name, len) == 0)
            return (enum tg_alg)alg;
    return TG_ALG_UNKNOWN;
}

/* Message digests are fetched from the provider once: an implicit fetch on
 * every EVP_DigestVerifyInit costs more than the rest of a cached decision. */
static EVP_MD *digests[3];
static pthread_once_t digests_once = PTHREAD_ONCE_INIT;

static void digests_fetch(void)
{
    digests[0] = EVP_MD_fetch(NULL, "SHA256", NULL);
    digests[1] = EVP_MD_fetch(NULL, "SHA384", NULL);
    digests[2] = EVP_MD_fetch(NULL, "SHA512", NULL);
}

static const EVP_MD *alg_digest(enum tg_alg alg)
{
    pthread_once(&digests_once, digests_fetch);
    switch (alg) {
    case TG_ALG_RS256: case TG_ALG_PS256: case TG_ALG_ES256: case TG_ALG_HS256:
        return digests[0];
    case TG_ALG_RS384: case TG_ALG_PS384: case TG_ALG_ES384: case TG_ALG_HS384:
        return digests[1];
    case TG_ALG_RS512: case TG_ALG_PS512: case TG_ALG_ES512: case TG_ALG_HS512:
        return digests[2];
    default:
        return NULL;
    }
}

/* Size of one ECDSA coordinate for ES*, as JOSE fixes it (RFC 7518 3.4). */
static size_t ecdsa_coordinate_size(enum tg_alg alg)
{
    switch (alg) {
    case TG_ALG_ES256: return 32;
    case TG_ALG_ES384: return 48;
    case TG_ALG_ES512: return 66;
    default: return 0;
    }
}

static bool alg_is_pss(enum tg_alg alg)
{
    return TG_ALG_BIT(alg) & PSS_ALGS;
}

unsigned tg_key_algorithms(EVP_PKEY *pkey)
{
    switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_RSA:
        return EVP_PKEY_get_bits(pkey) >= TG_RSA_MIN_BITS ? RSA_ALGS | PSS_ALGS : 0;
    case EVP_PKEY_RSA_PSS:
        return EVP_PKEY_get_bits(pkey) >= TG_RSA_MIN_BITS ? PSS_ALGS : 0;
    case EVP_PKEY_ED25519:
        return TG_ALG_BIT(TG_ALG_EDDSA);
    case EVP_PKEY_EC: {
        char group[64];
        if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                            sizeof group, NULL))
            return 0;
        if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
            return TG_ALG_BIT(TG_ALG_ES256);
        if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0)
            return TG_ALG_BIT(TG_ALG_ES384);
        if (strcmp(group, "secp521r1") == 0 || strcmp(group, "P-521") == 0)
            return TG_ALG_BIT(TG_ALG_ES512);
        return 0;
    }
    default:
        return 0;
    }
}

enum tg_alg tg_key_default_algorithm(EVP_PKEY *pkey)
{
    unsigned algs = tg_key_algorithms(pkey);
    for (int alg = TG_ALG_UNKNOWN + 1; alg < TG_ALG_COUNT; alg++)
        if (algs & TG_ALG_BIT(alg))
            return (enum tg_alg)alg;
    return TG_ALG_UNKNOWN;
}

static struct tg_key *keyset_slot(struct tg_keyset *set, const char *kid, struct tg_error *error)
{
    if (set->count >= TG_KEYS_MAX) {
        tg_error_set(error, "more than %d keys", TG_KEYS_MAX);
        return NULL;
    }
    if (kid && strlen(kid) >= TG_KID_MAX) {
        tg_error_set(error, "kid longer than %d characters", TG_KID_MAX - 1);
        return NULL;
    }
    struct tg_key *key = &set->keys[set->count];
    memset(key, 0, sizeof *key);
    if (kid)
        strcpy(key->kid, kid);
    return key;
}

static void key_release(struct tg_key *key)
{
    for (int alg = 0; alg < TG_ALG_COUNT; alg++)
        EVP_PKEY_CTX_free(key->prepared[alg]);
    EVP_PKEY_free(key->pkey);
    if (key->secret) {
        OPENSSL_cleanse(key->secret, key->secret_len);
        free(key->secret);
    }
    memset(key, 0, sizeof *key);
}

/* A verify context for ALG over a message digest. EdDSA signs the message
 * itself, so it has none and goes through EVP_DigestVerify. */
static EVP_PKEY_CTX *context_prepare(EVP_PKEY *pkey, enum tg_alg alg)
{
    EVP_PKEY_CTX *context = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    bool ok = context && EVP_PKEY_verify_init(context) == 1 &&
              EVP_PKEY_CTX_set_signature_md(context, alg_digest(alg)) == 1;
    if (ok && (TG_ALG_BIT(alg) & (RSA_ALGS | PSS_ALGS)))
        ok = EVP_PKEY_CTX_set_rsa_padding(context, alg_is_pss(alg) ? RSA_PKCS1_PSS_PADDING
                                                                   : RSA_PKCS1_PADDING) == 1;
    if (ok && alg_is_pss(alg))
        ok = EVP_PKEY_CTX_set_rsa_pss_saltlen(context, RSA_PSS_SALTLEN_DIGEST) == 1;
    if (!ok) {
        EVP_PKEY_CTX_free(context);
        return NULL;
    }
    return context;
}

static bool key_contexts_prepare(struct tg_key *key)
{
    for (int alg = TG_ALG_UNKNOWN + 1; alg < TG_ALG_COUNT; alg++) {
        if (!(key->algs & TG_ALG_BIT(alg)) || alg == TG_ALG_EDDSA)
            continue;
        if (!(key->prepared[alg] = context_prepare(key->pkey, (enum tg_alg)alg)))
            return false;
    }
    return true;
}

/* Gives KEY its public key PKEY (owned from now on) verifying ALGS, and
 * sets up its verify contexts. On failure KEY is released. */
static int key_public_set(struct tg_key *key, EVP_PKEY *pkey, unsigned algs, struct tg_error *error)
{
    key->pkey = pkey;
    key->algs = algs;
    if (!key_contexts_prepare(key)) {
        key_release(key);
        tg_error_set(error, "cannot set up verification for this key");
        return -1;
    }
    return 0;
}

int tg_keyset_take_pkey(struct tg_keyset *set, EVP_PKEY *pkey, const char *kid, enum tg_alg only,
                        struct tg_error *error)
{
    struct tg_key *key = keyset_slot(set, kid, error);
    if (!key) {
        EVP_PKEY_free(pkey);
        return -1;
    }
    unsigned algs = tg_key_algorithms(pkey);
    if (algs == 0) {
        int is_rsa = EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA ||
                     EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA_PSS;
        if (is_rsa)
            tg_error_set(error, "RSA key of %d bits refused: at least %d are required",
                         EVP_PKEY_get_bits(pkey), TG_RSA_MIN_BITS);
        else
            tg_error_set(error, "unsupported key type (use RSA, EC P-256/384/521 or Ed25519)");
        EVP_PKEY_free(pkey);
        return -1;
    }
    if (only != TG_ALG_UNKNOWN) {
        if (!(algs & TG_ALG_BIT(only))) {
            tg_error_set(error, "alg %s does not fit the key's type", tg_alg_name(only));
            EVP_PKEY_free(pkey);
            return -1;
        }
        algs = TG_ALG_BIT(only);
    }
    if (key_public_set(key, pkey, algs, error) != 0)
        return -1;
    set->count++;
    return 0;
}

int tg_keyset_add_pem(struct tg_keyset *set, const char *pem, size_t pem_len,
                      const char *kid, struct tg_error *error)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)pem_len);
    EVP_PKEY *pkey = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (!pkey) {
        tg_error_set(error, "not a PEM public key (-----BEGIN PUBLIC KEY-----)");
        return -1;
    }
    return tg_keyset_take_pkey(set, pkey, kid, TG_ALG_UNKNOWN, error);
}

int tg_keyset_add_secret(struct tg_keyset *set, const unsigned char *secret, size_t len,
                         const char *kid, enum tg_alg only, struct tg_error *error)
{
    /* RFC 7518 3.2: an HMAC key must be at least as long as the hash output;
     * 32 bytes is the floor for HS256. */
    if (len < 32) {
        tg_error_set(error, "HMAC secret shorter than 32 bytes");
        return -1;
    }
    if (only != TG_ALG_UNKNOWN && !(TG_ALG_BIT(only) & HMAC_ALGS)) {
        tg_error_set(error, "alg %s does not fit an HMAC secret", tg_alg_name(only));
        return -1;
    }
    struct tg_key *key = keyset_slot(set, kid, error);
    unsigned char *copy = key ? malloc(len) : NULL;
    if (!copy) {
        if (key)
            tg_error_set(error, "out of memory");
        return -1;
    }
    memcpy(copy, secret, len);
    key->secret = copy;
    key->secret_len = len;
    key->algs = only != TG_ALG_UNKNOWN ? TG_ALG_BIT(only) : HMAC_ALGS;
    set->count++;
    return 0;
}

int tg_keyset_add_pem_file(struct tg_keyset *set, const char *path, const char *kid,
                           struct tg_error *error)
{
    size_t len;
    char *pem = tg_file_read_trusted(path, KEY_FILE_MAX, false, &len, error);
    if (!pem)
        return -1;
    int rc = tg_keyset_add_pem(set, pem, len, kid, error);
    if (rc != 0)
        tg_error_prefix(error, "%s", path);
    free(pem);
    return rc;
}

int tg_keyset_add_secret_file(struct tg_keyset *set, const char *path, const char *kid,
                              struct tg_error *error)
{
    size_t len;
    char *secret = tg_file_read_trusted(path, KEY_FILE_MAX, true, &len, error);
    if (!secret)
        return -1;
    while (len > 0 && (secret[len - 1] == '\n' || secret[len - 1] == '\r'))
        len--;
    int rc = tg_keyset_add_secret(set, (unsigned char *)secret, len, kid, TG_ALG_UNKNOWN, error);
    if (rc != 0)
        tg_error_prefix(error, "%s", path);
    OPENSSL_cleanse(secret, len);
    free(secret);
    return rc;
}

int tg_keyset_add_copy(struct tg_keyset *set, const struct tg_key *source, struct tg_error *error)
{
    struct tg_key *key = keyset_slot(set, source->kid, error);
    if (!key)
        return -1;
    if (source->secret) {
        key->algs = source->algs;
        if (!(key->secret = malloc(source->secret_len))) {
            tg_error_set(error, "out of memory");
            return -1;
        }
        memcpy(key->secret, source->secret, source->secret_len);
        key->secret_len = source->secret_len;
    } else {
        /* The public key is immutable once loaded: sharing it is safe. */
        if (EVP_PKEY_up_ref(source->pkey) != 1) {
            tg_error_set(error, "cannot share the key");
            return -1;
        }
        if (key_public_set(key, source->pkey, source->algs, error) != 0)
            return -1;
    }
    set->count++;
    return 0;
}

int tg_keyset_add_all(struct tg_keyset *set, const struct tg_keyset *source, struct tg_error *error)
{
    for (size_t i = 0; i < source->count; i++)
        if (tg_keyset_add_copy(set, &source->keys[i], error) != 0)
            return -1;
    return 0;
}

static bool key_equal(const struct tg_key *a, const struct tg_key *b)
{
    if (strcmp(a->kid, b->kid) != 0 || a->algs != b->algs)
        return false;
    if (a->secret || b->secret)
        return a->secret && b->secret && a->secret_len == b->secret_len &&
               CRYPTO_memcmp(a->secret, b->secret, a->secret_len) == 0;
    return EVP_PKEY_eq(a->pkey, b->pkey) == 1;
}

bool tg_keyset_contains_all(const struct tg_keyset *set, const struct tg_keyset *subset)
{
    for (size_t i = 0; i < subset->count; i++) {
        bool found = false;
        for (size_t j = 0; j < set->count && !found; j++)
            found = key_equal(&subset->keys[i], &set->keys[j]);
        if (!found)
            return false;
    }
    return true;
}

void tg_keyset_clear(struct tg_keyset *set)
{
    for (size_t i = 0; i < set->count; i++)
        key_release(&set->keys[i]);
    memset(set, 0, sizeof *set);
}

void tg_keyset_move(struct tg_keyset *to, struct tg_keyset *from)
{
    if (to == from)
        return;
    tg_keyset_clear(to);
    /* Only the keys in use: the set is large (TG_KEYS_MAX entries). */
    memcpy(to->keys, from->keys, from->count * sizeof from->keys[0]);
    to->count = from->count;
    memset(from->keys, 0, from->count * sizeof from->keys[0]);
    from->count = 0;
}

void tg_keyset_free(struct tg_keyset *set)
{
    if (set) {
        tg_keyset_clear(set);
        free(set);
    }
}

/* JOSE carries ECDSA signatures as fixed-size r||s; OpenSSL wants DER. */
static int ecdsa_raw_to_der(const unsigned char *raw, size_t coordinate,
                            unsigned char *der, size_t der_size)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, (int)coordinate, NULL);
    BIGNUM *s = BN_bin2bn(raw + coordinate, (int)coordinate, NULL);
    if (!sig || !r || !s || !ECDSA_SIG_set0(sig, r, s)) {
        ECDSA_SIG_free(sig);
        BN_free(r);
        BN_free(s);
        return -1;
    }
    int len = i2d_ECDSA_SIG(sig, NULL);
    if (len <= 0 || (size_t)len > der_size) {
        ECDSA_SIG_free(sig);
        return -1;
    }
    unsigned char *cursor = der;
    len = i2d_ECDSA_SIG(sig, &cursor);
    ECDSA_SIG_free(sig);
    return len;
}

static int ecdsa_der_to_raw(const unsigned char *der, size_t der_len, size_t coordinate,
                            unsigned char *raw)
{
    const unsigned char *cursor = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &cursor, (long)der_len);
    if (!sig)
        return -1;
    const BIGNUM *r, *s;
    ECDSA_SIG_get0(sig, &r, &s);
    int ok = BN_bn2binpad(r, raw, (int)coordinate) == (int)coordinate &&
             BN_bn2binpad(s, raw + coordinate, (int)coordinate) == (int)coordinate;
    ECDSA_SIG_free(sig);
    return ok ? (int)(2 * coordinate) : -1;
}

static bool hmac_verify(const struct tg_key *key, enum tg_alg alg, const unsigned char *input,
                        size_t input_len, const unsigned char *signature, size_t signature_len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (!HMAC(alg_digest(alg), key->secret, (int)key->secret_len, input, input_len, mac,
              &mac_len))
        return false;
    return mac_len == signature_len && CRYPTO_memcmp(mac, signature, mac_len) == 0;
}

/* One digest context per thread, reused: EVP_Digest() would allocate and
 * free one on every call. Freed when its thread ends. */
static pthread_key_t digest_context_key;
static pthread_once_t digest_context_once = PTHREAD_ONCE_INIT;

static void digest_context_free(void *context) { EVP_MD_CTX_free(context); }

static void digest_context_key_create(void)
{
    pthread_key_create(&digest_context_key, digest_context_free);
}

static EVP_MD_CTX *thread_digest_context(void)
{
    pthread_once(&digest_context_once, digest_context_key_create);
    EVP_MD_CTX *context = pthread_getspecific(digest_context_key);
    if (!context) {
        context = EVP_MD_CTX_new();
        if (context && pthread_setspecific(digest_context_key, context) != 0) {
            EVP_MD_CTX_free(context);
            context = NULL;
        }
    }
    return context;
}

bool tg_signature_verify(const struct tg_key *key, enum tg_alg alg,
                         const unsigned char *input, size_t input_len,
                         const unsigned char *signature, size_t signature_len)
{
    if (!(key->algs & TG_ALG_BIT(alg)))
        return false;
    if (TG_ALG_BIT(alg) & HMAC_ALGS)
        return key->secret && hmac_verify(key, alg, input, input_len, signature, signature_len);
    if (!key->pkey)
        return false;

    unsigned char der[160];
    size_t coordinate = ecdsa_coordinate_size(alg);
    if (coordinate) {
        if (signature_len != 2 * coordinate)
            return false;
        int der_len = ecdsa_raw_to_der(signature, coordinate, der, sizeof der);
        if (der_len < 0)
            return false;
        signature = der;
        signature_len = (size_t)der_len;
    }

    if (alg == TG_ALG_EDDSA) {
        EVP_MD_CTX *context = EVP_MD_CTX_new();
        bool ok = context && EVP_DigestVerifyInit(context, NULL, NULL, NULL, key->pkey) == 1 &&
                  EVP_DigestVerify(context, signature, signature_len, input, input_len) == 1;
        EVP_MD_CTX_free(context);
        return ok;
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    EVP_MD_CTX *digest_context = thread_digest_context();
    if (!key->prepared[alg] || !digest_context ||
        EVP_DigestInit_ex2(digest_context, alg_digest(alg), NULL) != 1 ||
        EVP_DigestUpdate(digest_context, input, input_len) != 1 ||
        EVP_DigestFinal_ex(digest_context, digest, &digest_len) != 1)
        return false;
    /* The prepared context is shared by all threads: each call works on
     * its own copy. */
    EVP_PKEY_CTX *context = EVP_PKEY_CTX_dup(key->prepared[alg]);
    bool ok = context &&
              EVP_PKEY_verify(context, signature, signature_len, digest, digest_len) == 1;
    EVP_PKEY_CTX_free(context);
    return ok;
}

long tg_signature_sign(EVP_PKEY *pkey, const unsigned char *secret, size_t secret_len,
                       enum tg_alg alg, const unsigned char *input, size_t input_len,
                       unsigned char *out, size_t out_size)
{
    if (TG_ALG_BIT(alg) & HMAC_ALGS) {
        unsigned int mac_len = 0;
        if (!secret || out_size < EVP_MAX_MD_SIZE ||
            !HMAC(alg_digest(alg), secret, (int)secret_len, input, input_len, out, &mac_len))
            return -1;
        return mac_len;
    }
    if (!pkey || !(tg_key_algorithms(pkey) & TG_ALG_BIT(alg)))
        return -1;

    unsigned char der[1024];
    size_t der_len = sizeof der;
    EVP_MD_CTX *context = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pkey_context = NULL;
    const EVP_MD *digest = alg == TG_ALG_EDDSA ? NULL : alg_digest(alg);
    bool ok = context && EVP_DigestSignInit(context, &pkey_context, digest, NULL, pkey) == 1;
    if (ok && alg_is_pss(alg))
        ok = EVP_PKEY_CTX_set_rsa_padding(pkey_context, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pkey_context, RSA_PSS_SALTLEN_DIGEST) == 1;
    ok = ok && EVP_DigestSign(context, der, &der_len, input, input_len) == 1;
    EVP_MD_CTX_free(context);
    if (!ok)
        return -1;

    size_t coordinate = ecdsa_coordinate_size(alg);
    if (coordinate) {
        if (out_size < 2 * coordinate)
            return -1;
        return ecdsa_der_to_raw(der, der_len, coordinate, out);
    }
    if (der_len > out_size)
        return -1;
    memcpy(out, der, der_len);
    return (long)der_len;
}
