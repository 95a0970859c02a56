/* SPDX-License-Identifier: Apache-2.0 */
/* cli.h - the subcommands of the tokengate program (contract section 2).
 *
 * Each takes the arguments after its own name and returns the exit status.
 */
#ifndef TOKENGATE_CLI_H
#define TOKENGATE_CLI_H

/* The commands take their own arguments with the command's name as
 * ARGV[0] (as getopt_long expects).
 *
 * tokengate check: decide one request offline, print the response.
 * 0 for 200, 1 for any other status, 2 for usage or configuration errors. */
int tg_cli_check(int argc, char **argv, const char *config_path);

/* tokengate key new NAME ...: print a fresh local API key once, and the
 * [api_key NAME] section (its hash, never the key) for the keys file. */
int tg_cli_key_new(int argc, char **argv);

/* tokengate revoke: store a revocation in the fleet's Redis and publish
 * it. 0 done, 1 Redis failed, 2 usage, configuration, or no [fleet]. */
int tg_cli_revoke(int argc, char **argv, const char *config_path);

/* tokengate mint: sign a token for local testing. */
int tg_cli_mint(int argc, char **argv);

/* tokengate -t: print every configuration problem; 0 when there is none. */
int tg_cli_config_test(const char *config_path);

/* Loads configuration and keys, printing problems to stderr. NULL on any. */
struct tg_config;
struct tg_keyset;
struct tg_config *tg_cli_config_load(const char *config_path, struct tg_keyset *keys);

#endif
