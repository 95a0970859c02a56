/* SPDX-License-Identifier: Apache-2.0 */
/* Configuration: every key, and problems that name FILE:LINE. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "support.h"
#include "tokengate/config.h"
#include "tokengate/sources.h"
#include "tokengate/listen.h"
#include "tokengate/text.h"
#include "tokengate/log.h"

static char *key_path;

static int setup(void **state)
{
    (void)state;
    char *pem = support_public_pem(support_key_rsa());
    key_path = support_file_write(pem);
    free(pem);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(key_path);
    free(key_path);
    return 0;
}

/* A configuration with TOKEN_EXTRA after the [token] basics and REST after. */
static char *config_text(const char *token_extra, const char *rest)
{
    char *text = NULL;
    if (asprintf(&text,
                 "[token]\n"
                 "verifier_key = %s\n"
                 "issuer = https://auth.example.com\n"
                 "%s\n%s",
                 key_path, token_extra, rest) < 0)
        abort();
    return text;
}

static void expect_problem(const char *token_extra, const char *rest, int line,
                           const char *fragment)
{
    char *text = config_text(token_extra, rest);
    char *problems = support_config_problems(text);
    if (!problems)
        fail_msg("no problem reported for:\n%s", text);
    char wanted[64];
    snprintf(wanted, sizeof wanted, ":%d: ", line);
    if (!strstr(problems, wanted) || !strstr(problems, fragment))
        fail_msg("expected line %d with '%s', got:\n%s", line, fragment, problems);
    free(problems);
    free(text);
}

static void test_full_configuration(void **state)
{
    (void)state;
    char *rest = NULL;
    assert_true(asprintf(&rest,
        "audience = api://x   # inline comment\n"
        "algorithms = RS256, PS256 ES256\n"
        "leeway = 30 ; another comment\n"
        "cookie = __pa_at\n"
        "refresh_interval = 300\n"
        "refresh_min_interval = 10\n"
        "verifier_key = %s\n"
        "\n"
        "[tokengate]\n"
        "listen = 127.0.0.1:9000\n"
        "threads = 8\n"
        "default = user\n"
        "realm = example\n"
        "variable_prefix = PA_\n"
        "log_level = debug\n"
        "cache_size = 5000\n"
        "state_dir = /tmp/tg-state\n"
        "\n"
        "[roles]\n"
        "hierarchy = Owner > Admin > Member\n"
        "\n"
        "[rule billing]\n"
        "    path = /api/org/{org_id}/billing/**\n"
        "    methods = get post\n"
        "    org = path:org_id\n"
        "    min_role = Admin\n"
        "    permission = can_view_billing\n"
        "    permission = can_pay\n"
        "    api_keys = no\n"
        "[rule public]\n"
        "path = /public/**\n"
        "require = open\n",
        key_path) > 0);
    char *text = config_text("", rest);
    struct tg_config *config = support_config_load(text);
    assert_non_null(config);
    assert_string_equal(config->issuer, "https://auth.example.com");
    assert_string_equal(config->audience, "api://x");
    assert_int_equal(config->algorithms, TG_ALG_BIT(TG_ALG_RS256) | TG_ALG_BIT(TG_ALG_PS256) |
                                             TG_ALG_BIT(TG_ALG_ES256));
    assert_int_equal(config->leeway, 30);
    assert_string_equal(config->cookie, "__pa_at");
    assert_int_equal(config->verifier_key_count, 2);
    assert_int_equal(config->verifier_keys[0].line, 2);
    assert_string_equal(config->listen, "127.0.0.1:9000");
    assert_int_equal(config->threads, 8);
    assert_int_equal(config->default_policy, TG_DEFAULT_USER);
    assert_string_equal(config->realm, "example");
    assert_string_equal(config->variable_prefix, "PA_");
    assert_int_equal(config->log_level, TG_LOG_DEBUG);
    assert_int_equal(config->cache_size, 5000);
    assert_int_equal(config->hierarchy.count, 3);
    assert_string_equal(config->hierarchy.names[1], "Admin");
    assert_int_equal(config->rule_count, 2);
    const struct tg_rule *rule = &config->rules[0];
    assert_string_equal(rule->name, "billing");
    assert_int_equal(rule->method_count, 2);
    assert_string_equal(rule->methods[1], "POST");
    assert_int_equal(rule->org_source, TG_ORG_SOURCE_PATH);
    assert_string_equal(rule->org_value, "org_id");
    assert_string_equal(rule->min_role, "Admin");
    assert_int_equal(rule->permission_count, 2);
    assert_true(rule->tail);
    assert_int_equal(config->rules[1].require, TG_REQUIRE_OPEN);

    struct tg_keyset keys = {0};
    struct tg_problems problems = {0};
    assert_int_equal(tg_sources_keys_load(config, &keys, &problems, NULL), 0);
    assert_int_equal(keys.count, 2);
    tg_keyset_clear(&keys);
    tg_config_free(config);
    free(text);
    free(rest);
}

static void test_defaults(void **state)
{
    (void)state;
    char *text = config_text("", "");
    struct tg_config *config = support_config_load(text);
    assert_non_null(config);
    assert_null(config->listen);
    assert_int_equal(config->threads, 4);
    assert_int_equal(config->default_policy, TG_DEFAULT_DENY);
    assert_string_equal(config->realm, "tokengate");
    assert_string_equal(config->variable_prefix, "AUTH_");
    assert_int_equal(config->leeway, 60);
    assert_int_equal(config->algorithms, TG_ALG_BIT(TG_ALG_RS256));
    assert_int_equal(config->cache_size, 100000);
    assert_int_equal(config->refresh_interval, 600);
    assert_int_equal(config->refresh_min_interval, 30);
    tg_config_free(config);
    free(text);
}

static void test_problems_name_the_line(void **state)
{
    (void)state;
    /* Lines: 1 [token], 2 verifier_key, 3 issuer, 4 = TOKEN_EXTRA. */
    expect_problem("leeway = soon", "", 4, "leeway");
    expect_problem("algorithms = RS256 none", "", 4, "unknown algorithm 'none'");
    expect_problem("algorithms = HS257", "", 4, "HS257");
    expect_problem("colour = blue", "", 4, "unknown key 'colour'");
    expect_problem("issuer = https://other.example.com", "", 4, "given twice");
    expect_problem("cookie = a;b", "", 4, "cookie");
    expect_problem("leeway = 5\nleeway = 6", "", 5, "given twice");
    expect_problem("", "[tokengate]\nthreads = 0\n", 6, "threads");
    expect_problem("", "[tokengate]\nthreads = 4x\n", 6, "threads");
    expect_problem("", "[tokengate]\ndefault = allow\n", 6, "default");
    expect_problem("", "[tokengate]\nlisten = nowhere\n", 6, "listen");
    expect_problem("", "[tokengate]\nstatus_listen = nowhere\n", 6, "status_listen");
    expect_problem("", "[tokengate]\nlog_format = xml\n", 6, "log_format");
    expect_problem("", "[tokengate]\nlisten = /run/a.sock\nstatus_listen = /run/a.sock\n", 7,
                   "status_listen must differ from listen");
    /* A unix socket path the socket can hold: it is bound as PATH.new first. */
    char path[TG_SOCKET_PATH_MAX + 2], fragment[TG_SOCKET_PATH_MAX + 64];
    memset(path, 'a', sizeof path);
    path[0] = '/';
    path[TG_SOCKET_PATH_MAX + 1] = '\0';
    snprintf(fragment, sizeof fragment, "[tokengate]\nlisten = %s\n", path);
    expect_problem("", fragment, 6, "listen");
    path[TG_SOCKET_PATH_MAX] = '\0';
    snprintf(fragment, sizeof fragment, "[tokengate]\nlisten = %s\n", path);
    char *text = config_text("", fragment), *problems = support_config_problems(text);
    if (problems)
        fail_msg("a %zu-byte socket path was refused: %s", (size_t)TG_SOCKET_PATH_MAX, problems);
    free(text);
    expect_problem("", "[tokengate]\nrealm = a\"b\n", 6, "realm");
    expect_problem("", "[tokengate]\nvariable_prefix = auth-\n", 6, "variable_prefix");
    expect_problem("", "[tokengate]\nlog_level = loud\n", 6, "log_level");
    expect_problem("", "[tokengate]\nstate_dir = relative\n", 6, "state_dir");
    expect_problem("", "[tokengate]\nverifier_key = x\n", 6, "unknown key 'verifier_key'");
    expect_problem("", "[tokengaet]\nlisten = 1.2.3.4:5\n", 5, "unknown section [tokengaet]");
    expect_problem("", "[roles]\nhierarchy = Owner > > Member\n", 6, "hierarchy");
    expect_problem("", "[roles]\nhierarchy = Owner > Owner\n", 6, "twice");
    expect_problem("", "just some words\n", 5, "expected key = value");
    expect_problem("", "[tokengate\n", 5, "section header");
}

static void test_rule_problems(void **state)
{
    (void)state;
    /* Line 5 is the [rule] header, 6 onwards its keys. */
    expect_problem("", "[rule a]\nrequire = user\n", 5, "has no path");
    expect_problem("", "[rule a]\npath = /x\nmin_role = Admin\n", 5, "need org");
    expect_problem("", "[rule a]\npath = /x\npermission = p\n", 5, "need org");
    expect_problem("", "[rule a]\npath = /x/{id}\norg = path:org\n", 5, "no {org}");
    expect_problem("", "[rule a]\npath = /x\norg = id:o-1\nrequire = optional\n", 8,
                   "need require = user");
    expect_problem("", "[rule a]\npath = /x\norg = somewhere\n", 7, "org:");
    expect_problem("", "[rule a]\npath = x\n", 6, "must start with /");
    expect_problem("", "[rule a]\npath = /a/**/b\n", 6, "**");
    /* Patterns no normalised request path can ever match. */
    expect_problem("", "[rule a]\npath = /a%2Fb\n", 6, "encoded /");
    expect_problem("", "[rule a]\npath = /a%5cb\n", 6, "encoded /");
    expect_problem("", "[rule a]\npath = /a\\b\n", 6, "\\");
    expect_problem("", "[rule a]\npath = /a%00\n", 6, "control");
    expect_problem("", "[rule a]\npath = /a%zz\n", 6, "percent-escape");
    expect_problem("", "[rule a]\npath = /x/%2e%2E/y\n", 6, ". or ..");
    expect_problem("", "[rule a]\npath = /a%23b/x#y\n", 6, "#");
    expect_problem("", "[rule a]\npath = /x\nrequire = maybe\n", 7, "require");
    expect_problem("", "[rule a]\npath = /x\nmethods = GET P0ST\n", 7, "methods");
    expect_problem("", "[rule a]\npath = /x\napi_keys = perhaps\n", 7, "api_keys");
    expect_problem("", "[rule a]\npath = /x\napi_keys = yes\n", 5,
                   "[rule a]: api_keys = yes needs [api_keys] with propelauth = yes or a file");
    expect_problem("", "[api_keys]\npropelauth = yes\n", 6,
                   "propelauth = yes needs auth_url and api_key_file");
    expect_problem("", "[api_keys]\npropelauth = maybe\n", 6, "expected yes or no");
    expect_problem("", "[api_keys]\nfile = relative\n", 6, "file: expected an absolute path");
    expect_problem("", "[api_key robot]\nhash = sha256:00\n", 5,
                   "[api_key robot] belongs in the file that [api_keys] file names");
    expect_problem("", "[rule a]\npath = /x\nrole = A\nmin_role = B\norg = id:o\n", 5,
                   "not both");
    expect_problem("", "[rule a]\npath = /x\n[rule a]\npath = /y\n", 7, "already defined");
    expect_problem("", "[rule a b]\npath = /x\n", 5, "rule name");
    expect_problem("", "[rule a]\npath = /x\npath = /y\n", 7, "given twice");
}

static void test_missing_key_and_issuer(void **state)
{
    (void)state;
    char *problems = support_config_problems("[token]\nissuer = https://a.example\n");
    assert_non_null(problems);
    assert_non_null(strstr(problems, ":1: [token] names no verification key"));
    free(problems);
    char *text = NULL;
    assert_true(asprintf(&text, "[token]\nverifier_key = %s\n", key_path) > 0);
    problems = support_config_problems(text);
    assert_non_null(problems);
    assert_non_null(strstr(problems, "needs issuer"));
    free(problems);
    free(text);
}

static void test_key_problems_name_the_line(void **state)
{
    (void)state;
    expect_problem("verifier_key = /nonexistent/key.pem", "", 4, "cannot open");
    char *not_a_key = support_file_write("hello\n");
    char *extra = NULL;
    assert_true(asprintf(&extra, "verifier_key = %s", not_a_key) > 0);
    expect_problem(extra, "", 4, "not a PEM public key");
    free(extra);
    unlink(not_a_key);
    free(not_a_key);
    EVP_PKEY *weak = support_key_new("RSA1024");
    char *pem = support_public_pem(weak);
    char *weak_path = support_file_write(pem);
    assert_true(asprintf(&extra, "\n\nverifier_key = %s", weak_path) > 0);
    expect_problem(extra, "", 6, "1024 bits");
    free(extra);
    unlink(weak_path);
    free(weak_path);
    free(pem);
    EVP_PKEY_free(weak);

    /* A shared secret others can read is no secret: refused, and the
     * secret never appears in the message. */
    char *secret = support_file_write("0123456789abcdef0123456789abcdef-secret\n");
    chmod(secret, 0644);
    assert_true(asprintf(&extra, "hmac_secret_file = %s", secret) > 0);
    expect_problem(extra, "", 4, "readable or writable by every user (mode 0644)");
    chmod(secret, 0600);
    char *text = config_text(extra, "");
    char *problems = support_config_problems(text);
    if (problems)
        fail_msg("a private secret file was refused: %s", problems);
    free(text);
    free(extra);
    unlink(secret);
    free(secret);
}

static void test_every_problem_listed(void **state)
{
    (void)state;
    char *text = config_text("leeway = x\nbogus = 1",
                             "[tokengate]\nthreads = -1\n[nonsense]\n[rule r]\npath = nope\n");
    char *problems = support_config_problems(text);
    assert_non_null(problems);
    size_t lines = 0;
    for (const char *p = problems; *p; p++)
        lines += *p == '\n';
    if (lines < 5)
        fail_msg("expected at least 5 problems, got:\n%s", problems);
    free(problems);
    free(text);
}

static void test_line_limits(void **state)
{
    (void)state;
    char long_line[600];
    memset(long_line, 'a', sizeof long_line - 1);
    long_line[sizeof long_line - 1] = '\0';
    memcpy(long_line, "audience = ", 11);
    expect_problem(long_line, "", 4, "line longer than");
    /* An unreadable file names the file. */
    char *problems = support_config_problems("");
    assert_non_null(problems); /* empty: no [token] */
    free(problems);
    struct tg_problems list = {0};
    assert_null(tg_config_load("/nonexistent/tokengate.conf", &list));
    assert_int_equal(list.count, 1);
    assert_non_null(strstr(list.lines[0], "/nonexistent/tokengate.conf:0: cannot open"));
    tg_problems_clear(&list);
}

static void test_config_path_order(void **state)
{
    (void)state;
    unsetenv("TOKENGATE_CONFIG");
    assert_string_equal(tg_config_path("/a.conf"), "/a.conf");
    assert_non_null(strstr(tg_config_path(NULL), "/tokengate/tokengate.conf"));
    setenv("TOKENGATE_CONFIG", "/env.conf", 1);
    assert_string_equal(tg_config_path(NULL), "/env.conf");
    assert_string_equal(tg_config_path("/a.conf"), "/a.conf");
    unsetenv("TOKENGATE_CONFIG");
}

/* Reads the file at $VARIABLE/RELATIVE, or skips when the suite was not
 * started by make check. */
static char *file_under(const char *variable, const char *relative)
{
    const char *directory = getenv(variable);
    if (!directory)
        return NULL;
    char path[4096];
    struct tg_error err;
    snprintf(path, sizeof path, "%s/%s", directory, relative);
    size_t len;
    char *text = tg_file_read(path, 1024 * 1024, &len, &err);
    if (!text)
        fail_msg("%s", err.text);
    return text;
}

/* Every key the parser knows is in the sample configuration (as "key ="
 * or commented "#key =") and in tokengate.conf(5) (as ".B key" or ".BR
 * key"), so an administrator reading either finds them all. */
static void test_sample_and_manual_name_every_key(void **state)
{
    (void)state;
    char *sample = file_under("TESTS_BUILDDIR", "../conf/tokengate.conf");
    char *manual = file_under("TESTS_SRCDIR", "../man/tokengate.conf.5.in");
    if (!sample || !manual) {
        free(sample);
        free(manual);
        skip();
    }
    const char *sections[] = {"tokengate", "token", "roles", "rule", "api_keys", "fleet",
                              "api_key"};
    size_t checked = 0;
    for (size_t s = 0; s < sizeof sections / sizeof sections[0]; s++) {
        assert_non_null(tg_config_key_name(sections[s], 0));
        const char *name;
        for (size_t k = 0; (name = tg_config_key_name(sections[s], k)); k++, checked++) {
            const char *const *keys = &name;
            char line_start[80], manual_entry[80], manual_entry_plus[80];
            snprintf(line_start, sizeof line_start, "\n%s = ", *keys);
            snprintf(manual_entry, sizeof manual_entry, "\n.B %s\n", *keys);
            snprintf(manual_entry_plus, sizeof manual_entry_plus, "\n.BR %s ", *keys);
            char commented[96];
            snprintf(commented, sizeof commented, "\n#%s = ", *keys);
            if (!strstr(sample, line_start) && !strstr(sample, commented))
                fail_msg("the sample configuration does not show [%s] %s", sections[s], *keys);
            if (!strstr(manual, manual_entry) && !strstr(manual, manual_entry_plus))
                fail_msg("tokengate.conf(5) does not describe [%s] %s", sections[s], *keys);
        }
    }
    assert_true(checked > 30);
    assert_null(tg_config_key_name("nonsense", 0));
    free(sample);
    free(manual);
}

/* Loads a keys file holding TEXT (mode MODE) for a configuration that
 * names it; returns the problems joined (NULL: none) and the key count. */
static char *keys_file_problems(const char *text, mode_t mode, size_t *count)
{
    char *keys_path = support_file_write(text);
    chmod(keys_path, mode);
    char *config_text = NULL;
    assert_true(asprintf(&config_text, "[token]\nverifier_key = %s\nissuer = https://i.example\n"
                                       "[api_keys]\nfile = %s\n", key_path, keys_path) > 0);
    struct tg_config *config = support_config_load(config_text);
    assert_non_null(config);
    struct tg_problems problems = {0};
    tg_config_api_keys_load(config, &problems);
    *count = config->local_key_count;
    char *joined = problems.count ? support_problems_join(&problems) : NULL;
    tg_problems_clear(&problems);
    tg_config_free(config);
    unlink(keys_path);
    free(keys_path);
    free(config_text);
    return joined;
}

#define HASH_A "sha256:" \
    "69f703efa9f3c58c4e2cafa4d2ab8611a34d36b1eecb8c6746dff6ce9c0887e7"

static void test_api_keys_file(void **state)
{
    (void)state;
    size_t count;
    char *problems = keys_file_problems("[api_key robot]\nhash = " HASH_A "\nuser_id = r-1\n"
                                        "org = o-1\nrole = Admin\npermission = a\npermission = b\n"
                                        "expires = 2030-01-01\n"
                                        "[api_key plain]\nhash = " HASH_A "\n",
                                        0600, &count);
    if (problems)
        fail_msg("a sound keys file was refused: %s", problems);
    assert_int_equal(count, 2);
    /* Each mistake, with its line. */
    const struct {
        const char *text;
        const char *wanted;
    } bad[] = {
        {"[api_key a]\nuser_id = u\n", ":1: [api_key a] has no hash"},
        {"[api_key a]\nhash = sha256:abc\n", ":2: hash: expected sha256: and 64 hex digits"},
        {"[api_key a]\nhash = " HASH_A "\nrole = Admin\n", ":1: [api_key a]: role needs org"},
        {"[api_key a]\nhash = " HASH_A "\nexpires = soon\n", ":3: expires: expected an RFC 3339"},
        {"[api_key a]\nhash = " HASH_A "\n[api_key a]\nhash = " HASH_A "\n",
         ":3: [api_key a] is already defined at line 1"},
        {"[rule x]\npath = /x\n", ":1: unknown section [rule x] (an API keys file holds"},
        {"[api_key a]\nhash = " HASH_A "\ncolour = blue\n", ":3: unknown key 'colour'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        problems = keys_file_problems(bad[i].text, 0600, &count);
        if (!problems || !strstr(problems, bad[i].wanted))
            fail_msg("expected '%s' for:\n%s\ngot: %s", bad[i].wanted, bad[i].text,
                     problems ? problems : "none");
        free(problems);
    }
    /* As private as api_key_file: readable by others is refused. */
    problems = keys_file_problems("[api_key a]\nhash = " HASH_A "\n", 0644, &count);
    assert_non_null(problems);
    assert_non_null(strstr(problems, "[api_keys] file:"));
    assert_non_null(strstr(problems, "readable or writable by every user"));
    free(problems);
}

static void test_rfc3339_times(void **state)
{
    (void)state;
    time_t when;
    assert_true(tg_config_time_parse("2027-01-31", &when));
    assert_int_equal(when, 1801353600L);
    assert_true(tg_config_time_parse("2027-01-31T12:00:00Z", &when));
    assert_int_equal(when, 1801396800L);
    assert_true(tg_config_time_parse("2027-01-31T14:00:00+02:00", &when));
    assert_int_equal(when, 1801396800L);
    assert_true(tg_config_time_parse("2027-01-31T11:30:00.250-00:30", &when));
    assert_int_equal(when, 1801396800L);
    const char *bad[] = {"tomorrow", "2027-13-01", "2027-01-31T25:00:00Z", "2027-01-31T12:00:00",
                         "2027-01-31 12:00:00Z", "2027-01-31Z", "1969-12-31", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (tg_config_time_parse(bad[i], &when))
            fail_msg("'%s' was read as a time", bad[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_configuration),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_problems_name_the_line),
        cmocka_unit_test(test_rule_problems),
        cmocka_unit_test(test_missing_key_and_issuer),
        cmocka_unit_test(test_key_problems_name_the_line),
        cmocka_unit_test(test_every_problem_listed),
        cmocka_unit_test(test_line_limits),
        cmocka_unit_test(test_config_path_order),
        cmocka_unit_test(test_sample_and_manual_name_every_key),
        cmocka_unit_test(test_api_keys_file),
        cmocka_unit_test(test_rfc3339_times),
    };
    return cmocka_run_group_tests_name("config", tests, setup, teardown);
}
