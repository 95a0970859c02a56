/* SPDX-License-Identifier: Apache-2.0 */
/* http.c - one bounded HTTPS GET or POST with libcurl (see http.h). */
#include "tokengate/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "tokengate/provider.h"
#include "tokengate/url.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

int tg_http_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

struct body {
    char *data;
    size_t len;
    bool too_large;
};

static size_t body_write(char *chunk, size_t size, size_t count, void *argument)
{
    struct body *body = argument;
    size_t len = size * count;
    if (len > TG_HTTP_BODY_MAX - body->len) {
        body->too_large = true;
        return 0;
    }
    char *grown = realloc(body->data, body->len + len + 1);
    if (!grown)
        return 0;
    memcpy(grown + body->len, chunk, len);
    body->data = grown;
    body->len += len;
    body->data[body->len] = '\0';
    return len;
}

static int progress_check(void *argument, curl_off_t dltotal, curl_off_t dlnow,
                          curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    const atomic_bool *cancel = argument;
    return cancel && atomic_load(cancel) ? 1 : 0;
}

/* The value of the response header NAME, or NULL. Valid only until the
 * next call: libcurl reuses the storage. */
static const char *header_value(CURL *curl, const char *name)
{
    struct curl_header *header = NULL;
    if (curl_easy_header(curl, name, 0, CURLH_HEADER, -1, &header) != CURLHE_OK || !header)
        return NULL;
    return header->value;
}

int tg_http_fetch(const struct tg_http_options *options, const char *url,
                  const char *const *headers, const char *json_body,
                  struct tg_http_response *response, struct tg_error *error)
{
    memset(response, 0, sizeof *response);
    response->max_age = -1;
    response->retry_after = -1;
    if (!tg_url_fetchable(url)) {
        tg_error_set(error, "refusing to fetch %s: only https://, or http:// to loopback",
                     url);
        return -1;
    }
    CURL *curl = curl_easy_init();
    if (!curl) {
        tg_error_set(error, "cannot set up a transfer (out of memory)");
        return -1;
    }
    struct curl_slist *list = NULL;
    /* The caller's headers, then the body's type. */
    const char *all[TG_HTTP_HEADERS_MAX + 2] = {NULL};
    size_t count = 0;
    for (; headers && headers[count] && count < TG_HTTP_HEADERS_MAX; count++)
        all[count] = headers[count];
    if (json_body)
        all[count++] = "Content-Type: application/json";
    for (size_t i = 0; i < count; i++) {
        const char *header = all[i];
        struct curl_slist *grown = curl_slist_append(list, header);
        if (!grown) {
            curl_slist_free_all(list);
            curl_easy_cleanup(curl);
            tg_error_set(error, "out of memory");
            return -1;
        }
        list = grown;
    }
    struct body body = {0};
    char curl_error[CURL_ERROR_SIZE] = "";
    long connect_ms = options->connect_timeout_ms > 0 ? options->connect_timeout_ms
                                                      : TG_HTTP_CONNECT_TIMEOUT_MS;
    long total_ms = options->total_timeout_ms > 0 ? options->total_timeout_ms
                                                  : TG_HTTP_TOTAL_TIMEOUT_MS;

    /* The options that keep a fetch safe are checked: a libcurl that
     * refused one (CURLOPT_PROTOCOLS_STR needs 7.85.0) would fetch with
     * less protection than asked for. */
    CURLcode setup = curl_easy_setopt(curl, CURLOPT_URL, url);
    if (setup == CURLE_OK)
        setup = curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    if (setup == CURLE_OK)
        setup = curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    if (setup == CURLE_OK)
        setup = curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    if (setup == CURLE_OK)
        setup = curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (setup == CURLE_OK)
        setup = curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)TG_HTTP_BODY_MAX);
    if (setup == CURLE_OK && options->ca_file && options->ca_file[0])
        setup = curl_easy_setopt(curl, CURLOPT_CAINFO, options->ca_file);
    if (setup != CURLE_OK) {
        curl_slist_free_all(list);
        curl_easy_cleanup(curl);
        tg_error_set(error, "%s: libcurl refused a safety option (%s): tokengate needs "
                                "libcurl 7.85.0 or later", url, curl_easy_strerror(setup));
        return -1;
    }
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, total_ms);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "tokengate/" PACKAGE_VERSION);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    if (json_body)
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json_body);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, body_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_error);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, progress_check);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, (void *)options->cancel);

    CURLcode code = curl_easy_perform(curl);
    int result = 0;
    if (code != CURLE_OK) {
        if (body.too_large || code == CURLE_FILESIZE_EXCEEDED)
            tg_error_set(error, "%s: the response is larger than %d KiB", url,
                         TG_HTTP_BODY_MAX / 1024);
        else if (code == CURLE_ABORTED_BY_CALLBACK)
            tg_error_set(error, "%s: fetch cancelled", url);
        else
            tg_error_set(error, "%s: %s", url,
                         curl_error[0] ? curl_error : curl_easy_strerror(code));
        free(body.data);
        result = -1;
    } else {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response->status);
        const char *value = header_value(curl, "Cache-Control");
        if (value)
            response->max_age = tg_provider_max_age_parse(value);
        if ((value = header_value(curl, "Retry-After")))
            response->retry_after = tg_provider_retry_after_parse(value, time(NULL));
        response->body = body.data ? body.data : strdup("");
        response->body_len = body.len;
        if (!response->body) {
            tg_error_set(error, "out of memory");
            result = -1;
        }
    }
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    return result;
}

void tg_http_response_clear(struct tg_http_response *response)
{
    free(response->body);
    memset(response, 0, sizeof *response);
    response->max_age = -1;
    response->retry_after = -1;
}
