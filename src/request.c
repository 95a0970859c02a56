/* request.c - the facts of one request, as the web server sent them. */
#include "tokengate/request.h"

#include <stdio.h>
#include <string.h>

const char *tg_request_param(const struct tg_request *request, const char *name)
{
    size_t len = strlen(name);
    for (const char *const *param = request->params; param && *param; param++)
        if (strncmp(*param, name, len) == 0 && (*param)[len] == '=')
            return *param + len + 1;
    return NULL;
}

const char *tg_request_header(const struct tg_request *request, const char *name)
{
    char variable[128] = "HTTP_";
    size_t len = strlen(name);
    if (len + 6 > sizeof variable)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        variable[5 + i] = c == '-' ? '_' : (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
    }
    variable[5 + len] = '\0';
    return tg_request_param(request, variable);
}

void tg_request_init(struct tg_request *request, const char *const *params, time_t now)
{
    request->params = params;
    request->now = now;
    request->method = tg_request_param(request, "REQUEST_METHOD");
    request->uri = tg_request_param(request, "REQUEST_URI");
    if (!request->uri) {
        /* Servers that omit REQUEST_URI still say what they route. */
        const char *script = tg_request_param(request, "SCRIPT_NAME");
        const char *info = tg_request_param(request, "PATH_INFO");
        if (script || info) {
            int n = snprintf(request->uri_buffer, sizeof request->uri_buffer, "%s%s",
                             script ? script : "", info ? info : "");
            request->uri = n >= 0 && (size_t)n < sizeof request->uri_buffer ? request->uri_buffer
                                                                            : NULL;
        }
    }
    /* Under nginx auth_request QUERY_STRING is empty: the query always comes
     * from the URI, which every server sends raw. */
    const char *question = request->uri ? strchr(request->uri, '?') : NULL;
    request->query = question ? question + 1 : NULL;
    request->authorization = tg_request_param(request, "HTTP_AUTHORIZATION");
    request->cookie = tg_request_param(request, "HTTP_COOKIE");
}

int tg_request_query_param(const struct tg_request *request, const char *name, char *out,
                           size_t size)
{
    size_t name_len = strlen(name);
    int found = 0;
    const char *cursor = request->query;
    while (cursor && *cursor) {
        size_t pair_len = strcspn(cursor, "&;");
        const char *equals = memchr(cursor, '=', pair_len);
        size_t key_len = equals ? (size_t)(equals - cursor) : pair_len;
        if (key_len == name_len && strncmp(cursor, name, name_len) == 0) {
            if (found)
                return -1;
            found = 1;
            const char *value = equals ? equals + 1 : cursor + pair_len;
            size_t value_len = (size_t)(cursor + pair_len - value);
            if (value_len >= size)
                return -1;
            char raw[TG_PATH_MAX + 1];
            if (value_len > TG_PATH_MAX)
                return -1;
            for (size_t i = 0; i < value_len; i++)
                raw[i] = value[i] == '+' ? ' ' : value[i];
            if (tg_percent_decode(raw, value_len, out) < 0)
                return -1;
        }
        cursor += pair_len + (cursor[pair_len] ? 1 : 0);
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
