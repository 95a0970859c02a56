/* SPDX-License-Identifier: Apache-2.0 */
/* claims.c - the user and organisation facts in verified PropelAuth claims. */
#include "tokengate/claims.h"

#include <string.h>

#include "tokengate/text.h"

/* The string member NAME of OBJECT, or NULL when absent or not a string.
 * Sets *BAD when the string holds a control character. (The JSON reader
 * already refuses \u0000, so strings cannot hide a NUL.) */
static const char *member_string(const struct tg_json *json, int object, const char *name,
                                 bool *bad)
{
    const char *text = tg_json_string(json, tg_json_get(json, object, name));
    if (text && !tg_text_is_single_line(text))
        *bad = true;
    return text;
}

/* The object member NAME: its index, -1 when absent or null, and *BAD when
 * it is anything else. */
static int member_object(const struct tg_json *json, int object, const char *name, bool *bad)
{
    int member = tg_json_get(json, object, name);
    int type = tg_json_type(json, member);
    if (member < 0 || type == TG_JSON_NULL)
        return -1;
    if (type != TG_JSON_OBJECT)
        *bad = true;
    return type == TG_JSON_OBJECT ? member : -1;
}

int tg_identity_read(const struct tg_json *claims, struct tg_identity *identity,
                     const char **why)
{
    return tg_identity_read_object(claims, 0, "org_id_to_org_member_info", "org_member_info",
                                   identity, why);
}

int tg_identity_read_object(const struct tg_json *claims, int object, const char *org_map,
                            const char *active_org, struct tg_identity *identity,
                            const char **why)
{
    memset(identity, 0, sizeof *identity);
    identity->claims = claims;
    identity->org_map = identity->active_org = -1;
    bool bad = false;
    identity->user_id = member_string(claims, object, "user_id", &bad);
    if (!identity->user_id)
        identity->user_id = member_string(claims, object, "sub", &bad);
    identity->email = member_string(claims, object, "email", &bad);
    identity->first_name = member_string(claims, object, "first_name", &bad);
    identity->last_name = member_string(claims, object, "last_name", &bad);
    identity->username = member_string(claims, object, "username", &bad);
    identity->legacy_user_id = member_string(claims, object, "legacy_user_id", &bad);
    identity->impersonator_user_id = member_string(claims, object, "impersonator_user_id", &bad);
    int login = tg_json_get(claims, object, "login_method");
    if (tg_json_type(claims, login) == TG_JSON_OBJECT)
        identity->login_method = member_string(claims, login, "login_method", &bad);
    if (bad) {
        *why = "a claim holds a control character";
        return -1;
    }
    if (!identity->user_id) {
        *why = "the token names no user";
        return -1;
    }
    if (org_map)
        identity->org_map = member_object(claims, object, org_map, &bad);
    if (active_org)
        identity->active_org = member_object(claims, object, active_org, &bad);
    if (bad) {
        *why = "the organisation claims are malformed";
        return -1;
    }
    if (tg_json_size(claims, identity->org_map) > TG_ORGS_MAX) {
        *why = "the token lists too many organisations";
        return -1;
    }
    return 0;
}

/* An array of single-line strings without a ",", or -1 when absent. Sets
 * *BAD when the member is present with any other shape. The items are
 * roles and permissions, which the application receives joined by commas:
 * a comma inside one would read as two. */
static int member_string_array(const struct tg_json *json, int object, const char *name,
                               bool *bad)
{
    int array = tg_json_get(json, object, name);
    int type = tg_json_type(json, array);
    if (array < 0 || type == TG_JSON_NULL)
        return -1;
    if (type != TG_JSON_ARRAY) {
        *bad = true;
        return -1;
    }
    int item = tg_json_first(array);
    for (int i = 0; i < tg_json_size(json, array); i++, item = tg_json_next(json, item)) {
        const char *text = tg_json_string(json, item);
        if (!text || !tg_text_is_single_line(text) || strchr(text, ',')) {
            *bad = true;
            return -1;
        }
    }
    return array;
}

static enum tg_org_lookup membership_read(const struct tg_json *json, int object,
                                          const char *expected_org_id,
                                          struct tg_membership *membership)
{
    memset(membership, 0, sizeof *membership);
    membership->claims = json;
    bool bad = false;
    membership->org_id = member_string(json, object, "org_id", &bad);
    membership->org_name = member_string(json, object, "org_name", &bad);
    membership->url_safe_org_name = member_string(json, object, "url_safe_org_name", &bad);
    membership->user_role = member_string(json, object, "user_role", &bad);
    if (membership->user_role && strchr(membership->user_role, ','))
        bad = true;
    membership->inherited_roles =
        member_string_array(json, object, "inherited_user_roles_plus_current_role", &bad);
    membership->additional_roles = member_string_array(json, object, "additional_roles", &bad);
    membership->permissions = member_string_array(json, object, "user_permissions", &bad);
    const char *structure = member_string(json, object, "org_role_structure", &bad);
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
    const struct tg_json *json = identity->claims;
    /* An active-org token carries only org_member_info: that org is the
     * user's only one for this request. */
    if (identity->active_org >= 0) {
        enum tg_org_lookup found = membership_read(json, identity->active_org, NULL, membership);
        if (found != TG_ORG_MEMBER || !org_id)
            return found;
        return strcmp(membership->org_id, org_id) == 0 ? TG_ORG_MEMBER : TG_ORG_NOT_MEMBER;
    }
    if (!org_id || identity->org_map < 0)
        return TG_ORG_NOT_MEMBER;
    int object = tg_json_get(json, identity->org_map, org_id);
    if (object < 0)
        return TG_ORG_NOT_MEMBER;
    if (tg_json_type(json, object) != TG_JSON_OBJECT)
        return TG_ORG_INVALID;
    return membership_read(json, object, org_id, membership);
}

static bool array_contains(const struct tg_json *json, int array, const char *text)
{
    int item = tg_json_first(array);
    for (int i = 0; i < tg_json_size(json, array); i++, item = tg_json_next(json, item))
        if (strcmp(tg_json_string(json, item), text) == 0)
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
    return membership->multi_role && membership->additional_roles >= 0 &&
           array_contains(membership->claims, membership->additional_roles, role);
}

bool tg_membership_is_at_least_role(const struct tg_membership *membership, const char *role,
                                    const struct tg_role_hierarchy *hierarchy)
{
    if (membership->multi_role)
        return tg_membership_is_role(membership, role);
    if (membership->inherited_roles >= 0)
        return array_contains(membership->claims, membership->inherited_roles, role);
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
    return membership->permissions >= 0 &&
           array_contains(membership->claims, membership->permissions, permission);
}

/* Appends ITEM to the comma-separated list in LIST. */
static bool list_append(struct tg_buffer *list, const char *item)
{
    if (list->used)
        tg_buffer_append(list, ",", 1);
    return tg_buffer_puts(list, item);
}

static bool list_append_array(struct tg_buffer *list, const struct tg_json *json, int array)
{
    int item = tg_json_first(array);
    for (int i = 0; i < tg_json_size(json, array); i++, item = tg_json_next(json, item))
        if (!list_append(list, tg_json_string(json, item)))
            return false;
    return true;
}

long tg_membership_roles_join(const struct tg_membership *membership,
                              const struct tg_role_hierarchy *hierarchy, char *out, size_t size)
{
    struct tg_buffer list;
    tg_buffer_init(&list, out, size);
    if (membership->multi_role) {
        if (membership->user_role)
            list_append(&list, membership->user_role);
        if (membership->additional_roles >= 0)
            list_append_array(&list, membership->claims, membership->additional_roles);
    } else if (membership->inherited_roles >= 0) {
        list_append_array(&list, membership->claims, membership->inherited_roles);
    } else if (membership->user_role) {
        long rank = hierarchy_rank(hierarchy, membership->user_role);
        if (rank < 0)
            list_append(&list, membership->user_role);
        size_t known = hierarchy ? hierarchy->count : 0;
        for (size_t i = rank < 0 ? known : (size_t)rank; i < known; i++)
            list_append(&list, hierarchy->names[i]);
    }
    /* A cut list would name fewer roles than the user holds: refused. */
    return list.overflow ? -1 : (long)list.used;
}

long tg_membership_permissions_join(const struct tg_membership *membership, char *out,
                                    size_t size)
{
    struct tg_buffer list;
    tg_buffer_init(&list, out, size);
    if (membership->permissions >= 0)
        list_append_array(&list, membership->claims, membership->permissions);
    return list.overflow ? -1 : (long)list.used;
}
