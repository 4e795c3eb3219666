"""Class matching by title (sync/class_titles.py), the parts that need no store: an enrollment
moved to its class's final id is the item a sync would map for that id (so the next night writes
nothing), and a delta that meets a class to match by title continues as a full sync."""

import json
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

from rostersync.oneroster.records import Enrollment
from rostersync.store.roster import index_key
from rostersync.sync import mapping
from rostersync.sync.account_matching import TITLE_HELD
from rostersync.sync.class_titles import ClassTitles
from rostersync.sync.delta import DeltaNotEnough
from rostersync.sync.fingerprints import FingerprintSet

NOW = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)


def _enrollment(begin=date(2026, 9, 1), end=None, primary=True):
    return Enrollment(
        sourced_id="enr-1",
        status="active",
        date_last_modified=None,
        role="teacher",
        user_id="tch-1",
        class_id="cls-1",
        school_id="sch-1",
        primary=primary,
        begin_date=begin,
        end_date=end,
    )


@pytest.mark.parametrize("record", [_enrollment(), _enrollment(begin=None, end=date(2027, 6, 1), primary=None)])
def test_a_moved_enrollment_is_what_a_sync_maps_for_the_linked_class(record):
    own = mapping.enrollment_item("dst_1", record, "run_1", NOW)
    linked = mapping.enrollment_item(
        "dst_1", record, "run_1", NOW, ids=lambda d, kind, sid: "app-class" if kind == "class" else own["userId"]
    )
    held = json.loads(json.dumps(own, default=str))  # as it was set aside
    mapping.move_enrollment(held, "app-class", index_key("dst_1", "app-class"))
    for name in ("classId", "districtClass", "contentHash", "userId", "districtUser"):
        assert held[name] == linked[name], name
    assert held["contentHash"] != own["contentHash"]  # the class is part of what is hashed


def test_a_delta_that_meets_a_class_to_match_by_title_continues_as_a_full_sync():
    state = SimpleNamespace(mode="delta", sets={"classes_title_held": FingerprintSet()})
    titles = ClassTitles(SimpleNamespace(state=state))
    plain = {"sisSourcedId": "cls-2"}
    assert titles.hold_back([plain]) == [plain]  # nothing marked: nothing to decide
    with pytest.raises(DeltaNotEnough):
        titles.hold_back([plain, {"sisSourcedId": "cls-1", TITLE_HELD: True}])
    assert not state.sets["classes_title_held"]
