/* SPDX-License-Identifier: Apache-2.0 */
/* The refresher without its thread: a real libcurl fetch from a one-shot
 * HTTP server on 127.0.0.1, keys saved to state_dir and read back by the
 * next start, a broken saved file ignored; and the configuration of remote
 * sources (API key file permissions, URLs, the issuer OIDC implies). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "support.h"
#include "tokengate/http.h"
#include "tokengate/sources.h"
#include "tokengate/refresh.h"

/* A public EC key (RFC 7515 A.3): a set served at a URL carries no shared
 * secret (those are skipped). */
#define JWKS "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"h1\",\"crv\":\"P-256\"," \
             "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\"," \
             "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}"

struct one_shot {
    int listener;
    int port;
    pthread_t thread;
    char request[4096];
};

static void *one_shot_serve(void *argument)
{
    struct one_shot *server = argument;
    int client = accept(server->listener, NULL, NULL);
    if (client < 0)
        return NULL;
    ssize_t n = read(client, server->request, sizeof server->request - 1);
    server->request[n > 0 ? n : 0] = '\0';
    char response[1024];
    int len = snprintf(response, sizeof response,
                       "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                       "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", strlen(JWKS), JWKS);
    assert_true(write(client, response, (size_t)len) == len);
    close(client);
    return NULL;
}

static void one_shot_start(struct one_shot *server)
{
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    socklen_t size = sizeof address;
    server->listener = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(bind(server->listener, (struct sockaddr *)&address, sizeof address), 0);
    assert_int_equal(listen(server->listener, 4), 0);
    getsockname(server->listener, (struct sockaddr *)&address, &size);
    server->port = ntohs(address.sin_port);
    pthread_create(&server->thread, NULL, one_shot_serve, server);
}

static void one_shot_stop(struct one_shot *server)
{
    shutdown(server->listener, SHUT_RDWR);
    pthread_join(server->thread, NULL);
    close(server->listener);
}

static void keys_receive(void *context, struct tg_keyset *keys)
{
    struct tg_keyset **slot = context;
    tg_keyset_free(*slot);
    *slot = keys;
}

static struct tg_config *config_for(const char *state_dir, int port)
{
    char text[1024];
    snprintf(text, sizeof text,
             "[tokengate]\nstate_dir = %s\n[token]\nissuer = https://i.example\n"
             "algorithms = ES256\njwks = http://127.0.0.1:%d/jwks\n", state_dir, port);
    return support_loader_load(text);
}

/* Configures a fresh refresher from CONFIG; returns what it published. */
static struct tg_keyset *keys_after(const struct tg_config *config, bool fetch,
                                    unsigned long *fetches)
{
    struct tg_keyset *published = NULL, none = {0};
    struct tg_problems problems = {0};
    struct tg_refresher *refresher = tg_refresher_new(keys_receive, &published);
    assert_int_equal(tg_refresher_configure(refresher, config, &none, &problems), 0);
    assert_non_null(published);
    if (fetch)
        tg_refresher_fetch_missing(refresher);
    /* No thread: an unknown kid cannot wait for anything. */
    assert_false(tg_refresher_demand_unknown_key(refresher, true,
                                                 tg_refresher_publications(refresher)));
    /* A set published since the request was decided: decide again, no fetch. */
    assert_true(tg_refresher_demand_unknown_key(refresher, true,
                                                tg_refresher_publications(refresher) - 1));
    *fetches = tg_refresher_fetch_count(refresher);
    tg_refresher_free(refresher);
    return published;
}

static size_t directory_count(const char *path, char *name, size_t size)
{
    DIR *directory = opendir(path);
    size_t count = 0;
    for (struct dirent *entry; directory && (entry = readdir(directory));)
        if (entry->d_name[0] != '.') {
            count++;
            snprintf(name, size, "%s/%s", path, entry->d_name);
        }
    if (directory)
        closedir(directory);
    return count;
}

static void test_fetched_keys_are_saved_and_read_back(void **state)
{
    (void)state;
    char state_dir[] = "/tmp/tokengate-state-XXXXXX";
    assert_non_null(mkdtemp(state_dir));
    struct one_shot server = {0};
    one_shot_start(&server);
    struct tg_config *config = config_for(state_dir, server.port);
    assert_non_null(config);

    /* First start: nothing saved, so nothing until the fetch. */
    unsigned long fetches;
    struct tg_keyset *keys = keys_after(config, true, &fetches);
    one_shot_stop(&server);
    assert_int_equal(fetches, 1);
    assert_non_null(strstr(server.request, "GET /jwks HTTP/1.1"));
    assert_non_null(strstr(server.request, "User-Agent: tokengate/"));
    assert_null(strstr(server.request, "Authorization"));
    assert_int_equal(keys->count, 1);
    assert_string_equal(keys->keys[0].kid, "h1");
    tg_keyset_free(keys);
    char saved[512];
    assert_int_equal(directory_count(state_dir, saved, sizeof saved), 1);
    assert_non_null(strstr(saved, "/jwks-"));

    /* Next start, the provider gone: the saved keys, with no fetch. */
    keys = keys_after(config, true, &fetches);
    assert_int_equal(fetches, 0);
    assert_int_equal(keys->count, 1);
    assert_string_equal(keys->keys[0].kid, "h1");
    tg_keyset_free(keys);

    /* Keys planted where others can write are never trusted: a saved file
     * writable by its group, or a state_dir writable by others. */
    chmod(saved, 0664);
    keys = keys_after(config, false, &fetches);
    assert_int_equal(keys->count, 0);
    tg_keyset_free(keys);
    chmod(saved, 0644);
    chmod(state_dir, 0777);
    struct tg_error why;
    assert_non_null(tg_state_dir_check(state_dir, &why));
    assert_non_null(strstr(why.text, "writable by group or others (mode 0777)"));
    keys = keys_after(config, false, &fetches);
    assert_int_equal(keys->count, 0);
    tg_keyset_free(keys);
    chmod(state_dir, 0700);
    assert_null(tg_state_dir_check(state_dir, &why));
    keys = keys_after(config, false, &fetches);
    assert_int_equal(keys->count, 1);
    tg_keyset_free(keys);

    /* A broken saved file is ignored (and the fetch fails: no server). */
    FILE *file = fopen(saved, "w");
    fputs("{\"keys\": [", file);
    fclose(file);
    keys = keys_after(config, true, &fetches);
    assert_int_equal(fetches, 1);
    assert_int_equal(keys->count, 0);
    tg_keyset_free(keys);

    /* Another URL never reads the keys saved for this one. */
    tg_config_free(config);
    config = config_for(state_dir, server.port + 1 > 65535 ? 1 : server.port + 1);
    file = fopen(saved, "w");
    fputs(JWKS, file);
    fclose(file);
    keys = keys_after(config, false, &fetches);
    assert_int_equal(keys->count, 0);
    tg_keyset_free(keys);

    tg_config_free(config);
    unlink(saved);
    rmdir(state_dir);
}

static char *api_key_config(const char *key_text, mode_t mode, char **key_path)
{
    *key_path = support_file_write(key_text);
    chmod(*key_path, mode);
    char *text = NULL;
    assert_true(asprintf(&text, "[token]\nauth_url = https://auth.example.com\n"
                                "api_key_file = %s\n", *key_path) > 0);
    return text;
}

static void test_api_key_file_must_be_private(void **state)
{
    (void)state;
    char *key_path;
    char *text = api_key_config("secret-api-key-123\n", 0644, &key_path);
    char *problems = support_loader_problems(text);
    assert_non_null(problems);
    assert_non_null(strstr(problems, ":3: api_key_file: "));
    assert_non_null(strstr(problems, "readable or writable by every user (mode 0644)"));
    assert_null(strstr(problems, "secret-api-key-123"));
    free(problems);
    /* Writable by its group: someone else could swap the key. */
    chmod(key_path, 0620);
    problems = support_loader_problems(text);
    assert_non_null(problems);
    assert_non_null(strstr(problems, "writable by group or others (mode 0620)"));
    free(problems);
    chmod(key_path, 0600);
    assert_null(support_loader_problems(text));

    /* Read, trimmed, and never with a space or a second line. */
    struct tg_config *config = support_loader_load(text);
    struct tg_problems found = {0};
    char key[128];
    assert_int_equal(tg_sources_api_key_read(config, key, sizeof key, &found), 0);
    assert_string_equal(key, "secret-api-key-123");
    FILE *file = fopen(key_path, "w");
    fputs("one two\n", file);
    fclose(file);
    assert_int_equal(tg_sources_api_key_read(config, key, sizeof key, &found), -1);
    file = fopen(key_path, "w");
    fclose(file);
    assert_int_equal(tg_sources_api_key_read(config, key, sizeof key, &found), -1);
    assert_int_equal(found.count, 2);
    assert_non_null(strstr(found.lines[0], "must hold the API key on one line"));
    tg_problems_clear(&found);
    tg_config_free(config);
    unlink(key_path);
    free(key_path);
    free(text);
}

static void test_remote_source_configuration(void **state)
{
    (void)state;
    /* The API key never travels in clear beyond loopback. */
    char *problems = support_loader_problems(
        "[token]\nissuer = https://i.example\njwks = /dev/null\n"
        "backend_url = http://propelauth-api.com\n");
    assert_non_null(problems);
    assert_non_null(strstr(problems, ":4: backend_url: expected an https:// URL"));
    free(problems);
    problems = support_loader_problems("[token]\noidc_issuer = http://idp.example\n");
    assert_non_null(strstr(problems, ":2: oidc_issuer: expected an https:// URL"));
    free(problems);
    /* OIDC discovery implies the issuer. */
    struct tg_config *config = support_loader_load(
        "[token]\noidc_issuer = https://idp.example/realms/x\n");
    assert_non_null(config);
    assert_string_equal(config->issuer, "https://idp.example/realms/x");
    tg_config_free(config);
    /* A CA bundle that cannot be read, or holds no certificate. */
    problems = support_loader_problems("[token]\nissuer = https://i.example\n"
                                       "jwks = https://i.example/k\nca_file = /nonexistent.pem\n");
    assert_non_null(strstr(problems, ":4: ca_file: cannot open /nonexistent.pem"));
    free(problems);
    problems = support_loader_problems("[token]\nissuer = https://i.example\n"
                                       "jwks = https://i.example/k\nca_file = /etc/hostname\n");
    assert_non_null(strstr(problems, ":4: ca_file: /etc/hostname holds no PEM certificate"));
    free(problems);
    problems = support_loader_problems("[token]\nissuer = https://i.example\n"
                                       "api_key_file = /etc/hostname\n");
    assert_non_null(strstr(problems, "api_key_file needs auth_url"));
    free(problems);
}

int main(void)
{
    tg_http_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fetched_keys_are_saved_and_read_back),
        cmocka_unit_test(test_api_key_file_must_be_private),
        cmocka_unit_test(test_remote_source_configuration),
    };
    return cmocka_run_group_tests_name("refresh", tests, NULL, NULL);
}
