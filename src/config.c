/* SPDX-License-Identifier: Apache-2.0 */
/* config.c - the configuration file (contract section 3).
 *
 * inih splits "key = value" lines; everything else is ours. Our own line
 * reader feeds inih one line at a time, which is how every problem gets its
 * line number (Debian's inih is built without INI_HANDLER_LINENO), and it
 * also catches what inih would silently mangle: overlong lines (inih would
 * split them), indented lines (inih would glue them to the previous value)
 * and lines without "=".
 */
#include "tokengate/config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>
#include <sys/stat.h>

#include "tokengate/keys.h"
#include "tokengate/listen.h"
#include "tokengate/log.h"
#include "tokengate/text.h"

#ifndef TG_SYSCONFDIR
#define TG_SYSCONFDIR "/etc"
#endif
#ifndef TG_LOCALSTATEDIR
#define TG_LOCALSTATEDIR "/var"
#endif

#define CONFIG_FILE_MAX (1024 * 1024)
#define CONFIG_LINE_MAX 1024
#define VALUE_MAX TG_CONFIG_VALUE_MAX
/* A limit's digits in a message written at compile time. */
#define TG_STRINGIFY_DIGITS(x) #x
#define TG_STRINGIFY(x) TG_STRINGIFY_DIGITS(x)

enum section {
    SECTION_NONE, SECTION_TOKENGATE, SECTION_TOKEN, SECTION_ROLES, SECTION_RULE,
    SECTION_API_KEYS, SECTION_API_KEY, SECTION_FLEET, SECTION_UNKNOWN
};

struct parser {
    struct tg_config *config;
    struct tg_problems *problems;
    const char *file;
    const char *text;
    size_t len, pos;
    int line;
    enum section section;
    int token_section_line;
    unsigned long long seen;        /* keys given once in the current section */
    struct tg_rule *rule;           /* the current [rule NAME] */
    struct tg_api_key *api_key;     /* the current [api_key NAME] */
    bool keys_file;                 /* reading api_keys_file: [api_key NAME] only */
    size_t api_key_capacity;
    int rule_require_line;          /* line of an explicit require, or 0 */
    size_t rule_capacity;
    bool out_of_memory;             /* reported: checks that read values stop */
};

void tg_problems_add(struct tg_problems *problems, const char *file, int line,
                     const char *format, ...)
{
    if (problems->count >= TG_PROBLEMS_MAX) {
        problems->dropped++;
        return;
    }
    char message[1024];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    char *entry = NULL;
    if (asprintf(&entry, "%s:%d: %s", file, line, message) < 0)
        entry = NULL;
    if (entry)
        problems->lines[problems->count++] = entry;
    else
        problems->dropped++;
}

void tg_problems_clear(struct tg_problems *problems)
{
    for (size_t i = 0; i < problems->count; i++)
        free(problems->lines[i]);
    memset(problems, 0, sizeof *problems);
}

static void problem(struct parser *parser, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
static void problem(struct parser *parser, const char *format, ...)
{
    char message[1024];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    tg_problems_add(parser->problems, parser->file, parser->line, "%s", message);
}

const char *tg_config_path(const char *path_argument)
{
    if (path_argument && path_argument[0])
        return path_argument;
    const char *from_environment = getenv("TOKENGATE_CONFIG");
    if (from_environment && from_environment[0])
        return from_environment;
    return TG_SYSCONFDIR "/tokengate/tokengate.conf";
}

/* ---- values ------------------------------------------------------------ */

static bool parse_long(const char *value, long min, long max, long *out)
{
    if (!value[0])
        return false;
    char *end;
    errno = 0;
    long number = strtol(value, &end, 10);
    if (errno || *end || number < min || number > max)
        return false;
    *out = number;
    return true;
}

static bool parse_bool(const char *value, bool *out)
{
    if (!strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "on")) {
        *out = true;
        return true;
    }
    if (!strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "off")) {
        *out = false;
        return true;
    }
    return false;
}

/* Reported once where it happens; the configuration is refused. */
static void out_of_memory(struct parser *parser)
{
    problem(parser, "out of memory");
    parser->out_of_memory = true;
}

static char *string_dup(struct parser *parser, const char *value)
{
    char *copy = strdup(value);
    if (!copy) {
        out_of_memory(parser);
    }
    return copy;
}

/* Replaces *SLOT with a copy of VALUE. */
static void string_set(struct parser *parser, char **slot, const char *value)
{
    free(*slot);
    *slot = string_dup(parser, value);
}

static bool has_control_character(const char *value)
{
    return !tg_text_is_single_line(value);
}

/* A list of words separated by spaces, tabs or commas. Calls ADD for each;
 * stops and returns false when ADD does. */
static bool words_each(const char *value, bool (*add)(struct parser *, const char *, size_t),
                       struct parser *parser)
{
    const char *cursor = value;
    while (*cursor) {
        cursor += strspn(cursor, " \t,");
        size_t len = strcspn(cursor, " \t,");
        if (len && !add(parser, cursor, len))
            return false;
        cursor += len;
    }
    return true;
}

/* ---- keys as table rows -------------------------------------------------- */

/* How a key's value is read. Numbers and choices are converted here;
 * anything with rules of its own has a SET function. */
enum key_kind {
    KIND_LONG,      /* a decimal number from MIN to MAX, stored in a long */
    KIND_INT,       /* the same, stored in an int */
    KIND_CHOICE,    /* one of CHOICES, stored as its index in an int (an enum) */
    KIND_STRING,    /* a single-line text that VALID accepts (NULL: any), copied */
    KIND_CUSTOM,    /* read by SET */
};

struct key {
    const char *name;
    enum key_kind kind;
    size_t offset;              /* where the value goes in the section's struct */
    size_t line_offset;         /* where its line number goes (an int), or NO_LINE */
    long min, max;              /* KIND_LONG, KIND_INT */
    const char *expected;       /* what a bad value should have been, for the message */
    const char *const *choices; /* KIND_CHOICE, NULL-terminated, in the enum's order */
    bool (*valid)(const char *value);                                /* KIND_STRING */
    void (*set)(struct parser *parser, const struct key *key, const char *value); /* CUSTOM */
    bool repeatable;
};

#define NO_LINE ((size_t)-1)
#define CONFIG_FIELD(field) offsetof(struct tg_config, field)
#define RULE_FIELD(field) offsetof(struct tg_rule, field)
/* A number of the configuration from LOW to HIGH, in UNIT. */
#define NUMBER(key_name, number_kind, field, low, high, unit)                                   \
    {.name = key_name, .kind = number_kind, .offset = CONFIG_FIELD(field),                      \
     .line_offset = NO_LINE, .min = low, .max = high, .expected = unit}

/* The struct a key of the current section is stored in. */
static char *key_target(struct parser *parser)
{
    if (parser->section == SECTION_RULE)
        return (char *)parser->rule;
    if (parser->section == SECTION_API_KEY)
        return (char *)parser->api_key;
    return (char *)parser->config;
}

static void key_store(struct parser *parser, const struct key *key, const char *value)
{
    char *target = key_target(parser);
    long number;
    if (key->line_offset != NO_LINE)
        *(int *)(target + key->line_offset) = parser->line;
    switch (key->kind) {
    case KIND_LONG:
    case KIND_INT:
        if (!parse_long(value, key->min, key->max, &number)) {
            problem(parser, "%s: expected %s from %ld to %ld, got '%s'", key->name,
                    key->expected, key->min, key->max, value);
        } else if (key->kind == KIND_LONG) {
            *(long *)(target + key->offset) = number;
        } else {
            *(int *)(target + key->offset) = (int)number;
        }
        break;
    case KIND_CHOICE:
        for (int i = 0; key->choices[i]; i++)
            if (strcmp(value, key->choices[i]) == 0) {
                *(int *)(target + key->offset) = i;
                return;
            }
        problem(parser, "%s: expected %s, got '%s'", key->name, key->expected, value);
        break;
    case KIND_STRING:
        if (has_control_character(value) || (key->valid && !key->valid(value)))
            problem(parser, "%s: expected %s, got '%s'", key->name, key->expected, value);
        else
            string_set(parser, (char **)(target + key->offset), value);
        break;
    case KIND_CUSTOM:
        key->set(parser, key, value);
        break;
    }
}

/* ---- [tokengate] --------------------------------------------------------- */

static bool listen_valid(const char *value)
{
    if (value[0] == '/')
        return strlen(value) <= TG_SOCKET_PATH_MAX;
    const char *colon = strrchr(value, ':');
    long port;
    return colon && colon != value && parse_long(colon + 1, 1, 65535, &port);
}

static bool socket_owner_valid(const char *value)
{
    return value[0] && strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789_.-:") == strlen(value);
}

static bool realm_valid(const char *value)
{
    return value[0] && strlen(value) <= TG_REALM_MAX && !strpbrk(value, "\"\\");
}

static bool variable_prefix_valid(const char *value)
{
    return strlen(value) <= TG_VARIABLE_PREFIX_MAX &&
           strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == strlen(value);
}

static bool absolute_path_valid(const char *value) { return value[0] == '/'; }

static void socket_mode_set(struct parser *parser, const struct key *key, const char *value)
{
    char *end;
    errno = 0;
    long number = strtol(value, &end, 8);
    if (!value[0] || *end || errno || number < 0 || number > 0777)
        problem(parser, "%s: expected octal permissions such as 0660, got '%s'", key->name,
                value);
    else
        parser->config->socket_mode = number;
}

/* Choices in the order of their enums. */
static const char *const default_choices[] = {"deny", "user", "open", NULL};
static const char *const log_level_choices[] = {"error", "warn", "info", "debug", NULL};
static const char *const log_format_choices[] = {"text", "json", NULL};
_Static_assert(TG_DEFAULT_DENY == 0 && TG_DEFAULT_USER == 1 && TG_DEFAULT_OPEN == 2,
               "default_choices follows enum tg_default_policy");
_Static_assert(TG_LOG_ERROR == 0 && TG_LOG_WARN == 1 && TG_LOG_INFO == 2 && TG_LOG_DEBUG == 3,
               "log_level_choices follows enum tg_log_level");
_Static_assert(TG_LOG_FORMAT_TEXT == 0 && TG_LOG_FORMAT_JSON == 1,
               "log_format_choices follows enum tg_log_format");

static const struct key tokengate_keys[] = {
    {"listen", KIND_STRING, CONFIG_FIELD(listen), CONFIG_FIELD(listen_line),
     .expected = "host:port or an absolute unix socket path", .valid = listen_valid},
    NUMBER("threads", KIND_INT, threads, 1, 256, "a number"),
    {"default", KIND_CHOICE, CONFIG_FIELD(default_policy), NO_LINE,
     .expected = "deny, user or open", .choices = default_choices},
    {"realm", KIND_STRING, CONFIG_FIELD(realm), NO_LINE,
     .expected = "1 to " TG_STRINGIFY(TG_REALM_MAX) " characters without \" or \\",
     .valid = realm_valid},
    {"variable_prefix", KIND_STRING, CONFIG_FIELD(variable_prefix), NO_LINE,
     .expected = "at most " TG_STRINGIFY(TG_VARIABLE_PREFIX_MAX) " of A-Z, 0-9 and _",
     .valid = variable_prefix_valid},
    {"log_level", KIND_CHOICE, CONFIG_FIELD(log_level), NO_LINE,
     .expected = "error, warn, info or debug", .choices = log_level_choices},
    NUMBER("cache_size", KIND_LONG, cache_size, 0, 10000000, "a number"),
    {"state_dir", KIND_STRING, CONFIG_FIELD(state_dir), CONFIG_FIELD(state_dir_line),
     .expected = "an absolute path", .valid = absolute_path_valid},
    {"socket_mode", KIND_CUSTOM, .line_offset = NO_LINE, .set = socket_mode_set},
    {"socket_owner", KIND_STRING, CONFIG_FIELD(socket_owner), CONFIG_FIELD(socket_owner_line),
     .expected = "user or user:group", .valid = socket_owner_valid},
    NUMBER("cache_memory", KIND_LONG, cache_memory, 1, 65536, "MiB"),
    NUMBER("request_timeout", KIND_LONG, request_timeout, 1, 3600, "seconds"),
    NUMBER("max_connections", KIND_LONG, max_connections, 1, TG_MAX_CONNECTIONS_LIMIT,
           "a number"),
    NUMBER("max_request_bytes", KIND_LONG, max_request_bytes, TG_MAX_REQUEST_BYTES_MIN,
           TG_MAX_REQUEST_BYTES_LIMIT, "a number"),
    {"status_listen", KIND_STRING, CONFIG_FIELD(status_listen), CONFIG_FIELD(status_listen_line),
     .expected = "host:port or an absolute unix socket path", .valid = listen_valid},
    {"log_format", KIND_CHOICE, CONFIG_FIELD(log_format), NO_LINE, .expected = "text or json",
     .choices = log_format_choices},
    {NULL},
};

/* ---- [token] ------------------------------------------------------------- */

static bool algorithm_add(struct parser *parser, const char *name, size_t len)
{
    enum tg_alg alg = tg_alg_from_name(name, len);
    if (alg == TG_ALG_UNKNOWN) {
        problem(parser, "algorithms: unknown algorithm '%.*s' (known: RS256 RS384 RS512 PS256 "
                        "PS384 PS512 ES256 ES384 ES512 EdDSA HS256 HS384 HS512)",
                (int)len, name);
        return false;
    }
    parser->config->algorithms |= TG_ALG_BIT(alg);
    return true;
}

static void algorithms_set(struct parser *parser, const struct key *key, const char *value)
{
    parser->config->algorithms = 0;
    if (words_each(value, algorithm_add, parser) && parser->config->algorithms == 0)
        problem(parser, "%s: name at least one algorithm", key->name);
}

static void source_add(struct parser *parser, const char *key, struct tg_config_source *sources,
                       size_t *count, const char *value)
{
    if (*count >= TG_KEY_SOURCES_MAX) {
        problem(parser, "%s: at most %d entries", key, TG_KEY_SOURCES_MAX);
        return;
    }
    sources[*count].value = string_dup(parser, value);
    sources[*count].line = parser->line;
    (*count)++;
}

static void verifier_key_set(struct parser *parser, const struct key *key, const char *value)
{
    struct tg_config *config = parser->config;
    source_add(parser, key->name, config->verifier_keys, &config->verifier_key_count, value);
}

static void jwks_set(struct parser *parser, const struct key *key, const char *value)
{
    struct tg_config *config = parser->config;
    source_add(parser, key->name, config->jwks, &config->jwks_count, value);
}

static void hmac_secret_file_set(struct parser *parser, const struct key *key, const char *value)
{
    (void)key;
    struct tg_config_source *source = &parser->config->hmac_secret_file;
    free(source->value);
    source->value = string_dup(parser, value);
    source->line = parser->line;
}

static bool not_empty(const char *value) { return value[0] != '\0'; }

static bool cookie_name_valid(const char *value)
{
    for (const char *p = value; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
            strchr("()<>@,;:\\\"/[]?={}", *p))
            return false;
    return true; /* empty: no cookie */
}

static const struct key token_keys[] = {
    {"verifier_key", KIND_CUSTOM, .line_offset = NO_LINE, .set = verifier_key_set,
     .repeatable = true},
    {"jwks", KIND_CUSTOM, .line_offset = NO_LINE, .set = jwks_set, .repeatable = true},
    {"oidc_issuer", KIND_STRING, CONFIG_FIELD(oidc_issuer), CONFIG_FIELD(oidc_issuer_line),
     .expected = "an https:// URL", .valid = not_empty},
    {"hmac_secret_file", KIND_CUSTOM, .line_offset = NO_LINE, .set = hmac_secret_file_set},
    {"auth_url", KIND_STRING, CONFIG_FIELD(auth_url), CONFIG_FIELD(auth_url_line),
     .expected = "https://HOST[:PORT]", .valid = not_empty},
    {"api_key_file", KIND_STRING, CONFIG_FIELD(api_key_file), CONFIG_FIELD(api_key_file_line),
     .expected = "a file"},
    {"backend_url", KIND_STRING, CONFIG_FIELD(backend_url), CONFIG_FIELD(backend_url_line),
     .expected = "an https:// URL", .valid = not_empty},
    {"issuer", KIND_STRING, CONFIG_FIELD(issuer), CONFIG_FIELD(issuer_line),
     .expected = "the exact iss of the tokens", .valid = not_empty},
    {"audience", KIND_STRING, CONFIG_FIELD(audience), NO_LINE, .expected = "a text"},
    {"algorithms", KIND_CUSTOM, .line_offset = NO_LINE, .set = algorithms_set},
    NUMBER("leeway", KIND_LONG, leeway, 0, 3600, "seconds"),
    {"cookie", KIND_STRING, CONFIG_FIELD(cookie), NO_LINE, .expected = "a cookie name",
     .valid = cookie_name_valid},
    NUMBER("refresh_interval", KIND_LONG, refresh_interval, 1, 86400 * 7, "seconds"),
    NUMBER("refresh_min_interval", KIND_LONG, refresh_min_interval, 1, 86400 * 7, "seconds"),
    {"ca_file", KIND_STRING, CONFIG_FIELD(ca_file), CONFIG_FIELD(ca_file_line),
     .expected = "a file"},
    {NULL},
};

/* ---- [roles] ------------------------------------------------------------- */

static void hierarchy_set(struct parser *parser, const struct key *key, const char *value)
{
    (void)key;
    struct tg_role_hierarchy *hierarchy = &parser->config->hierarchy;
    const char *cursor = value;
    while (*cursor) {
        size_t len = strcspn(cursor, ">");
        while (len && isspace((unsigned char)cursor[len - 1]))
            len--;
        while (len && isspace((unsigned char)*cursor)) {
            cursor++;
            len--;
        }
        if (len == 0) {
            problem(parser,
                    "hierarchy: expected roles separated by >, e.g. Owner > Admin > Member");
            return;
        }
        if (hierarchy->count >= TG_ROLES_MAX) {
            problem(parser, "hierarchy: at most %d roles", TG_ROLES_MAX);
            return;
        }
        char *role = strndup(cursor, len);
        for (size_t i = 0; role && i < hierarchy->count; i++)
            if (!strcmp(hierarchy->names[i], role)) {
                problem(parser, "hierarchy: role '%s' appears twice", role);
                free(role);
                return;
            }
        if (!role) {
            out_of_memory(parser);
            return;
        }
        hierarchy->names[hierarchy->count++] = role;
        cursor += strcspn(cursor, ">");
        if (*cursor == '>' && !*++cursor) {
            problem(parser, "hierarchy: ends with >");
            return;
        }
    }
}

static const struct key roles_keys[] = {
    {"hierarchy", KIND_CUSTOM, .line_offset = CONFIG_FIELD(hierarchy_line),
     .set = hierarchy_set},
    {NULL},
};

/* ---- [rule NAME] --------------------------------------------------------- */

static bool method_add(struct parser *parser, const char *name, size_t len)
{
    struct tg_rule *rule = parser->rule;
    if (rule->method_count >= TG_METHODS_MAX) {
        problem(parser, "methods: at most %d methods", TG_METHODS_MAX);
        return false;
    }
    char *method = strndup(name, len);
    if (!method) {
        out_of_memory(parser);
        return false;
    }
    for (char *p = method; *p; p++) {
        if (!isalpha((unsigned char)*p)) {
            problem(parser, "methods: '%s' is not an HTTP method", method);
            free(method);
            return false;
        }
        *p = (char)toupper((unsigned char)*p);
    }
    rule->methods[rule->method_count++] = method;
    return true;
}

/* A role or permission name as it appears in tokens: printable, no commas
 * (the variables join them with commas). */
static bool claim_name_valid(const char *value)
{
    return value[0] && !has_control_character(value) && !strchr(value, ',');
}

static void path_set(struct parser *parser, const struct key *key, const char *value)
{
    struct tg_rule *rule = parser->rule;
    const char *why;
    rule->path = string_dup(parser, value);
    if (tg_rule_pattern_compile(rule, value, &why) != 0)
        problem(parser, "%s: %s", key->name, why);
}

static void methods_set(struct parser *parser, const struct key *key, const char *value)
{
    (void)key;
    words_each(value, method_add, parser);
}

static const char *const require_choices[] = {"user", "optional", "open", "deny", NULL};
_Static_assert(TG_REQUIRE_USER == 0 && TG_REQUIRE_OPTIONAL == 1 && TG_REQUIRE_OPEN == 2 &&
                   TG_REQUIRE_DENY == 3,
               "require_choices follows enum tg_require");

static void require_set(struct parser *parser, const struct key *key, const char *value)
{
    parser->rule_require_line = parser->line;
    for (int i = 0; require_choices[i]; i++)
        if (strcmp(value, require_choices[i]) == 0) {
            parser->rule->require = (enum tg_require)i;
            return;
        }
    problem(parser, "%s: expected user, optional, open or deny, got '%s'", key->name, value);
}

static void org_set(struct parser *parser, const struct key *key, const char *value)
{
    static const struct { const char *prefix; enum tg_org_source source; } sources[] = {
        {"path:", TG_ORG_SOURCE_PATH}, {"query:", TG_ORG_SOURCE_QUERY},
        {"header:", TG_ORG_SOURCE_HEADER}, {"id:", TG_ORG_SOURCE_ID},
    };
    for (size_t i = 0; i < sizeof sources / sizeof sources[0]; i++) {
        size_t prefix_len = strlen(sources[i].prefix);
        if (strncmp(value, sources[i].prefix, prefix_len) == 0 && value[prefix_len] &&
            !has_control_character(value + prefix_len) && !strchr(value + prefix_len, ' ')) {
            parser->rule->org_source = sources[i].source;
            parser->rule->org_value = string_dup(parser, value + prefix_len);
            return;
        }
    }
    problem(parser, "%s: expected path:NAME, query:NAME, header:NAME or id:ORG_ID, got '%s'",
            key->name, value);
}

static void permission_set(struct parser *parser, const struct key *key, const char *value)
{
    struct tg_rule *rule = parser->rule;
    if (!claim_name_valid(value))
        problem(parser, "%s: expected a permission name", key->name);
    else if (rule->permission_count >= TG_PERMISSIONS_MAX)
        problem(parser, "%s: at most %d per rule", key->name, TG_PERMISSIONS_MAX);
    else
        rule->permissions[rule->permission_count++] = string_dup(parser, value);
}

static void api_keys_set(struct parser *parser, const struct key *key, const char *value)
{
    bool flag;
    if (!parse_bool(value, &flag))
        problem(parser, "%s: expected yes or no, got '%s'", key->name, value);
    else
        parser->rule->api_keys = flag;
}

static const struct key rule_keys[] = {
    {"path", KIND_CUSTOM, .line_offset = NO_LINE, .set = path_set},
    {"methods", KIND_CUSTOM, .line_offset = NO_LINE, .set = methods_set},
    {"require", KIND_CUSTOM, .line_offset = NO_LINE, .set = require_set},
    {"org", KIND_CUSTOM, .line_offset = NO_LINE, .set = org_set},
    {"role", KIND_STRING, RULE_FIELD(role), NO_LINE, .expected = "a role name",
     .valid = claim_name_valid},
    {"min_role", KIND_STRING, RULE_FIELD(min_role), NO_LINE, .expected = "a role name",
     .valid = claim_name_valid},
    {"permission", KIND_CUSTOM, .line_offset = NO_LINE, .set = permission_set,
     .repeatable = true},
    {"api_keys", KIND_CUSTOM, .line_offset = NO_LINE, .set = api_keys_set},
    {NULL},
};

/* Checks that need the whole rule; run when the next section starts or the
 * file ends, with the parser's line moved back to the rule's header. */
static void rule_finish(struct parser *parser)
{
    struct tg_rule *rule = parser->rule;
    parser->rule = NULL;
    /* After an allocation failed, values may be missing: the configuration
     * is refused anyway, and checks that read them are skipped. */
    if (!rule || parser->out_of_memory)
        return;
    int saved_line = parser->line;
    parser->line = rule->line;
    if (!rule->path)
        problem(parser, "[rule %s] has no path", rule->name);
    bool needs_org = rule->role || rule->min_role || rule->permission_count;
    if (needs_org && rule->org_source == TG_ORG_SOURCE_NONE)
        problem(parser, "[rule %s]: role, min_role and permission need org", rule->name);
    if (rule->role && rule->min_role)
        problem(parser, "[rule %s]: give role or min_role, not both", rule->name);
    if (rule->org_source != TG_ORG_SOURCE_NONE && rule->require != TG_REQUIRE_USER) {
        parser->line = parser->rule_require_line;
        problem(parser, "[rule %s]: org, role, min_role and permission need require = user",
                rule->name);
        parser->line = rule->line;
    }
    if (rule->org_source == TG_ORG_SOURCE_PATH && rule->path) {
        bool captured = false;
        for (size_t i = 0; i < rule->segment_count; i++)
            captured |= rule->segments[i].capture &&
                        !strcmp(rule->segments[i].text, rule->org_value);
        if (!captured)
            problem(parser, "[rule %s]: org = path:%s but the path has no {%s}", rule->name,
                    rule->org_value, rule->org_value);
    }
    parser->line = saved_line;
}

bool tg_config_name_valid(const char *name)
{
    size_t len = strlen(name);
    return len > 0 && len <= TG_RULE_NAME_MAX &&
           strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == len;
}

/* Makes room for one more section of SIZE bytes in ARRAY (COUNT in use,
 * *CAPACITY allocated, at most MAX, called WHAT in the message). Returns the
 * array, perhaps moved; NULL, with the problem reported and the section
 * skipped, when there is no room (ARRAY then stays as it was). */
static void *section_room(struct parser *parser, void *array, size_t *capacity, size_t count,
                          size_t size, size_t max, const char *what)
{
    if (count >= max) {
        problem(parser, "at most %zu %s", max, what);
        parser->section = SECTION_UNKNOWN;
        return NULL;
    }
    if (count < *capacity)
        return array;
    size_t grown_capacity = *capacity ? *capacity * 2 : 16;
    void *grown = realloc(array, grown_capacity * size);
    if (!grown) {
        out_of_memory(parser);
        parser->section = SECTION_UNKNOWN;
        return NULL;
    }
    *capacity = grown_capacity;
    return grown;
}

static void rule_begin(struct parser *parser, const char *name)
{
    struct tg_config *config = parser->config;
    if (!tg_config_name_valid(name)) {
        problem(parser, "rule name '%s': use 1 to %d of A-Z a-z 0-9 _ . -", name,
                TG_RULE_NAME_MAX);
        parser->section = SECTION_UNKNOWN;
        return;
    }
    for (size_t i = 0; i < config->rule_count; i++)
        if (config->rules[i].name && !strcmp(config->rules[i].name, name)) {
            problem(parser, "[rule %s] is already defined at line %d", name, config->rules[i].line);
            parser->section = SECTION_UNKNOWN;
            return;
        }
    struct tg_rule *rules = section_room(parser, config->rules, &parser->rule_capacity,
                                         config->rule_count, sizeof *rules, TG_RULES_MAX, "rules");
    if (!rules)
        return;
    config->rules = rules;
    struct tg_rule *rule = &config->rules[config->rule_count++];
    memset(rule, 0, sizeof *rule);
    rule->name = string_dup(parser, name);
    rule->line = parser->line;
    rule->require = TG_REQUIRE_USER;
    parser->rule = rule;
    parser->rule_require_line = parser->line;
}

/* ---- [api_keys] and the keys file's [api_key NAME] ---------------------- */

static void propelauth_set(struct parser *parser, const struct key *key, const char *value)
{
    bool flag;
    if (!parse_bool(value, &flag))
        problem(parser, "%s: expected yes or no, got '%s'", key->name, value);
    else {
        parser->config->api_keys_propelauth = flag;
        parser->config->api_keys_propelauth_line = parser->line;
    }
}

static const struct key api_keys_keys[] = {
    {"propelauth", KIND_CUSTOM, .line_offset = NO_LINE, .set = propelauth_set},
    {"file", KIND_STRING, CONFIG_FIELD(api_keys_file), CONFIG_FIELD(api_keys_file_line),
     .expected = "an absolute path", .valid = absolute_path_valid},
    NUMBER("cache_ttl", KIND_LONG, api_key_cache_ttl, 1, 86400, "seconds"),
    NUMBER("negative_ttl", KIND_LONG, api_key_negative_ttl, 1, 3600, "seconds"),
    NUMBER("max_pending", KIND_LONG, api_key_max_pending, 1, 100000, "a number"),
    {NULL},
};

/* ---- [fleet] ---------------------------------------------------------- */

/* The address's shape; the loader reads a redis:// URL whole (fleet.h). */
static bool redis_address_valid(const char *value)
{
    return (strncmp(value, "unix:/", 6) == 0 && value[6]) || strncmp(value, "redis://", 8) == 0;
}

/* Printable, no white space: it starts every Redis key and the channel;
 * and no glob character, since revocations are found with SCAN MATCH. */
static bool redis_prefix_valid(const char *value)
{
    size_t len = strlen(value);
    if (len > 64)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)value[i] <= ' ' || (unsigned char)value[i] >= 127 ||
            strchr("*?[]\\", value[i]))
            return false;
    return true;
}

static const struct key fleet_keys[] = {
    {"redis", KIND_STRING, CONFIG_FIELD(fleet_redis), CONFIG_FIELD(fleet_redis_line),
     .expected = "unix:/PATH or redis://HOST:PORT[/DB]", .valid = redis_address_valid},
    {"redis_prefix", KIND_STRING, CONFIG_FIELD(fleet_redis_prefix), NO_LINE,
     .expected = "at most 64 printable characters without spaces or * ? [ ] \\",
     .valid = redis_prefix_valid},
    {NULL},
};

#define API_KEY_FIELD(field) offsetof(struct tg_api_key, field)

static void hash_set(struct parser *parser, const struct key *key, const char *value)
{
    struct tg_api_key *api_key = parser->api_key;
    bool ok = strncmp(value, "sha256:", 7) == 0 && strlen(value + 7) == 2 * TG_KEY_HASH_SIZE;
    for (size_t i = 0; ok && i < TG_KEY_HASH_SIZE; i++) {
        int high = tg_hex_digit(value[7 + 2 * i]), low = tg_hex_digit(value[8 + 2 * i]);
        ok = high >= 0 && low >= 0;
        api_key->hash[i] = (unsigned char)(high << 4 | low);
    }
    if (!ok)
        problem(parser, "%s: expected sha256: and 64 hex digits (tokengate key new prints it)",
                key->name);
    api_key->has_hash = ok;
}

static void key_permission_set(struct parser *parser, const struct key *key, const char *value)
{
    struct tg_api_key *api_key = parser->api_key;
    if (!claim_name_valid(value))
        problem(parser, "%s: expected a permission name", key->name);
    else if (api_key->permission_count >= TG_PERMISSIONS_MAX)
        problem(parser, "%s: at most %d per key", key->name, TG_PERMISSIONS_MAX);
    else
        api_key->permissions[api_key->permission_count++] = string_dup(parser, value);
}

static void expires_set(struct parser *parser, const struct key *key, const char *value)
{
    if (!tg_config_time_parse(value, &parser->api_key->expires))
        problem(parser, "%s: expected an RFC 3339 date or date-time, got '%s'", key->name,
                value);
}

static const struct key api_key_keys[] = {
    {"hash", KIND_CUSTOM, .line_offset = NO_LINE, .set = hash_set},
    {"user_id", KIND_STRING, API_KEY_FIELD(user_id), NO_LINE, .expected = "a user id",
     .valid = claim_name_valid},
    {"org", KIND_STRING, API_KEY_FIELD(org), NO_LINE, .expected = "an org id",
     .valid = claim_name_valid},
    {"role", KIND_STRING, API_KEY_FIELD(role), NO_LINE, .expected = "a role name",
     .valid = claim_name_valid},
    {"permission", KIND_CUSTOM, .line_offset = NO_LINE, .set = key_permission_set,
     .repeatable = true},
    {"expires", KIND_CUSTOM, .line_offset = NO_LINE, .set = expires_set},
    {NULL},
};

/* Checks that need the whole key: run when the next section starts or the
 * file ends. */
static void api_key_finish(struct parser *parser)
{
    struct tg_api_key *api_key = parser->api_key;
    parser->api_key = NULL;
    if (!api_key || parser->out_of_memory)
        return;
    int saved_line = parser->line;
    parser->line = api_key->line;
    if (!api_key->has_hash)
        problem(parser, "[api_key %s] has no hash", api_key->name);
    if (api_key->role && !api_key->org)
        problem(parser, "[api_key %s]: role needs org", api_key->name);
    if (api_key->permission_count && !api_key->org)
        problem(parser, "[api_key %s]: permission needs org", api_key->name);
    parser->line = saved_line;
}

static void api_key_begin(struct parser *parser, const char *name)
{
    struct tg_config *config = parser->config;
    if (!tg_config_name_valid(name)) {
        problem(parser, "key name '%s': use 1 to %d of A-Z a-z 0-9 _ . -", name,
                TG_RULE_NAME_MAX);
        parser->section = SECTION_UNKNOWN;
        return;
    }
    for (size_t i = 0; i < config->local_key_count; i++)
        if (config->local_keys[i].name && !strcmp(config->local_keys[i].name, name)) {
            problem(parser, "[api_key %s] is already defined at line %d", name,
                    config->local_keys[i].line);
            parser->section = SECTION_UNKNOWN;
            return;
        }
    struct tg_api_key *local_keys =
        section_room(parser, config->local_keys, &parser->api_key_capacity,
                     config->local_key_count, sizeof *local_keys, TG_API_KEYS_MAX, "keys");
    if (!local_keys)
        return;
    config->local_keys = local_keys;
    struct tg_api_key *api_key = &config->local_keys[config->local_key_count++];
    memset(api_key, 0, sizeof *api_key);
    api_key->name = string_dup(parser, name);
    api_key->line = parser->line;
    parser->api_key = api_key;
}

/* Days from 1970-01-01 to Y-M-D (proleptic Gregorian), as timegm would. */
bool tg_config_time_parse(const char *text, time_t *when)
{
    struct tm date = {0};
    const char *rest = strptime(text, "%Y-%m-%d", &date);
    if (!rest || date.tm_year < 70)
        return false;
    long offset = 0;
    if (*rest == 'T' || *rest == 't') {
        rest = strptime(rest + 1, "%H:%M:%S", &date);
        if (!rest)
            return false;
        if (*rest == '.')   /* fractions of a second: not kept */
            rest += 1 + strspn(rest + 1, "0123456789");
        if (*rest == 'Z' || *rest == 'z') {
            rest++;
        } else if ((*rest == '+' || *rest == '-') && isdigit((unsigned char)rest[1]) &&
                   isdigit((unsigned char)rest[2]) && rest[3] == ':' &&
                   isdigit((unsigned char)rest[4]) && isdigit((unsigned char)rest[5])) {
            offset = ((rest[1] - '0') * 10 + (rest[2] - '0')) * 3600L +
                     ((rest[4] - '0') * 10 + (rest[5] - '0')) * 60L;
            if (*rest == '+')
                offset = -offset;
            rest += 6;
        } else {
            return false;
        }
    }
    if (*rest)
        return false;
    time_t parsed = timegm(&date);
    if (parsed == (time_t)-1)
        return false;
    *when = parsed + offset;
    return true;
}

/* ---- sections, lines and inih ------------------------------------------- */

static void section_begin(struct parser *parser, const char *name)
{
    rule_finish(parser);
    api_key_finish(parser);
    parser->seen = 0;
    bool api_key = !strncmp(name, "api_key", 7) && (name[7] == ' ' || name[7] == '\t' || !name[7]);
    if (parser->keys_file || api_key) {
        if (!parser->keys_file) {
            parser->section = SECTION_UNKNOWN;
            problem(parser, "[%s] belongs in the file that [api_keys] file names", name);
        } else if (!api_key) {
            parser->section = SECTION_UNKNOWN;
            problem(parser, "unknown section [%s] (an API keys file holds [api_key NAME] only)",
                    name);
        } else {
            parser->section = SECTION_API_KEY;
            const char *key_name = name + 7;
            while (*key_name == ' ' || *key_name == '\t')
                key_name++;
            api_key_begin(parser, key_name);
        }
        return;
    }
    if (!strcmp(name, "tokengate")) {
        parser->section = SECTION_TOKENGATE;
    } else if (!strcmp(name, "token")) {
        parser->section = SECTION_TOKEN;
        parser->token_section_line = parser->line;
    } else if (!strcmp(name, "roles")) {
        parser->section = SECTION_ROLES;
    } else if (!strcmp(name, "api_keys")) {
        parser->section = SECTION_API_KEYS;
    } else if (!strcmp(name, "fleet")) {
        parser->section = SECTION_FLEET;
    } else if (!strncmp(name, "rule", 4) && (name[4] == ' ' || name[4] == '\t' || !name[4])) {
        parser->section = SECTION_RULE;
        const char *rule_name = name + 4;
        while (*rule_name == ' ' || *rule_name == '\t')
            rule_name++;
        rule_begin(parser, rule_name);
    } else {
        parser->section = SECTION_UNKNOWN;
        problem(parser, "unknown section [%s] (known: tokengate, token, roles, api_keys, fleet, rule NAME)",
                name);
    }
}

/* The table of keys of SECTION, or NULL. */
static const struct key *section_keys(enum section section)
{
    switch (section) {
    case SECTION_TOKENGATE: return tokengate_keys;
    case SECTION_TOKEN: return token_keys;
    case SECTION_ROLES: return roles_keys;
    case SECTION_RULE: return rule_keys;
    case SECTION_API_KEYS: return api_keys_keys;
    case SECTION_API_KEY: return api_key_keys;
    case SECTION_FLEET: return fleet_keys;
    default: return NULL;
    }
}

const char *tg_config_key_name(const char *section, size_t index)
{
    static const struct { const char *name; enum section section; } sections[] = {
        {"tokengate", SECTION_TOKENGATE}, {"token", SECTION_TOKEN}, {"roles", SECTION_ROLES},
        {"rule", SECTION_RULE}, {"api_keys", SECTION_API_KEYS}, {"api_key", SECTION_API_KEY},
        {"fleet", SECTION_FLEET},
    };
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
        if (strcmp(section, sections[i].name) != 0)
            continue;
        const struct key *keys = section_keys(sections[i].section);
        for (size_t k = 0; keys[k].name; k++)
            if (k == index)
                return keys[k].name;
        return NULL;
    }
    return NULL;
}

static int handle_key(void *user, const char *section, const char *name, const char *value)
{
    struct parser *parser = user;
    (void)section; /* tracked by the reader, which also sees empty sections */
    if (parser->section == SECTION_NONE) {
        problem(parser, "'%s' stands before any [section]", name);
        return 1;
    }
    const struct key *keys = section_keys(parser->section);
    if (!keys)
        return 1; /* an unknown section: reported at its header */
    size_t index = 0;
    while (keys[index].name && strcmp(keys[index].name, name) != 0)
        index++;
    const struct key *key = &keys[index];
    if (!key->name) {
        problem(parser, "unknown key '%s' in this section", name);
        return 1;
    }
    if (strlen(value) > VALUE_MAX) {
        problem(parser, "%s: value longer than %d characters", name, VALUE_MAX);
        return 1;
    }
    if (parser->seen & (1ull << index) && !key->repeatable) {
        problem(parser, "%s: given twice in this section", name);
        return 1;
    }
    parser->seen |= 1ull << index;
    key_store(parser, key, value);
    return 1;
}

/* Cuts a comment that starts after white space ("value  # note"). */
static void comment_strip(char *line)
{
    for (char *p = line; *p; p++)
        if ((*p == '#' || *p == ';') && p > line && (p[-1] == ' ' || p[-1] == '\t')) {
            *p = '\0';
            break;
        }
    size_t len = strlen(line);
    while (len && isspace((unsigned char)line[len - 1]))
        line[--len] = '\0';
}

/* inih's reader: hands over one cleaned line, or a blank one for a line we
 * have already judged (a section header, or a reported problem). */
static char *line_read(char *out, int size, void *user)
{
    struct parser *parser = user;
    if (parser->pos >= parser->len)
        return NULL;
    const char *start = parser->text + parser->pos;
    size_t remaining = parser->len - parser->pos;
    const char *newline = memchr(start, '\n', remaining);
    size_t len = newline ? (size_t)(newline - start) : remaining;
    parser->pos += len + (newline ? 1 : 0);
    parser->line++;
    if (len && start[len - 1] == '\r')
        len--;

    out[0] = '\0';
    /* inih's line buffer (INI_MAX_LINE, 200 in Debian's build) is the real
     * limit: it would cut a longer line in two and parse both halves. */
    size_t limit = (size_t)size < CONFIG_LINE_MAX ? (size_t)size - 2 : CONFIG_LINE_MAX - 2;
    if (len > limit) {
        problem(parser, "line longer than %zu characters", limit);
        return out;
    }
    char line[CONFIG_LINE_MAX];
    memcpy(line, start, len);
    line[len] = '\0';
    if (memchr(line, '\0', len)) {
        problem(parser, "NUL byte in the line");
        return out;
    }
    char *text = line + strspn(line, " \t");
    if (parser->line == 1 && !strncmp(text, "\xEF\xBB\xBF", 3))
        text += 3;
    if (!*text || *text == '#' || *text == ';')
        return out;
    comment_strip(text);
    if (*text == '[') {
        size_t text_len = strlen(text);
        if (text[text_len - 1] != ']') {
            problem(parser, "syntax error: a section header must end with ]");
            parser->section = SECTION_UNKNOWN;
            return out;
        }
        text[text_len - 1] = '\0';
        char *name = text + 1 + strspn(text + 1, " \t");
        size_t name_len = strlen(name);
        while (name_len && isspace((unsigned char)name[name_len - 1]))
            name[--name_len] = '\0';
        section_begin(parser, name);
        return out;
    }
    char *equals = strchr(text, '=');
    char *colon = strchr(text, ':');
    if (!equals || (colon && colon < equals) || equals == text) {
        problem(parser, "syntax error: expected key = value");
        return out;
    }
    snprintf(out, (size_t)size, "%s\n", text);
    return out;
}

/* ---- whole file ---------------------------------------------------------- */

static void whole_file_check(struct parser *parser)
{
    struct tg_config *config = parser->config;
    parser->line = parser->token_section_line ? parser->token_section_line : 1;
    bool has_source = config->verifier_key_count || config->jwks_count || config->oidc_issuer ||
                      config->hmac_secret_file.value || config->api_key_file;
    if (!has_source)
        problem(parser, "[token] names no verification key: give verifier_key, jwks, "
                        "oidc_issuer, hmac_secret_file, or auth_url with api_key_file");
    if (!config->issuer && !config->oidc_issuer && !config->auth_url)
        problem(parser, "[token] needs issuer (or auth_url, which implies it)");
    if (config->api_key_file && !config->auth_url)
        problem(parser, "api_key_file needs auth_url");
    if (config->api_keys_propelauth && (!config->api_key_file || !config->auth_url)) {
        parser->line = config->api_keys_propelauth_line;
        problem(parser, "[api_keys] propelauth = yes needs auth_url and api_key_file in [token] "
                        "(the integration key validates API keys)");
    }
    for (size_t i = 0; i < config->rule_count; i++)
        if (config->rules[i].api_keys && !config->api_keys_file && !config->api_keys_propelauth) {
            parser->line = config->rules[i].line;
            problem(parser, "[rule %s]: api_keys = yes needs [api_keys] with propelauth = yes "
                            "or a file of local keys", config->rules[i].name);
        }
    if (config->status_listen && config->listen &&
        strcmp(config->status_listen, config->listen) == 0) {
        parser->line = config->status_listen_line;
        problem(parser, "status_listen must differ from listen: the main socket never "
                        "answers status requests");
    }
}

static void config_defaults(struct tg_config *config)
{
    config->threads = 4;
    config->request_timeout = 5;
    config->max_connections = 4096;
    config->max_request_bytes = 65536;
    config->socket_mode = 0660;
    config->default_policy = TG_DEFAULT_DENY;
    config->log_level = TG_LOG_INFO;
    config->cache_size = 100000;
    config->cache_memory = 256;
    config->algorithms = TG_ALG_BIT(TG_ALG_RS256);
    config->leeway = 60;
    config->refresh_interval = 600;
    config->refresh_min_interval = 30;
    config->api_key_cache_ttl = 60;
    config->api_key_negative_ttl = 10;
    config->api_key_max_pending = 64;
}

/* Fills what the file may leave out but the program needs spelled out. */
static bool config_complete(struct parser *parser)
{
    struct tg_config *config = parser->config;
    if (!config->realm)
        config->realm = string_dup(parser, "tokengate");
    if (!config->variable_prefix)
        config->variable_prefix = string_dup(parser, "AUTH_");
    /* systemd's StateDirectory= names the one directory the hardened unit
     * may write; it is /var/lib/tokengate whatever the build's prefix. */
    const char *state_directory = getenv("STATE_DIRECTORY");
    if (!config->state_dir && state_directory && state_directory[0] == '/' &&
        !strchr(state_directory, ':'))
        config->state_dir = string_dup(parser, state_directory);
    if (!config->state_dir)
        config->state_dir = string_dup(parser, TG_LOCALSTATEDIR "/lib/tokengate");
    if (!config->backend_url)
        config->backend_url = string_dup(parser, "https://propelauth-api.com");
    if (!config->fleet_redis_prefix)
        config->fleet_redis_prefix = string_dup(parser, "tokengate:");
    /* OIDC Discovery requires the document's issuer to be the URL it was
     * found under, so that URL is the issuer tokens must carry. */
    if (!config->issuer && config->oidc_issuer)
        config->issuer = string_dup(parser, config->oidc_issuer);
    return config->realm && config->variable_prefix && config->state_dir && config->backend_url &&
           config->fleet_redis_prefix;
}

struct tg_config *tg_config_load(const char *path, struct tg_problems *problems)
{
    size_t problems_before = problems->count + problems->dropped;
    struct tg_config *config = calloc(1, sizeof *config);
    if (!config) {
        tg_problems_add(problems, path, 0, "out of memory");
        return NULL;
    }
    config_defaults(config);
    config->file = strdup(path);

    size_t len = 0;
    struct tg_error err;
    char *text = tg_file_read(path, CONFIG_FILE_MAX, &len, &err);
    if (!text)
        tg_problems_add(problems, path, 0, "%s", err.text);
    if (text) {
        struct parser parser = {
            .config = config, .problems = problems, .file = path, .text = text, .len = len,
        };
        int rc = ini_parse_stream(line_read, &parser, handle_key, &parser);
        rule_finish(&parser);
        api_key_finish(&parser);
        if (rc != 0)
            tg_problems_add(problems, path, rc, "syntax error");
        whole_file_check(&parser);
        if (!config_complete(&parser))
            tg_problems_add(problems, path, 0, "out of memory");
        free(text);
    }
    if (!config->file || problems->count + problems->dropped != problems_before) {
        tg_config_free(config);
        return NULL;
    }
    return config;
}

size_t tg_config_api_keys_load(struct tg_config *config, struct tg_problems *problems)
{
    size_t before = problems->count + problems->dropped;
    if (!config->api_keys_file)
        return 0;
    const char *path = config->api_keys_file;
    size_t len = 0;
    struct tg_error err;
    /* Its hashes are as good as keys to whoever could replace them, and
     * say which keys exist: as private as api_key_file. */
    char *text = tg_file_read_trusted(path, CONFIG_FILE_MAX, true, &len, &err);
    if (!text) {
        tg_problems_add(problems, config->file, config->api_keys_file_line, "[api_keys] file: %s",
                        err.text);
        return problems->count + problems->dropped - before;
    }
    struct parser parser = {
        .config = config, .problems = problems, .file = path, .text = text, .len = len,
        .keys_file = true,
    };
    int rc = ini_parse_stream(line_read, &parser, handle_key, &parser);
    api_key_finish(&parser);
    if (rc != 0)
        tg_problems_add(problems, path, rc, "syntax error");
    free(text);
    return problems->count + problems->dropped - before;
}

void tg_config_free(struct tg_config *config)
{
    if (!config)
        return;
    free(config->file);
    free(config->listen);
    free(config->status_listen);
    free(config->socket_owner);
    free(config->realm);
    free(config->variable_prefix);
    free(config->state_dir);
    for (size_t i = 0; i < config->verifier_key_count; i++)
        free(config->verifier_keys[i].value);
    for (size_t i = 0; i < config->jwks_count; i++)
        free(config->jwks[i].value);
    free(config->oidc_issuer);
    free(config->hmac_secret_file.value);
    free(config->auth_url);
    free(config->auth_authority);
    free(config->api_key_file);
    free(config->backend_url);
    free(config->issuer);
    free(config->audience);
    free(config->cookie);
    free(config->ca_file);
    free(config->api_keys_file);
    free(config->fleet_redis);
    free(config->fleet_redis_prefix);
    for (size_t i = 0; i < config->local_key_count; i++) {
        struct tg_api_key *api_key = &config->local_keys[i];
        free(api_key->name);
        free(api_key->user_id);
        free(api_key->org);
        free(api_key->role);
        for (size_t p = 0; p < api_key->permission_count; p++)
            free(api_key->permissions[p]);
    }
    free(config->local_keys);
    for (size_t i = 0; i < config->hierarchy.count; i++)
        free(config->hierarchy.names[i]);
    for (size_t i = 0; i < config->rule_count; i++)
        tg_rule_clear(&config->rules[i]);
    free(config->rules);
    free(config);
}

