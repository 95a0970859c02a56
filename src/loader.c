/* SPDX-License-Identifier: Apache-2.0 */
/* loader.c - how every entry point loads a configuration (see loader.h). */
#include "tokengate/loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokengate/fleet.h"
#include "tokengate/log.h"
#include "tokengate/sources.h"
#include "tokengate/url.h"

/* A URL tokengate fetches from: https://, or http:// to loopback. ROOM
 * keeps space for the paths appended to it. */
static void fetch_url_check(const struct tg_config *config, const char *key, const char *url,
                            int line, size_t room, struct tg_problems *problems)
{
    if (!tg_url_fetchable(url) || strlen(url) >= room)
        tg_problems_add(problems, config->file, line,
                        "%s: expected an https:// URL (http:// only to loopback), got '%s'", key,
                        url);
}

size_t tg_loader_urls_check(struct tg_config *config, struct tg_problems *problems)
{
    size_t before = problems->count + problems->dropped;
    for (size_t i = 0; i < config->jwks_count; i++)
        if (tg_source_is_url(config->jwks[i].value) && !tg_url_fetchable(config->jwks[i].value))
            tg_problems_add(problems, config->file, config->jwks[i].line,
                            "jwks: expected a file or an https:// URL, got '%s'",
                            config->jwks[i].value);
    if (config->oidc_issuer)
        fetch_url_check(config, "oidc_issuer", config->oidc_issuer, config->oidc_issuer_line,
                        TG_URL_MAX, problems);
    /* backend_url gets API paths appended: room is kept for them. */
    if (config->backend_url)
        fetch_url_check(config, "backend_url", config->backend_url,
                        config->backend_url_line ? config->backend_url_line : 1, TG_URL_MAX - 64,
                        problems);
    if (config->fleet_redis) {
        struct tg_redis_address address;
        const char *why;
        if (tg_redis_address_parse(config->fleet_redis, &address, &why) != 0)
            tg_problems_add(problems, config->file, config->fleet_redis_line,
                            "redis: %s, got '%s'", why, config->fleet_redis);
    }
    if (config->auth_url) {
        struct tg_url url;
        const char *why;
        char issuer[sizeof url.authority + 8];
        if (tg_url_parse(config->auth_url, TG_URL_SCHEME_OPTIONAL, &url, &why) != 0) {
            tg_problems_add(problems, config->file, config->auth_url_line,
                            "auth_url: expected https://HOST[:PORT], got '%s' (%s)",
                            config->auth_url, why);
        } else {
            /* PropelAuth's issuer is always https://HOST[:PORT], whatever
             * scheme or path the auth URL was written with. */
            snprintf(issuer, sizeof issuer, "https://%s", url.authority);
            char *authority = strdup(url.authority), *derived = strdup(issuer);
            if (!authority || !derived) {
                tg_problems_add(problems, config->file, config->auth_url_line, "out of memory");
                free(authority);
                free(derived);
            } else if (config->issuer && strcmp(config->issuer, issuer) != 0) {
                tg_problems_add(problems, config->file, config->issuer_line,
                                "issuer %s differs from %s, which auth_url implies",
                                config->issuer, issuer);
                free(authority);
                free(derived);
            } else {
                free(config->auth_authority);
                config->auth_authority = authority;
                free(config->issuer);
                config->issuer = derived;
            }
        }
    }
    return problems->count + problems->dropped - before;
}

struct tg_config *tg_loader_load(const char *path, struct tg_keyset *keys,
                                 struct tg_problems *problems)
{
    struct tg_config *config = tg_config_load(path, problems);
    struct tg_problems warnings = {0};
    if (config && (tg_loader_urls_check(config, problems) != 0 ||
                   tg_config_api_keys_load(config, problems) != 0 ||
                   tg_sources_keys_load(config, keys, problems, &warnings) != 0)) {
        tg_config_free(config);
        tg_keyset_clear(keys);
        config = NULL;
    }
    for (size_t i = 0; i < warnings.count; i++)
        tg_log(TG_LOG_WARN, "%s", warnings.lines[i]);
    tg_problems_clear(&warnings);
    return config;
}

