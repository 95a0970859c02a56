/* SPDX-License-Identifier: Apache-2.0 */
/* base64url.h - strict base64url (RFC 4648 section 5) as JWS uses it.
 *
 * Strict means: only the characters A-Z a-z 0-9 - _, no '=' padding, no
 * whitespace, no length of the form 4n+1, and the unused low bits of the last
 * character must be zero. Two different strings therefore never decode to the
 * same bytes, so a signature cannot be "re-spelled" to dodge a cache or a log.
 */
#ifndef TOKENGATE_BASE64URL_H
#define TOKENGATE_BASE64URL_H

#include <stddef.h>
#include <sys/types.h>

/* Bytes needed to hold the decoding of IN_LEN characters. */
#define TG_BASE64URL_DECODED_SIZE(in_len) (((in_len) / 4) * 3 + 3)
/* Characters (plus a NUL) needed to hold the encoding of LEN bytes. */
#define TG_BASE64URL_ENCODED_SIZE(len) ((((len) + 2) / 3) * 4 + 1)
/* Characters of unpadded base64url for LEN bytes. */
#define TG_BASE64URL_ENCODED_LEN(len) (((len) * 4 + 2) / 3)

/* Decodes IN (IN_LEN characters, not NUL-terminated) into OUT, which must hold
 * TG_BASE64URL_DECODED_SIZE(in_len) bytes. Returns the decoded length, or -1
 * when the input is not strict base64url. */
ssize_t tg_base64url_decode(const char *in, size_t in_len, unsigned char *out);

/* Encodes LEN bytes into OUT without padding and NUL-terminates it. OUT must
 * hold TG_BASE64URL_ENCODED_SIZE(len) characters. Returns the length. */
size_t tg_base64url_encode(const unsigned char *in, size_t len, char *out);

#endif
