/* SPDX-License-Identifier: Apache-2.0 */
/* listen.h - the FastCGI listening socket.
 *
 * We bind the socket ourselves instead of calling FCGX_OpenSocket(), which
 * exit()s the process when bind fails and leaves a unix socket's mode to the
 * umask. Anything but loopback or a unix socket is warned about: the front
 * (front.h) holds every client to its limits, but only the web server
 * should be a client at all.
 */
#ifndef TOKENGATE_LISTEN_H
#define TOKENGATE_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/un.h>
#include "tokengate/text.h"

/* The longest unix socket path: sun_path holds it with ".new" (the name it
 * is bound under until it listens) and its NUL. */
#define TG_SOCKET_PATH_MAX (sizeof((struct sockaddr_un *)0)->sun_path - sizeof ".new")

/* Opens ADDRESS ("host:port" or an absolute unix socket path). A unix
 * socket gets MODE and, when OWNER ("user[:group]") is given, that owner.
 * Returns the listening fd, or -1 with a sentence in ERROR. */
int tg_listen_open(const char *address, long mode, const char *owner, struct tg_error *error);

/* Resolves socket_owner OWNER ("user", "user:group" or ":group") into
 * *UID and *GID ((uid_t)-1 / (gid_t)-1 for what it leaves out). False with
 * a sentence in ERROR for a user or group this system does not have. */
bool tg_listen_owner_resolve(const char *owner, uid_t *uid, gid_t *gid, struct tg_error *error);

/* True when FD is a listening stream socket (what a web server or systemd
 * hands over on fd 0). */
bool tg_listen_is_socket(int fd);

/* True when ADDRESS can only be reached from this machine: a unix socket or
 * a loopback address. */
bool tg_listen_is_local(const char *address);

#endif
