/* SPDX-License-Identifier: Apache-2.0 */
/* main.c - tokengate's command line: dispatch to serve, check, mint, key, revoke, -t. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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
    "       tokengate key new NAME [--user ID] [--org ID] [--role ROLE] [--permission P]...\n"
    "                      [--expires DATE]  print a new local API key and its section\n"
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
    /* libcurl's global state must be set up before any thread exists. */
    if (tg_http_global_init() != 0) {
        fputs("tokengate: libcurl failed to initialise\n", stderr);
        return 1;
    }
    static const struct option options[] = {
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    int option;
    /* "+": the options before a command (check, mint) are tokengate's; the
     * rest belong to the command. */
    while ((option = getopt_long(argc, argv, "+c:th", options, NULL)) != -1) {
        switch (option) {
        case 'V':
            printf("tokengate %s\n", PACKAGE_VERSION);
            return 0;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        case 't':
            test_only = true;
            break;
        case 'c':
            config_argument = optarg;
            break;
        default:
            if (optopt == 'c')
                fprintf(stderr, "tokengate: -c needs a FILE\n%s", usage_text);
            else
                fprintf(stderr, "tokengate: unexpected argument %s\n%s", argv[optind - 1],
                        usage_text);
            return 2;
        }
    }
    int i = optind;
    if (i < argc && !test_only) {
        /* Each command sees itself as argv[0], as getopt expects. */
        if (!strcmp(argv[i], "check"))
            return tg_cli_check(argc - i, argv + i, config_argument);
        if (!strcmp(argv[i], "mint"))
            return tg_cli_mint(argc - i, argv + i);
        if (!strcmp(argv[i], "key"))
            return tg_cli_key_new(argc - i, argv + i);
        if (!strcmp(argv[i], "revoke"))
            return tg_cli_revoke(argc - i, argv + i, config_argument);
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
