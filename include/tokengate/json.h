/* SPDX-License-Identifier: Apache-2.0 */
/* json.h - a small, strict JSON reader for the parts of a token.
 *
 * Why not jansson on this path: a general parser allocates per value and
 * hashes every object; for a 1.5 KiB claims set that cost more than the RSA
 * check itself. This reader copies the text once into a fixed buffer,
 * tokenises it in one pass without recursion or allocation, and unescapes
 * strings in place so that every string value is a plain C string.
 *
 * Strict: RFC 8259 grammar only; nesting deeper than TG_JSON_DEPTH_MAX,
 * duplicate member names, invalid UTF-8 (overlong forms, surrogates), lone
 * surrogate escapes and \u0000 are all refused, so no two readers can
 * disagree about what a signed token says.
 */
#ifndef TOKENGATE_JSON_H
#define TOKENGATE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TG_JSON_TEXT_MAX 12288                 /* 3/4 of a 16 KiB token */
#define TG_JSON_TOKENS_MAX (TG_JSON_TEXT_MAX / 2 + 2)
#define TG_JSON_DEPTH_MAX 32

enum tg_json_type {
    TG_JSON_OBJECT, TG_JSON_ARRAY, TG_JSON_STRING, TG_JSON_NUMBER,
    TG_JSON_TRUE, TG_JSON_FALSE, TG_JSON_NULL
};

struct tg_json_token {
    uint8_t type;       /* enum tg_json_type */
    uint8_t integer;    /* numbers: no fraction, no exponent */
    uint16_t start;     /* offset in text: a string's first character */
    uint16_t length;    /* bytes: strings after unescaping, numbers as written */
    uint16_t size;      /* objects: members; arrays: elements */
    uint16_t end;       /* index of the first token after this value */
};

/* Tokens in document order: an object's members are key, value, key,
 * value...; token 0 is the top-level value. */
struct tg_json {
    char text[TG_JSON_TEXT_MAX + 1];
    struct tg_json_token tokens[TG_JSON_TOKENS_MAX];
    uint16_t count;
};

/* Reads LEN bytes of INPUT. Returns 0, or -1 when it is not strict JSON
 * within the limits above. The top-level value may be of any type. */
int tg_json_parse(struct tg_json *json, const char *input, size_t len);

/* The value of member KEY of the object at index OBJECT, or -1. */
int tg_json_get(const struct tg_json *json, int object, const char *key);

/* The string at INDEX as a NUL-terminated string, or NULL when INDEX is -1
 * or not a string. */
const char *tg_json_string(const struct tg_json *json, int index);

/* The integer at INDEX into *VALUE; false when not an integer in range. */
bool tg_json_integer(const struct tg_json *json, int index, long long *value);

/* The type at INDEX, or -1 for index -1. */
int tg_json_type(const struct tg_json *json, int index);

/* Members or elements of the container at INDEX (0 for other types). */
int tg_json_size(const struct tg_json *json, int index);

/* Iteration: the first child of a container (for objects, the first key),
 * and the token after the value at INDEX. */
static inline int tg_json_first(int index) { return index + 1; }
static inline int tg_json_next(const struct tg_json *json, int index)
{
    return json->tokens[index].end;
}

#endif
