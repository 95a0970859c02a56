/* SPDX-License-Identifier: Apache-2.0 */
/* noop_authorizer - a FastCGI authorizer that says yes to everything.
 *
 * The benchmark's baseline: what the FastCGI hop alone costs a web server,
 * so that tokengate's own cost can be read off as a ratio. It answers like
 * tokengate does for an anonymous request (Apache's UserExpr needs
 * AUTH_PRINCIPAL). Never use it for anything else.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

#include "tokengate/listen.h"

static int listen_fd;

static void *worker(void *unused)
{
    (void)unused;
    FCGX_Request request;
    FCGX_InitRequest(&request, listen_fd, 0);
    static const char answer[] = "Status: 200\nVariable-AUTH_PRINCIPAL: -\n\n";
    while (FCGX_Accept_r(&request) >= 0) {
        FCGX_PutStr(answer, (int)sizeof answer - 1, request.out);
        FCGX_Finish_r(&request);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: noop_authorizer ADDRESS THREADS\n");
        return 2;
    }
    struct tg_error err;
    FCGX_Init();
    /* libfcgi installs a SIGTERM handler that only sets a flag; a baseline
     * that outlives its benchmark is worse than one that dies at once. */
    signal(SIGTERM, SIG_DFL);
    listen_fd = tg_listen_open(argv[1], 0666, NULL, &err);
    if (listen_fd < 0) {
        fprintf(stderr, "noop_authorizer: %s\n", err.text);
        return 1;
    }
    int threads = atoi(argv[2]);
    pthread_t ids[64];
    for (int i = 0; i < threads && i < 64; i++)
        pthread_create(&ids[i], NULL, worker, NULL);
    for (int i = 0; i < threads && i < 64; i++)
        pthread_join(ids[i], NULL);
    return 0;
}
