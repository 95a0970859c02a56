/* request.h - the facts of one request, as the web server sent them.
 *
 * Every entry point builds this struct the same way from FastCGI-style
 * parameters ("NAME=value" strings): the server from FCGX_Request.envp,
 * `tokengate check` from its command line, the tests from literals. The
 * decision (decision.h) sees nothing else.
 */
#ifndef TOKENGATE_REQUEST_H
#define TOKENGATE_REQUEST_H

#include <stddef.h>
#include <time.h>

#include "tokengate/path.h"

struct tg_request {
    const char *const *params;  /* "NAME=value", NULL-terminated; borrowed */
    const char *method;         /* REQUEST_METHOD, or NULL */
    const char *uri;            /* REQUEST_URI (or SCRIPT_NAME + PATH_INFO), or NULL */
    const char *query;          /* the query string of uri, or NULL */
    const char *authorization;  /* HTTP_AUTHORIZATION, or NULL */
    const char *cookie;         /* HTTP_COOKIE, or NULL */
    time_t now;
    char uri_buffer[TG_PATH_MAX + 2];
};

/* Reads the facts from PARAMS. Like FCGX_GetParam, the first of repeated
 * names wins (Apache sends some twice). */
void tg_request_init(struct tg_request *request, const char *const *params, time_t now);

/* The value of parameter NAME, or NULL. */
const char *tg_request_param(const struct tg_request *request, const char *name);

/* The request header NAME (e.g. "X-Org-Id", read from HTTP_X_ORG_ID). */
const char *tg_request_header(const struct tg_request *request, const char *name);

/* Finds query parameter NAME and percent-decodes its value ("+" is a space,
 * as the application will read it) into OUT (SIZE bytes). Returns 1 when
 * found, 0 when absent, -1 when the value cannot be decoded, does not fit, or
 * the parameter is given more than once (the application might read another
 * copy than the one we checked). */
int tg_request_query_param(const struct tg_request *request, const char *name, char *out,
                           size_t size);

/* The value of cookie NAME in the Cookie header (first one wins), as a
 * pointer into it and a length; NULL when absent. */
const char *tg_request_cookie(const struct tg_request *request, const char *name, size_t *len);

#endif
