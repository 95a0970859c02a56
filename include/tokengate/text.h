/* SPDX-License-Identifier: Apache-2.0 */
/* text.h - small helpers shared by the parsers and loaders.
 *
 * Kept in one place so that every module agrees on what a hex digit, a
 * control character and a readable file are.
 */
#ifndef TOKENGATE_TEXT_H
#define TOKENGATE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* The value of hex digit C (either case), or -1. */
int tg_hex_digit(char c);

/* True when TEXT holds no control character (C0, DEL or C1): such values
 * could split a header or a log line, so they are never passed on. */
bool tg_text_is_single_line(const char *text);

/* The bytes of the control character that starts TEXT (a C0 control but
 * NUL, DEL, a C1 control, U+2028 or U+2029), or 0 when it starts with none. */
size_t tg_text_control_length(const char *text);

/* The one error type (jansson's json_error_t): a sentence that says what
 * went wrong and where, for a log line or a FILE:LINE problem. It never
 * holds a secret or key material. */
#define TG_ERROR_MAX 512
struct tg_error {
    char text[TG_ERROR_MAX];
};

/* Sets ERROR's sentence (printf), cut to fit. */
void tg_error_set(struct tg_error *error, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Puts a prefix (printf) and ": " before ERROR's sentence, e.g. the name of
 * the file an inner error came from. */
void tg_error_prefix(struct tg_error *error, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* The one text buffer: bounded, over the caller's storage (curl's dynbuf
 * with its toobig limit, without allocating). The text is always
 * NUL-terminated; an append that does not fit copies what fits and sets
 * OVERFLOW, which stays set: later appends do nothing, and every append
 * returns false from then on. A cut text is an error for the caller. */
struct tg_buffer {
    char *data;
    size_t size;                /* bytes of storage */
    size_t used;                /* length of the text */
    bool overflow;
};

void tg_buffer_init(struct tg_buffer *buffer, char *storage, size_t size);

/* Inline: the response and the variables are written with it on every
 * decision. */
static inline bool tg_buffer_append(struct tg_buffer *buffer, const char *text, size_t len)
{
    if (buffer->overflow)
        return false;
    size_t room = buffer->size - 1 - buffer->used;
    size_t n = len < room ? len : room;
    memcpy(buffer->data + buffer->used, text, n);
    buffer->used += n;
    buffer->data[buffer->used] = '\0';
    buffer->overflow = n < len;
    return !buffer->overflow;
}

static inline bool tg_buffer_puts(struct tg_buffer *buffer, const char *text)
{
    return tg_buffer_append(buffer, text, strlen(text));
}

bool tg_buffer_printf(struct tg_buffer *buffer, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends " KEY=VALUE" (logfmt). VALUE (NULL: "-") stands bare when it is
 * printable ASCII without space, '"', '=' or '\\'; otherwise it is
 * double-quoted with backslash escapes (\" \\ \n \r \t, and \xHH for other
 * controls and every byte from 0x80), so that no value from outside can
 * forge another field or line. */
bool tg_buffer_logfmt(struct tg_buffer *buffer, const char *key, const char *value);

/* Appends VALUE as a JSON string: every control character (C1, U+2028 and
 * U+2029 included) is a \u escape and every byte that is not well-formed
 * UTF-8 becomes U+FFFD. */
bool tg_buffer_json_string(struct tg_buffer *buffer, const char *value);

/* Appends ,"KEY":VALUE to the JSON object being written (no comma right
 * after its "{"). VALUE NULL is null; with NUMBER it stands as given (the
 * caller's digits); otherwise a JSON string. */
bool tg_buffer_json_member(struct tg_buffer *buffer, const char *key, const char *value,
                           bool number);

/* Reads all of PATH, at most MAX bytes, into a new NUL-terminated buffer
 * (the caller frees it). NULL with a sentence in ERROR (naming neither
 * content nor secret) when it cannot be opened, read, or is larger. */
char *tg_file_read(const char *path, size_t max, size_t *len, struct tg_error *error);

/* Whether the open file FD (named PATH in messages) can be trusted, as
 * OpenBSD's httpd checks secrets: it belongs to tokengate's user or root,
 * and neither group nor others may write it; a SECRET is not readable by
 * others either. NULL when it can; else the sentence it puts in WHY,
 * which says how to fix it. */
const char *tg_file_trust_check(int fd, const char *path, bool secret, struct tg_error *why);

/* tg_file_read() for a file whose content is trusted (keys, secrets):
 * refused, with the reason in ERROR, unless tg_file_trust_check() passes on
 * the descriptor it reads. */
char *tg_file_read_trusted(const char *path, size_t max, bool secret, size_t *len,
                           struct tg_error *error);

#endif
