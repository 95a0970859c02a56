/* SPDX-License-Identifier: Apache-2.0 */
/* rules.h - which rule governs a request.
 *
 * A rule is a path pattern, an optional method list and what it requires.
 * Patterns are matched segment by segment against the normalised path (see
 * path.h): a literal segment matches itself, {name} matches any one segment
 * and captures it, and a final ** segment matches any rest, none included. The
 * first rule in file order that matches wins.
 */
#ifndef TOKENGATE_RULES_H
#define TOKENGATE_RULES_H

#include <stdbool.h>
#include <stddef.h>

#define TG_PATTERN_SEGMENTS_MAX 64
#define TG_CAPTURES_MAX 16
#define TG_METHODS_MAX 16
#define TG_PERMISSIONS_MAX 32

enum tg_require { TG_REQUIRE_USER, TG_REQUIRE_OPTIONAL, TG_REQUIRE_OPEN, TG_REQUIRE_DENY };

enum tg_org_source {
    TG_ORG_SOURCE_NONE,
    TG_ORG_SOURCE_PATH,    /* a {name} capture */
    TG_ORG_SOURCE_QUERY,   /* a query-string parameter */
    TG_ORG_SOURCE_HEADER,  /* a request header */
    TG_ORG_SOURCE_ID,      /* a fixed org id */
};

struct tg_pattern_segment {
    char *text;            /* literal text, or the capture's name */
    bool capture;
};

struct tg_rule {
    char *name;
    int line;                                  /* of the [rule NAME] header */
    int metrics_slot;                          /* tg_metrics_rule_slot(name), set by the
                                                * server; counts its decisions */
    bool api_keys;                             /* end-user API keys accepted here */
    char *path;                                /* the pattern as written */
    struct tg_pattern_segment segments[TG_PATTERN_SEGMENTS_MAX];
    size_t segment_count;
    bool tail;                                 /* ends in a ** segment */
    char *methods[TG_METHODS_MAX];             /* none: any method */
    size_t method_count;
    enum tg_require require;
    enum tg_org_source org_source;
    char *org_value;                           /* capture, parameter, header or id */
    char *role, *min_role;
    char *permissions[TG_PERMISSIONS_MAX];
    size_t permission_count;
};

struct tg_capture {
    const char *name;
    const char *value;   /* points into the matched path, not NUL-terminated */
    size_t len;
};

struct tg_captures {
    struct tg_capture items[TG_CAPTURES_MAX];
    size_t count;
};

/* Parses PATTERN into RULE's segments. Returns 0, or -1 with *WHY. */
int tg_rule_pattern_compile(struct tg_rule *rule, const char *pattern, const char **why);

/* True when RULE governs METHOD on the normalised PATH; fills CAPTURES. */
bool tg_rule_matches(const struct tg_rule *rule, const char *method, const char *path,
                     struct tg_captures *captures);

/* The first of COUNT RULES that governs the request, or NULL. */
const struct tg_rule *tg_rules_find(const struct tg_rule *rules, size_t count,
                                    const char *method, const char *path,
                                    struct tg_captures *captures);

/* The captured value named NAME, or NULL. */
const struct tg_capture *tg_captures_get(const struct tg_captures *captures, const char *name);

/* Frees what tg_rule_pattern_compile and the configuration allocated. */
void tg_rule_clear(struct tg_rule *rule);

#endif
