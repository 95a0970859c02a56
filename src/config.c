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
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>
#include <openssl/crypto.h>
#include <sys/stat.h>

#include "tokengate/http.h"
#include "tokengate/jwk.h"
#include "tokengate/provider.h"
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
#define VALUE_MAX 1000

enum section {
    SECTION_NONE, SECTION_TOKENGATE, SECTION_TOKEN, SECTION_ROLES, SECTION_RULE, SECTION_UNKNOWN
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
    int rule_require_line;          /* line of an explicit require, or 0 */
    size_t rule_capacity;
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

static char *string_dup(struct parser *parser, const char *value)
{
    char *copy = strdup(value);
    if (!copy)
        problem(parser, "out of memory");
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

/* "https://host[:port][/path]" with a host; SCHEME_REQUIRED false also
 * accepts a bare "host[:port]". Writes "host[:port]" into AUTHORITY. */
static bool url_authority(const char *url, bool scheme_required, bool https_only,
                          char *authority, size_t size)
{
    const char *rest = url;
    if (!strncmp(url, "https://", 8))
        rest = url + 8;
    else if (!https_only && !strncmp(url, "http://", 7))
        rest = url + 7;
    else if (scheme_required || strstr(url, "://"))
        return false;
    size_t len = strcspn(rest, "/?#");
    if (len == 0 || len >= size || rest[0] == ':' || rest[0] == '@')
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)rest[i]) && !strchr("-.:[]", rest[i]))
            return false;
    memcpy(authority, rest, len);
    authority[len] = '\0';
    return true;
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

/* ---- [tokengate] --------------------------------------------------------- */

enum tokengate_key {
    KEY_LISTEN, KEY_THREADS, KEY_DEFAULT, KEY_REALM, KEY_VARIABLE_PREFIX, KEY_LOG_LEVEL,
    KEY_CACHE_SIZE, KEY_STATE_DIR, KEY_SOCKET_MODE, KEY_SOCKET_OWNER, KEY_CACHE_MEMORY,
    KEY_REQUEST_TIMEOUT, KEY_MAX_CONNECTIONS, KEY_MAX_REQUEST_BYTES, KEY_STATUS_LISTEN,
    KEY_LOG_FORMAT
};
static const char *const tokengate_keys[] = {
    "listen", "threads", "default", "realm", "variable_prefix", "log_level", "cache_size",
    "state_dir", "socket_mode", "socket_owner", "cache_memory", "request_timeout",
    "max_connections", "max_request_bytes", "status_listen", "log_format", NULL
};

static bool listen_valid(const char *value)
{
    if (value[0] == '/')
        return strlen(value) <= TG_SOCKET_PATH_MAX;
    const char *colon = strrchr(value, ':');
    long port;
    return colon && colon != value && parse_long(colon + 1, 1, 65535, &port);
}

static void tokengate_key_set(struct parser *parser, int key, const char *value)
{
    struct tg_config *config = parser->config;
    long number;
    switch (key) {
    case KEY_LISTEN:
        if (!listen_valid(value))
            problem(parser, "listen: expected host:port or an absolute unix socket path, got '%s'",
                    value);
        else
            string_set(parser, &config->listen, value);
        config->listen_line = parser->line;
        break;
    case KEY_STATUS_LISTEN:
        if (!listen_valid(value))
            problem(parser, "status_listen: expected host:port or an absolute unix socket path, "
                            "got '%s'", value);
        else
            string_set(parser, &config->status_listen, value);
        config->status_listen_line = parser->line;
        break;
    case KEY_LOG_FORMAT:
        if ((config->log_format = tg_log_format_parse(value)) < 0) {
            config->log_format = TG_LOG_FORMAT_TEXT;
            problem(parser, "log_format: expected text or json, got '%s'", value);
        }
        break;
    case KEY_SOCKET_MODE: {
        char *end;
        errno = 0;
        number = strtol(value, &end, 8);
        if (!value[0] || *end || errno || number < 0 || number > 0777)
            problem(parser, "socket_mode: expected octal permissions such as 0660, got '%s'",
                    value);
        else
            config->socket_mode = number;
        break;
    }
    case KEY_SOCKET_OWNER:
        if (!value[0] || strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                       "0123456789_.-:") != strlen(value))
            problem(parser, "socket_owner: expected user or user:group, got '%s'", value);
        else
            string_set(parser, &config->socket_owner, value);
        config->socket_owner_line = parser->line;
        break;
    case KEY_THREADS:
        if (!parse_long(value, 1, 256, &number))
            problem(parser, "threads: expected a number from 1 to 256, got '%s'", value);
        else
            config->threads = (int)number;
        break;
    case KEY_DEFAULT:
        if (!strcmp(value, "deny"))
            config->default_policy = TG_DEFAULT_DENY;
        else if (!strcmp(value, "user"))
            config->default_policy = TG_DEFAULT_USER;
        else if (!strcmp(value, "open"))
            config->default_policy = TG_DEFAULT_OPEN;
        else
            problem(parser, "default: expected deny, user or open, got '%s'", value);
        break;
    case KEY_REALM:
        if (!value[0] || strlen(value) > 128 || strpbrk(value, "\"\\") ||
            has_control_character(value))
            problem(parser, "realm: 1 to 128 characters without \" or \\");
        else
            string_set(parser, &config->realm, value);
        break;
    case KEY_VARIABLE_PREFIX:
        if (strlen(value) > 32 || strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") !=
                                      strlen(value))
            problem(parser, "variable_prefix: at most 32 of A-Z, 0-9 and _, got '%s'", value);
        else
            string_set(parser, &config->variable_prefix, value);
        break;
    case KEY_LOG_LEVEL:
        if ((config->log_level = tg_log_level_parse(value)) < 0) {
            config->log_level = TG_LOG_INFO;
            problem(parser, "log_level: expected error, warn, info or debug, got '%s'", value);
        }
        break;
    case KEY_CACHE_SIZE:
        if (!parse_long(value, 0, 10000000, &number))
            problem(parser, "cache_size: expected a number from 0 to 10000000, got '%s'", value);
        else
            config->cache_size = number;
        break;
    case KEY_REQUEST_TIMEOUT:
        if (!parse_long(value, 1, 3600, &number))
            problem(parser, "request_timeout: expected seconds from 1 to 3600, got '%s'", value);
        else
            config->request_timeout = number;
        break;
    case KEY_MAX_CONNECTIONS:
        if (!parse_long(value, 1, TG_MAX_CONNECTIONS_LIMIT, &number))
            problem(parser, "max_connections: expected a number from 1 to %d, got '%s'",
                    TG_MAX_CONNECTIONS_LIMIT, value);
        else
            config->max_connections = number;
        break;
    case KEY_MAX_REQUEST_BYTES:
        if (!parse_long(value, TG_MAX_REQUEST_BYTES_MIN, TG_MAX_REQUEST_BYTES_LIMIT, &number))
            problem(parser, "max_request_bytes: expected a number from %d to %d, got '%s'",
                    TG_MAX_REQUEST_BYTES_MIN, TG_MAX_REQUEST_BYTES_LIMIT, value);
        else
            config->max_request_bytes = number;
        break;
    case KEY_CACHE_MEMORY:
        if (!parse_long(value, 1, 65536, &number))
            problem(parser, "cache_memory: expected MiB from 1 to 65536, got '%s'", value);
        else
            config->cache_memory = number;
        break;
    case KEY_STATE_DIR:
        if (value[0] != '/')
            problem(parser, "state_dir: expected an absolute path, got '%s'", value);
        else
            string_set(parser, &config->state_dir, value);
        config->state_dir_line = parser->line;
        break;
    }
}

/* ---- [token] ------------------------------------------------------------- */

enum token_key {
    KEY_VERIFIER_KEY, KEY_JWKS, KEY_OIDC_ISSUER, KEY_HMAC_SECRET_FILE, KEY_AUTH_URL,
    KEY_API_KEY_FILE, KEY_BACKEND_URL, KEY_ISSUER, KEY_AUDIENCE, KEY_ALGORITHMS, KEY_LEEWAY,
    KEY_COOKIE, KEY_REFRESH_INTERVAL, KEY_REFRESH_MIN_INTERVAL, KEY_CA_FILE
};
static const char *const token_keys[] = {
    "verifier_key", "jwks", "oidc_issuer", "hmac_secret_file", "auth_url", "api_key_file",
    "backend_url", "issuer", "audience", "algorithms", "leeway", "cookie", "refresh_interval",
    "refresh_min_interval", "ca_file", NULL
};
static const unsigned long long repeatable_token_keys =
    1ull << KEY_VERIFIER_KEY | 1ull << KEY_JWKS;

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

static bool cookie_name_valid(const char *value)
{
    for (const char *p = value; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", *p))
            return false;
    return value[0] != '\0';
}

static void token_key_set(struct parser *parser, int key, const char *value)
{
    struct tg_config *config = parser->config;
    char authority[256];
    long number;
    switch (key) {
    case KEY_VERIFIER_KEY:
        source_add(parser, "verifier_key", config->verifier_keys, &config->verifier_key_count,
                   value);
        break;
    case KEY_JWKS:
        if (tg_config_source_is_url(value) && !tg_http_url_allowed(value))
            problem(parser, "jwks: expected a file or an https:// URL, got '%s'", value);
        else
            source_add(parser, "jwks", config->jwks, &config->jwks_count, value);
        break;
    case KEY_OIDC_ISSUER:
        if (!tg_http_url_allowed(value) || strlen(value) >= TG_URL_MAX) {
            problem(parser, "oidc_issuer: expected an https:// URL, got '%s'", value);
        } else {
            string_set(parser, &config->oidc_issuer, value);
            config->oidc_issuer_line = parser->line;
        }
        break;
    case KEY_HMAC_SECRET_FILE:
        free(config->hmac_secret_file.value);
        config->hmac_secret_file.value = string_dup(parser, value);
        config->hmac_secret_file.line = parser->line;
        break;
    case KEY_AUTH_URL:
        if (!url_authority(value, false, false, authority, sizeof authority)) {
            problem(parser, "auth_url: expected https://HOST[:PORT], got '%s'", value);
        } else {
            string_set(parser, &config->auth_url, value);
            string_set(parser, &config->auth_authority, authority);
            /* PropelAuth's issuer is always https://HOST[:PORT], whatever
             * scheme or path the auth URL was written with. */
            char issuer[300];
            snprintf(issuer, sizeof issuer, "https://%s", authority);
            if (config->issuer && strcmp(config->issuer, issuer) != 0)
                problem(parser, "auth_url implies issuer %s, but issuer is %s", issuer,
                        config->issuer);
            else
                string_set(parser, &config->issuer, issuer);
        }
        break;
    case KEY_API_KEY_FILE:
        string_set(parser, &config->api_key_file, value);
        config->api_key_file_line = parser->line;
        break;
    case KEY_BACKEND_URL:
        /* The API key travels to this URL: never in clear beyond loopback. */
        if (!tg_http_url_allowed(value) || strlen(value) >= TG_URL_MAX - 64)
            problem(parser, "backend_url: expected an https:// URL (http:// only to loopback), "
                            "got '%s'", value);
        else
            string_set(parser, &config->backend_url, value);
        break;
    case KEY_ISSUER:
        if (!value[0] || has_control_character(value))
            problem(parser, "issuer: must not be empty");
        else if (config->issuer && config->auth_url && strcmp(config->issuer, value) != 0)
            problem(parser, "issuer %s differs from %s, which auth_url implies", value,
                    config->issuer);
        else
            string_set(parser, &config->issuer, value);
        break;
    case KEY_AUDIENCE:
        string_set(parser, &config->audience, value);
        break;
    case KEY_ALGORITHMS:
        config->algorithms = 0;
        if (words_each(value, algorithm_add, parser) && config->algorithms == 0)
            problem(parser, "algorithms: name at least one algorithm");
        break;
    case KEY_LEEWAY:
        if (!parse_long(value, 0, 3600, &number))
            problem(parser, "leeway: expected seconds from 0 to 3600, got '%s'", value);
        else
            config->leeway = number;
        break;
    case KEY_COOKIE:
        if (value[0] && !cookie_name_valid(value))
            problem(parser, "cookie: '%s' is not a valid cookie name", value);
        else
            string_set(parser, &config->cookie, value);
        break;
    case KEY_REFRESH_INTERVAL:
    case KEY_REFRESH_MIN_INTERVAL:
        if (!parse_long(value, 1, 86400 * 7, &number))
            problem(parser, "%s: expected seconds from 1 to 604800, got '%s'", token_keys[key],
                    value);
        else if (key == KEY_REFRESH_INTERVAL)
            config->refresh_interval = number;
        else
            config->refresh_min_interval = number;
        break;
    case KEY_CA_FILE:
        string_set(parser, &config->ca_file, value);
        config->ca_file_line = parser->line;
        break;
    }
}

/* ---- [roles] ------------------------------------------------------------- */

static void roles_key_set(struct parser *parser, const char *value)
{
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
            problem(parser, "hierarchy: expected roles separated by >, e.g. Owner > Admin > Member");
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
            problem(parser, "out of memory");
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

/* ---- [rule NAME] --------------------------------------------------------- */

enum rule_key {
    KEY_PATH, KEY_METHODS, KEY_REQUIRE, KEY_ORG, KEY_ROLE, KEY_MIN_ROLE, KEY_PERMISSION,
    KEY_API_KEYS
};
static const char *const rule_keys[] = {
    "path", "methods", "require", "org", "role", "min_role", "permission", "api_keys", NULL
};
static const unsigned long long repeatable_rule_keys = 1ull << KEY_PERMISSION;

static bool method_add(struct parser *parser, const char *name, size_t len)
{
    struct tg_rule *rule = parser->rule;
    if (rule->method_count >= TG_METHODS_MAX) {
        problem(parser, "methods: at most %d methods", TG_METHODS_MAX);
        return false;
    }
    char *method = strndup(name, len);
    if (!method) {
        problem(parser, "out of memory");
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

static void rule_key_set(struct parser *parser, int key, const char *value)
{
    struct tg_rule *rule = parser->rule;
    const char *why;
    bool flag;
    switch (key) {
    case KEY_PATH:
        rule->path = string_dup(parser, value);
        if (tg_rule_pattern_compile(rule, value, &why) != 0)
            problem(parser, "path: %s", why);
        break;
    case KEY_METHODS:
        words_each(value, method_add, parser);
        break;
    case KEY_REQUIRE:
        parser->rule_require_line = parser->line;
        if (!strcmp(value, "user"))
            rule->require = TG_REQUIRE_USER;
        else if (!strcmp(value, "optional"))
            rule->require = TG_REQUIRE_OPTIONAL;
        else if (!strcmp(value, "open"))
            rule->require = TG_REQUIRE_OPEN;
        else if (!strcmp(value, "deny"))
            rule->require = TG_REQUIRE_DENY;
        else
            problem(parser, "require: expected user, optional, open or deny, got '%s'", value);
        break;
    case KEY_ORG: {
        static const struct { const char *prefix; enum tg_org_source source; } sources[] = {
            {"path:", TG_ORG_SOURCE_PATH}, {"query:", TG_ORG_SOURCE_QUERY},
            {"header:", TG_ORG_SOURCE_HEADER}, {"id:", TG_ORG_SOURCE_ID},
        };
        for (size_t i = 0; i < sizeof sources / sizeof sources[0]; i++) {
            size_t prefix_len = strlen(sources[i].prefix);
            if (strncmp(value, sources[i].prefix, prefix_len) == 0 && value[prefix_len] &&
                !has_control_character(value + prefix_len) && !strchr(value + prefix_len, ' ')) {
                rule->org_source = sources[i].source;
                rule->org_value = string_dup(parser, value + prefix_len);
                return;
            }
        }
        problem(parser, "org: expected path:NAME, query:NAME, header:NAME or id:ORG_ID, got '%s'",
                value);
        break;
    }
    case KEY_ROLE:
    case KEY_MIN_ROLE:
        if (!claim_name_valid(value))
            problem(parser, "%s: expected a role name", rule_keys[key]);
        else
            string_set(parser, key == KEY_ROLE ? &rule->role : &rule->min_role, value);
        break;
    case KEY_PERMISSION:
        if (!claim_name_valid(value))
            problem(parser, "permission: expected a permission name");
        else if (rule->permission_count >= TG_PERMISSIONS_MAX)
            problem(parser, "permission: at most %d per rule", TG_PERMISSIONS_MAX);
        else
            rule->permissions[rule->permission_count++] = string_dup(parser, value);
        break;
    case KEY_API_KEYS:
        if (!parse_bool(value, &flag))
            problem(parser, "api_keys: expected yes or no, got '%s'", value);
        else if (flag)
            problem(parser, "api_keys: end-user API key validation is not supported by this "
                            "version yet");
        else
            rule->api_keys = false;
        break;
    }
}

/* Checks that need the whole rule; run when the next section starts or the
 * file ends, with the parser's line moved back to the rule's header. */
static void rule_finish(struct parser *parser)
{
    struct tg_rule *rule = parser->rule;
    if (!rule)
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
    parser->rule = NULL;
}

static bool rule_name_valid(const char *name)
{
    size_t len = strlen(name);
    return len > 0 && len <= 64 &&
           strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == len;
}

static void rule_begin(struct parser *parser, const char *name)
{
    struct tg_config *config = parser->config;
    if (!rule_name_valid(name)) {
        problem(parser, "rule name '%s': use 1 to 64 of A-Z a-z 0-9 _ . -", name);
        parser->section = SECTION_UNKNOWN;
        return;
    }
    for (size_t i = 0; i < config->rule_count; i++)
        if (!strcmp(config->rules[i].name, name)) {
            problem(parser, "[rule %s] is already defined at line %d", name, config->rules[i].line);
            parser->section = SECTION_UNKNOWN;
            return;
        }
    if (config->rule_count >= TG_RULES_MAX) {
        problem(parser, "at most %d rules", TG_RULES_MAX);
        parser->section = SECTION_UNKNOWN;
        return;
    }
    if (config->rule_count == parser->rule_capacity) {
        size_t capacity = parser->rule_capacity ? parser->rule_capacity * 2 : 16;
        struct tg_rule *grown = realloc(config->rules, capacity * sizeof *grown);
        if (!grown) {
            problem(parser, "out of memory");
            parser->section = SECTION_UNKNOWN;
            return;
        }
        config->rules = grown;
        parser->rule_capacity = capacity;
    }
    struct tg_rule *rule = &config->rules[config->rule_count++];
    memset(rule, 0, sizeof *rule);
    rule->name = string_dup(parser, name);
    rule->line = parser->line;
    rule->require = TG_REQUIRE_USER;
    parser->rule = rule;
    parser->rule_require_line = parser->line;
}

/* ---- sections, lines and inih ------------------------------------------- */

static void section_begin(struct parser *parser, const char *name)
{
    rule_finish(parser);
    parser->seen = 0;
    if (!strcmp(name, "tokengate")) {
        parser->section = SECTION_TOKENGATE;
    } else if (!strcmp(name, "token")) {
        parser->section = SECTION_TOKEN;
        parser->token_section_line = parser->line;
    } else if (!strcmp(name, "roles")) {
        parser->section = SECTION_ROLES;
    } else if (!strncmp(name, "rule", 4) && (name[4] == ' ' || name[4] == '\t' || !name[4])) {
        parser->section = SECTION_RULE;
        const char *rule_name = name + 4;
        while (*rule_name == ' ' || *rule_name == '\t')
            rule_name++;
        rule_begin(parser, rule_name);
    } else {
        parser->section = SECTION_UNKNOWN;
        problem(parser, "unknown section [%s] (known: tokengate, token, roles, rule NAME)", name);
    }
}

const char *const *tg_config_known_keys(const char *section)
{
    static const char *const roles_keys[] = {"hierarchy", NULL};
    if (strcmp(section, "tokengate") == 0)
        return tokengate_keys;
    if (strcmp(section, "token") == 0)
        return token_keys;
    if (strcmp(section, "roles") == 0)
        return roles_keys;
    if (strcmp(section, "rule") == 0)
        return rule_keys;
    return NULL;
}

static int key_index(const char *const *keys, const char *name)
{
    for (int i = 0; keys[i]; i++)
        if (!strcmp(keys[i], name))
            return i;
    return -1;
}

static int handle_key(void *user, const char *section, const char *name, const char *value)
{
    struct parser *parser = user;
    (void)section; /* tracked by the reader, which also sees empty sections */
    static const char *const *const key_tables[] = {
        [SECTION_TOKENGATE] = tokengate_keys, [SECTION_TOKEN] = token_keys,
        [SECTION_RULE] = rule_keys,
    };
    const char *const *keys;
    unsigned long long repeatable = 0;
    switch (parser->section) {
    case SECTION_NONE:
        problem(parser, "'%s' stands before any [section]", name);
        return 1;
    case SECTION_UNKNOWN:
        return 1; /* the section itself was reported */
    case SECTION_ROLES:
        keys = tg_config_known_keys("roles");
        break;
    case SECTION_TOKEN:
        repeatable = repeatable_token_keys;
        keys = key_tables[parser->section];
        break;
    case SECTION_RULE:
        repeatable = repeatable_rule_keys;
        keys = key_tables[parser->section];
        break;
    default:
        keys = key_tables[parser->section];
        break;
    }
    int key = key_index(keys, name);
    if (key < 0) {
        problem(parser, "unknown key '%s' in this section", name);
        return 1;
    }
    if (strlen(value) > VALUE_MAX) {
        problem(parser, "%s: value longer than %d characters", name, VALUE_MAX);
        return 1;
    }
    if (parser->seen & (1ull << key) && !(repeatable & (1ull << key))) {
        problem(parser, "%s: given twice in this section", name);
        return 1;
    }
    parser->seen |= 1ull << key;
    switch (parser->section) {
    case SECTION_TOKENGATE: tokengate_key_set(parser, key, value); break;
    case SECTION_TOKEN: token_key_set(parser, key, value); break;
    case SECTION_ROLES:
        parser->config->hierarchy_line = parser->line;
        roles_key_set(parser, value);
        break;
    case SECTION_RULE: rule_key_set(parser, key, value); break;
    default: break;
    }
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
    if (!config->issuer && !config->oidc_issuer)
        problem(parser, "[token] needs issuer (or auth_url, which implies it)");
    if (config->api_key_file && !config->auth_url)
        problem(parser, "api_key_file needs auth_url");
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
    /* OIDC Discovery requires the document's issuer to be the URL it was
     * found under, so that URL is the issuer tokens must carry. */
    if (!config->issuer && config->oidc_issuer)
        config->issuer = string_dup(parser, config->oidc_issuer);
    return config->realm && config->variable_prefix && config->state_dir && config->backend_url;
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
    char err[512];
    char *text = tg_file_read(path, CONFIG_FILE_MAX, &len, err, sizeof err);
    if (!text)
        tg_problems_add(problems, path, 0, "%s", err);
    if (text) {
        struct parser parser = {
            .config = config, .problems = problems, .file = path, .text = text, .len = len,
        };
        int rc = ini_parse_stream(line_read, &parser, handle_key, &parser);
        rule_finish(&parser);
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
    for (size_t i = 0; i < config->hierarchy.count; i++)
        free(config->hierarchy.names[i]);
    for (size_t i = 0; i < config->rule_count; i++)
        tg_rule_clear(&config->rules[i]);
    free(config->rules);
    free(config);
}

struct source_warning {
    const char *file;
    int line;
};

/* Skipped keys are worth a warning, not a refusal: providers publish keys
 * for other purposes beside the signing keys. */
static void source_warning_log(void *context, const char *message)
{
    const struct source_warning *where = context;
    tg_log(TG_LOG_WARN, "%s:%d: jwks: %s", where->file, where->line, message);
}

size_t tg_config_keys_load(const struct tg_config *config, struct tg_keyset *keys,
                           struct tg_problems *problems)
{
    size_t before = problems->count + problems->dropped;
    char err[512];
    tg_keyset_clear(keys);
    for (size_t i = 0; i < config->verifier_key_count; i++)
        if (tg_keyset_add_pem_file(keys, config->verifier_keys[i].value, NULL, err,
                                   sizeof err) != 0)
            tg_problems_add(problems, config->file, config->verifier_keys[i].line,
                            "verifier_key: %s", err);
    if (config->hmac_secret_file.value &&
        tg_keyset_add_secret_file(keys, config->hmac_secret_file.value, NULL, err, sizeof err) != 0)
        tg_problems_add(problems, config->file, config->hmac_secret_file.line,
                        "hmac_secret_file: %s", err);
    for (size_t i = 0; i < config->jwks_count; i++) {
        const struct tg_config_source *source = &config->jwks[i];
        if (tg_config_source_is_url(source->value))
            continue; /* fetched by the refresher */
        struct source_warning where = {config->file, source->line};
        int added = tg_keyset_add_jwks_file(keys, source->value, source_warning_log, &where, err,
                                            sizeof err);
        if (added < 0)
            tg_problems_add(problems, config->file, source->line, "jwks: %s", err);
        else if (added == 0)
            tg_problems_add(problems, config->file, source->line,
                            "jwks: %s holds no key that can verify signatures", source->value);
    }
    /* Checked now rather than at the first fetch, minutes later. */
    if (config->ca_file && config->ca_file[0]) {
        char *bundle = tg_file_read(config->ca_file, 16 * 1024 * 1024, &(size_t){0}, err,
                                    sizeof err);
        if (!bundle)
            tg_problems_add(problems, config->file, config->ca_file_line, "ca_file: %s", err);
        else if (!strstr(bundle, "-----BEGIN CERTIFICATE-----"))
            tg_problems_add(problems, config->file, config->ca_file_line,
                            "ca_file: %s holds no PEM certificate", config->ca_file);
        free(bundle);
    }
    if (config->api_key_file) {
        char api_key[TG_API_KEY_MAX];
        if (tg_config_api_key_read(config, api_key, sizeof api_key, problems) == 0)
            OPENSSL_cleanse(api_key, sizeof api_key);
    }
    return problems->count + problems->dropped - before;
}

bool tg_config_source_is_url(const char *value)
{
    return strstr(value, "://") != NULL;
}

int tg_config_api_key_read(const struct tg_config *config, char *key, size_t size,
                           struct tg_problems *problems)
{
    const char *path = config->api_key_file;
    int line = config->api_key_file_line;
    /* The key lets anyone act as this application towards PropelAuth. */
    char err[512];
    size_t len;
    char *text = tg_file_read_trusted(path, size - 1, true, &len, err, sizeof err);
    if (!text) {
        tg_problems_add(problems, config->file, line, "api_key_file: %s", err);
        return -1;
    }
    while (len > 0 && strchr(" \t\r\n", text[len - 1]))
        text[--len] = '\0';
    int result = 0;
    if (len == 0 || !tg_text_is_single_line(text) || strchr(text, ' ')) {
        tg_problems_add(problems, config->file, line,
                        "api_key_file: %s must hold the API key on one line", path);
        result = -1;
    } else {
        memcpy(key, text, len + 1);
    }
    OPENSSL_cleanse(text, len);
    free(text);
    return result;
}
