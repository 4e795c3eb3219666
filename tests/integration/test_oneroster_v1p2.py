"""OneRoster 1.2 as a source (issue 28): which version a host serves, the same roster read over
1.1 and 1.2, the 1.2-only fields where they belong, and bad 1.2 shapes, against the sandbox SIS
(which serves one generated district under both paths, or under one when told)."""

import pytest

from rostersync.oneroster import ConnectionSettings, NotOneRoster, check_connection
from rostersync.oneroster.records import User
from rostersync.store.roster import UserModel
from rostersync.sync.engine import Outcome
from tests.fixtures.districts import connect_district
from tests.fixtures.synced_roster import synced_roster as roster
from tests.integration.test_sync_engine import sync
from tests.unit.api.handler_client import Api


def check(sis, version="auto", **settings):
    config = ConnectionSettings(host_url=sis.prefixed_host_url, client_id=sis.config.client_id, **settings)
    return check_connection(config, sis.config.client_secret, allow_private=True, version=version)


@pytest.mark.parametrize(
    "versions, prefix, found, tried",
    [
        (("1.1", "1.2"), "", "1.2", ("1.2",)),
        (("1.2",), "", "1.2", ("1.2",)),
        (("1.1",), "", "1.1", ("1.2", "1.1")),
        (("1.1", "1.2"), "/district42", "1.2", ("1.2",)),
        (("1.1",), "/district42", "1.1", ("1.2", "1.1")),
    ],
)
def test_auto_detection_uses_1_2_where_it_answers(make_sandbox_sis, versions, prefix, found, tried):
    sis = make_sandbox_sis(versions=versions, path_prefix=prefix)
    for auth in ("oauth2", "auto"):
        report = check(sis, auth_method=auth)
        assert (report.version, report.versions_tried) == (found, tried)
        assert len(report.schools) == sis.config.schools


def test_a_pinned_version_the_host_does_not_serve_is_not_oneroster(make_sandbox_sis):
    only_1_1 = make_sandbox_sis(versions=("1.1",))
    with pytest.raises(NotOneRoster):
        check(only_1_1, version="1.2", auth_method="oauth2")
    assert check(make_sandbox_sis(versions=("1.2",)), version="1.2").version == "1.2"


def test_1_2_tokens_are_asked_with_the_1_2_scopes(make_sandbox_sis):
    sis = make_sandbox_sis(versions=("1.2",))
    sis.set_quirks(require_scope=True)
    check(sis, auth_method="oauth2")
    granted = [t for t in sis.app.auth._tokens.values()]
    assert granted and all("/spec/or/v1p2/scope/roster-core.readonly" in scope for _, scope in granted)


def test_the_same_district_over_1_1_and_over_1_2_gives_the_same_roster(aws, make_sandbox_sis):
    sis = make_sandbox_sis(versions=("1.1", "1.2"))
    over_1_1 = connect_district(sis, version="1.1")
    over_1_2 = connect_district(sis, version="1.2")
    for district in (over_1_1, over_1_2):
        result = sync(district)
        assert result.outcome == Outcome.SUCCEEDED, result.failure
    first, second = roster(over_1_1), roster(over_1_2)
    assert first["users"] and first["classes"] and first["enrollments"]
    for kind in ("users", "classes", "enrollments"):
        assert first[kind].keys() == second[kind].keys(), kind
        differing = [sid for sid in first[kind] if first[kind][sid] != second[kind][sid]]
        assert not differing, (kind, differing[:3], [(first[kind][s], second[kind][s]) for s in differing[:1]])

    # The 1.2-only fields: on the users the SIS gives them to, over 1.2 only.
    from rostersync.oneroster import OneRosterClient

    with OneRosterClient(
        ConnectionSettings(host_url=sis.prefixed_host_url, client_id=sis.config.client_id, version="1.2"),
        sis.config.client_secret,
        allow_private=True,
    ) as client:
        raw_1_2 = {u.sourced_id: u for u in client.stream("users") if isinstance(u, User)}
    with_pronouns = {sid for sid, u in raw_1_2.items() if u.pronouns}
    with_preferred = {sid for sid, u in raw_1_2.items() if u.preferred_given_name}
    assert with_pronouns and with_preferred
    by_sis_1_2 = {u.sis_sourced_id: u for u in UserModel.query(over_1_2)}
    by_sis_1_1 = {u.sis_sourced_id: u for u in UserModel.query(over_1_1)}
    synced = set(by_sis_1_2)
    for sid in with_pronouns & synced:
        assert by_sis_1_2[sid].pronouns == raw_1_2[sid].pronouns
    for sid in with_preferred & synced:
        assert by_sis_1_2[sid].preferred_given_name == raw_1_2[sid].preferred_given_name
    assert all(u.pronouns is None and u.preferred_given_name is None for u in by_sis_1_1.values())
    assert with_pronouns & synced and with_preferred & synced


def test_an_unknown_1_2_role_is_an_error_for_that_user_not_a_failed_run(aws, make_sandbox_sis):
    sis = make_sandbox_sis(versions=("1.2",))
    with sis.app.store.lock:
        student = next(u for u in sis.app.store.snapshot()["users"] if u.get("role") == "student")
    sis.app.store.put("users", {**student, "role": "wizard"})
    district = connect_district(sis, version="1.2")
    result = sync(district)
    assert result.outcome == Outcome.SUCCEEDED, result.failure
    named = [e for e in result.errors if e.get("sisSourcedId") == student["sourcedId"]]
    assert named and "wizard" in named[0]["message"], result.errors[:3]
    assert UserModel.count(district) > 0


def test_the_connection_api_detects_records_and_shows_the_version(aws, make_sandbox_sis):
    from rostersync.api.app import handle

    api = Api(handle)
    sis = make_sandbox_sis(versions=("1.1", "1.2"), client_secret="sandbox-secret-v1p2-0e1f")
    district_id = api.new_district()

    def put(**extra):
        body = {
            "hostUrl": sis.prefixed_host_url,
            "clientId": sis.config.client_id,
            "clientSecret": sis.config.client_secret,
            **extra,
        }
        return api.call(
            "PUT", f"/districts/{district_id}/sis/connection", role="district_admin", district=district_id, body=body
        )

    detected = put()
    assert detected.status == 200, detected.body
    assert (detected.body["version"], detected.body["requestedVersion"]) == ("1.2", "auto")
    pinned = put(version="1.1")
    assert (pinned.body["version"], pinned.body["requestedVersion"]) == ("1.1", "1.1")
    shown = api.call("GET", f"/districts/{district_id}/sis/connection", role="district_admin", district=district_id)
    assert shown.body["version"] == "1.1"


def test_a_1_2_user_with_no_role_at_a_selected_school_is_skipped_by_role(aws, make_sandbox_sis):
    sis = make_sandbox_sis(versions=("1.2",))
    with sis.app.store.lock:
        data = sis.app.store.snapshot()
    schools = sorted(o["sourcedId"] for o in data["orgs"] if o.get("type") == "school")
    selected, elsewhere = schools[0], schools[1]
    enrolled = {e["user"]["sourcedId"] for e in data["enrollments"] if e.get("status") == "active"}
    student = next(
        u
        for u in data["users"]
        if u.get("role") == "student"
        and u.get("status") == "active"
        and [o["sourcedId"] for o in u.get("orgs") or []] == [selected]
        and u["sourcedId"] in enrolled
    )

    def synced(district):
        result = sync(district)
        assert result.outcome == Outcome.SUCCEEDED, result.failure
        return result, {u.sis_sourced_id for u in UserModel.query(district)}

    before, users_before = synced(connect_district(sis, schools=[selected], version="1.2"))
    assert student["sourcedId"] in users_before
    # Enrolled in classes of the selected school still, but a student (roles[]) only elsewhere.
    sis.app.store.put("users", {**student, "orgs": [{**student["orgs"][0], "sourcedId": elsewhere}]})
    after, users_after = synced(connect_district(sis, schools=[selected], version="1.2"))
    assert student["sourcedId"] not in users_after
    assert users_after == users_before - {student["sourcedId"]}
    role_skips = [r.counts["students"].get("skippedBy", {}).get("role", 0) for r in (before, after)]
    assert role_skips[1] == role_skips[0] + 1, role_skips
