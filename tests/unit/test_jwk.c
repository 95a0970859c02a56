/* SPDX-License-Identifier: Apache-2.0 */
/* JWK sets: the published JOSE examples verify with their keys, a one-bit
 * change fails, and keys unfit for verification are skipped. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "support.h"
#include "tokengate/base64url.h"
#include "tokengate/sources.h"
#include "tokengate/jwk.h"
#include "tokengate/jwt.h"

/* RFC 7515 appendices A.1 to A.4 and RFC 8037 A.4, as published. */
#define RFC7515_PAYLOAD \
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"

static const struct vector {
    const char *name;
    const char *alg;
    const char *jwk;
    const char *jws;
} vectors[] = {
    {"RFC 7515 A.1 HS256", "HS256",
     "{\"kty\":\"oct\",\"k\":\"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4"
     "hcgUuTwjAzZr1Z9CAow\"}",
     "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." RFC7515_PAYLOAD
     ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"},
    {"RFC 7515 A.2 RS256", "RS256",
     "{\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W2"
     "6mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ4"
     "7soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtd"
     "VMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2P"
     "AcDTW9gb54h4FRWyuXpoQ\"}",
     "eyJhbGciOiJSUzI1NiJ9." RFC7515_PAYLOAD
     ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2"
     "Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQ"
     "BMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6Ie"
     "YI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw"},
    {"RFC 7515 A.3 ES256", "ES256",
     "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
     "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}",
     "eyJhbGciOiJFUzI1NiJ9." RFC7515_PAYLOAD
     ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"},
    {"RFC 7515 A.4 ES512", "ES512",
     "{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5E"
     "OnYG_NjFZ6OvLFV1jSfS9tsz4qUxcWceqwQGk\",\"y\":\"ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2T"
     "h-x3S1WDhjDly79ajL4Kkd0AZMaZmh9ubmf63e3kyMj2\"}",
     "eyJhbGciOiJFUzUxMiJ9.UGF5bG9hZA.AdwMgeerwtHoh-l192l60hp9wAHZFVJbLfD_UxMi70cwnZOYaRI1bKPWROc-"
     "mZZqwqT2SI-KGDKB34XO0aw_7XdtAG8GaSwFKdCAPZgoXD2YBJZCPEX3xKpRwcdOO8KpEHwJjyqOgzDO7iKvU8vcnwN"
     "rmxYbSW9ERBXukOXolLzeO_Jn"},
    {"RFC 8037 A.4 Ed25519", "EdDSA",
     "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}",
     "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcv"
     "Mg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"},
};

static char warnings[4096];

static void warning_collect(void *context, const char *message)
{
    (void)context;
    strncat(warnings, message, sizeof warnings - strlen(warnings) - 2);
    strcat(warnings, "\n");
}

static int load(struct tg_keyset *set, const char *text)
{
    struct tg_error err;
    warnings[0] = '\0';
    return tg_keyset_add_jwks(set, text, strlen(text), TG_JWK_LOCAL, warning_collect, NULL, &err);
}

/* Verifies the JWS's signature with the set's only key. */
static bool signature_valid(const struct tg_keyset *set, const char *jws, const char *alg)
{
    const char *dot = strrchr(jws, '.');
    unsigned char signature[1024];
    ssize_t len = tg_base64url_decode(dot + 1, strlen(dot + 1), signature);
    return len > 0 && tg_signature_verify(&set->keys[0], tg_alg_from_name(alg, strlen(alg)),
                                          (const unsigned char *)jws, (size_t)(dot - jws),
                                          signature, (size_t)len);
}

static void test_published_examples_verify(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        struct tg_keyset set = {0};
        if (load(&set, vectors[i].jwk) != 1)
            fail_msg("%s: key not loaded: %s", vectors[i].name, warnings);
        if (!signature_valid(&set, vectors[i].jws, vectors[i].alg))
            fail_msg("%s does not verify", vectors[i].name);
        tg_keyset_clear(&set);
    }
}

static void test_one_bit_changes_fail(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        struct tg_keyset set = {0};
        assert_int_equal(load(&set, vectors[i].jwk), 1);
        char *jws = strdup(vectors[i].jws);
        size_t positions[] = {0, 5, strlen(jws) / 2, strlen(jws) - 3};
        for (size_t p = 0; p < 4; p++) {
            char *c = &jws[positions[p]];
            if (*c == '.')
                continue;
            char original = *c;
            /* Flip the lowest bit of the 6-bit value: 'A'<->'B', 'a'<->'b', ... */
            *c = (char)(original ^ 1);
            if (*c == '.' || *c == '/' || *c == '+' || *c == ',')
                *c = original == 'A' ? 'B' : 'A';
            if (signature_valid(&set, jws, vectors[i].alg))
                fail_msg("%s still verifies with position %zu changed", vectors[i].name,
                         positions[p]);
            *c = original;
        }
        assert_true(signature_valid(&set, jws, vectors[i].alg));
        free(jws);
        tg_keyset_clear(&set);
    }
}

static void test_key_type_fixes_the_algorithms(void **state)
{
    (void)state;
    /* The RS256 key cannot verify the same bytes as HS256, whatever alg says. */
    struct tg_keyset set = {0};
    assert_int_equal(load(&set, vectors[1].jwk), 1);
    assert_false(set.keys[0].algs & TG_ALG_BIT(TG_ALG_HS256));
    assert_true(set.keys[0].algs & TG_ALG_BIT(TG_ALG_PS256));
    tg_keyset_clear(&set);
    /* A JWK's alg narrows what it verifies... */
    char *jwk = strdup(vectors[2].jwk);
    jwk[strlen(jwk) - 1] = '\0';
    char *with_alg = NULL;
    assert_true(asprintf(&with_alg, "%s,\"alg\":\"ES256\",\"use\":\"sig\"}", jwk) > 0);
    assert_int_equal(load(&set, with_alg), 1);
    assert_int_equal(set.keys[0].algs, TG_ALG_BIT(TG_ALG_ES256));
    tg_keyset_clear(&set);
    free(with_alg);
    /* ...and one its type cannot do is skipped with a warning. */
    assert_true(asprintf(&with_alg, "%s,\"alg\":\"RS256\"}", jwk) > 0);
    assert_int_equal(load(&set, with_alg), 0);
    assert_non_null(strstr(warnings, "does not fit"));
    free(with_alg);
    free(jwk);
}

static void test_unfit_keys_are_skipped_with_a_warning(void **state)
{
    (void)state;
    struct tg_keyset set = {0};
    const char *text =
        "{\"keys\":["
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
        " \"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\",\"kid\":\"good\"},"
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
        " \"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\",\"kid\":\"enc\",\"use\":\"enc\"},"
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
        " \"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\",\"kid\":\"ops\",\"key_ops\":[\"sign\"]},"
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
        " \"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\",\"kid\":\"flipped\"},"
        "{\"kty\":\"EC\",\"crv\":\"secp256k1\",\"x\":\"AA\",\"y\":\"AA\",\"kid\":\"k1\"},"
        "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"},"
        "{\"kty\":\"oct\",\"k\":\"c2hvcnQ\",\"kid\":\"short\"},"
        "{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\",\"kid\":\"tiny\"},"
        "{\"kty\":\"XYZ\",\"kid\":\"odd\"}"
        "]}";
    /* Make the "flipped" key's point leave the curve. */
    char *edited = strdup(text);
    char *flipped = strstr(edited, "\"kid\":\"flipped\"");
    char *y = flipped;
    while (strncmp(y, "\"y\":\"", 5) != 0)
        y--;
    y[6] = y[6] == 'A' ? 'B' : 'A';
    assert_int_equal(load(&set, edited), 1);
    assert_string_equal(set.keys[0].kid, "good");
    const char *expected[] = {"(kid enc)", "(kid ops)", "(kid flipped)", "(kid k1)", "key 5",
                              "(kid short)", "(kid tiny)", "(kid odd)"};
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        if (!strstr(warnings, expected[i]))
            fail_msg("no warning for %s in:\n%s", expected[i], warnings);
    tg_keyset_clear(&set);
    free(edited);
    /* Not a JWK set at all. */
    struct tg_error err;
    assert_int_equal(tg_keyset_add_jwks(&set, "[1]", 3, TG_JWK_LOCAL, NULL, NULL, &err), -1);
    assert_int_equal(tg_keyset_add_jwks(&set, "{\"keys\":1}", 10, TG_JWK_LOCAL, NULL, NULL, &err), -1);
    assert_int_equal(
        tg_keyset_add_jwks(&set, "{\"keys\":[],\"keys\":[]}", 22, TG_JWK_LOCAL, NULL, NULL, &err), -1);
}

static void test_tokens_choose_keys_by_kid_from_a_set(void **state)
{
    (void)state;
    /* Two RSA keys of ours as a JWK set, by way of a configuration file. */
    EVP_PKEY *first = support_key_rsa(), *second = support_key_new("RSA2048");
    char *pems[2] = {support_public_pem(first), support_public_pem(second)};
    struct tg_keyset set = {0};
    struct tg_error err;
    for (int i = 0; i < 2; i++)
        assert_int_equal(tg_keyset_add_pem(&set, pems[i], strlen(pems[i]), i ? "b" : "a", &err), 0);
    /* Export the moduli as JWKs through OpenSSL, then load them back. */
    char text[4096] = "{\"keys\":[";
    for (int i = 0; i < 2; i++) {
        BIGNUM *n = NULL, *e = NULL;
        assert_true(EVP_PKEY_get_bn_param(set.keys[i].pkey, "n", &n));
        assert_true(EVP_PKEY_get_bn_param(set.keys[i].pkey, "e", &e));
        unsigned char n_bytes[512], e_bytes[8];
        int n_len = BN_bn2bin(n, n_bytes), e_len = BN_bn2bin(e, e_bytes);
        char n_text[TG_BASE64URL_ENCODED_SIZE(512)], e_text[16];
        tg_base64url_encode(n_bytes, (size_t)n_len, n_text);
        tg_base64url_encode(e_bytes, (size_t)e_len, e_text);
        snprintf(text + strlen(text), sizeof text - strlen(text),
                 "%s{\"kty\":\"RSA\",\"kid\":\"%s\",\"n\":\"%s\",\"e\":\"%s\"}", i ? "," : "",
                 i ? "b" : "a", n_text, e_text);
        BN_free(n);
        BN_free(e);
    }
    strcat(text, "]}");
    tg_keyset_clear(&set);
    char *path = support_file_write(text);
    char *config_text = NULL;
    assert_true(asprintf(&config_text, "[token]\njwks = %s\nissuer = https://i.example\n",
                         path) > 0);
    struct tg_config *config = support_config_load(config_text);
    assert_non_null(config);
    struct tg_problems problems = {0};
    assert_int_equal(tg_sources_keys_load(config, &set, &problems, NULL), 0);
    assert_int_equal(set.count, 2);

    struct tg_jwt_policy policy = {.keys = &set, .algorithms = TG_ALG_BIT(TG_ALG_RS256),
                                   .issuer = "https://i.example", .leeway = 0};
    char claims[128];
    snprintf(claims, sizeof claims, "{\"iss\":\"https://i.example\",\"sub\":\"s\",\"exp\":%ld}",
             SUPPORT_NOW + 60);
    static struct tg_json document;
    char *token = support_token(second, NULL, "RS256", "{\"alg\":\"RS256\",\"kid\":\"b\"}", claims);
    assert_int_equal(tg_jwt_verify(&policy, token, strlen(token), SUPPORT_NOW, &document),
                     TG_JWT_VALID);
    free(token);
    token = support_token(second, NULL, "RS256", "{\"alg\":\"RS256\",\"kid\":\"a\"}", claims);
    assert_int_equal(tg_jwt_verify(&policy, token, strlen(token), SUPPORT_NOW, &document),
                     TG_JWT_BAD_SIGNATURE);
    free(token);

    tg_keyset_clear(&set);
    tg_config_free(config);
    free(config_text);
    unlink(path);
    free(path);
    free(pems[0]);
    free(pems[1]);
    EVP_PKEY_free(second);
}

static void test_configuration_refuses_unusable_jwks(void **state)
{
    (void)state;
    char *empty = support_file_write("{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2hvcnQ\"}]}");
    char *text = NULL;
    assert_true(asprintf(&text, "[token]\nissuer = https://i.example\njwks = %s\n"
                                "jwks = https://idp.example/jwks\njwks = /nonexistent.json\n",
                         empty) > 0);
    char *problems = support_config_problems(text);
    assert_non_null(problems);
    assert_non_null(strstr(problems, ":3: jwks: "));
    assert_non_null(strstr(problems, "holds no key that can verify"));
    /* A URL is the refresher's to fetch, not a file to open. */
    assert_null(strstr(problems, ":4:"));
    assert_non_null(strstr(problems, ":5: jwks: cannot open /nonexistent.json"));
    free(problems);
    free(text);
    /* (Which URLs may be fetched is the loader's to say: test_loader.) */
    unlink(empty);
    free(empty);
}

/* A JWK set fetched from a URL is public: its shared secrets are skipped,
 * its public keys kept. The same set from a local file keeps both. */
static void test_remote_oct_keys_are_skipped(void **state)
{
    (void)state;
    char set_text[2048];
    snprintf(set_text, sizeof set_text, "{\"keys\":[%s,%s]}", vectors[0].jwk, vectors[2].jwk);
    struct tg_error err;
    struct tg_keyset set = {0};
    warnings[0] = '\0';
    assert_int_equal(tg_keyset_add_jwks(&set, set_text, strlen(set_text), TG_JWK_REMOTE,
                                        warning_collect, NULL, &err),
                     1);
    assert_non_null(strstr(warnings, "oct key skipped"));
    tg_keyset_clear(&set);
    assert_int_equal(load(&set, set_text), 2);
    tg_keyset_clear(&set);
}

/* An EC JWK whose x lost its leading zero byte (as PyJWT 2.6 writes about
 * one key in 128) is the same key: it loads, and verifies that key's
 * signatures; a coordinate longer than the curve's is refused. */
static void test_short_ec_coordinates_are_padded(void **state)
{
    (void)state;
    EVP_PKEY *key = NULL;
    unsigned char x[32], y[32];
    for (int tries = 0; tries < 20000; tries++) {
        EVP_PKEY_free(key);
        key = support_key_new("EC-P256");
        BIGNUM *bx = NULL, *by = NULL;
        assert_true(EVP_PKEY_get_bn_param(key, "qx", &bx) && EVP_PKEY_get_bn_param(key, "qy", &by));
        assert_int_equal(BN_bn2binpad(bx, x, 32), 32);
        assert_int_equal(BN_bn2binpad(by, y, 32), 32);
        BN_free(bx);
        BN_free(by);
        if (x[0] == 0)
            break;
    }
    assert_int_equal(x[0], 0);
    char x_text[64], y_text[64], long_text[64], jwk[512];
    tg_base64url_encode(x + 1, 31, x_text);
    tg_base64url_encode(y, 32, y_text);
    snprintf(jwk, sizeof jwk, "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\","
             "\"y\":\"%s\"}]}", x_text, y_text);
    struct tg_keyset set = {0};
    if (load(&set, jwk) != 1)
        fail_msg("a 31-byte x was refused: %s", warnings);
    char *token = support_token(key, NULL, "ES256", "{\"alg\":\"ES256\"}", "{\"sub\":\"s\"}");
    assert_true(signature_valid(&set, token, "ES256"));
    free(token);
    tg_keyset_clear(&set);
    /* 33 bytes: one more than P-256 has. */
    unsigned char longer[33] = {0};
    memcpy(longer + 1, x, 32);
    tg_base64url_encode(longer, 33, long_text);
    snprintf(jwk, sizeof jwk, "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\","
             "\"y\":\"%s\"}]}", long_text, y_text);
    assert_int_equal(load(&set, jwk), 0);
    assert_non_null(strstr(warnings, "EC key without x and y of its curve's size"));
    tg_keyset_clear(&set);
    EVP_PKEY_free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_remote_oct_keys_are_skipped),
        cmocka_unit_test(test_short_ec_coordinates_are_padded),
        cmocka_unit_test(test_published_examples_verify),
        cmocka_unit_test(test_one_bit_changes_fail),
        cmocka_unit_test(test_key_type_fixes_the_algorithms),
        cmocka_unit_test(test_unfit_keys_are_skipped_with_a_warning),
        cmocka_unit_test(test_tokens_choose_keys_by_kid_from_a_set),
        cmocka_unit_test(test_configuration_refuses_unusable_jwks),
    };
    return cmocka_run_group_tests_name("jwk", tests, NULL, NULL);
}
