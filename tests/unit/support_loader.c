/* SPDX-License-Identifier: Apache-2.0 */
/* Test support: configurations loaded as every entry point loads them
 * (loader.h: URLs checked, auth_url read, keys loaded), for the tests of
 * the edge. Apart from support.c, so that what links only the core (its
 * tests, the fuzzers) never pulls in the edge. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tokengate/loader.h"

char *support_loader_problems(const char *text)
{
    char *path = support_file_write(text);
    struct tg_problems problems = {0};
    static struct tg_keyset keys;
    struct tg_config *config = tg_loader_load(path, &keys, &problems);
    tg_keyset_clear(&keys);
    tg_config_free(config);
    char *joined = problems.count ? support_problems_join(&problems) : NULL;
    tg_problems_clear(&problems);
    unlink(path);
    free(path);
    return joined;
}

struct tg_config *support_loader_load(const char *text)
{
    char *path = support_file_write(text);
    struct tg_problems problems = {0};
    /* As every entry point loads it (the keys are loaded by the test). */
    static struct tg_keyset keys;
    struct tg_config *config = tg_loader_load(path, &keys, &problems);
    tg_keyset_clear(&keys);
    for (size_t i = 0; i < problems.count; i++)
        fprintf(stderr, "%s\n", problems.lines[i]);
    tg_problems_clear(&problems);
    unlink(path);
    free(path);
    return config;
}
