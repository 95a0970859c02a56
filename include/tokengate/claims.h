/* SPDX-License-Identifier: Apache-2.0 */
/* claims.h - the user and organisation facts in verified PropelAuth claims.
 *
 * Pure functions over the claims that tg_jwt_verify() read; the structs
 * borrow strings from that document, so they live as long as it does.
 * Semantics follow PropelAuth's own libraries (see spec/propelauth.md).
 */
#ifndef TOKENGATE_CLAIMS_H
#define TOKENGATE_CLAIMS_H

#include <stdbool.h>
#include <stddef.h>
#include "tokengate/json.h"
#include "tokengate/text.h"

#define TG_ORGS_MAX 1000   /* tokens listing more organisations are refused */
#define TG_ROLES_MAX 64    /* roles in a [roles] hierarchy */

/* [roles] hierarchy, highest role first. Used only for tokens that carry no
 * inherited_user_roles_plus_current_role list. */
struct tg_role_hierarchy {
    char *names[TG_ROLES_MAX];
    size_t count;
};

struct tg_identity {
    const char *user_id;
    const char *email, *first_name, *last_name, *username;
    const char *legacy_user_id, *impersonator_user_id;
    const char *login_method;      /* login_method.login_method */
    const struct tg_json *claims;
    int org_map;                   /* org_id_to_org_member_info, or -1 */
    int active_org;                /* org_member_info, or -1 */
};

struct tg_membership {
    const char *org_id, *org_name, *url_safe_org_name;
    const char *user_role;
    const struct tg_json *claims;
    int inherited_roles;           /* array of strings, or -1 */
    int additional_roles;          /* array of strings, or -1 */
    int permissions;               /* array of strings, or -1 */
    bool multi_role;
};

enum tg_org_lookup { TG_ORG_MEMBER, TG_ORG_NOT_MEMBER, TG_ORG_INVALID };

/* Reads the identity from CLAIMS. Returns 0, or -1 when the claims are unfit
 * to pass on (a control character in a value, more than TG_ORGS_MAX orgs,
 * malformed organisation claims); WHY then says which. */
int tg_identity_read(const struct tg_json *claims, struct tg_identity *identity,
                     const char **why);

/* The same for the user described by OBJECT (the claims are object 0),
 * with its memberships in the object member ORG_MAP (keyed by org id) or
 * its only, active org in the member ACTIVE_ORG; either may be NULL (none).
 * PropelAuth describes an API key's user so. */
int tg_identity_read_object(const struct tg_json *claims, int object, const char *org_map,
                            const char *active_org, struct tg_identity *identity,
                            const char **why);

/* Finds the membership in ORG_ID, or with ORG_ID NULL the active org of an
 * active-org token (org_member_info). TG_ORG_INVALID means the membership
 * object is malformed or holds a control character. */
enum tg_org_lookup tg_identity_find_org(const struct tg_identity *identity, const char *org_id,
                                        struct tg_membership *membership);

bool tg_membership_is_role(const struct tg_membership *membership, const char *role);
bool tg_membership_is_at_least_role(const struct tg_membership *membership, const char *role,
                                    const struct tg_role_hierarchy *hierarchy);
bool tg_membership_has_permission(const struct tg_membership *membership,
                                  const char *permission);

/* Writes the user's roles in the org, comma-separated, into OUT. Returns the
 * length, or -1 when they do not fit. */
long tg_membership_roles_join(const struct tg_membership *membership,
                              const struct tg_role_hierarchy *hierarchy, char *out, size_t size);
/* Writes the permissions comma-separated; same return convention. */
long tg_membership_permissions_join(const struct tg_membership *membership, char *out,
                                    size_t size);

#endif
