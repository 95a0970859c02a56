/* SPDX-License-Identifier: Apache-2.0 */
/* Test support: configurations loaded as every entry point loads them
 * (loader.h: URLs checked, auth_url read, keys loaded), for the tests of
 * the edge. Apart from support.c, so that what links only the core (its
 * tests, the fuzzers) never pulls in the edge. */
#include "support.h"

#include "tokengate/loader.h"

/* As every entry point loads it (the keys are loaded by the test). */
static struct tg_config *loader_load(const char *path, struct tg_problems *problems)
{
    static struct tg_keyset keys;
    struct tg_config *config = tg_loader_load(path, &keys, problems);
    tg_keyset_clear(&keys);
    return config;
}

char *support_loader_problems(const char *text)
{
    char *problems;
    tg_config_free(support_load_text(text, loader_load, &problems));
    return problems;
}

struct tg_config *support_loader_load(const char *text)
{
    return support_load_text(text, loader_load, NULL);
}
