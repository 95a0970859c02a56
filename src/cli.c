/* SPDX-License-Identifier: Apache-2.0 */
/* cli.c - `tokengate -t` and `tokengate check`. */
#include "tokengate/cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>

#include <openssl/crypto.h>

#include "tokengate/apikey.h"
#include "tokengate/base64url.h"
#include "tokengate/config.h"
#include "tokengate/decision.h"
#include "tokengate/fleet.h"
#include "tokengate/keys.h"
#include "tokengate/loader.h"
#include "tokengate/preflight.h"
#include "tokengate/refresh.h"
#include "tokengate/request.h"
#include "tokengate/response.h"
#include "tokengate/sources.h"
#include "tokengate/text.h"
#include "tokengate/validator.h"

#define CHECK_PARAMS_MAX 128

static void problems_print(const struct tg_problems *problems)
{
    for (size_t i = 0; i < problems->count; i++)
        fprintf(stderr, "%s\n", problems->lines[i]);
    if (problems->dropped)
        fprintf(stderr, "(%zu more problems not shown)\n", problems->dropped);
}

struct tg_config *tg_cli_config_load(const char *config_path, struct tg_keyset *keys)
{
    struct tg_problems problems = {0};
    struct tg_config *config = tg_loader_load(config_path, keys, &problems);
    problems_print(&problems);
    tg_problems_clear(&problems);
    return config;
}

int tg_cli_config_test(const char *config_path)
{
    static struct tg_keyset keys;
    struct tg_config *config = tg_cli_config_load(config_path, &keys);
    if (!config)
        return 1;
    struct tg_problems errors = {0}, warnings = {0};
    tg_preflight(config, &errors, &warnings);
    problems_print(&errors);
    problems_print(&warnings);
    bool valid = errors.count == 0 && errors.dropped == 0;
    tg_problems_clear(&errors);
    tg_problems_clear(&warnings);
    size_t remote = tg_sources_remote_count(config);
    char local_keys[64] = "";
    if (config->local_key_count)
        snprintf(local_keys, sizeof local_keys, ", %zu local API keys", config->local_key_count);
    if (valid && remote)
        printf("%s: configuration is valid (%zu rules, %zu keys from files, remote key "
               "sources: %zu%s)\n", config_path, config->rule_count, keys.count, remote,
               local_keys);
    else if (valid)
        printf("%s: configuration is valid (%zu rules, %zu keys%s)\n", config_path,
               config->rule_count, keys.count, local_keys);
    tg_config_free(config);
    tg_keyset_clear(&keys);
    return valid ? 0 : 1;
}

/* Receives the key set the refresher assembles. */
static void check_keys_receive(void *context, struct tg_keyset *keys)
{
    struct tg_keyset **slot = context;
    tg_keyset_free(*slot);
    *slot = keys;
}

/* The keys `check` decides with: the files', plus each remote source's
 * saved keys, fetched once now when none were saved. NULL on a problem. */
static struct tg_keyset *check_keys_load(const struct tg_config *config,
                                         struct tg_keyset *static_keys)
{
    struct tg_keyset *keys = NULL;
    struct tg_problems problems = {0};
    struct tg_refresher *refresher = tg_refresher_new(check_keys_receive, &keys);
    if (!refresher) {
        fprintf(stderr, "tokengate check: out of memory\n");
        return NULL;
    }
    if (tg_refresher_configure(refresher, config, static_keys, &problems) == 0)
        tg_refresher_fetch_missing(refresher);
    tg_refresher_free(refresher);
    problems_print(&problems);
    tg_problems_clear(&problems);
    return keys;
}

static const char check_usage[] =
    "usage: tokengate check [-c FILE] [-X METHOD] [-H 'Name: value']... [--token TOKEN] URI\n";

/* "Name: value" becomes HTTP_NAME=value, as a web server would pass it. */
static char *header_param(const char *header)
{
    const char *colon = strchr(header, ':');
    if (!colon || colon == header)
        return NULL;
    size_t name_len = (size_t)(colon - header);
    const char *value = colon + 1;
    while (*value == ' ' || *value == '\t')
        value++;
    bool cgi_name = (name_len == 12 && !strncasecmp(header, "Content-Type", 12)) ||
                    (name_len == 14 && !strncasecmp(header, "Content-Length", 14));
    size_t size = 5 + name_len + 1 + strlen(value) + 1;
    char *param = malloc(size);
    if (!param)
        return NULL;
    size_t used = 0;
    if (!cgi_name) {
        memcpy(param, "HTTP_", 5);
        used = 5;
    }
    /* As lighttpd passes headers: X-Org, X_Org and X.Org are all HTTP_X_ORG. */
    for (size_t i = 0; i < name_len; i++) {
        unsigned char c = (unsigned char)header[i];
        if (c <= ' ' || c >= 0x7f) {
            free(param);
            return NULL;
        }
        param[used++] = isalnum(c) ? (char)toupper(c) : '_';
    }
    snprintf(param + used, size - used, "=%s", value);
    return param;
}

static char *param_format(const char *name, const char *value_prefix, const char *value)
{
    char *param = NULL;
    return asprintf(&param, "%s=%s%s", name, value_prefix, value) < 0 ? NULL : param;
}

int tg_cli_check(int argc, char **argv, const char *config_path)
{
    char *params[CHECK_PARAMS_MAX + 1] = {0};
    size_t count = 0;
    const char *method = "GET";
    const char *uri = NULL;
    int status = 2;

    /* The method and URI go first so that they win over any -H spelling. */
    count = 2;
    static const struct option options[] = {
        {"token", required_argument, NULL, 'T'},
        {NULL, 0, NULL, 0},
    };
    optind = 0; /* GNU getopt: start afresh (main() parsed its own options) */
    opterr = 0;
    int option;
    while ((option = getopt_long(argc, argv, "c:X:H:", options, NULL)) != -1) {
        if (count >= CHECK_PARAMS_MAX) {
            fprintf(stderr, "tokengate check: too many headers\n");
            goto done;
        }
        switch (option) {
        case 'c':
            config_path = optarg;
            break;
        case 'X':
            method = optarg;
            break;
        case 'H':
            if (!(params[count++] = header_param(optarg))) {
                fprintf(stderr, "tokengate check: -H expects 'Name: value'\n");
                goto done;
            }
            break;
        case 'T':
            if (!(params[count++] = param_format("HTTP_AUTHORIZATION", "Bearer ", optarg)))
                goto done;
            break;
        default:
            fprintf(stderr, "tokengate check: %s %s\n%s",
                    optopt ? "option needs a value or is unknown:" : "unknown option",
                    argv[optind - 1], check_usage);
            goto done;
        }
    }
    if (optind < argc - 1) {
        fprintf(stderr, "tokengate check: give one URI\n%s", check_usage);
        goto done;
    }
    uri = optind < argc ? argv[optind] : NULL;
    if (!uri) {
        fputs(check_usage, stderr);
        goto done;
    }
    const char *question = strchr(uri, '?');
    params[0] = param_format("REQUEST_METHOD", "", method);
    params[1] = param_format("REQUEST_URI", "", uri);
    if (count < CHECK_PARAMS_MAX)
        params[count++] = param_format("QUERY_STRING", "", question ? question + 1 : "");
    if (!params[0] || !params[1] || !params[count - 1])
        goto done;

    static struct tg_keyset keys;
    struct tg_config *config = tg_cli_config_load(tg_config_path(config_path), &keys);
    if (!config)
        goto done;

    struct tg_keyset *loaded = check_keys_load(config, &keys);
    if (!loaded) {
        tg_config_free(config);
        tg_keyset_clear(&keys);
        goto done;
    }
    static struct tg_request request;
    static struct tg_decision decision;
    static char response[TG_RESPONSE_MAX];
    tg_request_init(&request, (const char *const *)params, time(NULL));
    tg_decide(config, loaded, &request, &decision);
    struct tg_key_validation *validation = NULL;
    if (decision.validation_needed) {
        /* As the server would: PropelAuth is asked (check has no fleet,
         * and reads no revocations from Redis). */
        struct tg_validator *validator = tg_validator_new(NULL, NULL, NULL);
        struct tg_problems problems = {0};
        if (validator && tg_validator_configure(validator, config, &problems) == 0)
            validation = tg_validator_validate(validator, request.credential_text,
                                               request.credential_len);
        problems_print(&problems);
        tg_problems_clear(&problems);
        tg_validator_free(validator);
        request.key_validation = validation;
        if (validation)
            tg_decide(config, loaded, &request, &decision);
    }
    size_t len = tg_response_format(&decision, config->realm, response, sizeof response);
    fwrite(response, 1, len, stdout);
    status = decision.status == 200 ? 0 : 1;
    tg_key_validation_release(validation);
    tg_config_free(config);
    tg_keyset_clear(&keys);
    tg_keyset_free(loaded);
done:
    for (size_t i = 0; i < CHECK_PARAMS_MAX; i++)
        free(params[i]);
    return status;
}

static const char key_new_usage[] =
    "usage: tokengate key new NAME [--user ID] [--org ID] [--role ROLE] [--permission P]...\n"
    "                         [--expires DATE]\n";

/* A value for a key's section: one line, no comment mark a reader would
 * cut it at. */
static bool section_value_valid(const char *value)
{
    return value[0] && tg_text_is_single_line(value) && !strchr(value, '#') &&
           !strchr(value, ';') && !strchr(value, ',');
}

int tg_cli_key_new(int argc, char **argv)
{
    static const struct option options[] = {
        {"user", required_argument, NULL, 'u'},
        {"org", required_argument, NULL, 'o'},
        {"role", required_argument, NULL, 'r'},
        {"permission", required_argument, NULL, 'p'},
        {"expires", required_argument, NULL, 'e'},
        {NULL, 0, NULL, 0},
    };
    const char *user = NULL, *org = NULL, *role = NULL, *expires = NULL;
    const char *permissions[TG_PERMISSIONS_MAX];
    size_t permission_count = 0;
    optind = 0; /* GNU getopt: start afresh (main() parsed its own options) */
    opterr = 0;
    int option;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        const char *value = optarg;
        if (option != '?' && !section_value_valid(value)) {
            fprintf(stderr, "tokengate key new: '%s' cannot stand in a key's section\n", value);
            return 2;
        }
        switch (option) {
        case 'u': user = value; break;
        case 'o': org = value; break;
        case 'r': role = value; break;
        case 'e': expires = value; break;
        case 'p':
            if (permission_count >= TG_PERMISSIONS_MAX) {
                fprintf(stderr, "tokengate key new: at most %d permissions\n",
                        TG_PERMISSIONS_MAX);
                return 2;
            }
            permissions[permission_count++] = value;
            break;
        default:
            fprintf(stderr, "tokengate key new: unknown option, or one without its value: %s\n%s",
                    argv[optind - 1], key_new_usage);
            return 2;
        }
    }
    /* argv[0] is "key", argv[optind] "new", then NAME. */
    if (optind + 2 != argc || strcmp(argv[optind], "new") != 0) {
        fputs(key_new_usage, stderr);
        return 2;
    }
    const char *name = argv[optind + 1];
    time_t when;
    if (!tg_config_name_valid(name)) {
        fprintf(stderr, "tokengate key new: NAME: use 1 to %d of A-Z a-z 0-9 _ . -\n",
                TG_RULE_NAME_MAX);
        return 2;
    }
    if (expires && !tg_config_time_parse(expires, &when)) {
        fprintf(stderr, "tokengate key new: --expires expects an RFC 3339 date or date-time\n");
        return 2;
    }
    if ((role || permission_count) && !org) {
        fprintf(stderr, "tokengate key new: --role and --permission need --org\n");
        return 2;
    }
    /* 256 bits from the OS, as "tg_" and 43 base64url characters. */
    unsigned char random[32];
    if (getrandom(random, sizeof random, 0) != (ssize_t)sizeof random) {
        fprintf(stderr, "tokengate key new: the OS gave no random bytes\n");
        return 1;
    }
    char key[3 + TG_BASE64URL_ENCODED_SIZE(sizeof random)] = "tg_";
    tg_base64url_encode(random, sizeof random, key + 3);
    OPENSSL_cleanse(random, sizeof random);
    unsigned char hash[TG_KEY_HASH_SIZE];
    char hex[TG_KEY_HASH_HEX];
    tg_key_hash(key, strlen(key), hash);
    tg_key_hash_hex(hash, hex);
    printf("%s\n\n[api_key %s]\nhash = sha256:%s\n", key, name, hex);
    OPENSSL_cleanse(key, sizeof key);
    if (user)
        printf("user_id = %s\n", user);
    if (org)
        printf("org = %s\n", org);
    if (role)
        printf("role = %s\n", role);
    for (size_t i = 0; i < permission_count; i++)
        printf("permission = %s\n", permissions[i]);
    if (expires)
        printf("expires = %s\n", expires);
    return fflush(stdout) == 0 ? 0 : 1;
}

static const char revoke_usage[] =
    "usage: tokengate revoke [-c FILE] (--user ID | --api-key KEY | --org ID) [--for SECONDS]\n"
    "       (--api-key - reads the key from standard input)\n";

/* Reads one line from standard input into KEY (SIZE bytes): a key given
 * so stays out of the process list and the shell's history. */
static bool key_from_stdin(char *key, size_t size)
{
    if (!fgets(key, (int)size, stdin))
        return false;
    size_t len = strcspn(key, "\r\n");
    bool whole = key[len] == '\n' || key[len] == '\r' || feof(stdin);
    key[len] = '\0';
    return whole && len > 0;
}

int tg_cli_revoke(int argc, char **argv, const char *config_path)
{
    static const struct option options[] = {
        {"user", required_argument, NULL, 'u'},
        {"api-key", required_argument, NULL, 'k'},
        {"org", required_argument, NULL, 'o'},
        {"for", required_argument, NULL, 'f'},
        {NULL, 0, NULL, 0},
    };
    const char *target = NULL;
    enum tg_revocation_kind kind = TG_REVOKE_USER;
    int targets = 0;
    long seconds = TG_FLEET_REVOKE_DEFAULT_SECONDS;
    optind = 0; /* GNU getopt: start afresh (main() parsed its own options) */
    opterr = 0;
    int option;
    while ((option = getopt_long(argc, argv, "c:", options, NULL)) != -1) {
        char *end;
        switch (option) {
        case 'c': config_path = optarg; break;
        case 'u': kind = TG_REVOKE_USER; target = optarg; targets++; break;
        case 'k': kind = TG_REVOKE_API_KEY; target = optarg; targets++; break;
        case 'o': kind = TG_REVOKE_ORG; target = optarg; targets++; break;
        case 'f':
            errno = 0;
            seconds = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || seconds < 1 || seconds > 366L * 86400) {
                fprintf(stderr, "tokengate revoke: --for expects 1 to %ld seconds\n",
                        366L * 86400);
                return 2;
            }
            break;
        default:
            fprintf(stderr, "tokengate revoke: unknown option, or one without its value: %s\n%s",
                    argv[optind - 1], revoke_usage);
            return 2;
        }
    }
    if (targets != 1 || optind != argc) {
        fputs(revoke_usage, stderr);
        return 2;
    }
    struct tg_revocation revocation = {.kind = kind, .at = time(NULL)};
    revocation.until = revocation.at + seconds;
    if (kind == TG_REVOKE_API_KEY) {
        /* Only the key's hash is stored and published. */
        char key[TG_KEY_TEXT_MAX + 2];
        bool read = strcmp(target, "-") == 0 ? key_from_stdin(key, sizeof key)
                                             : snprintf(key, sizeof key, "%s", target) > 0;
        size_t len = strlen(key);
        if (!read || len > TG_KEY_TEXT_MAX) {
            OPENSSL_cleanse(key, sizeof key);
            fprintf(stderr, "tokengate revoke: --api-key: expected a key of 1 to %d bytes\n",
                    TG_KEY_TEXT_MAX);
            return 2;
        }
        unsigned char hash[TG_KEY_HASH_SIZE];
        tg_key_hash(key, len, hash);
        OPENSSL_cleanse(key, sizeof key);
        tg_key_hash_hex(hash, revocation.id);
    } else {
        size_t len = strlen(target);
        if (!tg_revocation_id_valid(target, len)) {
            fprintf(stderr, "tokengate revoke: an id is 1 to %d characters without spaces\n",
                    TG_REVOCATION_ID_MAX);
            return 2;
        }
        memcpy(revocation.id, target, len + 1);
    }
    static struct tg_keyset keys;
    struct tg_config *config = tg_cli_config_load(tg_config_path(config_path), &keys);
    if (!config)
        return 2;
    int status = 0;
    struct tg_error error;
    if (!config->fleet_redis) {
        fprintf(stderr, "tokengate revoke: %s has no [fleet] redis: revocations are shared "
                        "through Redis, and a single node has none to share them with\n",
                config->file);
        status = 2;
    } else if (tg_fleet_revoke(config, &revocation, &error) != 0) {
        fprintf(stderr, "tokengate revoke: %s\n", error.text);
        status = 1;
    } else {
        char until[32];
        struct tm tm;
        strftime(until, sizeof until, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&revocation.until, &tm));
        printf("revoked %s %s until %s\n", tg_revocation_kind_name(kind),
               kind == TG_REVOKE_API_KEY ? "(the key given)" : revocation.id, until);
    }
    tg_config_free(config);
    tg_keyset_clear(&keys);
    return status;
}
