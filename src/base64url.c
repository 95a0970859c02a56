/* SPDX-License-Identifier: Apache-2.0 */
/* base64url.c - strict base64url decoding and encoding. */
#include "tokengate/base64url.h"

#include <stdint.h>

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Each byte's value in the alphabet, 255 outside it. A table rather than
 * comparisons: decoding a token's parts is the largest cost of a decision
 * after the signature check. */
static const uint8_t decode_table[256] = {
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,  62, 255, 255,
     52,  53,  54,  55,  56,  57,  58,  59,  60,  61, 255, 255, 255, 255, 255, 255,
    255,   0,   1,   2,   3,   4,   5,   6,   7,   8,   9,  10,  11,  12,  13,  14,
     15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25, 255, 255, 255, 255,  63,
    255,  26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,
     41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
};

/* decode_table's values already shifted into place for each of a group's
 * four characters, with bit 31 set for a character outside the alphabet:
 * a group is then four loads and three ORs. Filled once, at load time. */
static uint32_t shifted_table[4][256];

__attribute__((constructor)) static void shifted_table_fill(void)
{
    for (int c = 0; c < 256; c++)
        for (int position = 0; position < 4; position++)
            shifted_table[position][c] = decode_table[c] == 255
                                             ? UINT32_C(0x80000000)
                                             : (uint32_t)decode_table[c] << (18 - 6 * position);
}

ssize_t tg_base64url_decode(const char *in, size_t in_len, unsigned char *out)
{
    if (in_len % 4 == 1)
        return -1;
    const unsigned char *text = (const unsigned char *)in;
    size_t whole = in_len - in_len % 4;
    size_t written = 0;
    for (size_t i = 0; i < whole; i += 4) {
        uint32_t triple = shifted_table[0][text[i]] | shifted_table[1][text[i + 1]] |
                          shifted_table[2][text[i + 2]] | shifted_table[3][text[i + 3]];
        if (triple & UINT32_C(0x80000000))
            return -1;
        out[written] = (unsigned char)(triple >> 16);
        out[written + 1] = (unsigned char)(triple >> 8);
        out[written + 2] = (unsigned char)triple;
        written += 3;
    }
    size_t rest = in_len - whole;
    if (rest) {
        uint32_t a = decode_table[text[whole]], b = decode_table[text[whole + 1]];
        uint32_t c = rest == 3 ? decode_table[text[whole + 2]] : 0;
        if ((a | b | c) & 0x80)
            return -1;
        uint32_t triple = a << 18 | b << 12 | c << 6;
        /* The unused low bits must be zero: one spelling per byte string. */
        if ((rest == 2 && (triple & 0xffff)) || (rest == 3 && (triple & 0xff)))
            return -1;
        out[written++] = (unsigned char)(triple >> 16);
        if (rest == 3)
            out[written++] = (unsigned char)(triple >> 8);
    }
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
