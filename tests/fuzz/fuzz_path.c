/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzing the request view against its own promises.
 *
 * Path normalisation: an accepted path is absolute, has no empty, "." or
 * ".." segment, no control character, and every byte has exactly one
 * spelling (unreserved characters and "/" raw, everything else an escape
 * with upper-case hex, never an escaped "/" or "\", never a raw "\" or
 * "#"), so that decoding it and spelling it again changes nothing, and
 * normalising it again changes nothing.
 *
 * The view: the input split at its first two NULs is a method, a URI and a
 * query-parameter name; a request it accepts has an upper-case method, no
 * "#", and the path tg_path_normalize gives; reading a query parameter or
 * a header never crashes and never says "found" for a parameter the query
 * does not spell. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokengate/path.h"
#include "tokengate/request.h"
#include "tokengate/text.h"

static void check_normalised(const char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    if (out[0] != '/' || strstr(out, "//") || strstr(out, "/./") || strstr(out, "/../"))
        abort();
    size_t len = strlen(out);
    if ((len >= 2 && strcmp(out + len - 2, "/.") == 0) ||
        (len >= 3 && strcmp(out + len - 3, "/..") == 0))
        abort();
    /* Decode every escape, spell each byte again: the same text. */
    char respelled[3 * TG_PATH_MAX + 1];
    size_t used = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)out[i];
        if (c == '%') {
            int high = tg_hex_digit(out[i + 1]), low = i + 2 <= len ? tg_hex_digit(out[i + 2]) : -1;
            if (high < 0 || low < 0 || (out[i + 1] >= 'a') || (out[i + 2] >= 'a'))
                abort();
            c = (unsigned char)(high << 4 | low);
            if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f)
                abort();
            i += 2;
        }
        bool raw = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '.' || c == '_' || c == '~' || (c == '/' && out[i] == '/');
        if (raw) {
            respelled[used++] = (char)c;
        } else {
            respelled[used++] = '%';
            respelled[used++] = hex[c >> 4];
            respelled[used++] = hex[c & 15];
        }
    }
    respelled[used] = '\0';
    if (strcmp(respelled, out) != 0)
        abort();
    char again[TG_PATH_MAX + 1];
    const char *why;
    if (tg_path_normalize(out, again, &why) != 0 || strcmp(out, again) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > TG_PATH_MAX + 64)
        return 0;
    char input[TG_PATH_MAX + 65];
    memcpy(input, data, size);
    input[size] = '\0';

    char out[TG_PATH_MAX + 1];
    const char *why;
    if (tg_path_normalize(input, out, &why) == 0) {
        size_t path_len = strcspn(input, "?");
        if (memchr(input, '#', path_len) || memchr(input, '\\', path_len))
            abort();
        check_normalised(out);
    }

    /* METHOD \0 URI \0 NAME, with the URI also sent as the org header. */
    const char *method = input;
    const char *uri = method + strlen(method) + 1 <= input + size ? method + strlen(method) + 1
                                                                  : "";
    const char *name = uri[0] && uri + strlen(uri) + 1 <= input + size ? uri + strlen(uri) + 1
                                                                       : "org";
    char method_param[TG_PATH_MAX + 80], uri_param[TG_PATH_MAX + 80], header_param[TG_PATH_MAX + 80];
    snprintf(method_param, sizeof method_param, "REQUEST_METHOD=%s", method);
    snprintf(uri_param, sizeof uri_param, "REQUEST_URI=%s", uri);
    snprintf(header_param, sizeof header_param, "HTTP_X_ORG=%s", uri);
    const char *params[] = {method_param, uri_param, header_param, NULL};
    static struct tg_request request;
    tg_request_init(&request, params, 0);
    if (!request.refusal) {
        for (const char *p = request.method; *p; p++)
            if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
                abort();
        if (!request.method[0] || strchr(request.uri, '#'))
            abort();
        char expected[TG_PATH_MAX + 1];
        if (tg_path_normalize(request.uri, expected, &why) != 0 ||
            strcmp(expected, request.path) != 0)
            abort();
    }
    char value[512];
    if (name[0] && tg_request_query_param(&request, name, value, sizeof value) == 1) {
        /* Found: the query holds NAME in some spelling, and the value is text. */
        if (!request.query || strlen(value) >= sizeof value)
            abort();
    }
    const char *header = NULL;
    if (tg_request_header(&request, name[0] ? name : "X-Org", &header) == 1 && !header)
        abort();
    return 0;
}
