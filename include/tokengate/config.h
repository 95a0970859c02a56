/* SPDX-License-Identifier: Apache-2.0 */
/* config.h - the configuration file (contract section 3).
 *
 * tg_config_load() reads the whole file and reports every problem it finds,
 * each as "FILE:LINE: message", instead of stopping at the first: `tokengate
 * -t` prints them all. A configuration with any problem is never used.
 * It reads the file's syntax and nothing else: the files the configuration
 * names are read by sources.h and its URLs by loader.h (tg_loader_load()
 * does all three), since reading URLs takes libcurl's parser and keys
 * change while the configuration does not.
 */
#ifndef TOKENGATE_CONFIG_H
#define TOKENGATE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "tokengate/apikey.h"
#include "tokengate/claims.h"
#include "tokengate/rules.h"

#define TG_RULES_MAX 1024
#define TG_PROBLEMS_MAX 200
#define TG_KEY_SOURCES_MAX 16
#define TG_API_KEY_MAX 512          /* bytes of an API key, its NUL included */
#define TG_REALM_MAX 128            /* characters of realm */
#define TG_VARIABLE_PREFIX_MAX 32   /* characters of variable_prefix */
#define TG_RULE_NAME_MAX 64         /* characters of a rule's name */
#define TG_CONFIG_VALUE_MAX 1000    /* characters of any value */

enum tg_default_policy { TG_DEFAULT_DENY, TG_DEFAULT_USER, TG_DEFAULT_OPEN };

/* A value that names a file, with the line it came from for later errors. */
struct tg_config_source {
    char *value;
    int line;
};

#define TG_MAX_CONNECTIONS_LIMIT 1000000
#define TG_MAX_REQUEST_BYTES_MIN 1024
#define TG_MAX_REQUEST_BYTES_LIMIT (1024 * 1024)

#define TG_API_KEYS_MAX 4096       /* [api_key NAME] sections in the keys file */

/* A local end-user API key (contract section 10): its hash, never the key. */
struct tg_api_key {
    char *name;
    int line;
    unsigned char hash[TG_KEY_HASH_SIZE]; /* of the key as the client sends it */
    bool has_hash;
    char *user_id;                  /* acts as this user, or NULL */
    char *org;                      /* acts in this org only, or NULL */
    char *role;                     /* the role it holds in ORG, or NULL */
    char *permissions[TG_PERMISSIONS_MAX];
    size_t permission_count;
    time_t expires;                 /* 0: never */
};

struct tg_config {
    char *file;

    /* [tokengate] */
    char *listen;                   /* NULL: the socket inherited on fd 0 */
    int listen_line;
    long socket_mode;               /* unix socket permissions, default 0660 */
    char *socket_owner;             /* unix socket "user[:group]", or NULL */
    int socket_owner_line;
    int threads;
    long request_timeout;           /* seconds to deliver a whole request */
    long max_connections;           /* held at once; more wait in the backlog */
    long max_request_bytes;         /* FastCGI records of one request */
    enum tg_default_policy default_policy;
    char *realm;
    char *variable_prefix;
    int log_level;                  /* enum tg_log_level */
    int log_format;                 /* enum tg_log_format */
    char *status_listen;            /* metrics and health socket, or NULL */
    int status_listen_line;
    long cache_size;                /* verified tokens remembered; 0: none */
    long cache_memory;              /* MiB the cache may hold */
    char *state_dir;
    int state_dir_line;             /* 0: the default */

    /* [token] */
    struct tg_config_source verifier_keys[TG_KEY_SOURCES_MAX];
    size_t verifier_key_count;
    struct tg_config_source jwks[TG_KEY_SOURCES_MAX];
    size_t jwks_count;
    char *oidc_issuer;
    int oidc_issuer_line;
    struct tg_config_source hmac_secret_file;
    char *auth_url;
    int auth_url_line;
    char *auth_authority;           /* HOST[:PORT] of auth_url (X-Propelauth-url), set
                                     * by tg_loader_urls_check() */
    char *api_key_file;
    int api_key_file_line;
    char *backend_url;
    int backend_url_line;           /* 0: the default */
    char *issuer;                   /* from issuer or oidc_issuer, or derived from
                                     * auth_url by tg_loader_urls_check() */
    int issuer_line;
    char *audience;
    unsigned algorithms;            /* TG_ALG_BIT()s */
    long leeway;
    char *cookie;
    long refresh_interval;
    long refresh_min_interval;
    char *ca_file;
    int ca_file_line;

    /* [roles] */
    struct tg_role_hierarchy hierarchy;
    int hierarchy_line;

    /* [rule NAME]s in file order */
    struct tg_rule *rules;
    size_t rule_count;

    /* [api_keys] */
    bool api_keys_propelauth;
    int api_keys_propelauth_line;
    char *api_keys_file;            /* local keys, or NULL */
    int api_keys_file_line;
    long api_key_cache_ttl;
    long api_key_negative_ttl;
    long api_key_max_pending;
    /* [fleet] */
    char *fleet_redis;              /* unix:/PATH or redis://HOST:PORT[/DB], or NULL */
    int fleet_redis_line;
    char *fleet_redis_prefix;       /* "tokengate:" by default */
    /* The [api_key NAME] sections of api_keys_file (tg_config_api_keys_load). */
    struct tg_api_key *local_keys;
    size_t local_key_count;
};

struct tg_problems {
    char *lines[TG_PROBLEMS_MAX];
    size_t count;
    size_t dropped;                 /* problems beyond TG_PROBLEMS_MAX */
};

/* Where the configuration is: PATH_ARGUMENT (-c) if given, else
 * $TOKENGATE_CONFIG, else the compiled-in default. */
const char *tg_config_path(const char *path_argument);

/* The name of key INDEX of section SECTION ("tokengate", "token", "roles",
 * "rule"), in the order of its table; NULL past the last key or for another
 * section. */
const char *tg_config_key_name(const char *section, size_t index);

/* Reads CONFIG's api_keys_file (when set) into CONFIG->local_keys: a file
 * that must be as private as api_key_file, holding [api_key NAME]
 * sections only. Returns the number of problems added. */
size_t tg_config_api_keys_load(struct tg_config *config, struct tg_problems *problems);

/* Whether NAME may name a [rule NAME] or an [api_key NAME]: 1 to
 * TG_RULE_NAME_MAX of A-Z a-z 0-9 _ . - */
bool tg_config_name_valid(const char *name);

/* An RFC 3339 date ("2027-01-31", midnight UTC) or date-time
 * ("2027-01-31T12:00:00Z", "...+02:00") into *WHEN. False when TEXT is
 * neither. */
bool tg_config_time_parse(const char *text, time_t *when);

/* Reads PATH. Returns the configuration, or NULL with PROBLEMS filled. */
struct tg_config *tg_config_load(const char *path, struct tg_problems *problems);
void tg_config_free(struct tg_config *config);

void tg_problems_add(struct tg_problems *problems, const char *file, int line,
                     const char *format, ...) __attribute__((format(printf, 4, 5)));
void tg_problems_clear(struct tg_problems *problems);

#endif
