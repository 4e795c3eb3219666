"""Issue 13: a re-keyed SIS keeps the ids of records matching linked to app records (and of the
copies a conflict created): the re-key is looked for before matching, so a re-keyed teacher or
class meets its old self, not its own app record as an `already_linked` conflict."""

import requests

from rostersync.aws_clients import dynamodb as dynamodb_client
from rostersync.store.record_links import RecordLinks
from rostersync.store.roster import ClassModel, UserModel
from rostersync.sync.engine import Outcome
from tests.fixtures.roster_oracle import expected_roster
from tests.integration.test_account_matching import (
    assert_oracle,
    matched_district,  # noqa: F401  (a fixture)
)
from tests.integration.test_class_title_matching import titled_district  # noqa: F401  (a fixture)
from tests.integration.test_rekeys import _ids
from tests.integration.test_sync_engine import sync


def test_a_full_rekey_keeps_the_app_ids_matching_linked(titled_district, sandbox_sis):  # noqa: F811
    s = titled_district
    district = s["district"]
    assert sync(district).outcome == Outcome.SUCCEEDED
    before = _ids(district)
    app_teachers = {
        u.user_id: u.sis_sourced_id for u in UserModel.query(district) if u.origin == "app" and u.sis_sourced_id
    }
    assert app_teachers and ClassModel.get(district, "app-x").sis_sourced_id == s["x"]
    answer = requests.post(f"{sandbox_sis.host_url}/_admin/rekey", json={"share": 1.0, "prefix": "v2-"}, timeout=10)
    assert answer.status_code == 200
    result = sync(district)
    assert result.outcome == Outcome.SUCCEEDED, (result.failure, result.held_deactivations)
    assert_oracle(district, expected_roster(sandbox_sis.state()))
    after = _ids(district)
    for kind in ("users", "classes", "enrollments"):
        assert {"v2-" + sid: item_id for sid, item_id in before[kind].items() if sid} == {
            sid: item_id for sid, item_id in after[kind].items() if sid
        }, kind
    for user_id, sid in app_teachers.items():
        user = UserModel.get(district, user_id)
        assert (user.status, user.sis_sourced_id, user.origin) == ("active", "v2-" + sid, "app")
    linked = ClassModel.get(district, "app-x")
    assert (linked.sis_sourced_id, linked.origin) == ("v2-" + s["x"], "app")
    assert not [e for e in result.notices if e["code"] == "match_conflict"]
    for record_type, kinds in result.counts.items():
        assert kinds["created"] == kinds["deactivated"] == 0, (record_type, kinds)
    links = RecordLinks(dynamodb_client(), district)
    assert links.get("app#class#app-x")["sisSourcedId"] == "v2-" + s["x"]  # the reverse link follows


def test_a_full_rekey_keeps_linked_app_users_and_conflict_copies(matched_district, sandbox_sis):  # noqa: F811
    from rostersync.ids import record_id

    m = matched_district
    district = m["district"]
    assert sync(district).outcome == Outcome.SUCCEEDED
    answer = requests.post(f"{sandbox_sis.host_url}/_admin/rekey", json={"share": 1.0, "prefix": "v2-"}, timeout=10)
    assert answer.status_code == 200
    result = sync(district)
    assert result.outcome == Outcome.SUCCEEDED, (result.failure, result.held_deactivations)
    assert_oracle(district, expected_roster(sandbox_sis.state()))
    for sid, app_id in ((m["t_email"], "app-t-email"), (m["s_ident"], "app-s-ident"), (m["s_user"], "app-s-user")):
        user = UserModel.get(district, app_id)
        assert (user.status, user.sis_sourced_id, user.origin) == ("active", "v2-" + sid, "app")
    for sid in (m["s_two"], m["t_role"]):  # the copies a conflict created keep their ids too
        copy = UserModel.get(district, record_id(district, "user", sid))
        assert (copy.status, copy.sis_sourced_id) == ("active", "v2-" + sid)
    assert not [e for e in result.notices if e["code"] == "match_conflict"]
    for record_type, kinds in result.counts.items():
        assert kinds["created"] == kinds["deactivated"] == 0, (record_type, kinds)
