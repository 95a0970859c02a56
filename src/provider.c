/* SPDX-License-Identifier: Apache-2.0 */
/* provider.c - reading what key providers answer (see provider.h). */
#include "tokengate/provider.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>


/* Refreshing more than daily protects nothing, and a huge max-age must not
 * stop rotation from ever being noticed. */

static json_t *object_load(const char *body, size_t len, const char *what, struct tg_error *error)
{
    json_error_t json_error;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &json_error);
    if (!root) {
        tg_error_set(error, "the %s is not JSON (line %d: %s)", what, json_error.line,
                     json_error.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        tg_error_set(error, "the %s is not a JSON object", what);
        json_decref(root);
        return NULL;
    }
    return root;
}

void tg_provider_propelauth_headers(const char *api_key, const char *authority,
                                    struct tg_propelauth_headers *headers)
{
    snprintf(headers->authorization, sizeof headers->authorization,
             "Authorization: Bearer %s", api_key);
    snprintf(headers->propelauth_url, sizeof headers->propelauth_url, "X-Propelauth-url: %s",
             authority);
    headers->list[0] = headers->authorization;
    headers->list[1] = headers->propelauth_url;
    headers->list[2] = NULL;
}

int tg_provider_metadata_read(const char *body, size_t len, struct tg_keyset *set,
                              struct tg_error *error)
{
    json_t *root = object_load(body, len, "token verification metadata", error);
    if (!root)
        return -1;
    json_t *pem = json_object_get(root, "verifier_key_pem");
    int result = -1;
    if (!json_is_string(pem)) {
        tg_error_set(error, "the token verification metadata has no verifier_key_pem");
    } else {
        struct tg_error why;
        result = tg_keyset_add_pem(set, json_string_value(pem), json_string_length(pem), NULL,
                                   &why);
        if (result != 0)
            tg_error_set(error, "verifier_key_pem: %s", why.text);
    }
    json_decref(root);
    return result;
}

int tg_provider_discovery_read(const char *body, size_t len, const char *issuer, char *jwks_uri,
                               struct tg_error *error)
{
    json_t *root = object_load(body, len, "discovery document", error);
    if (!root)
        return -1;
    const char *found_issuer = json_string_value(json_object_get(root, "issuer"));
    const char *uri = json_string_value(json_object_get(root, "jwks_uri"));
    int result = -1;
    /* A document naming another issuer could hand us an attacker's keys
     * for our issuer: the discovery spec requires the exact match. */
    if (!found_issuer)
        tg_error_set(error, "the discovery document has no issuer");
    else if (strcmp(found_issuer, issuer) != 0)
        tg_error_set(error, "the discovery document names issuer '%.200s', not %s",
                     found_issuer, issuer);
    else if (!uri || !uri[0])
        tg_error_set(error, "the discovery document has no jwks_uri");
    else if (strlen(uri) >= TG_URL_MAX)
        tg_error_set(error, "the discovery document's jwks_uri is too long");
    else {
        strcpy(jwks_uri, uri);
        result = 0;
    }
    json_decref(root);
    return result;
}

const char *tg_provider_status_explain(enum tg_source_kind kind, long status)
{
    if (kind == TG_SOURCE_PROPELAUTH) {
        switch (status) {
        case 401: return "PropelAuth refused the API key (401): check api_key_file";
        case 404: return "PropelAuth does not know this auth URL (404): check auth_url";
        case 429: return "PropelAuth is rate limiting us (429): backing off";
        default: break;
        }
    }
    switch (status) {
    case 401:
    case 403: return "the provider refused access to its keys";
    case 404: return "nothing at this URL (404): check the configured URL";
    case 429: return "the provider is rate limiting us (429): backing off";
    default: return status >= 500 ? "the provider failed (server error)"
                                  : "the provider answered an unexpected status";
    }
}

long tg_provider_next_fetch(bool success, long max_age, long retry_after, int failures,
                            long interval, long min_interval)
{
    if (min_interval > interval)
        min_interval = interval;
    if (success) {
        if (max_age < 0)
            return interval;
        return max_age < min_interval ? min_interval : max_age > interval ? interval : max_age;
    }
    long delay = min_interval;
    for (int i = 1; i < failures && delay < interval; i++)
        delay *= 2;
    if (delay > interval)
        delay = interval;
    /* A provider's Retry-After is honoured up to refresh_interval: one
     * answer must not freeze a key source for a day. */
    if (retry_after > delay)
        delay = retry_after > interval ? interval : retry_after;
    return delay;
}

long tg_provider_max_age_parse(const char *value)
{
    long max_age = -1;
    const char *cursor = value;
    while (*cursor) {
        cursor += strspn(cursor, " \t,");
        size_t len = strcspn(cursor, ",");
        if (!strncasecmp(cursor, "no-store", 8) || !strncasecmp(cursor, "no-cache", 8))
            return -1;
        if (!strncasecmp(cursor, "max-age=", 8)) {
            const char *digits = cursor + 8;
            if (*digits == '"')
                digits++;
            if (!isdigit((unsigned char)*digits))
                return -1;
            errno = 0;
            char *end;
            unsigned long long seconds = strtoull(digits, &end, 10);
            /* RFC 9111 5.2.1.1: an overflowing value means "a very long
             * time"; the caller bounds it anyway. */
            max_age = errno == ERANGE || seconds > LONG_MAX ? LONG_MAX : (long)seconds;
        }
        cursor += len;
    }
    return max_age;
}

long tg_provider_retry_after_parse(const char *value, time_t now)
{
    while (*value == ' ' || *value == '\t')
        value++;
    if (isdigit((unsigned char)*value)) {
        char *end;
        errno = 0;
        unsigned long long seconds = strtoull(value, &end, 10);
        while (*end == ' ' || *end == '\t')
            end++;
        if (*end)
            return -1;
        return errno == ERANGE || seconds > LONG_MAX ? LONG_MAX : (long)seconds;
    }
    /* An HTTP date (RFC 9110's IMF-fixdate, the form servers send). */
    struct tm date = {0};
    const char *end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &date);
    while (end && (*end == ' ' || *end == '\t'))
        end++;
    if (!end || *end)
        return -1;
    time_t when = timegm(&date);
    if (when == (time_t)-1)
        return -1;
    return when <= now ? 0 : (long)(when - now);
}
