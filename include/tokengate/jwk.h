/* SPDX-License-Identifier: Apache-2.0 */
/* jwk.h - keys from JSON Web Keys (RFC 7517) and JWK sets.
 *
 * Each usable key joins the key set with the algorithms its kty (and curve)
 * fixes, narrowed by its "alg" when it has one. Keys that cannot verify
 * signatures here are skipped, each with a warning: an unknown kty or curve,
 * "use" other than "sig", "key_ops" without "verify", an "alg" its type
 * cannot do, RSA under 2048 bits, an HMAC secret under 32 bytes.
 */
#ifndef TOKENGATE_JWK_H
#define TOKENGATE_JWK_H

#include <stddef.h>

#include "tokengate/keys.h"
#include "tokengate/text.h"

#define TG_JWKS_MAX_BYTES (256 * 1024)

/* Receives one warning sentence (never key material). */
typedef void (*tg_jwk_warning_fn)(void *context, const char *message);

/* Where a JWK set comes from: shared secrets (kty "oct") are taken only
 * from local files; in a set fetched from a URL, public by nature, they
 * are skipped with a warning. */
enum tg_jwk_origin { TG_JWK_LOCAL, TG_JWK_REMOTE };

/* Adds the keys of TEXT, a JWK set {"keys": [...]} or a single JWK, from
 * ORIGIN to SET. Returns how many were added, or -1 with ERROR when TEXT is
 * not a JWK set or the set is full. */
int tg_keyset_add_jwks(struct tg_keyset *set, const char *text, size_t len,
                       enum tg_jwk_origin origin, tg_jwk_warning_fn warn, void *context,
                       struct tg_error *error);

/* The same for the file PATH. */
int tg_keyset_add_jwks_file(struct tg_keyset *set, const char *path, tg_jwk_warning_fn warn,
                            void *context, struct tg_error *error);

#endif
