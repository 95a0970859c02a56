/* SPDX-License-Identifier: Apache-2.0 */
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

static struct tg_json document;

static const struct tg_json *parse(const char *text)
{
    if (tg_json_parse(&document, text, strlen(text)) != 0)
        fail_msg("bad test JSON: %s", text);
    return &document;
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
    const struct tg_json *claims = parse(full_claims);
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
    assert_true(identity.org_map >= 0);
    assert_int_equal(identity.active_org, -1);
}

static void test_unknown_login_method_accepted(void **state)
{
    (void)state;
    const struct tg_json *claims = parse("{\"user_id\":\"u\",\"login_method\":{\"login_method\":\"quantum\","
                           "\"provider\":\"NewIdP\"}}");
    struct tg_identity identity;
    const char *why;
    assert_int_equal(tg_identity_read(claims, &identity, &why), 0);
    assert_string_equal(identity.login_method, "quantum");
    claims = parse("{\"user_id\":\"u\",\"login_method\":\"odd shape\"}");
    assert_int_equal(tg_identity_read(claims, &identity, &why), 0);
    assert_null(identity.login_method);
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
        /* Line and paragraph separators: line breaks to JavaScript,
         * Python's splitlines() and log viewers; as escapes and raw. */
        "{\"user_id\":\"u\",\"email\":\"a\\u2028b\"}",
        "{\"user_id\":\"u\\u2029\"}",
        "{\"user_id\":\"u\",\"first_name\":\"a\xe2\x80\xa8" "b\"}",
        "{\"user_id\":\"u\",\"last_name\":\"\xc2\x85\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        /* Refused by the JSON reader (\u0000) or by the identity. */
        if (tg_json_parse(&document, bad[i], strlen(bad[i])) != 0)
            continue;
        struct tg_identity identity;
        const char *why = NULL;
        if (tg_identity_read(&document, &identity, &why) != -1)
            fail_msg("accepted %s", bad[i]);
        assert_non_null(why);
        }
    assert_true(tg_text_is_single_line("Zoë Ångström 😀"));
    /* Neighbours of the separators are ordinary text. */
    assert_true(tg_text_is_single_line("\xe2\x80\xa7 \xe2\x80\xaa \xe2\x82\xac \xc2\xa0"));
    assert_false(tg_text_is_single_line("a\xe2\x80\xa9"));
    /* What the log replaces: each control character, whole. */
    assert_int_equal(tg_text_control_length("\n"), 1);
    assert_int_equal(tg_text_control_length("\x7f"), 1);
    assert_int_equal(tg_text_control_length("\xc2\x85"), 2);
    assert_int_equal(tg_text_control_length("\xe2\x80\xa8"), 3);
    assert_int_equal(tg_text_control_length("\xe2\x80\xa7"), 0);
    assert_int_equal(tg_text_control_length("\xc2\xa0"), 0);
    assert_int_equal(tg_text_control_length("a"), 0);
    assert_int_equal(tg_text_control_length(""), 0);
}

static void test_too_many_orgs_refused(void **state)
{
    (void)state;
    /* Small memberships so that 1,001 of them fit in a token's claims. */
    for (int orgs = TG_ORGS_MAX; orgs <= TG_ORGS_MAX + 1; orgs++) {
        static char text[TG_JSON_TEXT_MAX];
        size_t used = (size_t)snprintf(text, sizeof text,
                                       "{\"user_id\":\"u\",\"org_id_to_org_member_info\":{");
        for (int i = 0; i < orgs; i++)
            used += (size_t)snprintf(text + used, sizeof text - used, "%s\"%x\":{}",
                                     i ? "," : "", i);
        used += (size_t)snprintf(text + used, sizeof text - used, "}}");
        assert_true(used < sizeof text - 1);
        const struct tg_json *claims = parse(text);
        struct tg_identity identity;
        const char *why = NULL;
        if (orgs > TG_ORGS_MAX) {
            assert_int_equal(tg_identity_read(claims, &identity, &why), -1);
            assert_non_null(strstr(why, "too many"));
        } else {
            assert_int_equal(tg_identity_read(claims, &identity, &why), 0);
        }
    }
}

static void test_single_role_in_hierarchy(void **state)
{
    (void)state;
    const struct tg_json *claims = parse(full_claims);
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
}

static void test_multi_role(void **state)
{
    (void)state;
    const struct tg_json *claims = parse(full_claims);
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
}

static void test_configured_hierarchy_fallback(void **state)
{
    (void)state;
    const struct tg_json *claims = parse(full_claims);
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
}

static void test_active_org_token(void **state)
{
    (void)state;
    const struct tg_json *claims = parse("{\"user_id\":\"u\",\"org_member_info\":{\"org_id\":\"o-9\","
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
        /* a comma in a role or permission: the lists are comma-separated */
        "{\"user_id\":\"u\",\"org_id_to_org_member_info\":{\"o-1\":{\"org_id\":\"o-1\","
        "\"user_role\":\"M\",\"user_permissions\":[\"read,admin\"]}}}",
        "{\"user_id\":\"u\",\"org_id_to_org_member_info\":{\"o-1\":{\"org_id\":\"o-1\","
        "\"user_role\":\"Member,Owner\"}}}",
        "{\"user_id\":\"u\",\"org_id_to_org_member_info\":{\"o-1\":{\"org_id\":\"o-1\","
        "\"user_role\":\"M\",\"inherited_user_roles_plus_current_role\":[\"M\",\"A,O\"]}}}",
        "{\"user_id\":\"u\",\"org_id_to_org_member_info\":{\"o-1\":{\"org_id\":\"o-1\","
        "\"user_role\":\"M\",\"org_role_structure\":\"multi_role\","
        "\"additional_roles\":[\"A,O\"]}}}",
        /* membership not an object */
        "{\"user_id\":\"u\",\"org_id_to_org_member_info\":{\"o-1\":\"Owner\"}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const struct tg_json *claims = parse(bad[i]);
        struct tg_identity identity;
        const char *why;
        assert_int_equal(tg_identity_read(claims, &identity, &why), 0);
        struct tg_membership membership;
        if (tg_identity_find_org(&identity, "o-1", &membership) != TG_ORG_INVALID)
            fail_msg("accepted membership %zu", i);
        }
    const struct tg_json *claims = parse("{\"user_id\":\"u\",\"org_id_to_org_member_info\":[]}");
    struct tg_identity identity;
    const char *why;
    assert_int_equal(tg_identity_read(claims, &identity, &why), -1);
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
