/* SPDX-License-Identifier: Apache-2.0 */
/* text.c - small helpers shared by the parsers and loaders. */
#include "tokengate/text.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int tg_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Bytes that need a closer look: C0 controls (NUL included, which ends the
 * scan), DEL, 0xC2, the lead byte of the C1 controls (U+0085 among them),
 * and 0xE2, the lead byte of U+2028 and U+2029, which JavaScript, Python's
 * splitlines() and many log viewers take as line breaks. One table lookup
 * per byte: this runs on every value passed to the application. */
static const unsigned char line_special[256] = {
    [0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1, [0x06] = 1,
    [0x07] = 1, [0x08] = 1, [0x09] = 1, [0x0a] = 1, [0x0b] = 1, [0x0c] = 1, [0x0d] = 1,
    [0x0e] = 1, [0x0f] = 1, [0x10] = 1, [0x11] = 1, [0x12] = 1, [0x13] = 1, [0x14] = 1,
    [0x15] = 1, [0x16] = 1, [0x17] = 1, [0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1,
    [0x1c] = 1, [0x1d] = 1, [0x1e] = 1, [0x1f] = 1, [0x7f] = 1, [0xc2] = 1, [0xe2] = 1,
};

size_t tg_text_control_length(const char *text)
{
    const unsigned char *p = (const unsigned char *)text;
    if (!line_special[*p] || *p == 0)
        return 0;
    /* U+0080..U+009F are encoded as C2 80..C2 9F in UTF-8, U+2028 and
     * U+2029 as E2 80 A8 and E2 80 A9. */
    if (*p == 0xc2)
        return p[1] >= 0x80 && p[1] <= 0x9f ? 2 : 0;
    if (*p == 0xe2)
        return p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9) ? 3 : 0;
    return 1;
}

bool tg_text_is_single_line(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text;; p++) {
        if (!line_special[*p])
            continue;
        if (*p == 0)
            return true;
        if (tg_text_control_length((const char *)p))
            return false;
    }
}

void tg_error_set(struct tg_error *error, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(error->text, sizeof error->text, format, args);
    va_end(args);
}

void tg_error_prefix(struct tg_error *error, const char *format, ...)
{
    char prefix[TG_ERROR_MAX], inner[TG_ERROR_MAX];
    va_list args;
    va_start(args, format);
    vsnprintf(prefix, sizeof prefix, format, args);
    va_end(args);
    memcpy(inner, error->text, sizeof inner);
    /* Cut to fit, as error messages may be. */
    struct tg_buffer text;
    tg_buffer_init(&text, error->text, sizeof error->text);
    tg_buffer_puts(&text, prefix);
    tg_buffer_puts(&text, ": ");
    tg_buffer_puts(&text, inner);
}

void tg_buffer_init(struct tg_buffer *buffer, char *storage, size_t size)
{
    buffer->data = storage;
    buffer->size = size;
    buffer->used = 0;
    buffer->overflow = size == 0;
    if (size)
        storage[0] = '\0';
}

bool tg_buffer_printf(struct tg_buffer *buffer, const char *format, ...)
{
    if (buffer->overflow)
        return false;
    va_list args;
    va_start(args, format);
    size_t room = buffer->size - buffer->used;
    int written = vsnprintf(buffer->data + buffer->used, room, format, args);
    va_end(args);
    if (written < 0) {
        buffer->data[buffer->used] = '\0';
        buffer->overflow = true;
    } else if ((size_t)written >= room) {
        buffer->used = buffer->size - 1;
        buffer->overflow = true;
    } else {
        buffer->used += (size_t)written;
    }
    return !buffer->overflow;
}

bool tg_buffer_logfmt(struct tg_buffer *buffer, const char *key, const char *value)
{
    static const char hex[] = "0123456789abcdef";
    if (!value)
        value = "-";
    bool bare = value[0] != '\0';
    for (const unsigned char *p = (const unsigned char *)value; bare && *p; p++)
        bare = *p > 0x20 && *p < 0x7f && *p != '"' && *p != '=' && *p != '\\';
    tg_buffer_append(buffer, " ", 1);
    tg_buffer_puts(buffer, key);
    tg_buffer_append(buffer, bare ? "=" : "=\"", bare ? 1 : 2);
    if (bare)
        return tg_buffer_puts(buffer, value);
    for (const unsigned char *p = (const unsigned char *)value; *p && !buffer->overflow; p++) {
        char escaped[4] = {'\\', (char)*p, 0, 0};
        size_t len = 2;
        if (*p == '\n' || *p == '\r' || *p == '\t') {
            escaped[1] = *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't';
        } else if (*p < 0x20 || *p >= 0x7f) {
            escaped[1] = 'x';
            escaped[2] = hex[*p >> 4];
            escaped[3] = hex[*p & 15];
            len = 4;
        } else if (*p != '"' && *p != '\\') {
            len = 1;
            escaped[0] = (char)*p;
        }
        tg_buffer_append(buffer, escaped, len);
    }
    return tg_buffer_append(buffer, "\"", 1);
}

/* The length of the well-formed UTF-8 sequence of two to four bytes at P
 * (no overlong forms, no surrogates, nothing beyond U+10FFFF), or 0. P is
 * NUL-terminated, so a short sequence fails at its NUL. */
static size_t utf8_sequence_length(const unsigned char *p)
{
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        return (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (p[0] >= 0xe0 && p[0] <= 0xef) {
        unsigned char low = p[0] == 0xe0 ? 0xa0 : 0x80, high = p[0] == 0xed ? 0x9f : 0xbf;
        return p[1] >= low && p[1] <= high && (p[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        unsigned char low = p[0] == 0xf0 ? 0x90 : 0x80, high = p[0] == 0xf4 ? 0x8f : 0xbf;
        return p[1] >= low && p[1] <= high && (p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80
                   ? 4
                   : 0;
    }
    return 0;
}

bool tg_buffer_json_string(struct tg_buffer *buffer, const char *value)
{
    static const char hex[] = "0123456789abcdef";
    tg_buffer_append(buffer, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)value; *p && !buffer->overflow;) {
        size_t control = tg_text_control_length((const char *)p);
        size_t sequence = *p >= 0x80 ? utf8_sequence_length(p) : 1;
        if (control || *p == '"' || *p == '\\' || sequence == 0) {
            /* Controls (C1, U+2028/9 included) as \u escapes; a byte that
             * is not UTF-8 as U+FFFD: JSON cannot carry it. */
            unsigned code = control == 3 ? 0x2028u + (p[2] == 0xa9)
                            : control == 2 ? p[1]
                            : sequence == 0 ? 0xfffdu
                                            : *p;
            char escaped[7] = {'\\', (char)*p};
            size_t len = 2;
            if (*p == '\n' || *p == '\r' || *p == '\t') {
                escaped[1] = *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't';
            } else if (*p != '"' && *p != '\\') {
                snprintf(escaped, sizeof escaped, "\\u%c%c%c%c", hex[code >> 12 & 15],
                         hex[code >> 8 & 15], hex[code >> 4 & 15], hex[code & 15]);
                len = 6;
            }
            tg_buffer_append(buffer, escaped, len);
            p += control ? control : 1;
            continue;
        }
        tg_buffer_append(buffer, (const char *)p, sequence);
        p += sequence;
    }
    return tg_buffer_append(buffer, "\"", 1);
}

bool tg_buffer_json_member(struct tg_buffer *buffer, const char *key, const char *value,
                           bool number)
{
    if (buffer->used > 0 && buffer->data[buffer->used - 1] != '{')
        tg_buffer_append(buffer, ",", 1);
    tg_buffer_json_string(buffer, key);
    tg_buffer_append(buffer, ":", 1);
    if (!value)
        return tg_buffer_append(buffer, "null", 4);
    if (number)
        return tg_buffer_puts(buffer, value);
    return tg_buffer_json_string(buffer, value);
}

const char *tg_file_trust_check(int fd, const char *path, bool secret, struct tg_error *why)
{
    struct stat status;
    if (fstat(fd, &status) != 0) {
        tg_error_set(why, "cannot inspect %s: %s", path, strerror(errno));
        return why->text;
    }
    unsigned mode = (unsigned)(status.st_mode & 07777);
    if (status.st_uid != geteuid() && status.st_uid != 0)
        tg_error_set(why, "%s belongs to uid %u, neither tokengate's user (uid %u) nor root: "
                          "chown it",
                     path, (unsigned)status.st_uid, (unsigned)geteuid());
    else if (secret && (mode & (S_IROTH | S_IWOTH)))
        tg_error_set(why, "%s is readable or writable by every user (mode %04o): chmod 600 it "
                          "(or 640 with the group tokengate runs as)",
                     path, mode);
    else if (mode & (S_IWGRP | S_IWOTH))
        tg_error_set(why, "%s is writable by group or others (mode %04o): chmod go-w it", path,
                     mode);
    else
        return NULL;
    return why->text;
}

/* Reads all of the open FD (at most MAX bytes) into a new buffer. */
static char *fd_read(int fd, const char *path, size_t max, size_t *len, struct tg_error *error)
{
    char *buffer = malloc(max + 1);
    size_t n = 0;
    bool failed = !buffer;
    while (!failed && n <= max) {
        ssize_t got = read(fd, buffer + n, max + 1 - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            failed = true;
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    if (failed || n > max) {
        if (failed)
            tg_error_set(error, "cannot read %s", path);
        else
            tg_error_set(error, "%s is larger than %zu KiB", path, max / 1024);
        free(buffer);
        return NULL;
    }
    buffer[n] = '\0';
    *len = n;
    return buffer;
}

static char *file_read(const char *path, size_t max, size_t *len, int trust, struct tg_error *error)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        tg_error_set(error, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    /* Checked on the descriptor that is read, so that the file cannot be
     * swapped between the check and the read. */
    char *text = NULL;
    if (trust < 0 || !tg_file_trust_check(fd, path, trust == 1, error))
        text = fd_read(fd, path, max, len, error);
    close(fd);
    return text;
}

char *tg_file_read(const char *path, size_t max, size_t *len, struct tg_error *error)
{
    return file_read(path, max, len, -1, error);
}

char *tg_file_read_trusted(const char *path, size_t max, bool secret, size_t *len,
                           struct tg_error *error)
{
    return file_read(path, max, len, secret ? 1 : 0, error);
}
