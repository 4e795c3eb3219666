"""The pipeline's phase lists (sync/phases.py): which phases each mode runs and in what order,
that every phase maps to a unit, and that the saved names are those older checkpoints hold."""

import json

import pytest

from rostersync.sync import phases
from rostersync.sync.fingerprints import FingerprintSet
from rostersync.sync.run_state import SETS, Mode, Phase, RunState

# The phase lists as the engine before the pipeline spelled them (its FULL_PHASES and
# DELTA_PHASES): a checkpoint saved mid-run by that engine names these.
OLD_FULL = (
    "schools",
    "courses",
    "terms",
    "classes",
    "pair_classes",
    "users",
    "pair_users",
    "enrollments",
    "class_titles",
    "write_users",
    "write_terms",
    "sweep",
    "done",
)
OLD_DELTA = (
    "schools",
    "courses",
    "terms",
    "delta_classes",
    "delta_users",
    "delta_enrollments",
    "write_terms",
    "delta_finish",
    "done",
)


def _walk(mode: Mode) -> list[Phase]:
    seen, phase = [], phases.PLANS[mode][0]
    while phase != Phase.DONE:
        seen.append(phase)
        phase = phases.next_phase(mode, phase)
    return [*seen, Phase.DONE]


@pytest.mark.parametrize(("mode", "old"), [(Mode.FULL, OLD_FULL), (Mode.DELTA, OLD_DELTA), (Mode.PREVIEW, OLD_FULL)])
def test_each_mode_walks_the_phases_the_engine_always_ran(mode, old):
    assert [str(p) for p in _walk(mode)] == list(old)


def test_full_and_preview_are_the_same_list_and_delta_shares_the_reads_that_need_no_cursor():
    assert phases.PLANS[Mode.PREVIEW] == phases.PLANS[Mode.FULL]
    shared = set(phases.FULL) & set(phases.DELTA)
    assert shared == {Phase.SCHOOLS, Phase.COURSES, Phase.TERMS, Phase.WRITE_TERMS}


@pytest.mark.parametrize("mode", list(Mode))
def test_every_phase_of_a_mode_has_a_unit_once_and_deactivation_comes_last(mode):
    plan = phases.PLANS[mode]
    assert len(set(plan)) == len(plan)
    assert all(callable(phases.unit(phase)) for phase in plan)
    assert Phase.REVIEW not in plan and Phase.DONE not in plan
    assert plan[-1] == phases.APPLY_HELD[mode]  # an approval goes on with the mode's deactivation step


def test_every_unit_belongs_to_some_mode():
    assert set(phases.UNITS) == set(phases.FULL) | set(phases.DELTA)


def test_a_phase_outside_the_modes_list_has_no_next():
    with pytest.raises(ValueError):
        phases.next_phase(Mode.DELTA, Phase.SWEEP)


def test_a_state_saved_with_plain_strings_loads_as_enums_and_saves_the_same():
    saved = {
        "mode": "delta",
        "plan": {"selection": {"schools": None, "grades": None, "subjects": None}, "guardMaxShare": 0.2,
                 "guardMinRecords": 25, "connection": {"hostUrl": "https://sis.example"}},
        "startedAt": "2026-12-01T02:00:00+00:00",
        "phase": "delta_users",
        "offset": 2000,
        "lastPageSize": 1000,
        "cursor": None,
        "counts": {"students": {"created": 3, "updated": 0, "unchanged": 9, "deactivated": 0, "skipped": 1}},
        "errorTotal": 1,
        "schoolMap": {}, "sisSchools": [], "matchedSchools": [], "appMatches": {}, "courseSubjects": {},
        "grades": [], "subjects": [], "hadItems": {}, "parked": [], "approved": False, "held": None,
        "delta": {"since": "2026-11-30T01:50:00+00:00", "changedClasses": {}, "changedUsers": {"u1": True},
                  "outEnrollments": [], "enrolledUsers": [], "recheckUsers": []},
    }  # fmt: skip
    state = RunState.from_json(saved, {name: FingerprintSet() for name in SETS})
    assert state.mode is Mode.DELTA and state.phase is Phase.DELTA_USERS
    again = json.loads(json.dumps(state.to_json()))
    assert again["mode"] == "delta" and again["phase"] == "delta_users"
    assert {k: v for k, v in again.items() if k in saved} == saved
