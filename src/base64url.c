/* base64url.c - strict base64url decoding and encoding. */
#include "tokengate/base64url.h"

#include <stdint.h>

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The alphabet's value of C, or -1 for anything outside it. */
static int decode_char(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

ssize_t tg_base64url_decode(const char *in, size_t in_len, unsigned char *out)
{
    if (in_len % 4 == 1)
        return -1;

    size_t written = 0;
    uint32_t bits = 0;
    int bit_count = 0;
    for (size_t i = 0; i < in_len; i++) {
        int value = decode_char((unsigned char)in[i]);
        if (value < 0)
            return -1;
        bits = (bits << 6) | (uint32_t)value;
        bit_count += 6;
        if (bit_count >= 8) {
            bit_count -= 8;
            out[written++] = (unsigned char)(bits >> bit_count);
            bits &= (1u << bit_count) - 1;
        }
    }
    /* Leftover bits are padding; a canonical encoder leaves them zero. */
    if (bits != 0)
        return -1;
    return (ssize_t)written;
}

size_t tg_base64url_encode(const unsigned char *in, size_t len, char *out)
{
    size_t written = 0;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t triple = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[written++] = alphabet[(triple >> 18) & 63];
        out[written++] = alphabet[(triple >> 12) & 63];
        out[written++] = alphabet[(triple >> 6) & 63];
        out[written++] = alphabet[triple & 63];
    }
    if (len - i == 1) {
        uint32_t triple = (uint32_t)in[i] << 16;
        out[written++] = alphabet[(triple >> 18) & 63];
        out[written++] = alphabet[(triple >> 12) & 63];
    } else if (len - i == 2) {
        uint32_t triple = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[written++] = alphabet[(triple >> 18) & 63];
        out[written++] = alphabet[(triple >> 12) & 63];
        out[written++] = alphabet[(triple >> 6) & 63];
    }
    out[written] = '\0';
    return written;
}
