/* claims.c - the user and organisation facts in verified PropelAuth claims. */
#include "tokengate/claims.h"

#include <string.h>

bool tg_text_is_single_line(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return false;
        /* U+0080..U+009F are encoded as C2 80..C2 9F in UTF-8. */
        if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
            return false;
    }
    return true;
}

/* The string member NAME, or NULL when absent or not a string. Sets *BAD
 * when the string holds a control character. */
static const char *member_string(json_t *object, const char *name, bool *bad)
{
    json_t *value = json_object_get(object, name);
    if (!json_is_string(value))
        return NULL;
    const char *text = json_string_value(value);
    /* json strings may embed NUL (\u0000); strlen would hide the rest. */
    if (strlen(text) != json_string_length(value) || !tg_text_is_single_line(text))
        *bad = true;
    return text;
}

int tg_identity_read(json_t *claims, struct tg_identity *identity, const char **why)
{
    memset(identity, 0, sizeof *identity);
    bool bad = false;
    identity->user_id = member_string(claims, "user_id", &bad);
    if (!identity->user_id)
        identity->user_id = member_string(claims, "sub", &bad);
    identity->email = member_string(claims, "email", &bad);
    identity->first_name = member_string(claims, "first_name", &bad);
    identity->last_name = member_string(claims, "last_name", &bad);
    identity->username = member_string(claims, "username", &bad);
    identity->legacy_user_id = member_string(claims, "legacy_user_id", &bad);
    identity->impersonator_user_id = member_string(claims, "impersonator_user_id", &bad);
    json_t *login = json_object_get(claims, "login_method");
    if (json_is_object(login))
        identity->login_method = member_string(login, "login_method", &bad);
    if (bad) {
        *why = "a claim holds a control character";
        return -1;
    }
    if (!identity->user_id) {
        *why = "the token names no user";
        return -1;
    }

    json_t *map = json_object_get(claims, "org_id_to_org_member_info");
    json_t *active = json_object_get(claims, "org_member_info");
    if ((map && !json_is_object(map) && !json_is_null(map)) ||
        (active && !json_is_object(active) && !json_is_null(active))) {
        *why = "the organisation claims are malformed";
        return -1;
    }
    if (json_is_object(map) && json_object_size(map) > TG_ORGS_MAX) {
        *why = "the token lists too many organisations";
        return -1;
    }
    identity->org_map = json_is_object(map) ? map : NULL;
    identity->active_org = json_is_object(active) ? active : NULL;
    return 0;
}

/* An array of single-line strings, or NULL when absent. Sets *BAD when the
 * member is present with any other shape. */
static json_t *member_string_array(json_t *object, const char *name, bool *bad)
{
    json_t *array = json_object_get(object, name);
    if (!array || json_is_null(array))
        return NULL;
    if (!json_is_array(array)) {
        *bad = true;
        return NULL;
    }
    size_t index;
    json_t *item;
    json_array_foreach(array, index, item) {
        if (!json_is_string(item) || strlen(json_string_value(item)) != json_string_length(item) ||
            !tg_text_is_single_line(json_string_value(item))) {
            *bad = true;
            return NULL;
        }
    }
    return array;
}

static enum tg_org_lookup membership_read(json_t *object, const char *expected_org_id,
                                          struct tg_membership *membership)
{
    memset(membership, 0, sizeof *membership);
    bool bad = false;
    membership->org_id = member_string(object, "org_id", &bad);
    membership->org_name = member_string(object, "org_name", &bad);
    membership->url_safe_org_name = member_string(object, "url_safe_org_name", &bad);
    membership->user_role = member_string(object, "user_role", &bad);
    membership->inherited_roles =
        member_string_array(object, "inherited_user_roles_plus_current_role", &bad);
    membership->additional_roles = member_string_array(object, "additional_roles", &bad);
    membership->permissions = member_string_array(object, "user_permissions", &bad);
    const char *structure = member_string(object, "org_role_structure", &bad);
    membership->multi_role = structure && strcmp(structure, "multi_role") == 0;

    /* The map's key and the object's org_id must agree: otherwise one of
     * them is lying, and we would check one org and report another. */
    if (bad || !membership->org_id ||
        (expected_org_id && strcmp(membership->org_id, expected_org_id) != 0))
        return TG_ORG_INVALID;
    return TG_ORG_MEMBER;
}

enum tg_org_lookup tg_identity_find_org(const struct tg_identity *identity, const char *org_id,
                                        struct tg_membership *membership)
{
    /* An active-org token carries only org_member_info: that org is the
     * user's only one for this request. */
    if (identity->active_org) {
        enum tg_org_lookup found = membership_read(identity->active_org, NULL, membership);
        if (found != TG_ORG_MEMBER || !org_id)
            return found;
        return strcmp(membership->org_id, org_id) == 0 ? TG_ORG_MEMBER : TG_ORG_NOT_MEMBER;
    }
    if (!org_id || !identity->org_map)
        return TG_ORG_NOT_MEMBER;
    json_t *object = json_object_get(identity->org_map, org_id);
    if (!object)
        return TG_ORG_NOT_MEMBER;
    if (!json_is_object(object))
        return TG_ORG_INVALID;
    return membership_read(object, org_id, membership);
}

static bool array_contains(json_t *array, const char *text)
{
    size_t index;
    json_t *item;
    json_array_foreach(array, index, item)
        if (strcmp(json_string_value(item), text) == 0)
            return true;
    return false;
}

static long hierarchy_rank(const struct tg_role_hierarchy *hierarchy, const char *role)
{
    for (size_t i = 0; hierarchy && i < hierarchy->count; i++)
        if (strcmp(hierarchy->names[i], role) == 0)
            return (long)i;
    return -1;
}

bool tg_membership_is_role(const struct tg_membership *membership, const char *role)
{
    if (membership->user_role && strcmp(membership->user_role, role) == 0)
        return true;
    return membership->multi_role && membership->additional_roles &&
           array_contains(membership->additional_roles, role);
}

bool tg_membership_is_at_least_role(const struct tg_membership *membership, const char *role,
                                    const struct tg_role_hierarchy *hierarchy)
{
    if (membership->multi_role)
        return tg_membership_is_role(membership, role);
    if (membership->inherited_roles)
        return array_contains(membership->inherited_roles, role);
    /* No inherited list in the token: fall back to the configured order. */
    if (!membership->user_role)
        return false;
    if (strcmp(membership->user_role, role) == 0)
        return true;
    long held = hierarchy_rank(hierarchy, membership->user_role);
    long wanted = hierarchy_rank(hierarchy, role);
    return held >= 0 && wanted >= 0 && held <= wanted;
}

bool tg_membership_has_permission(const struct tg_membership *membership,
                                  const char *permission)
{
    return membership->permissions && array_contains(membership->permissions, permission);
}

/* Appends ITEM to the comma-separated list in OUT. */
static bool list_append(char *out, size_t size, size_t *used, const char *item)
{
    size_t len = strlen(item);
    size_t needed = len + (*used ? 1 : 0);
    if (*used + needed + 1 > size)
        return false;
    if (*used)
        out[(*used)++] = ',';
    memcpy(out + *used, item, len);
    *used += len;
    out[*used] = '\0';
    return true;
}

static bool list_append_array(char *out, size_t size, size_t *used, json_t *array)
{
    size_t index;
    json_t *item;
    json_array_foreach(array, index, item)
        if (!list_append(out, size, used, json_string_value(item)))
            return false;
    return true;
}

long tg_membership_roles_join(const struct tg_membership *membership,
                              const struct tg_role_hierarchy *hierarchy, char *out, size_t size)
{
    size_t used = 0;
    if (size == 0)
        return -1;
    out[0] = '\0';
    bool ok = true;
    if (membership->multi_role) {
        if (membership->user_role)
            ok = list_append(out, size, &used, membership->user_role);
        if (ok && membership->additional_roles)
            ok = list_append_array(out, size, &used, membership->additional_roles);
    } else if (membership->inherited_roles) {
        ok = list_append_array(out, size, &used, membership->inherited_roles);
    } else if (membership->user_role) {
        long rank = hierarchy_rank(hierarchy, membership->user_role);
        if (rank < 0)
            ok = list_append(out, size, &used, membership->user_role);
        size_t known = hierarchy ? hierarchy->count : 0;
        for (size_t i = rank < 0 ? known : (size_t)rank; ok && i < known; i++)
            ok = list_append(out, size, &used, hierarchy->names[i]);
    }
    return ok ? (long)used : -1;
}

long tg_membership_permissions_join(const struct tg_membership *membership, char *out,
                                    size_t size)
{
    size_t used = 0;
    if (size == 0)
        return -1;
    out[0] = '\0';
    if (membership->permissions &&
        !list_append_array(out, size, &used, membership->permissions))
        return -1;
    return (long)used;
}
