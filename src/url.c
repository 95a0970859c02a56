/* SPDX-License-Identifier: Apache-2.0 */
/* url.c - URLs read by libcurl's parser (see url.h). */
#include "tokengate/url.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

int tg_url_parse(const char *text, enum tg_url_flags flags, struct tg_url *url,
                 const char **why)
{
    *why = "not an http:// or https:// URL";
    if (strlen(text) >= TG_URL_MAX) {
        *why = "longer than a URL may be";
        return -1;
    }
    /* A written scheme is letters, "://" and a host: libcurl also reads
     * "https:/host" and "https:///host" as https://host, and a URL written
     * so is more likely a mistake. */
    size_t letters = strspn(text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
    bool scheme_written = letters > 0 && strncmp(text + letters, "://", 3) == 0;
    bool scheme_mangled = letters > 0 && strncmp(text + letters, ":/", 2) == 0 &&
                          (!scheme_written || text[letters + 3] == '/');
    if (scheme_mangled || (!scheme_written && !(flags & TG_URL_SCHEME_OPTIONAL)))
        return -1;
    CURLU *handle = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL, *password = NULL;
    int result = -1;
    unsigned int parse_flags = flags & TG_URL_SCHEME_OPTIONAL ? CURLU_DEFAULT_SCHEME : 0;
    if (!handle || curl_url_set(handle, CURLUPART_URL, text, parse_flags) != CURLUE_OK ||
        curl_url_get(handle, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(handle, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        goto done;
    curl_url_get(handle, CURLUPART_PORT, &port, 0);
    if (curl_url_get(handle, CURLUPART_USER, &user, 0) == CURLUE_OK ||
        curl_url_get(handle, CURLUPART_PASSWORD, &password, 0) == CURLUE_OK) {
        *why = "a URL with a user name or password";
        goto done;
    }
    if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0)
        goto done;
    url->https = strcmp(scheme, "https") == 0;
    int host_len = snprintf(url->host, sizeof url->host, "%s", host);
    int authority_len = snprintf(url->authority, sizeof url->authority, "%s%s%s", host,
                                 port ? ":" : "", port ? port : "");
    if (!host[0] || host_len >= (int)sizeof url->host ||
        authority_len >= (int)sizeof url->authority) {
        *why = "a URL whose host is empty or too long";
        goto done;
    }
    result = 0;
done:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(user);
    curl_free(password);
    curl_url_cleanup(handle);
    return result;
}

/* 127.0.0.0/8 written as a dotted quad (nothing cleverer), [::1] or
 * localhost. */
bool tg_url_host_is_loopback(const char *host)
{
    if (!strcmp(host, "localhost") || !strcmp(host, "[::1]") || !strcmp(host, "::1"))
        return true;
    unsigned a, b, c, d;
    char tail;
    return sscanf(host, "%3u.%3u.%3u.%3u%c", &a, &b, &c, &d, &tail) == 4 && a == 127 &&
           b < 256 && c < 256 && d < 256;
}

bool tg_url_fetchable(const char *text)
{
    struct tg_url url;
    const char *why;
    return tg_url_parse(text, TG_URL_SCHEME_REQUIRED, &url, &why) == 0 &&
           (url.https || tg_url_host_is_loopback(url.host));
}

int tg_url_join(const char *base, const char *path, char *out, size_t size)
{
    size_t len = strlen(base);
    while (len > 0 && base[len - 1] == '/')
        len--;
    int written = snprintf(out, size, "%.*s%s", (int)len, base, path);
    return written >= 0 && (size_t)written < size ? 0 : -1;
}
