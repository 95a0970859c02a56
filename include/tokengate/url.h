/* SPDX-License-Identifier: Apache-2.0 */
/* url.h - every URL tokengate reads, read one way.
 *
 * libcurl's own parser (curl_url) reads them: the host that -t checks, that
 * becomes the issuer and X-Propelauth-url, is the host libcurl connects to.
 * Only absolute http(s) URLs without user name or password are taken (a
 * "user@" part could make one URL name two hosts to two readers).
 */
#ifndef TOKENGATE_URL_H
#define TOKENGATE_URL_H

#include <stdbool.h>
#include <stddef.h>

#define TG_URL_MAX 1024             /* bytes of a URL, its NUL included */

struct tg_url {
    bool https;                     /* else http */
    char host[256];                 /* as libcurl connects to it ([::1] for IPv6) */
    char authority[300];            /* host[:port], the port only when written */
};

enum tg_url_flags {
    TG_URL_SCHEME_REQUIRED = 0,
    TG_URL_SCHEME_OPTIONAL = 1,     /* "host[:port]" alone means https:// */
};

/* Reads TEXT into URL. 0, or -1 with a phrase in *WHY. */
int tg_url_parse(const char *text, enum tg_url_flags flags, struct tg_url *url,
                 const char **why);

/* True when TEXT may be fetched: https:// anywhere, http:// only to a
 * loopback host (127.0.0.0/8 as a dotted quad, [::1], localhost), where
 * nothing leaves the machine. */
bool tg_url_fetchable(const char *text);

/* True when HOST (as tg_url_parse() gives it, or without brackets) is a
 * loopback address written plainly: 127.0.0.0/8 as a dotted quad, ::1 or
 * localhost. */
bool tg_url_host_is_loopback(const char *host);

/* BASE (its trailing slashes dropped) followed by PATH, into OUT of SIZE
 * bytes. -1 when it does not fit: a cut URL is an error, never fetched. */
int tg_url_join(const char *base, const char *path, char *out, size_t size);

#endif
