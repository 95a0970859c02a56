/* SPDX-License-Identifier: Apache-2.0 */
/* main.c - tokengate's command line: dispatch to serve, check, mint, -t. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tokengate/cli.h"
#include "tokengate/config.h"
#include "tokengate/http.h"
#include "tokengate/server.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif


static const char usage_text[] =
    "usage: tokengate [-c FILE]            serve FastCGI (foreground, logs to stderr)\n"
    "       tokengate -t [-c FILE]         check the configuration\n"
    "       tokengate check [-c FILE] [-X METHOD] [-H 'Name: value']... [--token TOKEN] URI\n"
    "                                      decide one request offline and print the response\n"
    "       tokengate mint --key PRIVATE_KEY.pem [--alg ALG] [--kid KID] [--ttl SECONDS]\n"
    "                      [CLAIMS.json|-] sign a token for local testing\n"
    "       tokengate --version | --help\n"
    "\n"
    "The configuration is -c FILE, else $TOKENGATE_CONFIG, else " TG_SYSCONFDIR
    "/tokengate/tokengate.conf.\n";

/* Makes file descriptors 0, 1 and 2 valid before anything is opened: a
 * spawner that starts tokengate with them closed would otherwise let the
 * first sockets take them, and log lines would land inside responses. */
static bool standard_fds_ensure(void)
{
    for (int fd = 0; fd <= 2; fd++)
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF && open("/dev/null", O_RDWR) != fd)
            return false;
    return true;
}

int main(int argc, char **argv)
{
    if (!standard_fds_ensure())
        return 1;
    const char *config_argument = NULL;
    bool test_only = false;
    int i = 1;
    /* libcurl's global state must be set up before any thread exists. */
    if (tg_http_global_init() != 0) {
        fputs("tokengate: libcurl failed to initialise\n", stderr);
        return 1;
    }
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--version")) {
            printf("tokengate %s\n", PACKAGE_VERSION);
            return 0;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_text, stdout);
            return 0;
        } else if (!strcmp(argv[i], "-t")) {
            test_only = true;
        } else if (!strcmp(argv[i], "-c")) {
            if (++i >= argc) {
                fputs("tokengate: -c needs a FILE\n", stderr);
                return 2;
            }
            config_argument = argv[i];
        } else {
            break;
        }
    }
    if (i < argc && !test_only) {
        if (!strcmp(argv[i], "check"))
            return tg_cli_check(argc - i - 1, argv + i + 1, config_argument);
        if (!strcmp(argv[i], "mint"))
            return tg_cli_mint(argc - i - 1, argv + i + 1);
    }
    if (i < argc) {
        fprintf(stderr, "tokengate: unexpected argument '%s'\n%s", argv[i], usage_text);
        return 2;
    }
    const char *config_path = tg_config_path(config_argument);
    if (test_only)
        return tg_cli_config_test(config_path);
    return tg_serve(config_path);
}
