/* SPDX-License-Identifier: Apache-2.0 */
/* rules.c - which rule governs a request. */
#include "tokengate/rules.h"

#include <stdlib.h>
#include <string.h>

#include "tokengate/path.h"

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static int pattern_segment_add(struct tg_rule *rule, const char *text, size_t len,
                               const char **why)
{
    char canonical[TG_PATH_MAX + 1];
    if (rule->segment_count >= TG_PATTERN_SEGMENTS_MAX) {
        *why = "the path pattern has too many segments";
        return -1;
    }
    bool capture = len >= 2 && text[0] == '{' && text[len - 1] == '}';
    if (capture) {
        text++;
        len -= 2;
        if (len == 0) {
            *why = "an empty {} in the path pattern";
            return -1;
        }
        for (size_t i = 0; i < len; i++)
            if (!is_name_char(text[i])) {
                *why = "a capture name may hold only letters, digits and _";
                return -1;
            }
    } else {
        for (size_t i = 0; i < len; i++)
            if (text[i] == '{' || text[i] == '}' || text[i] == '*' || text[i] == '?') {
                *why = "a pattern segment must be literal text, {name}, or a final **";
                return -1;
            }
        /* The segment is compared with normalised paths: it is spelled the
         * same way, so "/café" and "/%7Ealice" match what browsers send,
         * and what no normalised path can hold is an error now rather than
         * a rule that silently never matches. */
        long canonical_len = tg_path_canonical(text, len, canonical, sizeof canonical, why);
        if (canonical_len < 0)
            return -1;
        text = canonical;
        len = (size_t)canonical_len;
        if ((len == 1 && text[0] == '.') || (len == 2 && text[0] == '.' && text[1] == '.')) {
            *why = "the path pattern holds a . or .. segment";
            return -1;
        }
    }
    struct tg_pattern_segment *segment = &rule->segments[rule->segment_count];
    segment->text = strndup(text, len);
    if (!segment->text) {
        *why = "out of memory";
        return -1;
    }
    segment->capture = capture;
    rule->segment_count++;
    return 0;
}

int tg_rule_pattern_compile(struct tg_rule *rule, const char *pattern, const char **why)
{
    if (pattern[0] != '/') {
        *why = "the path pattern must start with /";
        return -1;
    }
    const char *cursor = pattern + 1;
    while (*cursor) {
        size_t len = strcspn(cursor, "/");
        const char *next = cursor + len + (cursor[len] == '/');
        if (len == 2 && cursor[0] == '*' && cursor[1] == '*') {
            if (*next) {
                *why = "** may stand only as the pattern's last segment";
                return -1;
            }
            rule->tail = true;
        } else if (len == 0) {
            if (cursor[len] == '/') {
                *why = "the path pattern holds an empty segment (//)";
                return -1;
            }
        } else if (pattern_segment_add(rule, cursor, len, why) != 0) {
            return -1;
        }
        cursor = next;
    }
    for (size_t i = 0; i < rule->segment_count; i++)
        for (size_t j = i + 1; j < rule->segment_count; j++)
            if (rule->segments[i].capture && rule->segments[j].capture &&
                strcmp(rule->segments[i].text, rule->segments[j].text) == 0) {
                *why = "the same capture name appears twice";
                return -1;
            }
    return 0;
}

static bool method_allowed(const struct tg_rule *rule, const char *method)
{
    if (rule->method_count == 0)
        return true;
    for (size_t i = 0; i < rule->method_count; i++)
        if (strcmp(rule->methods[i], method) == 0)
            return true;
    return false;
}

bool tg_rule_matches(const struct tg_rule *rule, const char *method, const char *path,
                     struct tg_captures *captures)
{
    if (!method_allowed(rule, method))
        return false;
    captures->count = 0;
    const char *cursor = path;
    for (size_t i = 0; i < rule->segment_count; i++) {
        while (*cursor == '/')
            cursor++;
        size_t len = strcspn(cursor, "/");
        if (len == 0)
            return false;
        const struct tg_pattern_segment *segment = &rule->segments[i];
        if (segment->capture) {
            if (captures->count < TG_CAPTURES_MAX) {
                struct tg_capture *capture = &captures->items[captures->count++];
                capture->name = segment->text;
                capture->value = cursor;
                capture->len = len;
            }
        } else if (strlen(segment->text) != len || memcmp(segment->text, cursor, len) != 0) {
            return false;
        }
        cursor += len;
    }
    if (rule->tail)
        return true;
    /* Exactly the pattern's segments: at most a trailing slash remains. */
    return cursor[0] == '\0' || (cursor[0] == '/' && cursor[1] == '\0');
}

const struct tg_rule *tg_rules_find(const struct tg_rule *rules, size_t count,
                                    const char *method, const char *path,
                                    struct tg_captures *captures)
{
    for (size_t i = 0; i < count; i++)
        if (tg_rule_matches(&rules[i], method, path, captures))
            return &rules[i];
    captures->count = 0;
    return NULL;
}

const struct tg_capture *tg_captures_get(const struct tg_captures *captures, const char *name)
{
    for (size_t i = 0; i < captures->count; i++)
        if (strcmp(captures->items[i].name, name) == 0)
            return &captures->items[i];
    return NULL;
}

void tg_rule_clear(struct tg_rule *rule)
{
    free(rule->name);
    free(rule->path);
    for (size_t i = 0; i < rule->segment_count; i++)
        free(rule->segments[i].text);
    for (size_t i = 0; i < rule->method_count; i++)
        free(rule->methods[i]);
    free(rule->org_value);
    free(rule->role);
    free(rule->min_role);
    for (size_t i = 0; i < rule->permission_count; i++)
        free(rule->permissions[i]);
    memset(rule, 0, sizeof *rule);
}
