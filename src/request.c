/* SPDX-License-Identifier: Apache-2.0 */
/* request.c - what one request is: the single view the decision reads. */
#include "tokengate/request.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "tokengate/text.h"

#define HEADER_NAME_MAX 128
#define QUERY_NAME_MAX 1024  /* a longer name cannot be read (400 on an org-by-query rule) */

/* The value of parameter NAME (LEN bytes) at PARAM, or NULL. */
static const char *param_value(const char *param, const char *name, size_t len)
{
    return strncmp(param, name, len) == 0 && param[len] == '=' ? param + len + 1 : NULL;
}

/* The parameters the view is built from, found in one pass. */
enum fact { FACT_METHOD, FACT_URI, FACT_SCRIPT, FACT_INFO, FACT_QUERY, FACT_AUTHORIZATION,
            FACT_COOKIE, FACT_CLIENT, FACT_REQUEST_ID, FACT_COUNT };

static const struct { const char *name; size_t len; } fact_params[FACT_COUNT] = {
    [FACT_METHOD] = {"REQUEST_METHOD", 14},
    [FACT_URI] = {"REQUEST_URI", 11},
    [FACT_SCRIPT] = {"SCRIPT_NAME", 11},
    [FACT_INFO] = {"PATH_INFO", 9},
    [FACT_QUERY] = {"QUERY_STRING", 12},
    [FACT_AUTHORIZATION] = {"HTTP_AUTHORIZATION", 18},
    [FACT_COOKIE] = {"HTTP_COOKIE", 11},
    [FACT_CLIENT] = {"REMOTE_ADDR", 11},
    [FACT_REQUEST_ID] = {"HTTP_X_REQUEST_ID", 17},
};

/* Copies TEXT into OUT at *USED, escaping what a decoded SCRIPT_NAME or
 * PATH_INFO can hold but a raw path cannot: "%", "?" and "#". False when
 * it does not fit. */
static bool decoded_path_append(char *out, size_t size, size_t *used, const char *text)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        bool escape = *p == '%' || *p == '?' || *p == '#';
        if (*used + (escape ? 3 : 1) >= size)
            return false;
        if (escape) {
            out[(*used)++] = '%';
            out[(*used)++] = hex[*p >> 4];
            out[(*used)++] = hex[*p & 15];
        } else {
            out[(*used)++] = (char)*p;
        }
    }
    out[*used] = '\0';
    return true;
}

/* Only what an HTTP method token can be, in upper case: Apache passes a
 * lower-case "post" to the application, which frameworks upper-case, while
 * a rule for POST would not have matched it. */
static bool method_is_readable(const char *method)
{
    if (!method[0])
        return false;
    for (const char *p = method; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
            return false;
    return true;
}

/* Reads the Authorization header: "Bearer X" or "Token X", the scheme in
 * any case, one space, X one word. A bearer credential that is not a
 * compact JWS (exactly two dots) is an API key. */
static void credential_read(struct tg_request *request)
{
    const char *header = request->authorization;
    request->credential_text = NULL;
    request->credential_len = 0;
    if (!header || !header[0]) {
        request->credential = TG_CREDENTIAL_NONE;
        return;
    }
    request->credential = TG_CREDENTIAL_UNUSABLE;
    bool bearer = strncasecmp(header, "Bearer ", 7) == 0;
    if (!bearer && strncasecmp(header, "Token ", 6) != 0)
        return;
    const char *text = header + (bearer ? 7 : 6);
    size_t len = strlen(text);
    if (len == 0 || strpbrk(text, " \t\r\n"))
        return;
    size_t dots = 0;
    for (const char *p = text; (p = strchr(p, '.')); p++)
        dots++;
    request->credential = bearer && dots == 2 ? TG_CREDENTIAL_TOKEN : TG_CREDENTIAL_API_KEY;
    request->credential_text = text;
    request->credential_len = len;
    if (request->credential == TG_CREDENTIAL_API_KEY)
        tg_key_hash(text, len, request->key_hash);
}

void tg_request_init(struct tg_request *request, const char *const *params, time_t now)
{
    const char *facts[FACT_COUNT] = {0};
    bool conflicting = false, request_id_conflicting = false;
    for (const char *const *param = params; param && *param; param++) {
        /* Most parameters are other headers: their first letter rules out
         * every fact but a few. */
        char first = (*param)[0];
        if (first != 'R' && first != 'S' && first != 'P' && first != 'Q' && first != 'H')
            continue;
        for (int i = 0; i < FACT_COUNT; i++) {
            if (fact_params[i].name[0] != first)
                continue;
            const char *value = param_value(*param, fact_params[i].name, fact_params[i].len);
            if (!value)
                continue;
            /* A second copy that says something else could be the one
             * the application reads. */
            if (facts[i] && strcmp(facts[i], value) != 0) {
                /* The request id is only logged: two copies lose it, not
                 * the request. Cookies may repeat (tg_request_cookie). */
                if (i == FACT_REQUEST_ID)
                    request_id_conflicting = true;
                else if (i != FACT_COOKIE)
                    conflicting = true;
            }
            if (!facts[i])
                facts[i] = value;
            break;
        }
    }
    request->params = params;
    request->now = now;
    request->key_validation = NULL;
    request->revocations = NULL;
    request->method = facts[FACT_METHOD];
    request->uri = facts[FACT_URI];
    request->authorization = facts[FACT_AUTHORIZATION];
    request->cookie = facts[FACT_COOKIE];
    credential_read(request);
    request->client = facts[FACT_CLIENT];
    request->request_id = request_id_conflicting ? NULL : facts[FACT_REQUEST_ID];
    request->refusal = NULL;
    request->path[0] = '\0';
    request->query = NULL;

    if (request->uri) {
        /* Under nginx auth_request QUERY_STRING is empty: the query always
         * comes from the URI, which every server sends raw. */
        const char *question = strchr(request->uri, '?');
        request->query = question ? question + 1 : NULL;
    } else if (facts[FACT_SCRIPT] || facts[FACT_INFO]) {
        /* Servers that omit REQUEST_URI still say what they route, but
         * decoded: escape it back so that it reads as a raw path. */
        size_t used = 0;
        request->uri_buffer[0] = '\0';
        if (decoded_path_append(request->uri_buffer, sizeof request->uri_buffer, &used,
                                facts[FACT_SCRIPT] ? facts[FACT_SCRIPT] : "") &&
            decoded_path_append(request->uri_buffer, sizeof request->uri_buffer, &used,
                                facts[FACT_INFO] ? facts[FACT_INFO] : ""))
            request->uri = request->uri_buffer;
        else
            request->refusal = "the path is too long";
        request->query = facts[FACT_QUERY];
    }

    if (request->refusal)
        return;
    if (!request->method || !request->uri)
        request->refusal = "the request lacks a method or URI";
    else if (conflicting)
        request->refusal = "the request carries two different copies of one parameter";
    else if (!method_is_readable(request->method))
        request->refusal = "the method is not an upper-case HTTP method";
    else if (strchr(request->uri, '#'))
        request->refusal = "the request target holds a #";
    else if (tg_path_normalize(request->uri, request->path, &request->refusal) != 0)
        request->path[0] = '\0';
}

int tg_request_header(const struct tg_request *request, const char *name, const char **value)
{
    char variable[5 + HEADER_NAME_MAX + 1] = "HTTP_";
    size_t len = strlen(name);
    if (len > HEADER_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        variable[5 + i] = (c >= 'a' && c <= 'z')                                   ? (char)(c - 32)
                          : (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ? c
                                                                               : '_';
    }
    variable[5 + len] = '\0';
    int found = 0;
    for (const char *const *param = request->params; param && *param; param++) {
        const char *copy = param_value(*param, variable, 5 + len);
        if (!copy)
            continue;
        if (found)
            return -1;
        found = 1;
        *value = copy;
    }
    return found;
}

/* Decodes a query component: "+" is a space, then percent-escapes. Returns
 * the length, or -1 when it cannot be decoded or does not fit SIZE. */
static long query_decode(const char *text, size_t len, char *out, size_t size)
{
    char raw[QUERY_NAME_MAX + 1];
    if (len >= size || len > QUERY_NAME_MAX)
        return -1;
    for (size_t i = 0; i < len; i++)
        raw[i] = text[i] == '+' ? ' ' : text[i];
    return tg_percent_decode(raw, len, out);
}

/* True when the decoded parameter name KEY is NAME as some application
 * reads names without being NAME itself: PHP turns " ", "." and "[" into
 * "_", drops leading spaces, and reads "NAME[...]" as NAME. */
static bool name_is_variant(const char *key, size_t key_len, const char *name, size_t name_len)
{
    if (key_len > name_len && memcmp(key, name, name_len) == 0 && key[name_len] == '[')
        return true;
    while (key_len > 0 && *key == ' ') {
        key++;
        key_len--;
    }
    if (key_len != name_len)
        return false;
    for (size_t i = 0; i < key_len; i++) {
        char k = key[i] == ' ' || key[i] == '.' || key[i] == '[' ? '_' : key[i];
        char n = name[i] == ' ' || name[i] == '.' || name[i] == '[' ? '_' : name[i];
        if (k != n)
            return false;
    }
    return true;
}

int tg_request_query_param(const struct tg_request *request, const char *name, char *out,
                           size_t size)
{
    size_t name_len = strlen(name);
    int found = 0;
    char previous_separator = '\0';
    const char *cursor = request->query;
    while (cursor && *cursor) {
        size_t pair_len = strcspn(cursor, "&;");
        char separator = cursor[pair_len];
        const char *equals = memchr(cursor, '=', pair_len);
        size_t key_len = equals ? (size_t)(equals - cursor) : pair_len;
        char key[QUERY_NAME_MAX + 1];
        long decoded_len = pair_len ? query_decode(cursor, key_len, key, sizeof key) : 0;
        if (decoded_len < 0)
            return -1;
        bool exact = (size_t)decoded_len == name_len && memcmp(key, name, name_len) == 0;
        if (!exact && name_is_variant(key, (size_t)decoded_len, name, name_len))
            return -1;
        if (exact) {
            if (found || previous_separator == ';' || separator == ';')
                return -1;
            found = 1;
            const char *value = equals ? equals + 1 : cursor + pair_len;
            long value_len =
                query_decode(value, (size_t)(cursor + pair_len - value), out, size);
            if (value_len < 0)
                return -1;
        }
        previous_separator = separator;
        cursor += pair_len + (separator ? 1 : 0);
    }
    return found;
}

const char *tg_request_cookie(const struct tg_request *request, const char *name, size_t *len)
{
    size_t name_len = strlen(name);
    const char *cursor = request->cookie;
    while (cursor && *cursor) {
        cursor += strspn(cursor, " \t;");
        size_t pair_len = strcspn(cursor, ";");
        if (pair_len > name_len && strncmp(cursor, name, name_len) == 0 &&
            cursor[name_len] == '=') {
            const char *value = cursor + name_len + 1;
            size_t value_len = pair_len - name_len - 1;
            while (value_len && (value[value_len - 1] == ' ' || value[value_len - 1] == '\t'))
                value_len--;
            *len = value_len;
            return value_len ? value : NULL;
        }
        cursor += pair_len;
    }
    return NULL;
}
