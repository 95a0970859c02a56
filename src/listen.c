/* SPDX-License-Identifier: Apache-2.0 */
/* listen.c - the FastCGI listening socket. */
#include "tokengate/listen.h"

#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define LISTEN_BACKLOG 128

bool tg_listen_is_socket(int fd)
{
    struct stat info;
    int type = 0, listening = 0;
    socklen_t len = sizeof type, listening_len = sizeof listening;
    return fstat(fd, &info) == 0 && S_ISSOCK(info.st_mode) &&
           getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM &&
           getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &listening_len) == 0 &&
           listening;
}

bool tg_listen_is_local(const char *address)
{
    if (address[0] == '/')
        return true;
    return strncmp(address, "127.", 4) == 0 || strncmp(address, "localhost:", 10) == 0 ||
           strncmp(address, "[::1]:", 6) == 0;
}

bool tg_listen_owner_resolve(const char *owner, uid_t *uid, gid_t *gid, struct tg_error *error)
{
    char user[128];
    const char *colon = strchr(owner, ':');
    size_t user_len = colon ? (size_t)(colon - owner) : strlen(owner);
    if (user_len >= sizeof user) {
        tg_error_set(error, "socket_owner: name too long");
        return false;
    }
    memcpy(user, owner, user_len);
    user[user_len] = '\0';
    *uid = (uid_t)-1;
    *gid = (gid_t)-1;
    if (user_len) {
        struct passwd *entry = getpwnam(user);
        if (!entry) {
            tg_error_set(error, "socket_owner: no user '%s'", user);
            return false;
        }
        *uid = entry->pw_uid;
        *gid = entry->pw_gid;
    }
    if (colon && colon[1]) {
        struct group *entry = getgrnam(colon + 1);
        if (!entry) {
            tg_error_set(error, "socket_owner: no group '%s'", colon + 1);
            return false;
        }
        *gid = entry->gr_gid;
    }
    return true;
}

static int unix_socket_open(const char *path, long mode, const char *owner, struct tg_error *error)
{
    /* Bound under a temporary name and renamed once listening, so that the
     * path never names a socket that refuses connections (a web server
     * that connects as soon as the file appears). */
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    if (snprintf(address.sun_path, sizeof address.sun_path, "%s.new", path) >=
        (int)sizeof address.sun_path) {
        tg_error_set(error, "unix socket path too long: %s", path);
        return -1;
    }
    uid_t uid = (uid_t)-1;
    gid_t gid = (gid_t)-1;
    if (owner && !tg_listen_owner_resolve(owner, &uid, &gid, error))
        return -1;
    /* Remove a stale socket from an earlier run, but never another file. */
    struct stat info;
    if (lstat(path, &info) == 0) {
        if (!S_ISSOCK(info.st_mode)) {
            tg_error_set(error, "%s exists and is not a socket", path);
            return -1;
        }
        unlink(path);
    }
    if (lstat(address.sun_path, &info) == 0 && S_ISSOCK(info.st_mode))
        unlink(address.sun_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        tg_error_set(error, "socket: %s", strerror(errno));
        return -1;
    }
    /* Bind under a umask that lets nobody in, then open up to MODE: there
     * is no moment when the socket is wider open than configured. */
    mode_t saved = umask(0777);
    int bound = bind(fd, (struct sockaddr *)&address, sizeof address);
    umask(saved);
    if (bound != 0 || chmod(address.sun_path, (mode_t)mode) != 0 ||
        (owner && chown(address.sun_path, uid, gid) != 0) ||
        listen(fd, LISTEN_BACKLOG) != 0 || rename(address.sun_path, path) != 0) {
        tg_error_set(error, "cannot listen on %s: %s", path, strerror(errno));
        if (bound == 0)
            unlink(address.sun_path);
        close(fd);
        return -1;
    }
    return fd;
}

static int tcp_socket_open(const char *address, struct tg_error *error)
{
    char host[256];
    const char *colon = strrchr(address, ':');
    size_t host_len = colon ? (size_t)(colon - address) : 0;
    if (host_len == 0 || host_len >= sizeof host) {
        tg_error_set(error, "listen: expected host:port, got %s", address);
        return -1;
    }
    memcpy(host, address, host_len);
    host[host_len] = '\0';
    if (host[0] == '[' && host[host_len - 1] == ']') {
        memmove(host, host + 1, host_len - 2);
        host[host_len - 2] = '\0';
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *found = NULL;
    int rc = getaddrinfo(host, colon + 1, &hints, &found);
    if (rc != 0) {
        tg_error_set(error, "listen %s: %s", address, gai_strerror(rc));
        return -1;
    }
    int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int yes = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes) != 0 ||
        bind(fd, found->ai_addr, found->ai_addrlen) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
        tg_error_set(error, "cannot listen on %s: %s", address, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(found);
    return fd;
}

int tg_listen_open(const char *address, long mode, const char *owner, struct tg_error *error)
{
    if (address[0] == '/')
        return unix_socket_open(address, mode, owner, error);
    return tcp_socket_open(address, error);
}
