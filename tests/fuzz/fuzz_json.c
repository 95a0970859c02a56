/* SPDX-License-Identifier: Apache-2.0 */
/* Differential fuzzing of tokengate's JSON reader against jansson.
 *
 * Whatever one accepts the other must accept too (within our limits), and
 * both must read the same values. Known, deliberate differences are
 * excluded: our depth limit (32 against jansson's 2048), numbers jansson
 * cannot represent (we never convert non-time numbers), and NUL bytes,
 * which we always refuse while jansson accepts one after a top-level number
 * (found by this fuzzer: "888\0").
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tokengate/json.h"

static struct tg_json document;

static int depth_of(const uint8_t *data, size_t size)
{
    int depth = 0, deepest = 0;
    int in_string = 0;
    for (size_t i = 0; i < size; i++) {
        if (in_string) {
            if (data[i] == '\\')
                i++;
            else if (data[i] == '"')
                in_string = 0;
        } else if (data[i] == '"') {
            in_string = 1;
        } else if (data[i] == '[' || data[i] == '{') {
            if (++depth > deepest)
                deepest = depth;
        } else if (data[i] == ']' || data[i] == '}') {
            depth--;
        }
    }
    return deepest;
}

static void same_value(int index, json_t *value);

static void same_container(int index, json_t *value)
{
    const struct tg_json_token *token = &document.tokens[index];
    int child = tg_json_first(index);
    if (json_is_object(value)) {
        if (token->type != TG_JSON_OBJECT || token->size != json_object_size(value))
            abort();
        for (int i = 0; i < token->size; i++) {
            const char *key = tg_json_string(&document, child);
            json_t *member = json_object_get(value, key);
            if (!key || !member || tg_json_get(&document, index, key) != child + 1)
                abort();
            same_value(child + 1, member);
            child = tg_json_next(&document, child + 1);
        }
    } else {
        if (token->type != TG_JSON_ARRAY || token->size != json_array_size(value))
            abort();
        for (int i = 0; i < token->size; i++) {
            same_value(child, json_array_get(value, (size_t)i));
            child = tg_json_next(&document, child);
        }
    }
}

static void same_value(int index, json_t *value)
{
    const struct tg_json_token *token = &document.tokens[index];
    switch (json_typeof(value)) {
    case JSON_OBJECT:
    case JSON_ARRAY:
        same_container(index, value);
        break;
    case JSON_STRING:
        if (token->type != TG_JSON_STRING || token->length != json_string_length(value) ||
            memcmp(tg_json_string(&document, index), json_string_value(value), token->length))
            abort();
        break;
    case JSON_INTEGER: {
        long long ours;
        if (token->type != TG_JSON_NUMBER || !tg_json_integer(&document, index, &ours) ||
            ours != json_integer_value(value))
            abort();
        break;
    }
    case JSON_REAL:
        if (token->type != TG_JSON_NUMBER || token->integer)
            abort();
        break;
    case JSON_TRUE:
        if (token->type != TG_JSON_TRUE)
            abort();
        break;
    case JSON_FALSE:
        if (token->type != TG_JSON_FALSE)
            abort();
        break;
    case JSON_NULL:
        if (token->type != TG_JSON_NULL)
            abort();
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > TG_JSON_TEXT_MAX)
        return 0;
    int ours = tg_json_parse(&document, (const char *)data, size);
    json_error_t error;
    json_t *theirs = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                                &error);
    if (!theirs) {
        /* Numbers jansson cannot hold are fine for us; anything else it
         * refuses, we must refuse too. */
        int numeric = strstr(error.text, "too big") || strstr(error.text, "overflow");
        if (ours == 0 && !numeric)
            abort();
        return 0;
    }
    if (ours != 0) {
        if (depth_of(data, size) <= TG_JSON_DEPTH_MAX && !memchr(data, '\0', size))
            abort(); /* a document within our limits that only we refuse */
    } else {
        same_value(0, theirs);
    }
    json_decref(theirs);
    return 0;
}
