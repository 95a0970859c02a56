/* SPDX-License-Identifier: Apache-2.0 */
/* sources.h - what the configuration names in files: keys, the API key.
 *
 * config.h reads the file's syntax; this module reads the files its values
 * point at, and says which entries are fetched from providers instead
 * (tg_source_is_url), for the refresher, -t and its checks alike. The URLs
 * themselves are checked by loader.h, which takes libcurl's parser. Part of
 * the core: it reads files, and logs nothing.
 */
#ifndef TOKENGATE_SOURCES_H
#define TOKENGATE_SOURCES_H

#include <stdbool.h>
#include <stddef.h>

#include "tokengate/config.h"
#include "tokengate/keys.h"

/* Loads the keys CONFIG names in files (PEM, HMAC secret, JWK set files)
 * into KEYS (emptied first), and checks ca_file and api_key_file. Returns
 * the number of problems added (each naming the line of its entry); keys a
 * JWK set file holds but that cannot verify signatures are skipped and
 * said in WARNINGS (NULL: not said). */
size_t tg_sources_keys_load(const struct tg_config *config, struct tg_keyset *keys,
                            struct tg_problems *problems, struct tg_problems *warnings);

/* Reads the PropelAuth integration API key from api_key_file into KEY (SIZE
 * bytes), refusing a file that others may read or write. 0, or -1 with a
 * problem added (never naming the key). */
int tg_sources_api_key_read(const struct tg_config *config, char *key, size_t size,
                            struct tg_problems *problems);

/* True when a jwks entry VALUE is a URL (fetched) rather than a file. */
bool tg_source_is_url(const char *value);

/* How many sources the refresher fetches: PropelAuth, oidc_issuer and the
 * jwks URLs. */
size_t tg_sources_remote_count(const struct tg_config *config);

#endif
