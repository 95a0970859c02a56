/* SPDX-License-Identifier: Apache-2.0 */
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
    case TG_JWT_UNKNOWN_KID: return "the token's signing key is not known";
    case TG_JWT_BAD_SIGNATURE_UNKNOWN_KID:
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

/* A NumericDate as RFC 7519 defines it, restricted to integers in a range a
 * clock can mean: floats, strings and negatives are refused. Returns 0 when
 * absent, 1 when valid, -1 when present but invalid. */
static int claim_time(const struct tg_json *claims, const char *name, long long *value)
{
    int member = tg_json_get(claims, 0, name);
    if (member < 0)
        return 0;
    long long seconds;
    if (!tg_json_integer(claims, member, &seconds) || seconds < 0 || seconds > TG_TIME_MAX)
        return -1;
    *value = seconds;
    return 1;
}

static bool audience_matches(const struct tg_json *claims, const char *expected)
{
    int aud = tg_json_get(claims, 0, "aud");
    const char *single = tg_json_string(claims, aud);
    if (single)
        return strcmp(single, expected) == 0;
    if (tg_json_type(claims, aud) != TG_JSON_ARRAY)
        return false;
    int item = tg_json_first(aud);
    for (int i = 0; i < tg_json_size(claims, aud); i++, item = tg_json_next(claims, item)) {
        const char *text = tg_json_string(claims, item);
        if (text && strcmp(text, expected) == 0)
            return true;
    }
    return false;
}

static enum tg_jwt_status claims_check(const struct tg_jwt_policy *policy,
                                       const struct tg_json *claims, time_t now,
                                       long long *expires)
{
    const char *iss = tg_json_string(claims, tg_json_get(claims, 0, "iss"));
    /* No issuer configured accepts none (fail closed). */
    if (!iss || !policy->issuer || strcmp(iss, policy->issuer) != 0)
        return TG_JWT_BAD_ISSUER;

    long long exp, nbf, iat;
    int has = claim_time(claims, "exp", &exp);
    if (has <= 0)
        return TG_JWT_BAD_CLAIM; /* exp is required */
    if ((long long)now >= exp + policy->leeway)
        return TG_JWT_EXPIRED;
    *expires = exp + policy->leeway;
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

    if (policy->audience && policy->audience[0] && !audience_matches(claims, policy->audience))
        return TG_JWT_BAD_AUDIENCE;

    /* PropelAuth names the user in user_id; other providers in sub. A
     * user_id of the wrong type is refused, not silently replaced by sub. */
    int user = tg_json_get(claims, 0, "user_id");
    if (user < 0)
        user = tg_json_get(claims, 0, "sub");
    const char *user_id = tg_json_string(claims, user);
    if (!user_id || !user_id[0])
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
    for (size_t i = 0; i < count; i++)
        if (tg_signature_verify(candidates[i], alg, input, input_len, signature, signature_len))
            return TG_JWT_VALID;
    /* A kid we have never seen may be a key the provider has just rotated
     * in: the caller may fetch keys again and retry. */
    if (kid && !kid_known)
        return count == 0 ? TG_JWT_UNKNOWN_KID : TG_JWT_BAD_SIGNATURE_UNKNOWN_KID;
    return count == 0 ? TG_JWT_NO_KEY : TG_JWT_BAD_SIGNATURE;
}

/* Reads alg and kid from the parsed header. KID (TG_KID_MAX bytes) is
 * emptied when the header has none. */
static enum tg_jwt_status header_check(const struct tg_jwt_policy *policy,
                                       const struct tg_json *header, enum tg_alg *alg,
                                       char *kid, bool *has_kid)
{
    if (tg_json_type(header, 0) != TG_JSON_OBJECT)
        return TG_JWT_MALFORMED;
    const char *name = tg_json_string(header, tg_json_get(header, 0, "alg"));
    if (!name)
        return TG_JWT_MALFORMED;
    /* "none" has no entry in the algorithm table, so it can never pass. */
    *alg = tg_alg_from_name(name, strlen(name));
    if (*alg == TG_ALG_UNKNOWN || !(policy->algorithms & TG_ALG_BIT(*alg)))
        return TG_JWT_ALGORITHM_REFUSED;
    /* We understand no critical extension, so RFC 7515 4.1.11 says refuse. */
    if (tg_json_get(header, 0, "crit") >= 0)
        return TG_JWT_MALFORMED;
    int kid_member = tg_json_get(header, 0, "kid");
    *has_kid = kid_member >= 0;
    if (*has_kid) {
        const char *text = tg_json_string(header, kid_member);
        if (!text || strlen(text) >= TG_KID_MAX)
            return TG_JWT_MALFORMED;
        strcpy(kid, text);
    }
    /* jku, x5u, jwk and x5c are deliberately ignored: keys come from the
     * configuration only, never from the token that they would vouch for. */
    return TG_JWT_VALID;
}

/* Decodes LEN base64url characters at PART into DOCUMENT and parses them. */
static bool part_parse(struct tg_json *document, const char *part, size_t len)
{
    if (len > TG_JSON_TEXT_MAX / 3 * 4)
        return false;
    ssize_t decoded = tg_base64url_decode(part, len, (unsigned char *)document->text);
    return decoded > 0 && tg_json_parse(document, document->text, (size_t)decoded) == 0 &&
           tg_json_type(document, 0) == TG_JSON_OBJECT;
}

static enum tg_jwt_status token_verify(const struct tg_jwt_policy *policy, const char *token,
                                       size_t len, time_t now, struct tg_json *claims)
{
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

    /* No JOSE header needs more than a few hundred bytes: a larger one is
     * refused unread, so that forged headers cost nothing to refuse. The
     * header is read in the claims' storage: it is done with before the
     * claims are decoded. */
    if (header_len > TG_BASE64URL_ENCODED_LEN(TG_JOSE_HEADER_MAX) ||
        !part_parse(claims, token, header_len))
        return TG_JWT_MALFORMED;
    enum tg_alg alg = TG_ALG_UNKNOWN;
    char kid[TG_KID_MAX];
    bool has_kid = false;
    enum tg_jwt_status status = header_check(policy, claims, &alg, kid, &has_kid);
    if (status != TG_JWT_VALID)
        return status;

    /* The cache can vouch for the signature of these exact bytes, and for
     * nothing else: every other check still runs. */
    bool cached = tg_cache_contains(policy->cache, token, len, now);
    if (!cached) {
        unsigned char signature[TG_BASE64URL_DECODED_SIZE(TG_TOKEN_MAX)];
        ssize_t signature_decoded = tg_base64url_decode(second_dot + 1, signature_len, signature);
        if (signature_decoded <= 0)
            return TG_JWT_MALFORMED;
        status = signature_check(policy->keys, alg, has_kid ? kid : NULL,
                                 (const unsigned char *)token, (size_t)(second_dot - token),
                                 signature, (size_t)signature_decoded);
        if (status != TG_JWT_VALID)
            return status;
    }

    /* Only a token signed by one of our keys gets its claims parsed. */
    if (!part_parse(claims, first_dot + 1, claims_len))
        return TG_JWT_MALFORMED;
    long long expires = 0;
    status = claims_check(policy, claims, now, &expires);
    /* Only tokens that passed everything are remembered, so invalid ones
     * can never push valid ones out. */
    if (status == TG_JWT_VALID && !cached)
        tg_cache_add(policy->cache, token, len, now, (time_t)expires);
    return status;
}

enum tg_jwt_status tg_jwt_verify(const struct tg_jwt_policy *policy, const char *token,
                                 size_t len, time_t now, struct tg_json *claims)
{
    enum tg_jwt_status status = token_verify(policy, token, len, now, claims);
    if (status != TG_JWT_VALID)
        claims->count = 0; /* nothing of a refused token may be read */
    return status;
}
