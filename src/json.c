/* SPDX-License-Identifier: Apache-2.0 */
/* json.c - a small, strict JSON reader for the parts of a token.
 *
 * One forward pass over a private copy of the text. Containers are tracked
 * on a fixed stack of TG_JSON_DEPTH_MAX entries instead of by recursion, so
 * hostile nesting costs nothing but a refusal. Strings are unescaped in
 * place: the write position never passes the read position, because every
 * escape is at least as long as the bytes it stands for.
 */
#include "tokengate/json.h"

#include <string.h>

#include "tokengate/text.h"

struct reader {
    struct tg_json *json;
    char *text;
    size_t pos, len;
};

static void whitespace_skip(struct reader *reader)
{
    while (reader->pos < reader->len) {
        char c = reader->text[reader->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        reader->pos++;
    }
}

/* Four hex digits at TEXT, or -1. */
static long hex4(const char *text)
{
    long value = 0;
    for (int i = 0; i < 4; i++) {
        int digit = tg_hex_digit(text[i]);
        if (digit < 0)
            return -1;
        value = value << 4 | digit;
    }
    return value;
}

/* Length of the valid UTF-8 sequence starting at TEXT (lead byte >= 0x80)
 * within AVAILABLE bytes, or 0. Overlong forms, surrogates and code points
 * above U+10FFFF are invalid (RFC 3629). */
static size_t utf8_sequence(const unsigned char *text, size_t available)
{
    unsigned char lead = text[0];
    size_t length;
    unsigned char low = 0x80, high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) {
        length = 2;
    } else if (lead >= 0xe0 && lead <= 0xef) {
        length = 3;
        if (lead == 0xe0)
            low = 0xa0;
        else if (lead == 0xed)
            high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
        length = 4;
        if (lead == 0xf0)
            low = 0x90;
        else if (lead == 0xf4)
            high = 0x8f;
    } else {
        return 0;
    }
    if (available < length || text[1] < low || text[1] > high)
        return 0;
    for (size_t i = 2; i < length; i++)
        if (text[i] < 0x80 || text[i] > 0xbf)
            return 0;
    return length;
}

static size_t utf8_encode(long code_point, char *out)
{
    if (code_point < 0x80) {
        out[0] = (char)code_point;
        return 1;
    }
    if (code_point < 0x800) {
        out[0] = (char)(0xc0 | code_point >> 6);
        out[1] = (char)(0x80 | (code_point & 0x3f));
        return 2;
    }
    if (code_point < 0x10000) {
        out[0] = (char)(0xe0 | code_point >> 12);
        out[1] = (char)(0x80 | ((code_point >> 6) & 0x3f));
        out[2] = (char)(0x80 | (code_point & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | code_point >> 18);
    out[1] = (char)(0x80 | ((code_point >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((code_point >> 6) & 0x3f));
    out[3] = (char)(0x80 | (code_point & 0x3f));
    return 4;
}

/* Decodes the escape at TEXT + *READ (just after the backslash) into
 * TEXT + *WRITE. */
static bool escape_decode(char *text, size_t len, size_t *read, size_t *write)
{
    char c = text[*read];
    static const char simple_from[] = "\"\\/bfnrt";
    static const char simple_to[] = "\"\\/\b\f\n\r\t";
    const char *simple = strchr(simple_from, c);
    if (c && simple) {
        text[(*write)++] = simple_to[simple - simple_from];
        (*read)++;
        return true;
    }
    if (c != 'u' || *read + 5 > len)
        return false;
    long code_point = hex4(text + *read + 1);
    *read += 5;
    if (code_point <= 0 || (code_point >= 0xdc00 && code_point <= 0xdfff))
        return false; /* \u0000, or a low surrogate on its own */
    if (code_point >= 0xd800 && code_point <= 0xdbff) {
        if (*read + 6 > len || text[*read] != '\\' || text[*read + 1] != 'u')
            return false;
        long low = hex4(text + *read + 2);
        if (low < 0xdc00 || low > 0xdfff)
            return false;
        code_point = 0x10000 + ((code_point - 0xd800) << 10) + (low - 0xdc00);
        *read += 6;
    }
    *write += utf8_encode(code_point, text + *write);
    return true;
}

/* 1 for the bytes a string may hold as they are: printable ASCII (and DEL)
 * except the quote and the backslash. */
static const unsigned char string_plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* Reads the string whose quote is at reader->pos into token TOKEN. */
static bool string_read(struct reader *reader, struct tg_json_token *token)
{
    char *text = reader->text;
    size_t read = reader->pos + 1;
    token->type = TG_JSON_STRING;
    token->start = (uint16_t)read;
    /* Most strings are plain ASCII without escapes: scan them without
     * copying, a table lookup per byte. The text ends in a NUL, which
     * stops this loop too. */
    while (string_plain[(unsigned char)text[read]])
        read++;
    size_t write = read;
    for (;;) {
        if (read >= reader->len)
            return false;
        unsigned char c = (unsigned char)text[read];
        if (c == '"')
            break;
        if (c == '\\') {
            read++;
            if (!escape_decode(text, reader->len, &read, &write))
                return false;
        } else if (c < 0x20) {
            return false;
        } else if (c < 0x80) {
            text[write++] = text[read++];
        } else {
            size_t length = utf8_sequence((unsigned char *)text + read, reader->len - read);
            if (length == 0)
                return false;
            memmove(text + write, text + read, length);
            write += length;
            read += length;
        }
    }
    text[write] = '\0'; /* write <= read, which holds the closing quote */
    token->length = (uint16_t)(write - token->start);
    reader->pos = read + 1;
    return true;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool number_read(struct reader *reader, struct tg_json_token *token)
{
    const char *text = reader->text;
    size_t pos = reader->pos, len = reader->len;
    token->type = TG_JSON_NUMBER;
    token->start = (uint16_t)pos;
    token->integer = 1;
    if (pos < len && text[pos] == '-')
        pos++;
    if (pos < len && text[pos] == '0') {
        pos++;
    } else if (pos < len && text[pos] >= '1' && text[pos] <= '9') {
        while (pos < len && is_digit(text[pos]))
            pos++;
    } else {
        return false;
    }
    if (pos < len && text[pos] == '.') {
        token->integer = 0;
        if (++pos >= len || !is_digit(text[pos]))
            return false;
        while (pos < len && is_digit(text[pos]))
            pos++;
    }
    if (pos < len && (text[pos] == 'e' || text[pos] == 'E')) {
        token->integer = 0;
        pos++;
        if (pos < len && (text[pos] == '+' || text[pos] == '-'))
            pos++;
        if (pos >= len || !is_digit(text[pos]))
            return false;
        while (pos < len && is_digit(text[pos]))
            pos++;
    }
    token->length = (uint16_t)(pos - reader->pos);
    reader->pos = pos;
    return true;
}

static bool literal_read(struct reader *reader, struct tg_json_token *token)
{
    static const struct { const char *text; enum tg_json_type type; } literals[] = {
        {"true", TG_JSON_TRUE}, {"false", TG_JSON_FALSE}, {"null", TG_JSON_NULL},
    };
    for (size_t i = 0; i < 3; i++) {
        size_t length = strlen(literals[i].text);
        if (reader->len - reader->pos >= length &&
            memcmp(reader->text + reader->pos, literals[i].text, length) == 0) {
            token->type = (uint8_t)literals[i].type;
            token->start = (uint16_t)reader->pos;
            token->length = (uint16_t)length;
            reader->pos += length;
            return true;
        }
    }
    return false;
}

/* Member names of the object at OBJECT must differ: two readers could
 * otherwise pick different values of the same name. Linear: names go into
 * an open-addressing table of token indexes, so a forged document full of
 * tiny members costs no more than reading it. */
#define MEMBER_TABLE_SIZE 8192   /* a power of two, at least twice the members of one object */
_Static_assert(MEMBER_TABLE_SIZE >= TG_JSON_TOKENS_MAX, "the member table must hold every name");

#define SMALL_OBJECT_MEMBERS 12  /* up to this many, pairs are compared: at most 66 */

static uint32_t name_hash(const char *text, size_t len)
{
    uint32_t hash = 2166136261u;   /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        hash = (hash ^ (unsigned char)text[i]) * 16777619u;
    return hash;
}

static bool members_unique(const struct tg_json *json, int object)
{
    const struct tg_json_token *tokens = json->tokens;
    int size = tokens[object].size;
    if (size < 2)
        return true;
    if (size <= SMALL_OBJECT_MEMBERS) {
        /* A few members: comparing each pair is cheaper than a table. */
        int key = object + 1;
        for (int i = 0; i < size; i++) {
            int other = tokens[key + 1].end;
            for (int j = i + 1; j < size; j++) {
                if (tokens[other].length == tokens[key].length &&
                    memcmp(json->text + tokens[other].start, json->text + tokens[key].start,
                           tokens[key].length) == 0)
                    return false;
                other = tokens[other + 1].end;
            }
            key = tokens[key + 1].end;
        }
        return true;
    }
    uint16_t table[MEMBER_TABLE_SIZE];   /* token index + 1; 0: empty */
    size_t mask = 16;
    while (mask < (size_t)size * 2)
        mask *= 2;
    mask -= 1;
    memset(table, 0, (mask + 1) * sizeof table[0]);
    int key = object + 1;
    for (int i = 0; i < size; i++) {
        const char *name = json->text + tokens[key].start;
        size_t len = tokens[key].length;
        for (size_t slot = name_hash(name, len) & mask;; slot = (slot + 1) & mask) {
            if (table[slot] == 0) {
                table[slot] = (uint16_t)(key + 1);
                break;
            }
            const struct tg_json_token *other = &tokens[table[slot] - 1];
            if (other->length == len && memcmp(json->text + other->start, name, len) == 0)
                return false;
        }
        key = tokens[key + 1].end;
    }
    return true;
}

int tg_json_parse(struct tg_json *json, const char *input, size_t len)
{
    if (len > TG_JSON_TEXT_MAX)
        return -1;
    if (input != json->text) /* callers may decode straight into text */
        memcpy(json->text, input, len);
    json->text[len] = '\0';
    json->count = 0;
    struct reader reader = {.json = json, .text = json->text, .len = len};
    struct tg_json_token *tokens = json->tokens;
    uint16_t open[TG_JSON_DEPTH_MAX];
    int depth = 0;

    whitespace_skip(&reader);
    goto value;

key:
    if (reader.pos >= len || reader.text[reader.pos] != '"' || json->count >= TG_JSON_TOKENS_MAX)
        return -1;
    tokens[json->count].end = (uint16_t)(json->count + 1);
    tokens[json->count].size = 0;
    tokens[json->count].integer = 0;
    if (!string_read(&reader, &tokens[json->count++]))
        return -1;
    whitespace_skip(&reader);
    if (reader.pos >= len || reader.text[reader.pos] != ':')
        return -1;
    reader.pos++;
    whitespace_skip(&reader);
    /* fall through to the member's value */

value:
    if (reader.pos >= len || json->count >= TG_JSON_TOKENS_MAX)
        return -1;
    {
        uint16_t index = json->count++;
        struct tg_json_token *token = &tokens[index];
        char c = reader.text[reader.pos];
        token->size = 0;
        token->integer = 0;
        token->end = (uint16_t)(index + 1);
        if (c == '{' || c == '[') {
            if (depth == TG_JSON_DEPTH_MAX)
                return -1;
            token->type = c == '{' ? TG_JSON_OBJECT : TG_JSON_ARRAY;
            token->start = (uint16_t)reader.pos;
            token->length = 0;
            open[depth++] = index;
            reader.pos++;
            whitespace_skip(&reader);
            if (reader.pos < len && reader.text[reader.pos] == (c == '{' ? '}' : ']'))
                goto close;
            if (c == '{')
                goto key;
            goto value;
        }
        bool ok = c == '"' ? string_read(&reader, token)
                  : (c == '-' || is_digit(c)) ? number_read(&reader, token)
                                              : literal_read(&reader, token);
        if (!ok)
            return -1;
    }

after_value:
    whitespace_skip(&reader);
    if (depth == 0)
        return reader.pos == len ? 0 : -1;
    {
        struct tg_json_token *parent = &tokens[open[depth - 1]];
        parent->size++;
        if (reader.pos < len && reader.text[reader.pos] == ',') {
            reader.pos++;
            whitespace_skip(&reader);
            if (parent->type == TG_JSON_OBJECT)
                goto key;
            goto value;
        }
        if (reader.pos >= len ||
            reader.text[reader.pos] != (parent->type == TG_JSON_OBJECT ? '}' : ']'))
            return -1;
    }

close:
    reader.pos++;
    {
        uint16_t index = open[--depth];
        tokens[index].end = json->count;
        if (tokens[index].type == TG_JSON_OBJECT && !members_unique(json, index))
            return -1;
    }
    goto after_value;
}

int tg_json_type(const struct tg_json *json, int index)
{
    return index < 0 ? -1 : json->tokens[index].type;
}

int tg_json_size(const struct tg_json *json, int index)
{
    return index < 0 ? 0 : json->tokens[index].size;
}

int tg_json_get(const struct tg_json *json, int object, const char *key)
{
    if (object < 0 || json->tokens[object].type != TG_JSON_OBJECT)
        return -1;
    size_t key_length = strlen(key);
    int member = object + 1;
    for (int i = 0; i < json->tokens[object].size; i++) {
        const struct tg_json_token *name = &json->tokens[member];
        /* The first byte settles most mismatches without a call. */
        if (name->length == key_length && json->text[name->start] == key[0] &&
            memcmp(json->text + name->start, key, key_length) == 0)
            return member + 1;
        member = json->tokens[member + 1].end;
    }
    return -1;
}

const char *tg_json_string(const struct tg_json *json, int index)
{
    if (index < 0 || json->tokens[index].type != TG_JSON_STRING)
        return NULL;
    return json->text + json->tokens[index].start;
}

bool tg_json_integer(const struct tg_json *json, int index, long long *value)
{
    if (index < 0 || json->tokens[index].type != TG_JSON_NUMBER || !json->tokens[index].integer)
        return false;
    const char *text = json->text + json->tokens[index].start;
    size_t length = json->tokens[index].length;
    bool negative = text[0] == '-';
    unsigned long long magnitude = 0;
    for (size_t i = negative; i < length; i++) {
        unsigned digit = (unsigned)(text[i] - '0');
        if (magnitude > (9223372036854775807ULL - digit) / 10)
            return false;
        magnitude = magnitude * 10 + digit;
    }
    *value = negative ? -(long long)magnitude : (long long)magnitude;
    return true;
}
