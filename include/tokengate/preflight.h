/* SPDX-License-Identifier: Apache-2.0 */
/* preflight.h - what `tokengate -t` checks beyond the file's syntax.
 *
 * A configuration can parse and still fail when the server starts, or work
 * in a way nobody meant. tg_preflight() looks at the machine as the user
 * running it (the unit runs `-t` as tokengate's own user before starting
 * and reloading) and reports, each as "FILE:LINE: message":
 *
 * errors (the server would fail, or run unsafely):
 *   a unix socket (listen, status_listen) whose directory is missing or
 *   not writable; listen set while a listening socket also arrives on file
 *   descriptor 0; a socket_owner this system does not have, or one only
 *   root could give the socket to; a state_dir that cannot be created or
 *   written, or that others could write (remote key sources only);
 * warnings (risky, exit status unchanged):
 *   a TCP listen or status_listen beyond loopback; a [fleet] redis beyond
 *   loopback; socket_owner without a
 *   unix socket; a role or min_role missing from the configured hierarchy.
 */
#ifndef TOKENGATE_PREFLIGHT_H
#define TOKENGATE_PREFLIGHT_H

#include "tokengate/config.h"

/* Adds CONFIG's run-time problems to ERRORS and risks to WARNINGS. */
void tg_preflight(const struct tg_config *config, struct tg_problems *errors,
                  struct tg_problems *warnings);

#endif
