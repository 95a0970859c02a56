/* SPDX-License-Identifier: Apache-2.0 */
/* preflight.c - the run-time checks of `tokengate -t` (see preflight.h). */
#include "tokengate/preflight.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tokengate/fleet.h"
#include "tokengate/listen.h"
#include "tokengate/refresh.h"
#include "tokengate/sources.h"
#include "tokengate/url.h"

/* A setting left at its default has no line: such problems point at the
 * top of the file. */
static int line_or_top(int line) { return line > 0 ? line : 1; }

/* The directory part of PATH into DIRECTORY ("/" for "/x"). */
static void directory_of(const char *path, char *directory, size_t size)
{
    snprintf(directory, size, "%s", path);
    char *slash = strrchr(directory, '/');
    if (slash == directory)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
}

/* Whether the user running this can create entries in DIRECTORY: NULL, or
 * the sentence in WHY. */
static const char *directory_writable(const char *directory, struct tg_error *why)
{
    struct stat status;
    if (stat(directory, &status) != 0) {
        tg_error_set(why, "the directory %s does not exist%s", directory,
                     errno == ENOENT ? "" : " or cannot be reached");
        return why->text;
    }
    if (!S_ISDIR(status.st_mode)) {
        tg_error_set(why, "%s is not a directory", directory);
        return why->text;
    }
    if (access(directory, W_OK | X_OK) != 0) {
        tg_error_set(why, "user %u cannot create files in %s", (unsigned)geteuid(),
                     directory);
        return why->text;
    }
    return NULL;
}

static void address_check(const struct tg_config *config, const char *key, const char *address,
                          int line, struct tg_problems *errors, struct tg_problems *warnings)
{
    char directory[PATH_MAX];
    struct tg_error why;
    if (address[0] == '/') {
        directory_of(address, directory, sizeof directory);
        if (directory_writable(directory, &why))
            tg_problems_add(errors, config->file, line,
                            "%s: %s (create it first, e.g. with systemd's RuntimeDirectory=)",
                            key, why.text);
        return;
    }
    if (!tg_listen_is_local(address))
        tg_problems_add(warnings, config->file, line,
                        "warning: %s = %s is reachable beyond this machine: any host that can "
                        "connect can %s; prefer 127.0.0.1 or a unix socket", key, address,
                        strcmp(key, "listen") == 0 ? "ask for decisions" : "read the metrics");
}

static void socket_owner_check(const struct tg_config *config, struct tg_problems *errors,
                               struct tg_problems *warnings)
{
    int line = line_or_top(config->socket_owner_line);
    bool unix_socket = (config->listen && config->listen[0] == '/') ||
                       (config->status_listen && config->status_listen[0] == '/');
    if (!unix_socket) {
        tg_problems_add(warnings, config->file, line,
                        "warning: socket_owner has no effect: no unix socket is listened on");
        return;
    }
    uid_t uid;
    gid_t gid;
    struct tg_error why;
    if (!tg_listen_owner_resolve(config->socket_owner, &uid, &gid, &why)) {
        tg_problems_add(errors, config->file, line, "%s", why.text);
        return;
    }
    /* chown(2): only root may give a file away; others may only pick one of
     * their own groups. */
    if (geteuid() == 0)
        return;
    if (uid != (uid_t)-1 && uid != geteuid())
        tg_problems_add(errors, config->file, line,
                        "socket_owner: user %u cannot give its socket to another user (only "
                        "root can): leave the user out (\":group\") or start as root",
                        (unsigned)geteuid());
    else if (gid != (gid_t)-1 && gid != getegid() && !group_member(gid))
        tg_problems_add(errors, config->file, line,
                        "socket_owner: user %u is not in group %u, so it cannot give its "
                        "socket to it", (unsigned)geteuid(), (unsigned)gid);
}

/* Remote keys are saved in state_dir for the next start: it must be
 * writable, and nobody else may write there (saved keys are trusted). */
static void state_dir_check(const struct tg_config *config, struct tg_problems *errors)
{
    int line = line_or_top(config->state_dir_line);
    const char *label = config->state_dir_line ? "state_dir" : "state_dir (the default)";
    struct tg_error why;
    struct stat status;
    if (stat(config->state_dir, &status) != 0) {
        char parent[PATH_MAX];
        directory_of(config->state_dir, parent, sizeof parent);
        if (directory_writable(parent, &why))
            tg_problems_add(errors, config->file, line,
                            "%s %s cannot be created: %s", label, config->state_dir, why.text);
        return;
    }
    if (!S_ISDIR(status.st_mode) || access(config->state_dir, W_OK | X_OK) != 0) {
        tg_problems_add(errors, config->file, line,
                        "%s %s is not a directory user %u can write: fetched keys could not be "
                        "saved for a restart while the provider is down", label,
                        config->state_dir, (unsigned)geteuid());
        return;
    }
    if (tg_state_dir_check(config->state_dir, &why))
        tg_problems_add(errors, config->file, line, "%s: %s", label, why.text);
}

static bool in_hierarchy(const struct tg_role_hierarchy *hierarchy, const char *role)
{
    for (size_t i = 0; i < hierarchy->count; i++)
        if (strcmp(hierarchy->names[i], role) == 0)
            return true;
    return false;
}

/* The hierarchy ranks roles only for tokens without an inherited role
 * list; a role it does not name is most likely a typo. */
static void roles_check(const struct tg_config *config, struct tg_problems *warnings)
{
    if (config->hierarchy.count == 0)
        return;
    for (size_t i = 0; i < config->rule_count; i++) {
        const struct tg_rule *rule = &config->rules[i];
        const char *keys[] = {"role", "min_role"};
        const char *roles[] = {rule->role, rule->min_role};
        for (size_t k = 0; k < 2; k++)
            if (roles[k] && !in_hierarchy(&config->hierarchy, roles[k]))
                tg_problems_add(warnings, config->file, rule->line,
                                "warning: [rule %s] %s %s is not in the hierarchy of line %d "
                                "(spelling and case matter)",
                                rule->name, keys[k], roles[k], config->hierarchy_line);
    }
}

/* tokengate trusts what it reads in Redis and sends it no password: a
 * Redis beyond this machine must be on a network only the nodes reach. */
static void redis_check(const struct tg_config *config, struct tg_problems *warnings)
{
    struct tg_redis_address address;
    const char *why;
    if (tg_redis_address_parse(config->fleet_redis, &address, &why) == 0 && !address.path[0] &&
        !tg_url_host_is_loopback(address.host))
        tg_problems_add(warnings, config->file, config->fleet_redis_line,
                        "warning: redis = %s leaves this machine: tokengate sends it no "
                        "password and trusts the validations and revocations it reads "
                        "there; keep it on a network only the nodes can reach",
                        config->fleet_redis);
}

void tg_preflight(const struct tg_config *config, struct tg_problems *errors,
                  struct tg_problems *warnings)
{
    if (config->listen) {
        address_check(config, "listen", config->listen, config->listen_line, errors, warnings);
        if (tg_listen_is_socket(0))
            tg_problems_add(errors, config->file, config->listen_line,
                            "listen is set, but a listening socket also arrives on file "
                            "descriptor 0 (systemd socket activation, spawn-fcgi, a web "
                            "server's bin-path): remove listen, or stop passing the socket");
    }
    if (config->status_listen)
        address_check(config, "status_listen", config->status_listen,
                      config->status_listen_line, errors, warnings);
    if (config->socket_owner)
        socket_owner_check(config, errors, warnings);
    if (tg_sources_remote_count(config) > 0)
        state_dir_check(config, errors);
    roles_check(config, warnings);
    if (config->fleet_redis)
        redis_check(config, warnings);
}
