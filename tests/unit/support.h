/* SPDX-License-Identifier: Apache-2.0 */
/* support.h - helpers shared by the unit tests and the benchmark: keys made
 * in-process, tokens signed with them, configurations written to temporary
 * files. No mocks: everything goes through the real modules. */
#ifndef TOKENGATE_TEST_SUPPORT_H
#define TOKENGATE_TEST_SUPPORT_H

#include <stddef.h>
#include <openssl/evp.h>

#include "tokengate/config.h"
#include "tokengate/keys.h"

#define SUPPORT_NOW 1700000000L  /* the clock every test decides at */

/* A new key: "RSA2048", "RSA1024", "RSA3072", "EC-P256", "EC-P384",
 * "EC-P521", "ED25519". Aborts on failure. */
EVP_PKEY *support_key_new(const char *type);
/* One RSA-2048 key per process, made on first use (generation is slow). */
EVP_PKEY *support_key_rsa(void);
/* The public half of KEY as PEM text (caller frees). */
char *support_public_pem(EVP_PKEY *key);
/* Adds KEY's public half to SET under KID (NULL for none). */
void support_keyset_add(struct tg_keyset *set, EVP_PKEY *key, const char *kid);

/* A compact JWS of HEADER_JSON and CLAIMS_JSON signed by KEY under ALG
 * (SECRET instead of KEY for HS*). Caller frees. */
char *support_token(EVP_PKEY *key, const char *secret, const char *alg,
                    const char *header_json, const char *claims_json);
/* header.claims.signature from literal parts: the signature is given as
 * base64url text, so tests can forge anything. Caller frees. */
char *support_token_parts(const char *header_json, const char *claims_json,
                          const char *signature_base64url);
/* base64url of TEXT (caller frees). */
char *support_base64url(const char *text, size_t len);

/* Writes CONTENT to a new temporary file; returns its path (caller frees). */
char *support_file_write(const char *content);
/* The core's view: loads configuration TEXT (config.h alone: no URL is
 * read, auth_url gives no issuer); on problems prints them and returns
 * NULL. */
struct tg_config *support_config_load(const char *text);
/* Loads configuration TEXT expecting problems; returns them joined by
 * newlines (caller frees), or NULL when it loaded cleanly. */
char *support_config_problems(const char *text);
/* The same through loader.h, as the entry points load it (edge tests). */
struct tg_config *support_loader_load(const char *text);
char *support_loader_problems(const char *text);
/* Writes TEXT to a file and loads it with LOAD: the configuration, or NULL;
 * its problems joined into *PROBLEMS (caller frees; NULL when none), or
 * printed when PROBLEMS is NULL. */
typedef struct tg_config *(*support_load_fn)(const char *path, struct tg_problems *problems);
struct tg_config *support_load_text(const char *text, support_load_fn load, char **problems);
/* PROBLEMS' lines joined by newlines (caller frees). */
char *support_problems_join(struct tg_problems *problems);

#endif
