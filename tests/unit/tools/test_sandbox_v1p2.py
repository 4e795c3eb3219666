"""The sandbox's 1.2 users: roles[] as the 1.2 information model shapes them."""

from rostersync_tools.sandbox_sis import v1p2


def org(sourced_id):
    return {"href": f"/ims/oneroster/v1p1/orgs/{sourced_id}", "sourcedId": sourced_id, "type": "org"}


def test_a_teacher_at_two_schools_holds_a_primary_role_at_each():
    """RoleDType.roleType: "one, and only one, primary role for each org"."""
    teacher = {"sourcedId": "tch-1", "status": "active", "role": "teacher", "orgs": [org("s1"), org("s2")]}
    shaped = v1p2.user(teacher)
    assert shaped["roles"] == [
        {"roleType": "primary", "role": "teacher", "org": org("s1")},
        {"roleType": "primary", "role": "teacher", "org": org("s2")},
    ]
    assert shaped["primaryOrg"] == org("s1")
    assert "role" not in shaped and "orgs" not in shaped


def test_1_1_administrator_is_1_2_district_administrator():
    admin = {"sourcedId": "adm-1", "status": "active", "role": "administrator", "orgs": [org("d1")]}
    assert v1p2.user(admin)["roles"] == [{"roleType": "primary", "role": "districtAdministrator", "org": org("d1")}]
