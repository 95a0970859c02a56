/* SPDX-License-Identifier: Apache-2.0 */
/* sources.c - what the configuration names (see sources.h). */
#include "tokengate/sources.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "tokengate/jwk.h"
#include "tokengate/text.h"

struct source_warning {
    const struct tg_config *config;
    int line;
    struct tg_problems *warnings;
};

/* Skipped keys are worth a warning, not a refusal: providers publish keys
 * for other purposes beside the signing keys. */
static void source_warning_keep(void *context, const char *message)
{
    const struct source_warning *where = context;
    if (where->warnings)
        tg_problems_add(where->warnings, where->config->file, where->line, "jwks: %s", message);
}

size_t tg_sources_keys_load(const struct tg_config *config, struct tg_keyset *keys,
                            struct tg_problems *problems, struct tg_problems *warnings)
{
    size_t before = problems->count + problems->dropped;
    struct tg_error err;
    tg_keyset_clear(keys);
    for (size_t i = 0; i < config->verifier_key_count; i++)
        if (tg_keyset_add_pem_file(keys, config->verifier_keys[i].value, NULL, &err) != 0)
            tg_problems_add(problems, config->file, config->verifier_keys[i].line,
                            "verifier_key: %s", err.text);
    if (config->hmac_secret_file.value &&
        tg_keyset_add_secret_file(keys, config->hmac_secret_file.value, NULL, &err) != 0)
        tg_problems_add(problems, config->file, config->hmac_secret_file.line,
                        "hmac_secret_file: %s", err.text);
    for (size_t i = 0; i < config->jwks_count; i++) {
        const struct tg_config_source *source = &config->jwks[i];
        if (tg_source_is_url(source->value))
            continue; /* fetched by the refresher */
        struct source_warning where = {config, source->line, warnings};
        int added = tg_keyset_add_jwks_file(keys, source->value, source_warning_keep, &where, &err);
        if (added < 0)
            tg_problems_add(problems, config->file, source->line, "jwks: %s", err.text);
        else if (added == 0)
            tg_problems_add(problems, config->file, source->line,
                            "jwks: %s holds no key that can verify signatures", source->value);
    }
    /* Checked now rather than at the first fetch, minutes later. */
    if (config->ca_file && config->ca_file[0]) {
        char *bundle = tg_file_read(config->ca_file, 16 * 1024 * 1024, &(size_t){0}, &err);
        if (!bundle)
            tg_problems_add(problems, config->file, config->ca_file_line, "ca_file: %s", err.text);
        else if (!strstr(bundle, "-----BEGIN CERTIFICATE-----"))
            tg_problems_add(problems, config->file, config->ca_file_line,
                            "ca_file: %s holds no PEM certificate", config->ca_file);
        free(bundle);
    }
    if (config->api_key_file) {
        char api_key[TG_API_KEY_MAX];
        if (tg_sources_api_key_read(config, api_key, sizeof api_key, problems) == 0)
            OPENSSL_cleanse(api_key, sizeof api_key);
    }
    return problems->count + problems->dropped - before;
}

bool tg_source_is_url(const char *value)
{
    /* An entry that names a scheme is a URL, and then it must be one that
     * may be fetched (tg_loader_urls_check): never taken for a file name. */
    return strstr(value, "://") != NULL;
}

size_t tg_sources_remote_count(const struct tg_config *config)
{
    size_t count = (config->api_key_file ? 1 : 0) + (config->oidc_issuer ? 1 : 0);
    for (size_t i = 0; i < config->jwks_count; i++)
        count += tg_source_is_url(config->jwks[i].value);
    return count;
}

int tg_sources_api_key_read(const struct tg_config *config, char *key, size_t size,
                           struct tg_problems *problems)
{
    const char *path = config->api_key_file;
    int line = config->api_key_file_line;
    /* The key lets anyone act as this application towards PropelAuth. */
    struct tg_error err;
    size_t len;
    char *text = tg_file_read_trusted(path, size - 1, true, &len, &err);
    if (!text) {
        tg_problems_add(problems, config->file, line, "api_key_file: %s", err.text);
        return -1;
    }
    while (len > 0 && strchr(" \t\r\n", text[len - 1]))
        text[--len] = '\0';
    int result = 0;
    if (len == 0 || !tg_text_is_single_line(text) || strchr(text, ' ')) {
        tg_problems_add(problems, config->file, line,
                        "api_key_file: %s must hold the API key on one line", path);
        result = -1;
    } else {
        memcpy(key, text, len + 1);
    }
    OPENSSL_cleanse(text, len);
    free(text);
    return result;
}
