/* path.c - normalise a raw request path the way the web server routes it. */
#include "tokengate/path.h"

#include <stdbool.h>
#include <string.h>

#include "tokengate/text.h"

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
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

static bool is_encoded_slash(const char *text, size_t remaining)
{
    return remaining >= 3 && (strncmp(text, "%2F", 3) == 0 || strncmp(text, "%5C", 3) == 0);
}

static bool is_dot_segment(const char *segment, size_t len)
{
    return (len == 1 && segment[0] == '.') ||
           (len == 2 && segment[0] == '.' && segment[1] == '.');
}

/* Dot segments smuggled inside one segment behind %2F or %5C: a server that
 * decodes those as separators (nginx does) would resolve them. */
static bool segment_hides_dot_segment(const char *segment, size_t len)
{
    size_t piece_start = 0;
    bool split = false;
    for (size_t i = 0; i <= len; i++) {
        bool slash = i < len && is_encoded_slash(segment + i, len - i);
        if (i < len && !slash)
            continue;
        split = split || slash;
        if (split && is_dot_segment(segment + piece_start, i - piece_start))
            return true;
        if (slash) {
            i += 2;
            piece_start = i + 1;
        }
    }
    return false;
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

    /* Pass 1: escapes. Unreserved characters are decoded (so "%2e%2e" is
     * "..", as every server sees it), every other escape is kept in one
     * spelling (upper-case hex) so that rules compare byte for byte. */
    char decoded[TG_PATH_MAX + 1];
    size_t decoded_len = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)uri[i];
        if (c < 0x20 || c == 0x7f) {
            *why = "the path holds a control character";
            return -1;
        }
        if (c != '%') {
            decoded[decoded_len++] = (char)c;
            continue;
        }
        int high = i + 1 < len ? tg_hex_digit(uri[i + 1]) : -1;
        int low = i + 2 < len ? tg_hex_digit(uri[i + 2]) : -1;
        if (high < 0 || low < 0) {
            *why = "the path holds an invalid percent-escape";
            return -1;
        }
        unsigned char value = (unsigned char)(high << 4 | low);
        if (value < 0x20 || value == 0x7f) {
            *why = "the path holds an encoded NUL or control character";
            return -1;
        }
        i += 2;
        if (is_unreserved(value)) {
            decoded[decoded_len++] = (char)value;
        } else {
            static const char hex[] = "0123456789ABCDEF";
            decoded[decoded_len++] = '%';
            decoded[decoded_len++] = hex[value >> 4];
            decoded[decoded_len++] = hex[value & 15];
        }
    }

    /* Pass 2: segments. OUT holds "/a/b" without a trailing slash while it
     * grows; ".." cuts back to the previous "/". */
    size_t out_len = 0;
    bool trailing_slash = false;
    size_t start = 1;
    while (start <= decoded_len) {
        size_t end = start;
        while (end < decoded_len && decoded[end] != '/')
            end++;
        const char *segment = decoded + start;
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
            if (segment_hides_dot_segment(segment, segment_len)) {
                *why = "the path hides a dot segment behind an encoded slash";
                return -1;
            }
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
