/* SPDX-License-Identifier: Apache-2.0 */
/* path.h - normalise a raw request path the way the web server routes it.
 *
 * Web servers hand the authorizer the client's REQUEST_URI as typed, but serve
 * the file their own normalisation finds. A matcher that sees "/open/../app"
 * where the server serves "/app" opens protected paths, so every rule is
 * matched against the normalised path, and anything that cannot be
 * normalised without guessing is refused.
 */
#ifndef TOKENGATE_PATH_H
#define TOKENGATE_PATH_H

#include <stddef.h>

#define TG_PATH_MAX 4096   /* longer request paths are refused */

/* Normalises the path part of URI (the query string is dropped): every
 * byte gets one spelling (tg_path_canonical), "." and ".." segments are
 * resolved, repeated "/" merged; a trailing "/" is kept. Refused (-1, with a
 * reason in *WHY): a path not starting with "/", what tg_path_canonical
 * refuses, ".." above the root, over TG_PATH_MAX. OUT must hold
 * TG_PATH_MAX + 1 bytes. */
int tg_path_normalize(const char *uri, char *out, const char **why);

/* Writes the LEN bytes at TEXT in their canonical spelling into OUT (SIZE
 * bytes): escapes of unreserved characters decoded (either hex case),
 * every other byte but "/" written as an escape with upper-case hex, so
 * that "@", "%40", "\xC3" and "%c3" each have one spelling, the one
 * browsers send for non-ASCII. Rule patterns go through the same function,
 * so a pattern compares byte for byte with what servers serve. Refused
 * (-1, *WHY): controls (raw or escaped), a raw or escaped "\", an escaped
 * "/", a "#", an invalid escape, an output that does not fit. Returns the
 * length written. */
long tg_path_canonical(const char *text, size_t len, char *out, size_t size, const char **why);

/* Decodes every percent-escape of the LEN bytes at TEXT into OUT (at least
 * LEN + 1 bytes). Returns the length, or -1 for an invalid escape or a NUL. */
long tg_percent_decode(const char *text, size_t len, char *out);

#endif
