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

/* Normalises the path part of URI (the query string is dropped):
 * percent-escapes of unreserved characters are decoded and the rest
 * upper-cased, "." and ".." segments resolved, repeated "/" merged; a
 * trailing "/" is kept. Refused (-1, with a reason in *WHY): a path not
 * starting with "/", NUL or control characters, invalid escapes, ".." above
 * the root, dot segments hidden behind an encoded "/" or "\", over
 * TG_PATH_MAX. OUT must hold TG_PATH_MAX + 1 bytes. */
int tg_path_normalize(const char *uri, char *out, const char **why);

/* Decodes every percent-escape of the LEN bytes at TEXT into OUT (at least
 * LEN + 1 bytes). Returns the length, or -1 for an invalid escape or a NUL. */
long tg_percent_decode(const char *text, size_t len, char *out);

#endif
