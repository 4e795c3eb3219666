"""Issue 13's passes over a run's own records (the re-key pairing, the class title matching) pause
part way and go on in the next invocation, on any container: a run cut into many short
invocations, with passes of a few records a page, ends exactly like the same run done at once,
and as the oracle says."""

import pytest
import requests

from rostersync.store.roster import ClassModel
from rostersync.sync import record_pass
from rostersync.sync.context import RunContext
from tests.fixtures.roster_oracle import expected_roster
from tests.integration.test_account_matching import assert_oracle
from tests.integration.test_class_title_matching import title_scenario
from tests.integration.test_rekeys import _ids
from tests.integration.test_worker_engine import DISTRICT, engine_domain, short_slice, stored_state, work_until_done
from tests.unit.sync.test_worker import FakeContext


@pytest.fixture
def domain(clean_aws, monkeypatch):
    return engine_domain(clean_aws, monkeypatch)


SIS_DISTRICT = {**DISTRICT, "students": 90, "classes": 16, "teachers": 8}


@pytest.fixture
def pauses(monkeypatch):
    """(phase, cursor) of every pause the engine made."""
    seen = []
    original = RunContext.pause

    def recording(self):
        seen.append((self.state.phase, self.state.cursor))
        original(self)

    monkeypatch.setattr(RunContext, "pause", recording)
    return seen


def _run(domain, district, sliced: bool, monkeypatch):
    run = domain.lifecycle.start_run(district, "manual", "full")
    with pytest.MonkeyPatch.context() as cut:
        if sliced:  # each invocation's time is up after a few looks at the clock
            cut.setattr(domain.worker.TimeBudget, "next_slice", lambda budget: short_slice(domain.worker, looks=4))
        deliveries = work_until_done(domain, district, run.run_id, FakeContext(seconds=900), limit=2000)
    done = domain.store.get_run(district, run.run_id)
    assert done.status == "succeeded", (done.status, done.failure)
    return done, deliveries


def _created(run):
    counts = run.counts.as_dict()
    return {t: (counts[t]["created"], counts[t]["updated"], counts[t]["deactivated"]) for t in counts}


def test_a_rekey_pairing_cut_into_many_invocations_ends_like_one_done_at_once(
    domain, make_sandbox_sis, connected_district, monkeypatch, pauses
):
    sis = make_sandbox_sis(**SIS_DISTRICT)
    at_once, in_slices = connected_district(sis), connected_district(sis)
    for district in (at_once, in_slices):
        _run(domain, district, False, monkeypatch)
    before = {d: _ids(d) for d in (at_once, in_slices)}
    answer = requests.post(f"{sis.host_url}/_admin/rekey", json={"share": 1.0, "prefix": "v2-"}, timeout=10)
    assert answer.status_code == 200, answer.text
    whole, _ = _run(domain, at_once, False, monkeypatch)
    assert not pauses
    monkeypatch.setattr(record_pass, "PAGE_RECORDS", 3)  # passes of many pages
    sliced, deliveries = _run(domain, in_slices, True, monkeypatch)
    paused_in = {phase for phase, cursor in pauses if cursor is not None}
    assert {"pair_classes", "pair_users"} <= paused_in, pauses  # paused inside both pairing passes
    assert deliveries > 20
    expected = expected_roster(sis.state())
    for district in (at_once, in_slices):
        assert_oracle(district, expected)
        after = _ids(district)
        for kind in ("users", "classes", "enrollments"):  # every app id kept
            assert {"v2-" + sid: item_id for sid, item_id in before[district][kind].items()} == after[kind], kind
    assert stored_state(domain, in_slices) == stored_state(domain, at_once)
    assert _created(sliced) == _created(whole)
    assert all(c == 0 and d == 0 for c, _u, d in _created(sliced).values())

    def rekeyed(run):
        return sorted(n["message"] for n in run.notices or [] if n["code"] == "rekeyed")

    assert rekeyed(sliced) == rekeyed(whole) and rekeyed(whole)


def test_title_matching_cut_into_many_invocations_ends_like_one_done_at_once(
    domain, make_sandbox_sis, connected_district, monkeypatch, pauses
):
    sis = make_sandbox_sis(**SIS_DISTRICT)
    raw = sis.state()
    at_once, in_slices = connected_district(sis), connected_district(sis)
    scenarios = {d: title_scenario(raw, d) for d in (at_once, in_slices)}
    whole, _ = _run(domain, at_once, False, monkeypatch)
    monkeypatch.setattr(record_pass, "PAGE_RECORDS", 1)
    sliced, _ = _run(domain, in_slices, True, monkeypatch)
    assert "class_titles" in {phase for phase, cursor in pauses if cursor is not None}, pauses
    for district, s in scenarios.items():
        assert_oracle(district, expected_roster(raw))
        linked = {c.sis_sourced_id: c.class_id for c in ClassModel.query(district) if c.origin == "app"}
        assert linked.get(s["x"]) == "app-x"
    assert stored_state(domain, in_slices) == stored_state(domain, at_once)
    assert _created(sliced) == _created(whole)

    def conflicts(run):
        return sorted(n["sisSourcedId"] for n in run.notices or [] if n["code"] == "match_conflict")

    assert conflicts(sliced) == conflicts(whole) == sorted([scenarios[at_once]["y"], scenarios[at_once]["z"]])
