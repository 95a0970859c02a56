/* SPDX-License-Identifier: Apache-2.0 */
/* loader.h - how every entry point loads a configuration.
 *
 * The server, -t and check all call tg_loader_load(): it parses the file
 * (config.h), reads every URL the way libcurl will (url.h) -- auth_url
 * gives the issuer and the X-Propelauth-url authority -- and loads the
 * keys in files (sources.h). Part of the edge: it needs libcurl.
 */
#ifndef TOKENGATE_LOADER_H
#define TOKENGATE_LOADER_H

#include <stddef.h>

#include "tokengate/config.h"
#include "tokengate/keys.h"

/* Loads the configuration at PATH, checks what it names and loads the keys
 * in files into KEYS (emptied first). NULL, with PROBLEMS filled, when
 * anything is wrong. */
struct tg_config *tg_loader_load(const char *path, struct tg_keyset *keys,
                                 struct tg_problems *problems);

/* Checks CONFIG's URLs (jwks URLs, oidc_issuer, backend_url, auth_url) and
 * derives the issuer and authority from auth_url. Returns the number of
 * problems added. */
size_t tg_loader_urls_check(struct tg_config *config, struct tg_problems *problems);

#endif
