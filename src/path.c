/* SPDX-License-Identifier: Apache-2.0 */
/* path.c - normalise a raw request path the way the web server routes it. */
#include "tokengate/path.h"

#include <stdbool.h>
#include <string.h>

#include "tokengate/text.h"

/* What one byte of a raw path becomes in the canonical spelling. Every web
 * server decodes every escape before it looks for the file, so "@" and
 * "%40" name the same file: each byte gets exactly one spelling here, or
 * two spellings of one file would match different rules. */
enum byte_class {
    BYTE_ESCAPE = 0,  /* written as %XX, upper-case hex */
    BYTE_KEEP,        /* unreserved characters and "/": written as they are */
    BYTE_PERCENT,     /* starts an escape */
    BYTE_REFUSE,      /* controls, "\" and "#": never read without guessing */
};

static const unsigned char byte_classes[256] = {
    [0x00 ... 0x1f] = BYTE_REFUSE, [0x7f] = BYTE_REFUSE,
    ['\\'] = BYTE_REFUSE, ['#'] = BYTE_REFUSE,
    ['%'] = BYTE_PERCENT,
    ['/'] = BYTE_KEEP, ['-'] = BYTE_KEEP, ['.'] = BYTE_KEEP, ['_'] = BYTE_KEEP, ['~'] = BYTE_KEEP,
    ['0' ... '9'] = BYTE_KEEP, ['A' ... 'Z'] = BYTE_KEEP, ['a' ... 'z'] = BYTE_KEEP,
};

static bool is_unreserved(unsigned char c)
{
    return c != '/' && byte_classes[c] == BYTE_KEEP;
}

long tg_percent_decode(const char *text, size_t len, char *out)
{
    size_t written = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\0')
            return -1;
        if (text[i] != '%') {
            out[written++] = text[i];
            continue;
        }
        int high = i + 1 < len ? tg_hex_digit(text[i + 1]) : -1;
        int low = i + 2 < len ? tg_hex_digit(text[i + 2]) : -1;
        if (high < 0 || low < 0 || (high == 0 && low == 0))
            return -1;
        out[written++] = (char)(high << 4 | low);
        i += 2;
    }
    out[written] = '\0';
    return (long)written;
}

long tg_path_canonical(const char *text, size_t len, char *out, size_t size, const char **why)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t used = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        switch (byte_classes[c]) {
        case BYTE_REFUSE:
            *why = c == '\\' ? "the path holds a \\"
                   : c == '#' ? "the request target holds a #"
                              : "the path holds a control character";
            return -1;
        case BYTE_KEEP:
            if (used + 1 >= size)
                goto too_long;
            out[used++] = (char)c;
            continue;
        case BYTE_PERCENT: {
            int high = i + 1 < len ? tg_hex_digit(text[i + 1]) : -1;
            int low = i + 2 < len ? tg_hex_digit(text[i + 2]) : -1;
            if (high < 0 || low < 0) {
                *why = "the path holds an invalid percent-escape";
                return -1;
            }
            i += 2;
            c = (unsigned char)(high << 4 | low);
            if (c < 0x20 || c == 0x7f) {
                *why = "the path holds an encoded NUL or control character";
                return -1;
            }
            /* lighttpd and nginx decode these into separators; Apache
             * refuses them: no reading of them is safe. */
            if (c == '/' || c == '\\') {
                *why = "the path holds an encoded / or \\";
                return -1;
            }
            if (is_unreserved(c)) {
                if (used + 1 >= size)
                    goto too_long;
                out[used++] = (char)c;
                continue;
            }
            break;
        }
        default:
            break;
        }
        if (used + 3 >= size)
            goto too_long;
        out[used++] = '%';
        out[used++] = hex[c >> 4];
        out[used++] = hex[c & 15];
    }
    out[used] = '\0';
    return (long)used;
too_long:
    *why = "the path is too long";
    return -1;
}

static bool is_dot_segment(const char *segment, size_t len)
{
    return (len == 1 && segment[0] == '.') ||
           (len == 2 && segment[0] == '.' && segment[1] == '.');
}

int tg_path_normalize(const char *uri, char *out, const char **why)
{
    size_t len = strcspn(uri, "?");
    if (len == 0 || uri[0] != '/') {
        *why = "the path does not start with /";
        return -1;
    }
    if (len > TG_PATH_MAX) {
        *why = "the path is too long";
        return -1;
    }

    /* Pass 1: one spelling for every byte (see byte_classes). */
    char canonical[TG_PATH_MAX + 1];
    long canonical_len = tg_path_canonical(uri, len, canonical, sizeof canonical, why);
    if (canonical_len < 0)
        return -1;
    size_t decoded_len = (size_t)canonical_len;

    /* Pass 2: segments. OUT holds "/a/b" without a trailing slash while it
     * grows; ".." cuts back to the previous "/". */
    size_t out_len = 0;
    bool trailing_slash = false;
    size_t start = 1;
    while (start <= decoded_len) {
        size_t end = start;
        while (end < decoded_len && canonical[end] != '/')
            end++;
        const char *segment = canonical + start;
        size_t segment_len = end - start;
        bool last = end >= decoded_len;
        trailing_slash = last && (segment_len == 0 || is_dot_segment(segment, segment_len));
        if (segment_len == 0 || (segment_len == 1 && segment[0] == '.')) {
            /* "//" and "/./" add nothing */
        } else if (segment_len == 2 && is_dot_segment(segment, segment_len)) {
            if (out_len == 0) {
                *why = "the path climbs above the root";
                return -1;
            }
            while (out_len > 0 && out[out_len - 1] != '/')
                out_len--;
            out_len--; /* the "/" itself */
        } else {
            out[out_len++] = '/';
            memcpy(out + out_len, segment, segment_len);
            out_len += segment_len;
        }
        start = end + 1;
    }
    if (out_len == 0 || trailing_slash)
        out[out_len++] = '/';
    out[out_len] = '\0';
    return 0;
}
