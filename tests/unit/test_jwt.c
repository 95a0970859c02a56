/* SPDX-License-Identifier: Apache-2.0 */
/* Token verification: every algorithm, and the hostile tokens peers have
 * fallen for. All signatures are real, made with keys generated here. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <cmocka.h>

#include "support.h"
#include "tokengate/base64url.h"
#include "tokengate/jwt.h"

#define ISSUER "https://auth.example.com"
#define RS256_HEADER "{\"alg\":\"RS256\",\"typ\":\"JWT\"}"

static struct tg_keyset keys;
static struct tg_jwt_policy policy;

static int setup(void **state)
{
    (void)state;
    memset(&keys, 0, sizeof keys);
    support_keyset_add(&keys, support_key_rsa(), NULL);
    policy = (struct tg_jwt_policy){
        .keys = &keys, .algorithms = TG_ALG_BIT(TG_ALG_RS256), .issuer = ISSUER, .leeway = 60,
    };
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tg_keyset_clear(&keys);
    return 0;
}

/* Claims valid at SUPPORT_NOW, with EXTRA members spliced in. */
static char *claims_with(const char *extra)
{
    char *claims = NULL;
    if (asprintf(&claims,
                 "{\"iss\":\"" ISSUER "\",\"user_id\":\"u-1\",\"iat\":%ld,\"exp\":%ld%s%s}",
                 SUPPORT_NOW - 10, SUPPORT_NOW + 1800, extra[0] ? "," : "", extra) < 0)
        abort();
    return claims;
}

static struct tg_json claims_document;

static enum tg_jwt_status verify(const char *token)
{
    enum tg_jwt_status status =
        tg_jwt_verify(&policy, token, strlen(token), SUPPORT_NOW, &claims_document);
    if (status == TG_JWT_VALID)
        assert_true(claims_document.count > 0);
    else
        assert_int_equal(claims_document.count, 0);
    return status;
}

/* Signs CLAIMS_JSON with the test key under RS256 and verifies it. */
static enum tg_jwt_status verify_claims(const char *claims_json)
{
    char *token = support_token(support_key_rsa(), NULL, "RS256", RS256_HEADER, claims_json);
    enum tg_jwt_status status = verify(token);
    free(token);
    return status;
}

static enum tg_jwt_status verify_extra(const char *extra)
{
    char *claims = claims_with(extra);
    enum tg_jwt_status status = verify_claims(claims);
    free(claims);
    return status;
}

static void test_valid_rs256(void **state)
{
    (void)state;
    assert_int_equal(verify_extra(""), TG_JWT_VALID);
    char *text = claims_with("\"email\":\"a@example.com\"");
    char *token = support_token(support_key_rsa(), NULL, "RS256", RS256_HEADER, text);
    assert_int_equal(verify(token), TG_JWT_VALID);
    assert_string_equal(tg_json_string(&claims_document,
                                       tg_json_get(&claims_document, 0, "email")),
                        "a@example.com");
    free(token);
    free(text);
}

/* A policy without an issuer (a configuration used without its loader)
 * accepts no token rather than crash or accept any. */
static void test_no_issuer_accepts_nothing(void **state)
{
    (void)state;
    policy.issuer = NULL;
    assert_int_equal(verify_extra(""), TG_JWT_BAD_ISSUER);
    policy.issuer = ISSUER;
}

static void test_alg_none_refused(void **state)
{
    (void)state;
    char *claims = claims_with("");
    const char *headers[] = {"{\"alg\":\"none\"}", "{\"alg\":\"None\"}", "{\"alg\":\"NONE\"}",
                             "{\"alg\":\"\"}", "{\"typ\":\"JWT\"}", "{\"alg\":null}"};
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        /* With an empty signature (refused as malformed) and with a junk one. */
        char *token = support_token_parts(headers[i], claims, "");
        assert_int_not_equal(verify(token), TG_JWT_VALID);
        free(token);
        token = support_token_parts(headers[i], claims, "AAAA");
        enum tg_jwt_status status = verify(token);
        assert_true(status == TG_JWT_ALGORITHM_REFUSED || status == TG_JWT_MALFORMED);
        free(token);
    }
    /* Even an allow-list that names every algorithm has no "none". */
    policy.algorithms = ~0u;
    char *token = support_token_parts("{\"alg\":\"none\"}", claims, "AAAA");
    assert_int_equal(verify(token), TG_JWT_ALGORITHM_REFUSED);
    policy.algorithms = TG_ALG_BIT(TG_ALG_RS256);
    free(token);
    free(claims);
}

static void test_hs256_with_public_key_bytes_refused(void **state)
{
    (void)state;
    /* The classic confusion: HMAC keyed with the RSA public key's PEM. */
    char *pem = support_public_pem(support_key_rsa());
    char *claims = claims_with("");
    char *token = support_token(NULL, pem, "HS256", "{\"alg\":\"HS256\"}", claims);
    assert_int_equal(verify(token), TG_JWT_ALGORITHM_REFUSED);
    /* Allowing HS256 does not help: the RSA key cannot verify it. */
    policy.algorithms |= TG_ALG_BIT(TG_ALG_HS256);
    assert_int_equal(verify(token), TG_JWT_NO_KEY);
    policy.algorithms = TG_ALG_BIT(TG_ALG_RS256);
    free(token);
    free(claims);
    free(pem);
}

static void test_signature_by_another_key_refused(void **state)
{
    (void)state;
    EVP_PKEY *other = support_key_new("RSA2048");
    char *claims = claims_with("");
    char *token = support_token(other, NULL, "RS256", RS256_HEADER, claims);
    assert_int_equal(verify(token), TG_JWT_BAD_SIGNATURE);
    /* A jku/jwk/x5u header pointing at the forger's key changes nothing. */
    free(token);
    token = support_token(other, NULL, "RS256",
                          "{\"alg\":\"RS256\",\"jku\":\"https://evil.example/jwks\","
                          "\"x5u\":\"https://evil.example/cert\"}",
                          claims);
    assert_int_equal(verify(token), TG_JWT_BAD_SIGNATURE);
    free(token);
    free(claims);
    EVP_PKEY_free(other);
}

static void test_every_bit_flip_in_signature_refused(void **state)
{
    (void)state;
    char *claims = claims_with("");
    char *token = support_token(support_key_rsa(), NULL, "RS256", RS256_HEADER, claims);
    char *signature = strrchr(token, '.') + 1;
    unsigned char raw[512];
    ssize_t len = tg_base64url_decode(signature, strlen(signature), raw);
    assert_int_equal(len, 256);
    char encoded[TG_BASE64URL_ENCODED_SIZE(256)];
    for (int bit = 0; bit < 256 * 8; bit += 61) {
        raw[bit / 8] ^= (unsigned char)(1 << (bit % 8));
        tg_base64url_encode(raw, 256, encoded);
        memcpy(signature, encoded, strlen(encoded));
        assert_int_equal(verify(token), TG_JWT_BAD_SIGNATURE);
        raw[bit / 8] ^= (unsigned char)(1 << (bit % 8));
    }
    tg_base64url_encode(raw, 256, encoded);
    memcpy(signature, encoded, strlen(encoded));
    assert_int_equal(verify(token), TG_JWT_VALID);
    /* A changed claim under the old signature. */
    char *forged = strdup(token);
    char *payload = strchr(forged, '.') + 1;
    payload[3] = payload[3] == 'A' ? 'B' : 'A';
    assert_int_not_equal(verify(forged), TG_JWT_VALID);
    free(forged);
    free(token);
    free(claims);
}

static void test_segment_count_and_encoding(void **state)
{
    (void)state;
    char *claims = claims_with("");
    char *token = support_token(support_key_rsa(), NULL, "RS256", RS256_HEADER, claims);
    char *variant = NULL;

    /* Two segments. */
    variant = strndup(token, (size_t)(strrchr(token, '.') - token));
    assert_int_equal(verify(variant), TG_JWT_MALFORMED);
    free(variant);
    /* Four segments. */
    assert_true(asprintf(&variant, "%s.AAAA", token) > 0);
    assert_int_equal(verify(variant), TG_JWT_MALFORMED);
    free(variant);
    /* Empty parts. */
    assert_int_equal(verify(".."), TG_JWT_MALFORMED);
    assert_int_equal(verify(""), TG_JWT_MALFORMED);
    /* Padding added to the signature. */
    assert_true(asprintf(&variant, "%s==", token) > 0);
    assert_int_equal(verify(variant), TG_JWT_MALFORMED);
    free(variant);
    /* base64 (not url) characters in the header. */
    variant = strdup(token);
    variant[2] = '+';
    assert_int_equal(verify(variant), TG_JWT_MALFORMED);
    free(variant);
    /* Header that is not JSON, or JSON but not an object. */
    free(token);
    token = support_token_parts("not json", claims, "AAAA");
    assert_int_equal(verify(token), TG_JWT_MALFORMED);
    free(token);
    token = support_token_parts("[\"RS256\"]", claims, "AAAA");
    assert_int_equal(verify(token), TG_JWT_MALFORMED);
    free(token);
    free(claims);
}

static void test_time_claims(void **state)
{
    (void)state;
    char *claims = NULL;
    /* Expired beyond the leeway, and within it. */
    assert_true(asprintf(&claims, "{\"iss\":\"" ISSUER "\",\"user_id\":\"u\",\"exp\":%ld}",
                         SUPPORT_NOW - 61) > 0);
    assert_int_equal(verify_claims(claims), TG_JWT_EXPIRED);
    free(claims);
    assert_true(asprintf(&claims, "{\"iss\":\"" ISSUER "\",\"user_id\":\"u\",\"exp\":%ld}",
                         SUPPORT_NOW - 59) > 0);
    assert_int_equal(verify_claims(claims), TG_JWT_VALID);
    free(claims);
    /* exp exactly at now + leeway boundary: now >= exp + leeway is expired. */
    assert_true(asprintf(&claims, "{\"iss\":\"" ISSUER "\",\"user_id\":\"u\",\"exp\":%ld}",
                         SUPPORT_NOW - 60) > 0);
    assert_int_equal(verify_claims(claims), TG_JWT_EXPIRED);
    free(claims);
    /* Missing exp. */
    assert_int_equal(verify_claims("{\"iss\":\"" ISSUER "\",\"user_id\":\"u\"}"),
                     TG_JWT_BAD_CLAIM);

    /* nbf and iat in the future beyond the leeway, and within it. */
    char extra[64];
    snprintf(extra, sizeof extra, "\"nbf\":%ld", SUPPORT_NOW + 120);
    assert_int_equal(verify_extra(extra), TG_JWT_NOT_YET_VALID);
    snprintf(extra, sizeof extra, "\"nbf\":%ld", SUPPORT_NOW + 30);
    assert_int_equal(verify_extra(extra), TG_JWT_VALID);
    assert_true(asprintf(&claims, "{\"iss\":\"" ISSUER "\",\"user_id\":\"u\",\"exp\":%ld,"
                                  "\"iat\":%ld}", SUPPORT_NOW + 3600, SUPPORT_NOW + 600) > 0);
    assert_int_equal(verify_claims(claims), TG_JWT_ISSUED_IN_FUTURE);
    free(claims);

    /* Times that are not sane integers. */
    const char *bad_exp[] = {"1e300", "\"1800000000\"", "-5", "1800000000.5", "null", "true",
                             "99999999999999999999", "253402300800"};
    for (size_t i = 0; i < sizeof bad_exp / sizeof bad_exp[0]; i++) {
        assert_true(asprintf(&claims, "{\"iss\":\"" ISSUER "\",\"user_id\":\"u\",\"exp\":%s}",
                             bad_exp[i]) > 0);
        enum tg_jwt_status status = verify_claims(claims);
        if (status != TG_JWT_BAD_CLAIM && status != TG_JWT_MALFORMED)
            fail_msg("exp %s gave status %d", bad_exp[i], status);
        free(claims);
    }
    assert_int_equal(verify_extra("\"nbf\":\"soon\""), TG_JWT_BAD_CLAIM);
    assert_int_equal(verify_extra("\"nbf\":1.5"), TG_JWT_BAD_CLAIM);
}

static void test_issuer(void **state)
{
    (void)state;
    const char *issuers[] = {"\"https://evil.example.com\"", "\"http://auth.example.com\"",
                             "\"https://auth.example.com/\"", "\"HTTPS://auth.example.com\"",
                             "\"https://auth.example.com.evil\"", "42", "null"};
    char *claims = NULL;
    for (size_t i = 0; i < sizeof issuers / sizeof issuers[0]; i++) {
        assert_true(asprintf(&claims, "{\"iss\":%s,\"user_id\":\"u\",\"exp\":%ld}", issuers[i],
                             SUPPORT_NOW + 60) > 0);
        assert_int_equal(verify_claims(claims), TG_JWT_BAD_ISSUER);
        free(claims);
    }
    assert_true(asprintf(&claims, "{\"user_id\":\"u\",\"exp\":%ld}", SUPPORT_NOW + 60) > 0);
    assert_int_equal(verify_claims(claims), TG_JWT_BAD_ISSUER);
    free(claims);
}

static void test_user(void **state)
{
    (void)state;
    char *claims = NULL;
    /* No user_id and no sub. */
    assert_true(asprintf(&claims, "{\"iss\":\"" ISSUER "\",\"exp\":%ld}", SUPPORT_NOW + 60) > 0);
    assert_int_equal(verify_claims(claims), TG_JWT_NO_USER);
    free(claims);
    /* Numeric user_id, even with a string sub. */
    assert_true(asprintf(&claims, "{\"iss\":\"" ISSUER "\",\"exp\":%ld,\"user_id\":42,"
                                  "\"sub\":\"s\"}", SUPPORT_NOW + 60) > 0);
    assert_int_equal(verify_claims(claims), TG_JWT_NO_USER);
    free(claims);
    /* sub alone, as other OIDC providers send it. */
    assert_true(asprintf(&claims, "{\"iss\":\"" ISSUER "\",\"exp\":%ld,\"sub\":\"s-1\"}",
                         SUPPORT_NOW + 60) > 0);
    assert_int_equal(verify_claims(claims), TG_JWT_VALID);
    free(claims);
    assert_int_equal(verify_extra("\"user_id\":\"\""), TG_JWT_MALFORMED); /* duplicate! */
}

static void test_duplicates_and_crit(void **state)
{
    (void)state;
    /* A duplicate member could be read differently by us and the app. */
    assert_int_equal(verify_extra("\"user_id\":\"u-2\""), TG_JWT_MALFORMED);
    char *claims = claims_with("");
    char *token = support_token(support_key_rsa(), NULL, "RS256",
                                "{\"alg\":\"RS256\",\"alg\":\"RS256\"}", claims);
    assert_int_equal(verify(token), TG_JWT_MALFORMED);
    free(token);
    token = support_token(support_key_rsa(), NULL, "RS256",
                          "{\"alg\":\"RS256\",\"crit\":[\"exp\"],\"exp\":1}", claims);
    assert_int_equal(verify(token), TG_JWT_MALFORMED);
    free(token);
    free(claims);
}

/* A JOSE header over 1 KiB is refused before it is read: forged headers
 * cost nothing to refuse. Exactly 1 KiB is still read. */
static void test_large_header_refused(void **state)
{
    (void)state;
    char *claims = claims_with("");
    for (size_t size = TG_JOSE_HEADER_MAX; size <= TG_JOSE_HEADER_MAX + 1; size++) {
        char header[TG_JOSE_HEADER_MAX + 2];
        size_t prefix = (size_t)snprintf(header, sizeof header, "{\"alg\":\"RS256\",\"x\":\"");
        memset(header + prefix, 'p', size - prefix - 2);
        memcpy(header + size - 2, "\"}", 3);
        assert_int_equal(strlen(header), size);
        char *token = support_token(support_key_rsa(), NULL, "RS256", header, claims);
        assert_int_equal(verify(token), size <= TG_JOSE_HEADER_MAX ? TG_JWT_VALID
                                                                   : TG_JWT_MALFORMED);
        free(token);
    }
    free(claims);
}

static char *nested_json(int depth)
{
    char *text = malloc((size_t)depth * 2 + 64);
    size_t used = (size_t)sprintf(text, "{\"alg\":\"RS256\",\"x\":");
    for (int i = 0; i < depth; i++)
        text[used++] = '[';
    for (int i = 0; i < depth; i++)
        text[used++] = ']';
    text[used++] = '}';
    text[used] = '\0';
    return text;
}

static void test_deep_nesting_refused(void **state)
{
    (void)state;
    /* 1,000 levels in the header... */
    char *header = nested_json(1000);
    char *claims = claims_with("");
    char *token = support_token(support_key_rsa(), NULL, "RS256", header, claims);
    assert_int_equal(verify(token), TG_JWT_MALFORMED);
    free(token);
    free(claims);
    free(header);
    /* ...and in correctly signed claims. */
    char *deep = nested_json(1000);
    deep[strlen(deep) - 1] = '\0';
    char *extra = NULL;
    assert_true(asprintf(&extra, "\"deep\":%s", strchr(deep, '[')) > 0);
    assert_int_equal(verify_extra(extra), TG_JWT_MALFORMED);
    free(extra);
    free(deep);
    /* Just inside the limit is fine: the claims object plus 31 levels. */
    char *limit = nested_json(TG_JSON_DEPTH_MAX - 1);
    limit[strlen(limit) - 1] = '\0';
    assert_true(asprintf(&extra, "\"deep\":%s", strchr(limit, '[')) > 0);
    assert_int_equal(verify_extra(extra), TG_JWT_VALID);
    free(extra);
    free(limit);
}

static void test_oversized_token_refused(void **state)
{
    (void)state;
    size_t size = 1024 * 1024;
    char *token = malloc(size + 1);
    memset(token, 'A', size);
    token[100] = '.';
    token[200] = '.';
    token[size] = '\0';
    assert_int_equal(verify(token), TG_JWT_TOO_LARGE);
    free(token);
    /* Just over the limit with a real signature is still too large. */
    char *padding = malloc(TG_TOKEN_MAX);
    memset(padding, 'x', TG_TOKEN_MAX - 1);
    padding[TG_TOKEN_MAX - 1] = '\0';
    char *extra = NULL;
    assert_true(asprintf(&extra, "\"pad\":\"%s\"", padding) > 0);
    assert_int_equal(verify_extra(extra), TG_JWT_TOO_LARGE);
    free(extra);
    free(padding);
}

static void test_audience(void **state)
{
    (void)state;
    policy.audience = "api://orders";
    assert_int_equal(verify_extra(""), TG_JWT_BAD_AUDIENCE);
    assert_int_equal(verify_extra("\"aud\":\"api://orders\""), TG_JWT_VALID);
    assert_int_equal(verify_extra("\"aud\":[\"x\",\"api://orders\"]"), TG_JWT_VALID);
    assert_int_equal(verify_extra("\"aud\":[\"x\",\"y\"]"), TG_JWT_BAD_AUDIENCE);
    assert_int_equal(verify_extra("\"aud\":\"api://orders/\""), TG_JWT_BAD_AUDIENCE);
    assert_int_equal(verify_extra("\"aud\":42"), TG_JWT_BAD_AUDIENCE);
    policy.audience = NULL;
    assert_int_equal(verify_extra("\"aud\":\"anything\""), TG_JWT_VALID);
}

/* Every supported algorithm verifies with its own key type only. */
static void test_every_algorithm(void **state)
{
    (void)state;
    static const struct { const char *alg; const char *key_type; } cases[] = {
        {"RS256", "RSA2048"}, {"RS384", "RSA2048"}, {"RS512", "RSA3072"},
        {"PS256", "RSA2048"}, {"PS384", "RSA2048"}, {"PS512", "RSA2048"},
        {"ES256", "EC-P256"}, {"ES384", "EC-P384"}, {"ES512", "EC-P521"},
        {"EdDSA", "ED25519"},
    };
    char *claims = claims_with("");
    EVP_PKEY *wrong_type = support_key_new("EC-P256");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        EVP_PKEY *key = support_key_new(cases[i].key_type);
        struct tg_keyset set = {0};
        support_keyset_add(&set, key, NULL);
        struct tg_jwt_policy saved = policy;
        policy.keys = &set;
        policy.algorithms = ~0u;
        char header[64];
        snprintf(header, sizeof header, "{\"alg\":\"%s\"}", cases[i].alg);
        char *token = support_token(key, NULL, cases[i].alg, header, claims);
        if (verify(token) != TG_JWT_VALID)
            fail_msg("%s with %s did not verify", cases[i].alg, cases[i].key_type);
        /* Not on the allow-list: refused. */
        policy.algorithms = TG_ALG_BIT(TG_ALG_HS512);
        assert_int_equal(verify(token), TG_JWT_ALGORITHM_REFUSED);
        policy.algorithms = ~0u;
        /* The same header with a key of another type: no key fits. */
        tg_keyset_clear(&set);
        support_keyset_add(&set, strcmp(cases[i].key_type, "EC-P256") ? wrong_type
                                                                        : support_key_rsa(),
                           NULL);
        assert_int_equal(verify(token), TG_JWT_NO_KEY);
        free(token);
        tg_keyset_clear(&set);
        policy = saved;
        EVP_PKEY_free(key);
    }
    EVP_PKEY_free(wrong_type);
    free(claims);
}

static void test_hmac(void **state)
{
    (void)state;
    const char *secret = "0123456789abcdef0123456789abcdef-secret";
    char *path = support_file_write(secret);
    struct tg_keyset set = {0};
    struct tg_error err;
    assert_int_equal(tg_keyset_add_secret_file(&set, path, NULL, &err), 0);
    struct tg_jwt_policy saved = policy;
    policy.keys = &set;
    policy.algorithms = TG_ALG_BIT(TG_ALG_HS256) | TG_ALG_BIT(TG_ALG_HS512);
    char *claims = claims_with("");
    char *token = support_token(NULL, secret, "HS256", "{\"alg\":\"HS256\"}", claims);
    assert_int_equal(verify(token), TG_JWT_VALID);
    free(token);
    token = support_token(NULL, "another-secret-another-secret-xx", "HS256",
                          "{\"alg\":\"HS256\"}", claims);
    assert_int_equal(verify(token), TG_JWT_BAD_SIGNATURE);
    free(token);
    /* Too short a secret is refused at load. */
    char *short_path = support_file_write("short");
    assert_int_equal(tg_keyset_add_secret_file(&set, short_path, NULL, &err), -1);
    assert_non_null(strstr(err.text, "shorter than 32"));
    policy = saved;
    tg_keyset_clear(&set);
    unlink(path);
    unlink(short_path);
    free(path);
    free(short_path);
    free(claims);
}

static void test_weak_rsa_key_refused(void **state)
{
    (void)state;
    EVP_PKEY *weak = support_key_new("RSA1024");
    char *pem = support_public_pem(weak);
    struct tg_keyset set = {0};
    struct tg_error err;
    assert_int_equal(tg_keyset_add_pem(&set, pem, strlen(pem), NULL, &err), -1);
    assert_non_null(strstr(err.text, "1024 bits"));
    assert_int_equal(set.count, 0);
    assert_int_equal(tg_keyset_add_pem(&set, "garbage", 7, NULL, &err), -1);
    free(pem);
    EVP_PKEY_free(weak);
}

static void test_key_selection_by_kid(void **state)
{
    (void)state;
    EVP_PKEY *second = support_key_new("RSA2048");
    struct tg_keyset set = {0};
    support_keyset_add(&set, support_key_rsa(), "k1");
    support_keyset_add(&set, second, "k2");
    struct tg_jwt_policy saved = policy;
    policy.keys = &set;
    char *claims = claims_with("");

    char *token = support_token(second, NULL, "RS256", "{\"alg\":\"RS256\",\"kid\":\"k2\"}",
                                claims);
    assert_int_equal(verify(token), TG_JWT_VALID);
    free(token);
    /* Signed by k2 but claiming k1: the kid picks the key, which fails. */
    token = support_token(second, NULL, "RS256", "{\"alg\":\"RS256\",\"kid\":\"k1\"}", claims);
    assert_int_equal(verify(token), TG_JWT_BAD_SIGNATURE);
    free(token);
    /* Unknown kid and no kid-less key: the caller may fetch keys again. */
    token = support_token(second, NULL, "RS256", "{\"alg\":\"RS256\",\"kid\":\"k9\"}", claims);
    assert_int_equal(verify(token), TG_JWT_UNKNOWN_KID);
    free(token);
    /* Unknown kid with a kid-less key (a pasted PEM) that does not verify
     * it: a bad signature, but one that a rotated-in key might verify. */
    support_keyset_add(&set, support_key_rsa(), NULL);
    token = support_token(second, NULL, "RS256", "{\"alg\":\"RS256\",\"kid\":\"k9\"}", claims);
    assert_int_equal(verify(token), TG_JWT_BAD_SIGNATURE_UNKNOWN_KID);
    free(token);
    token = support_token(support_key_rsa(), NULL, "RS256",
                          "{\"alg\":\"RS256\",\"kid\":\"k9\"}", claims);
    assert_int_equal(verify(token), TG_JWT_VALID);
    free(token);

    /* No kid while two keys fit: refused rather than guessed. */
    token = support_token(second, NULL, "RS256", RS256_HEADER, claims);
    assert_int_equal(verify(token), TG_JWT_NO_KEY);
    free(token);
    /* kid of the wrong type. */
    token = support_token(second, NULL, "RS256", "{\"alg\":\"RS256\",\"kid\":7}", claims);
    assert_int_equal(verify(token), TG_JWT_MALFORMED);
    free(token);

    /* A pasted PEM has no kid; PropelAuth's tokens carry one: accepted. */
    tg_keyset_clear(&set);
    support_keyset_add(&set, second, NULL);
    token = support_token(second, NULL, "RS256", "{\"alg\":\"RS256\",\"kid\":\"pa-1\"}", claims);
    assert_int_equal(verify(token), TG_JWT_VALID);
    free(token);
    /* No kid with exactly one fitting key: accepted. */
    token = support_token(second, NULL, "RS256", RS256_HEADER, claims);
    assert_int_equal(verify(token), TG_JWT_VALID);
    free(token);

    policy = saved;
    tg_keyset_clear(&set);
    EVP_PKEY_free(second);
    free(claims);
}

static void test_status_descriptions_are_plain(void **state)
{
    (void)state;
    for (int status = TG_JWT_VALID; status <= TG_JWT_NO_USER; status++) {
        const char *text = tg_jwt_status_describe((enum tg_jwt_status)status);
        assert_non_null(text);
        assert_null(strpbrk(text, "\"\\\r\n"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_rs256),
        cmocka_unit_test(test_no_issuer_accepts_nothing),
        cmocka_unit_test(test_alg_none_refused),
        cmocka_unit_test(test_hs256_with_public_key_bytes_refused),
        cmocka_unit_test(test_signature_by_another_key_refused),
        cmocka_unit_test(test_every_bit_flip_in_signature_refused),
        cmocka_unit_test(test_segment_count_and_encoding),
        cmocka_unit_test(test_time_claims),
        cmocka_unit_test(test_issuer),
        cmocka_unit_test(test_user),
        cmocka_unit_test(test_duplicates_and_crit),
        cmocka_unit_test(test_deep_nesting_refused),
        cmocka_unit_test(test_large_header_refused),
        cmocka_unit_test(test_oversized_token_refused),
        cmocka_unit_test(test_audience),
        cmocka_unit_test(test_every_algorithm),
        cmocka_unit_test(test_hmac),
        cmocka_unit_test(test_weak_rsa_key_refused),
        cmocka_unit_test(test_key_selection_by_kid),
        cmocka_unit_test(test_status_descriptions_are_plain),
    };
    return cmocka_run_group_tests_name("jwt", tests, setup, teardown);
}
