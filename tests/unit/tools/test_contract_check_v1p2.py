"""The 1.2 contract-check runner: how it reads a 1.2 user's role, and what it changes in the shared check."""

from types import SimpleNamespace

from rostersync_tools import contract_check_v1p2 as runner


def org(sourced_id):
    return {"href": f"/ims/oneroster/rostering/v1p2/orgs/{sourced_id}", "sourcedId": sourced_id, "type": "org"}


def user(roles, primary_org=None, **fields):
    record = {"sourcedId": "u1", "status": "active", "roles": roles, **fields}
    if primary_org:
        record["primaryOrg"] = org(primary_org)
    return record


def test_the_role_at_an_org_is_its_primary_one():
    u = user(
        [
            {"roleType": "secondary", "role": "aide", "org": org("s1")},
            {"roleType": "primary", "role": "teacher", "org": org("s1")},
            {"roleType": "primary", "role": "student", "org": org("s2")},
        ]
    )
    assert runner.role_at_org(u, "s1") == "teacher"
    assert runner.role_at_org(u, "s2") == "student"
    assert runner.role_at_org(u, "s3") is None


def test_an_org_with_only_secondary_roles_reads_the_first_of_them():
    """Against the information model (one primary per org), but the user does hold the role there."""
    u = user([{"roleType": "secondary", "role": "teacher", "org": org("s2")}])
    assert runner.role_at_org(u, "s2") == "teacher"
    assert runner.role_in_scope(u, ["s2"]) == "teacher"


def test_in_scope_the_primary_orgs_role_wins_else_the_first_org_in_scope():
    u = user(
        [
            {"roleType": "primary", "role": "student", "org": org("s1")},
            {"roleType": "primary", "role": "teacher", "org": org("s2")},
            {"roleType": "primary", "role": "aide", "org": org("s3")},
        ],
        primary_org="s2",
    )
    assert runner.role_in_scope(u, None) == "teacher"  # every org: primaryOrg's
    assert runner.role_in_scope(u, ["s1", "s2"]) == "teacher"
    assert runner.role_in_scope(u, ["s3", "s1"]) == "student"  # primaryOrg out of scope: roles[] order
    assert runner.role_in_scope(u, ["s3"]) == "aide"
    assert runner.role_in_scope(u, ["s9"]) is None


def test_a_user_with_only_1_1s_role_has_no_1_2_role():
    assert runner.role_in_scope({"sourcedId": "u1", "role": "teacher", "orgs": [org("s1")]}, None) is None
    assert runner.role_in_scope(user([]), None) is None


def test_bare_string_org_references_are_read():
    u = user([{"roleType": "primary", "role": "student", "org": "s1"}], primary_org=None)
    assert runner.role_in_scope(u, ["s1"]) == "student"


def test_the_shared_expectation_gets_users_with_the_role_for_the_selection():
    seen = []

    def shared_expected_roster(state, selection):
        seen.append(({u["sourcedId"]: u["role"] for u in state["data"]["users"]}, selection))
        return {"ok": True}

    multi = user(
        [
            {"roleType": "primary", "role": "teacher", "org": org("s1")},
            {"roleType": "primary", "role": "student", "org": org("s2")},
        ],
        primary_org="s1",
    )
    state = {"day": 1, "data": {"users": [multi], "classes": []}}
    default = {"schools": ["s2"], "grades": None, "subjects": None}
    expected_roster = runner.expected_roster_from_roles(shared_expected_roster, default)

    assert expected_roster(state, {"schools": None}) == {"ok": True}
    assert expected_roster(state, {"schools": ["s2"]}) == {"ok": True}
    assert expected_roster(state) == {"ok": True}
    assert seen == [
        ({"u1": "teacher"}, {"schools": None}),
        ({"u1": "student"}, {"schools": ["s2"]}),
        ({"u1": "student"}, default),
    ]
    assert "role" not in multi  # the SIS's records are left as read


def test_adapting_changes_the_base_path_the_role_reading_and_adds_the_version_check():
    class SharedAcceptance:
        def run(self):
            self.ran = True

    def shared_expected_roster(state, selection):
        return state

    e2e = SimpleNamespace(
        ONEROSTER_BASE="/ims/oneroster/v1p1",
        SELECTION={"schools": None},
        expected_roster=shared_expected_roster,
        GenericAcceptance=SharedAcceptance,
    )
    generic_sis = SimpleNamespace(BASE_PATH="/ims/oneroster/v1p1")
    runner.adapt_to_v1p2(e2e, generic_sis)

    assert generic_sis.BASE_PATH == e2e.ONEROSTER_BASE == "/ims/oneroster/rostering/v1p2"
    state = {"data": {"users": [user([{"roleType": "primary", "role": "teacher", "org": org("s1")}])]}}
    assert e2e.expected_roster(state)["data"]["users"][0]["role"] == "teacher"
    assert issubclass(e2e.GenericAcceptance, SharedAcceptance)
    assert hasattr(e2e.GenericAcceptance, "connection_version")


def test_the_check_folder_defaults_to_shared_beside_the_project(tmp_path, monkeypatch):
    monkeypatch.delenv(runner.CHECK_DIR_ENV, raising=False)
    assert runner.default_check_dir(str(tmp_path / "main")) == tmp_path / "shared" / "contract-check"
    monkeypatch.setenv(runner.CHECK_DIR_ENV, str(tmp_path / "elsewhere"))
    assert runner.default_check_dir(str(tmp_path / "main")) == tmp_path / "elsewhere"
