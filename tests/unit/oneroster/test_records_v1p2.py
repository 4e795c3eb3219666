"""OneRoster 1.2 users parse into the same User record as 1.1 (docs/oneroster.md)."""

from rostersync.oneroster.records import BadRecord, User, parse_record


def org(sourced_id):
    return {"sourcedId": sourced_id, "type": "org", "href": f"/ims/oneroster/rostering/v1p2/orgs/{sourced_id}"}


def user_v1p2(**fields):
    return {
        "sourcedId": "u1",
        "status": "active",
        "dateLastModified": "2026-09-01T00:00:00Z",
        "givenName": "Katherine",
        "familyName": "Lee",
        "username": "klee",
        "email": "klee@example.org",
        "identifier": "S100",
        "enabledUser": "true",
        "roles": [{"roleType": "primary", "role": "student", "org": org("sch1")}],
        **fields,
    }


def test_roles_decide_the_role_and_the_schools_primary_org_first():
    raw = user_v1p2(
        roles=[
            {"roleType": "secondary", "role": "teacher", "org": org("sch2")},
            {"roleType": "primary", "role": "teacher", "org": org("sch3")},
            {"roleType": "secondary", "role": "aide", "org": org("sch4")},
        ],
        primaryOrg=org("sch3"),
    )
    user = parse_record("users", raw, "1.2")
    assert isinstance(user, User)
    assert (user.role, user.org_ids) == ("teacher", ("sch3", "sch2"))  # the aide role's school is not a teacher's


def test_without_a_primary_role_the_first_role_counts():
    raw = user_v1p2(roles=[{"roleType": "secondary", "role": "Student", "org": org("a")}])
    user = parse_record("users", raw, "1.2")
    assert (user.role, user.org_ids) == ("student", ("a",))


def test_preferred_names_pronouns_and_master_identifier_are_kept():
    raw = user_v1p2(
        preferredFirstName="Kate",
        preferredLastName="Lee-Park",
        pronouns="she/her",
        userMasterIdentifier="M-9",
        identifier=None,
    )
    user = parse_record("users", raw, "1.2")
    assert (user.preferred_given_name, user.preferred_family_name, user.pronouns) == ("Kate", "Lee-Park", "she/her")
    assert (user.master_identifier, user.identifier) == ("M-9", "M-9")  # no identifier: the master one stands in


def test_an_unknown_role_is_an_error_for_that_record_naming_the_role():
    bad = parse_record("users", user_v1p2(roles=[{"roleType": "primary", "role": "wizard", "org": org("a")}]), "1.2")
    assert isinstance(bad, BadRecord)
    assert (bad.code, bad.sourced_id) == ("invalid_record", "u1")
    assert "'wizard'" in bad.message and "1.2" in bad.message


def test_an_extension_role_is_kept_as_given():
    user = parse_record(
        "users", user_v1p2(roles=[{"roleType": "primary", "role": "ext:coach", "org": org("a")}]), "1.2"
    )
    assert user.role == "ext:coach"


def test_a_user_with_no_roles_at_all_is_an_error():
    raw = user_v1p2()
    del raw["roles"]
    bad = parse_record("users", raw, "1.2")
    assert isinstance(bad, BadRecord) and "no roles" in bad.message


def test_a_1_1_shaped_user_on_a_1_2_server_is_read_as_1_1_reads_it():
    raw = user_v1p2(role="teacher", orgs=[org("x"), org("y")])
    del raw["roles"]
    user = parse_record("users", raw, "1.2")
    assert (user.role, user.org_ids) == ("teacher", ("x", "y"))


def test_1_1_parsing_is_unchanged_and_leaves_the_1_2_fields_empty():
    raw = {
        "sourcedId": "u2",
        "status": "active",
        "role": "student",
        "orgs": [org("s")],
        "givenName": "A",
        "preferredFirstName": "ignored?",
    }
    user = parse_record("users", raw, "1.1")
    assert (user.role, user.org_ids, user.pronouns, user.master_identifier) == ("student", ("s",), None, None)
    # an unknown role stays lenient under 1.1 (kept as given)
    assert parse_record("users", {**raw, "role": "wizard"}, "1.1").role == "wizard"
