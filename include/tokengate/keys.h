/* SPDX-License-Identifier: Apache-2.0 */
/* keys.h - JOSE algorithms, verification keys and signatures.
 *
 * A key is loaded once (from a PEM public key, or a shared secret for HMAC)
 * and knows which algorithms its type can verify. The token's "alg" header
 * only ever narrows that set: it never chooses the key type, so an RSA public
 * key can never be used as an HMAC secret.
 */
#ifndef TOKENGATE_KEYS_H
#define TOKENGATE_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/evp.h>
#include "tokengate/text.h"

enum tg_alg {
    TG_ALG_UNKNOWN = 0,
    TG_ALG_RS256, TG_ALG_RS384, TG_ALG_RS512,
    TG_ALG_PS256, TG_ALG_PS384, TG_ALG_PS512,
    TG_ALG_ES256, TG_ALG_ES384, TG_ALG_ES512,
    TG_ALG_EDDSA,
    TG_ALG_HS256, TG_ALG_HS384, TG_ALG_HS512,
    TG_ALG_COUNT
};

#define TG_ALG_BIT(alg) (1u << (alg))
#define TG_KID_MAX 128
#define TG_KEYS_MAX 64
#define TG_RSA_MIN_BITS 2048

/* "RS256" and so on; NULL for TG_ALG_UNKNOWN. */
const char *tg_alg_name(enum tg_alg alg);
/* The algorithm named by the LEN bytes at NAME, or TG_ALG_UNKNOWN ("none"
 * included: it has no entry). */
enum tg_alg tg_alg_from_name(const char *name, size_t len);

struct tg_key {
    char kid[TG_KID_MAX];     /* empty when the key has no kid */
    unsigned algs;            /* TG_ALG_BIT()s this key type can verify */
    EVP_PKEY *pkey;           /* public key, or NULL for an HMAC secret */
    unsigned char *secret;    /* HMAC secret */
    size_t secret_len;
    /* Verify contexts set up once per algorithm at load: setting one up
     * costs a quarter of an RSA verify, copying it almost nothing. */
    EVP_PKEY_CTX *prepared[TG_ALG_COUNT];
};

struct tg_keyset {
    struct tg_key keys[TG_KEYS_MAX];
    size_t count;
};

/* Adds the public key in the PEM file PATH. Returns 0, or -1 with a message
 * in ERROR (never containing key material). */
int tg_keyset_add_pem_file(struct tg_keyset *set, const char *path, const char *kid,
                           struct tg_error *error);
/* Adds a public key from PEM text. */
int tg_keyset_add_pem(struct tg_keyset *set, const char *pem, size_t pem_len,
                      const char *kid, struct tg_error *error);
/* Takes PKEY (the set owns it from now on, also on failure) under KID, verifying
 * the algorithms its type allows, narrowed to ONLY when ONLY is not
 * TG_ALG_UNKNOWN. */
int tg_keyset_take_pkey(struct tg_keyset *set, EVP_PKEY *pkey, const char *kid, enum tg_alg only,
                        struct tg_error *error);
/* Adds an HMAC secret of LEN bytes (copied) under KID. */
int tg_keyset_add_secret(struct tg_keyset *set, const unsigned char *secret, size_t len,
                         const char *kid, enum tg_alg only, struct tg_error *error);
/* Adds an HMAC secret read from PATH (trailing newlines stripped). */
int tg_keyset_add_secret_file(struct tg_keyset *set, const char *path, const char *kid,
                              struct tg_error *error);
void tg_keyset_clear(struct tg_keyset *set);

/* Clears TO and moves FROM's keys into it; FROM is left empty (its keys
 * now belong to TO, and are freed with it). */
void tg_keyset_move(struct tg_keyset *to, struct tg_keyset *from);
/* Clears and frees a key set from the heap (NULL is fine). */
void tg_keyset_free(struct tg_keyset *set);

/* Adds a copy of SOURCE (sharing its immutable public key) to SET. */
int tg_keyset_add_copy(struct tg_keyset *set, const struct tg_key *source, struct tg_error *error);
/* Adds a copy of every key of SOURCE to SET. */
int tg_keyset_add_all(struct tg_keyset *set, const struct tg_keyset *source,
                      struct tg_error *error);
/* True when every key of SUBSET (same kid, algorithms and key material) is
 * also in SET: what was verified with SUBSET still holds under SET. */
bool tg_keyset_contains_all(const struct tg_keyset *set, const struct tg_keyset *subset);

/* Verifies SIGNATURE over INPUT with KEY under ALG, which must be one of the
 * key's algorithms. ES* signatures are JOSE's raw r||s form. */
bool tg_signature_verify(const struct tg_key *key, enum tg_alg alg,
                         const unsigned char *input, size_t input_len,
                         const unsigned char *signature, size_t signature_len);

/* Signs INPUT with the private key PKEY (or SECRET for HS*) under ALG into
 * OUT (at least 1024 bytes). Returns the signature length or -1. Used by
 * `tokengate mint` and the tests. */
long tg_signature_sign(EVP_PKEY *pkey, const unsigned char *secret, size_t secret_len,
                       enum tg_alg alg, const unsigned char *input, size_t input_len,
                       unsigned char *out, size_t out_size);

/* The algorithms a key of PKEY's type and size can verify (0 when none), and
 * the one `mint` picks by default. */
unsigned tg_key_algorithms(EVP_PKEY *pkey);
enum tg_alg tg_key_default_algorithm(EVP_PKEY *pkey);

#endif
