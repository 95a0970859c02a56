/* PropelAuth claim semantics: both org forms, both role structures. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tokengate/claims.h"

static json_t *parse(const char *text)
{
    json_error_t error;
    json_t *value = json_loads(text, JSON_REJECT_DUPLICATES, &error);
    if (!value)
        fail_msg("bad test JSON: %s", error.text);
    return value;
}

static const char full_claims[] =
    "{\"user_id\":\"u-1\",\"sub\":\"u-1\",\"email\":\"ada@example.com\",\"first_name\":\"Ada\","
    "\"last_name\":\"Lovelace\",\"username\":\"ada\",\"legacy_user_id\":\"L7\","
    "\"impersonator_user_id\":\"admin-9\",\"login_method\":{\"login_method\":\"saml_sso\","
    "\"provider\":\"Okta\",\"org_id\":\"o-1\"},"
    "\"org_id_to_org_member_info\":{"
    " \"o-1\":{\"org_id\":\"o-1\",\"org_name\":\"Acme\",\"url_safe_org_name\":\"acme\","
    "  \"user_role\":\"Admin\",\"inherited_user_roles_plus_current_role\":[\"Admin\",\"Member\"],"
    "  \"org_role_structure\":\"single_role_in_hierarchy\","
    "  \"user_permissions\":[\"can_view_billing\",\"propelauth::can_invite\"]},"
    " \"o-2\":{\"org_id\":\"o-2\",\"org_name\":\"Beta\",\"user_role\":\"Reader\","
    "  \"org_role_structure\":\"multi_role\",\"additional_roles\":[\"Billing\",\"Support\"],"
    "  \"user_permissions\":[]},"
    " \"o-3\":{\"org_id\":\"o-3\",\"user_role\":\"Member\"}"
    "}}";

static struct tg_role_hierarchy hierarchy;

static int setup(void **state)
{
    (void)state;
    static char *names[] = {"Owner", "Admin", "Member"};
    for (size_t i = 0; i < 3; i++)
        hierarchy.names[i] = names[i];
    hierarchy.count = 3;
    return 0;
}

static void test_identity_fields(void **state)
{
    (void)state;
    json_t *claims = parse(full_claims);
    struct tg_identity identity;
    const char *why = NULL;
    assert_int_equal(tg_identity_read(claims, &identity, &why), 0);
    assert_string_equal(identity.user_id, "u-1");
    assert_string_equal(identity.email, "ada@example.com");
    assert_string_equal(identity.first_name, "Ada");
    assert_string_equal(identity.last_name, "Lovelace");
    assert_string_equal(identity.username, "ada");
    assert_string_equal(identity.legacy_user_id, "L7");
    assert_string_equal(identity.impersonator_user_id, "admin-9");
    assert_string_equal(identity.login_method, "saml_sso");
    assert_non_null(identity.org_map);
    assert_null(identity.active_org);
    json_decref(claims);
}

static void test_unknown_login_method_accepted(void **state)
{
    (void)state;
    json_t *claims = parse("{\"user_id\":\"u\",\"login_method\":{\"login_method\":\"quantum\","
                           "\"provider\":\"NewIdP\"}}");
    struct tg_identity identity;
    const char *why;
    assert_int_equal(tg_identity_read(claims, &identity, &why), 0);
    assert_string_equal(identity.login_method, "quantum");
    json_decref(claims);
    claims = parse("{\"user_id\":\"u\",\"login_method\":\"odd shape\"}");
    assert_int_equal(tg_identity_read(claims, &identity, &why), 0);
    assert_null(identity.login_method);
    json_decref(claims);
}

static void test_control_characters_refused(void **state)
{
    (void)state;
    const char *bad[] = {
        "{\"user_id\":\"u\",\"email\":\"a@example.com\\nX-Evil: 1\"}",
        "{\"user_id\":\"u\",\"first_name\":\"A\\rB\"}",
        "{\"user_id\":\"u\\u0000admin\"}",
        "{\"user_id\":\"u\",\"last_name\":\"\\u0085\"}",
        "{\"user_id\":\"u\",\"username\":\"\\u007f\"}",
        "{\"user_id\":\"u\",\"login_method\":{\"login_method\":\"a\\tb\"}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_error_t error;
        json_t *claims = json_loads(bad[i], JSON_ALLOW_NUL, &error);
        assert_non_null(claims);
        struct tg_identity identity;
        const char *why = NULL;
        if (tg_identity_read(claims, &identity, &why) != -1)
            fail_msg("accepted %s", bad[i]);
        assert_non_null(why);
        json_decref(claims);
    }
    assert_true(tg_text_is_single_line("Zoë Ångström 😀"));
}

static void test_too_many_orgs_refused(void **state)
{
    (void)state;
    json_t *claims = parse("{\"user_id\":\"u\"}");
    json_t *map = json_object();
    for (int i = 0; i <= TG_ORGS_MAX; i++) {
        char id[16];
        snprintf(id, sizeof id, "o-%d", i);
        json_object_set_new(map, id, json_pack("{s:s,s:s}", "org_id", id, "user_role", "M"));
    }
    json_object_set_new(claims, "org_id_to_org_member_info", map);
    struct tg_identity identity;
    const char *why;
    assert_int_equal(tg_identity_read(claims, &identity, &why), -1);
    assert_non_null(strstr(why, "too many"));
    json_object_del(map, "o-0");
    assert_int_equal(tg_identity_read(claims, &identity, &why), 0);
    json_decref(claims);
}

static void test_single_role_in_hierarchy(void **state)
{
    (void)state;
    json_t *claims = parse(full_claims);
    struct tg_identity identity;
    const char *why;
    assert_int_equal(tg_identity_read(claims, &identity, &why), 0);
    struct tg_membership membership;
    assert_int_equal(tg_identity_find_org(&identity, "o-1", &membership), TG_ORG_MEMBER);
    assert_string_equal(membership.org_name, "Acme");
    assert_true(tg_membership_is_role(&membership, "Admin"));
    assert_false(tg_membership_is_role(&membership, "Member"));
    assert_false(tg_membership_is_role(&membership, "admin")); /* case-sensitive */
    assert_true(tg_membership_is_at_least_role(&membership, "Admin", &hierarchy));
    assert_true(tg_membership_is_at_least_role(&membership, "Member", &hierarchy));
    assert_false(tg_membership_is_at_least_role(&membership, "Owner", &hierarchy));
    assert_true(tg_membership_has_permission(&membership, "propelauth::can_invite"));
    assert_false(tg_membership_has_permission(&membership, "can_delete"));
    char list[256];
    assert_true(tg_membership_roles_join(&membership, &hierarchy, list, sizeof list) > 0);
    assert_string_equal(list, "Admin,Member");
    assert_true(tg_membership_permissions_join(&membership, list, sizeof list) > 0);
    assert_string_equal(list, "can_view_billing,propelauth::can_invite");
    assert_int_equal(tg_identity_find_org(&identity, "o-404", &membership), TG_ORG_NOT_MEMBER);
    json_decref(claims);
}

static void test_multi_role(void **state)
{
    (void)state;
    json_t *claims = parse(full_claims);
    struct tg_identity identity;
    const char *why;
    assert_int_equal(tg_identity_read(claims, &identity, &why), 0);
    struct tg_membership membership;
    assert_int_equal(tg_identity_find_org(&identity, "o-2", &membership), TG_ORG_MEMBER);
    assert_true(membership.multi_role);
    assert_true(tg_membership_is_role(&membership, "Reader"));
    assert_true(tg_membership_is_role(&membership, "Billing"));
    /* multi_role: "at least" means "has", no hierarchy applies. */
    assert_true(tg_membership_is_at_least_role(&membership, "Support", &hierarchy));
    assert_false(tg_membership_is_at_least_role(&membership, "Member", &hierarchy));
    char list[256];
    assert_true(tg_membership_roles_join(&membership, &hierarchy, list, sizeof list) > 0);
    assert_string_equal(list, "Reader,Billing,Support");
    assert_int_equal(tg_membership_permissions_join(&membership, list, sizeof list), 0);
    assert_string_equal(list, "");
    json_decref(claims);
}

static void test_configured_hierarchy_fallback(void **state)
{
    (void)state;
    json_t *claims = parse(full_claims);
    struct tg_identity identity;
    const char *why;
    assert_int_equal(tg_identity_read(claims, &identity, &why), 0);
    struct tg_membership membership;
    /* o-3 carries no inherited list: [roles] hierarchy decides. */
    assert_int_equal(tg_identity_find_org(&identity, "o-3", &membership), TG_ORG_MEMBER);
    assert_true(tg_membership_is_at_least_role(&membership, "Member", &hierarchy));
    assert_false(tg_membership_is_at_least_role(&membership, "Admin", &hierarchy));
    membership.user_role = "Owner";
    assert_true(tg_membership_is_at_least_role(&membership, "Admin", &hierarchy));
    char list[256];
    assert_true(tg_membership_roles_join(&membership, &hierarchy, list, sizeof list) > 0);
    assert_string_equal(list, "Owner,Admin,Member");
    /* A role the hierarchy does not know only equals itself. */
    membership.user_role = "Auditor";
    assert_false(tg_membership_is_at_least_role(&membership, "Member", &hierarchy));
    assert_true(tg_membership_is_at_least_role(&membership, "Auditor", &hierarchy));
    assert_true(tg_membership_roles_join(&membership, &hierarchy, list, sizeof list) > 0);
    assert_string_equal(list, "Auditor");
    /* Without a hierarchy at all. */
    membership.user_role = "Owner";
    assert_false(tg_membership_is_at_least_role(&membership, "Admin", NULL));
    json_decref(claims);
}

static void test_active_org_token(void **state)
{
    (void)state;
    json_t *claims = parse("{\"user_id\":\"u\",\"org_member_info\":{\"org_id\":\"o-9\","
                           "\"org_name\":\"Solo\",\"user_role\":\"Owner\","
                           "\"inherited_user_roles_plus_current_role\":[\"Owner\",\"Admin\"]},"
                           "\"org_id_to_org_member_info\":{\"o-1\":{\"org_id\":\"o-1\","
                           "\"user_role\":\"Owner\"}}}");
    struct tg_identity identity;
    const char *why;
    assert_int_equal(tg_identity_read(claims, &identity, &why), 0);
    struct tg_membership membership;
    /* org_member_info replaces the map: o-1 no longer counts. */
    assert_int_equal(tg_identity_find_org(&identity, "o-1", &membership), TG_ORG_NOT_MEMBER);
    assert_int_equal(tg_identity_find_org(&identity, "o-9", &membership), TG_ORG_MEMBER);
    assert_int_equal(tg_identity_find_org(&identity, NULL, &membership), TG_ORG_MEMBER);
    assert_string_equal(membership.org_name, "Solo");
    json_decref(claims);
}

static void test_malformed_memberships(void **state)
{
    (void)state;
    const char *bad[] = {
        /* key and org_id disagree */
        "{\"user_id\":\"u\",\"org_id_to_org_member_info\":{\"o-1\":{\"org_id\":\"o-2\","
        "\"user_role\":\"Owner\"}}}",
        /* roles not strings */
        "{\"user_id\":\"u\",\"org_id_to_org_member_info\":{\"o-1\":{\"org_id\":\"o-1\","
        "\"user_role\":\"M\",\"inherited_user_roles_plus_current_role\":[\"M\",7]}}}",
        /* control character in a permission */
        "{\"user_id\":\"u\",\"org_id_to_org_member_info\":{\"o-1\":{\"org_id\":\"o-1\","
        "\"user_role\":\"M\",\"user_permissions\":[\"a\\nb\"]}}}",
        /* membership not an object */
        "{\"user_id\":\"u\",\"org_id_to_org_member_info\":{\"o-1\":\"Owner\"}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *claims = parse(bad[i]);
        struct tg_identity identity;
        const char *why;
        assert_int_equal(tg_identity_read(claims, &identity, &why), 0);
        struct tg_membership membership;
        if (tg_identity_find_org(&identity, "o-1", &membership) != TG_ORG_INVALID)
            fail_msg("accepted membership %zu", i);
        json_decref(claims);
    }
    json_t *claims = parse("{\"user_id\":\"u\",\"org_id_to_org_member_info\":[]}");
    struct tg_identity identity;
    const char *why;
    assert_int_equal(tg_identity_read(claims, &identity, &why), -1);
    json_decref(claims);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity_fields),
        cmocka_unit_test(test_unknown_login_method_accepted),
        cmocka_unit_test(test_control_characters_refused),
        cmocka_unit_test(test_too_many_orgs_refused),
        cmocka_unit_test(test_single_role_in_hierarchy),
        cmocka_unit_test(test_multi_role),
        cmocka_unit_test(test_configured_hierarchy_fallback),
        cmocka_unit_test(test_active_org_token),
        cmocka_unit_test(test_malformed_memberships),
    };
    return cmocka_run_group_tests_name("claims", tests, setup, NULL);
}
