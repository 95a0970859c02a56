/* jwt.c - verify a compact JWS access token. */
#include "tokengate/jwt.h"

#include <string.h>

#include "tokengate/base64url.h"

const char *tg_jwt_status_describe(enum tg_jwt_status status)
{
    switch (status) {
    case TG_JWT_VALID: return "the token is valid";
    case TG_JWT_TOO_LARGE: return "the token is too large";
    case TG_JWT_MALFORMED: return "the token is malformed";
    case TG_JWT_ALGORITHM_REFUSED: return "the token's algorithm is not accepted";
    case TG_JWT_NO_KEY: return "no key is configured for the token";
    case TG_JWT_BAD_SIGNATURE: return "the token's signature is invalid";
    case TG_JWT_EXPIRED: return "the token has expired";
    case TG_JWT_NOT_YET_VALID: return "the token is not valid yet";
    case TG_JWT_ISSUED_IN_FUTURE: return "the token is issued in the future";
    case TG_JWT_BAD_ISSUER: return "the token's issuer is not accepted";
    case TG_JWT_BAD_AUDIENCE: return "the token's audience is not accepted";
    case TG_JWT_BAD_CLAIM: return "the token has an invalid claim";
    case TG_JWT_NO_USER: return "the token names no user";
    }
    return "the token is invalid";
}

bool tg_json_depth_within(const char *text, size_t len, int max_depth)
{
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_string) {
            if (c == '\\')
                i++; /* the escaped character cannot end the string */
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max_depth)
                return false;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return true;
}

json_t *tg_json_object_parse(const char *text, size_t len)
{
    if (!tg_json_depth_within(text, len, TG_JSON_DEPTH_MAX))
        return NULL;
    json_error_t error;
    json_t *value = json_loadb(text, len, JSON_REJECT_DUPLICATES, &error);
    if (value && !json_is_object(value)) {
        json_decref(value);
        return NULL;
    }
    return value;
}

/* A NumericDate as RFC 7519 defines it, restricted to integers in a range a
 * clock can mean: floats, strings and negatives are refused. Returns 0 when
 * absent, 1 when valid, -1 when present but invalid. */
static int claim_time(json_t *claims, const char *name, long long *value)
{
    json_t *member = json_object_get(claims, name);
    if (!member)
        return 0;
    if (!json_is_integer(member))
        return -1;
    json_int_t seconds = json_integer_value(member);
    if (seconds < 0 || seconds > TG_TIME_MAX)
        return -1;
    *value = seconds;
    return 1;
}

static bool audience_matches(json_t *aud, const char *expected)
{
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), expected) == 0;
    if (!json_is_array(aud))
        return false;
    size_t index;
    json_t *item;
    json_array_foreach(aud, index, item)
        if (json_is_string(item) && strcmp(json_string_value(item), expected) == 0)
            return true;
    return false;
}

static enum tg_jwt_status claims_check(const struct tg_jwt_policy *policy, json_t *claims,
                                       time_t now)
{
    json_t *iss = json_object_get(claims, "iss");
    if (!json_is_string(iss) || strcmp(json_string_value(iss), policy->issuer) != 0)
        return TG_JWT_BAD_ISSUER;

    long long exp, nbf, iat;
    int has = claim_time(claims, "exp", &exp);
    if (has <= 0)
        return TG_JWT_BAD_CLAIM; /* exp is required */
    if ((long long)now >= exp + policy->leeway)
        return TG_JWT_EXPIRED;
    has = claim_time(claims, "nbf", &nbf);
    if (has < 0)
        return TG_JWT_BAD_CLAIM;
    if (has && (long long)now + policy->leeway < nbf)
        return TG_JWT_NOT_YET_VALID;
    has = claim_time(claims, "iat", &iat);
    if (has < 0)
        return TG_JWT_BAD_CLAIM;
    if (has && iat > (long long)now + policy->leeway)
        return TG_JWT_ISSUED_IN_FUTURE;

    if (policy->audience && policy->audience[0] &&
        !audience_matches(json_object_get(claims, "aud"), policy->audience))
        return TG_JWT_BAD_AUDIENCE;

    /* PropelAuth names the user in user_id; other providers in sub. A
     * user_id of the wrong type is refused, not silently replaced by sub. */
    json_t *user = json_object_get(claims, "user_id");
    if (!user)
        user = json_object_get(claims, "sub");
    if (!json_is_string(user) || json_string_length(user) == 0)
        return TG_JWT_NO_USER;
    return TG_JWT_VALID;
}

/* Tries the keys that may verify this token. With a kid, only keys of that
 * kid count, or, when none has it, the keys without a kid (a pasted PEM has
 * none while PropelAuth's tokens carry one). Without a kid, exactly one
 * configured key may fit the algorithm: guessing among several is refused. */
static enum tg_jwt_status signature_check(const struct tg_keyset *keys, enum tg_alg alg,
                                          const char *kid, const unsigned char *input,
                                          size_t input_len, const unsigned char *signature,
                                          size_t signature_len)
{
    const struct tg_key *candidates[TG_KEYS_MAX];
    size_t count = 0;
    bool kid_known = false;

    if (kid) {
        for (size_t i = 0; i < keys->count; i++)
            if (strcmp(keys->keys[i].kid, kid) == 0) {
                kid_known = true;
                if (keys->keys[i].algs & TG_ALG_BIT(alg))
                    candidates[count++] = &keys->keys[i];
            }
        if (!kid_known)
            for (size_t i = 0; i < keys->count; i++)
                if (keys->keys[i].kid[0] == '\0' && (keys->keys[i].algs & TG_ALG_BIT(alg)))
                    candidates[count++] = &keys->keys[i];
    } else {
        for (size_t i = 0; i < keys->count; i++)
            if (keys->keys[i].algs & TG_ALG_BIT(alg))
                candidates[count++] = &keys->keys[i];
        if (count > 1)
            return TG_JWT_NO_KEY;
    }
    if (count == 0)
        return TG_JWT_NO_KEY;
    for (size_t i = 0; i < count; i++)
        if (tg_signature_verify(candidates[i], alg, input, input_len, signature, signature_len))
            return TG_JWT_VALID;
    return TG_JWT_BAD_SIGNATURE;
}

/* Reads alg and kid from the header. Returns TG_JWT_VALID or the refusal. */
static enum tg_jwt_status header_check(const struct tg_jwt_policy *policy, json_t *header,
                                       enum tg_alg *alg, const char **kid)
{
    json_t *alg_value = json_object_get(header, "alg");
    if (!json_is_string(alg_value))
        return TG_JWT_MALFORMED;
    /* "none" has no entry in the algorithm table, so it can never pass. */
    *alg = tg_alg_from_name(json_string_value(alg_value), json_string_length(alg_value));
    if (*alg == TG_ALG_UNKNOWN || !(policy->algorithms & TG_ALG_BIT(*alg)))
        return TG_JWT_ALGORITHM_REFUSED;
    /* We understand no critical extension, so RFC 7515 4.1.11 says refuse. */
    if (json_object_get(header, "crit"))
        return TG_JWT_MALFORMED;
    json_t *kid_value = json_object_get(header, "kid");
    *kid = NULL;
    if (kid_value) {
        if (!json_is_string(kid_value) || json_string_length(kid_value) >= TG_KID_MAX)
            return TG_JWT_MALFORMED;
        *kid = json_string_value(kid_value);
    }
    /* jku, x5u, jwk and x5c are deliberately ignored: keys come from the
     * configuration only, never from the token that they would vouch for. */
    return TG_JWT_VALID;
}

enum tg_jwt_status tg_jwt_verify(const struct tg_jwt_policy *policy, const char *token,
                                 size_t len, time_t now, json_t **claims)
{
    *claims = NULL;
    if (len > TG_TOKEN_MAX)
        return TG_JWT_TOO_LARGE;

    const char *first_dot = memchr(token, '.', len);
    const char *second_dot =
        first_dot ? memchr(first_dot + 1, '.', len - (size_t)(first_dot + 1 - token)) : NULL;
    if (!second_dot || memchr(second_dot + 1, '.', len - (size_t)(second_dot + 1 - token)))
        return TG_JWT_MALFORMED;

    size_t header_len = (size_t)(first_dot - token);
    size_t claims_len = (size_t)(second_dot - first_dot - 1);
    size_t signature_len = len - (size_t)(second_dot + 1 - token);
    if (header_len == 0 || claims_len == 0 || signature_len == 0)
        return TG_JWT_MALFORMED;

    /* Every decoded part fits in 3/4 of the token's bytes. */
    unsigned char header_bytes[TG_BASE64URL_DECODED_SIZE(TG_TOKEN_MAX)];
    unsigned char signature[TG_BASE64URL_DECODED_SIZE(TG_TOKEN_MAX)];
    ssize_t decoded = tg_base64url_decode(token, header_len, header_bytes);
    if (decoded <= 0)
        return TG_JWT_MALFORMED;
    json_t *header = tg_json_object_parse((const char *)header_bytes, (size_t)decoded);
    if (!header)
        return TG_JWT_MALFORMED;

    enum tg_alg alg = TG_ALG_UNKNOWN;
    const char *kid = NULL;
    enum tg_jwt_status status = header_check(policy, header, &alg, &kid);
    ssize_t signature_decoded = -1;
    if (status == TG_JWT_VALID) {
        signature_decoded = tg_base64url_decode(second_dot + 1, signature_len, signature);
        if (signature_decoded <= 0)
            status = TG_JWT_MALFORMED;
    }
    if (status == TG_JWT_VALID)
        status = signature_check(policy->keys, alg, kid, (const unsigned char *)token,
                                 (size_t)(second_dot - token), signature,
                                 (size_t)signature_decoded);
    json_decref(header); /* kid points into it: used up by now */
    if (status != TG_JWT_VALID)
        return status;

    /* Only a token signed by one of our keys gets its claims parsed. */
    unsigned char *claims_bytes = header_bytes; /* reuse: the header is done */
    decoded = tg_base64url_decode(first_dot + 1, claims_len, claims_bytes);
    if (decoded <= 0)
        return TG_JWT_MALFORMED;
    json_t *parsed = tg_json_object_parse((const char *)claims_bytes, (size_t)decoded);
    if (!parsed)
        return TG_JWT_MALFORMED;
    status = claims_check(policy, parsed, now);
    if (status != TG_JWT_VALID) {
        json_decref(parsed);
        return status;
    }
    *claims = parsed;
    return TG_JWT_VALID;
}
