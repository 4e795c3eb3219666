"""The district run lock and run records on the embedded DynamoDB (tests/fixtures/aws.py).

Domain modules are imported inside the fixtures: the store models read their table names
when first imported, which must happen after the `aws` fixture set the environment.
"""

import threading
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from rostersync.ids import new_id


def make_district(
    district_id: str | None = None,
    tz: str = "America/Chicago",
    start_date: str = "2026-12-01",
    enabled: bool = True,
    connected: bool = True,
    configured: bool = True,
    **extra,
):
    """A district as setup leaves it: connected to an SIS and configured (or not; configured, the
    dispatcher's next tick looks at it, as after PUT .../sync-config)."""
    from rostersync.store.districts import ASAP, DistrictModel, SisConnection, SyncConfig, due_shard

    now = datetime.now(UTC)
    district_id = district_id or new_id("dst")
    if configured:
        extra = {"next_sync_at": ASAP, "due_shard": due_shard(district_id), **extra}
    district = DistrictModel(
        district_id,
        name="Test district",
        timezone=tz,
        created_at=now,
        connection=(
            SisConnection(
                host_url="https://sis.example.org",
                client_id="client",
                auth_method="oauth2",
                secret_name="rostersync/test/district/x",
                connected_at=now,
            )
            if connected
            else None
        ),
        sync_config=(
            SyncConfig(schools=None, grades=None, subjects=None, start_date=start_date, enabled=enabled, updated_at=now)
            if configured
            else None
        ),
        **extra,
    )
    district.save()
    return district


def result(
    outcome: str = "succeeded",
    counts=None,
    errors=None,
    error_total=None,
    failure=None,
    held=None,
    mode="full",
    notices=None,
):
    """What the engine returns (rostersync.sync.engine.SyncResult's fields)."""
    errors = errors or []
    return SimpleNamespace(
        outcome=outcome,
        mode=mode,
        counts=counts or {},
        errors=errors,
        notices=notices or [],
        error_total=len(errors) if error_total is None else error_total,
        failure=failure,
        held_deactivations=held,
    )


@pytest.fixture
def domain(aws):
    from rostersync.store import sync_runs as store
    from rostersync.sync import run_lifecycle

    return SimpleNamespace(store=store, lifecycle=run_lifecycle)


def test_a_second_run_while_one_is_queued_gets_run_in_progress(domain):
    district = make_district()
    first = domain.lifecycle.start_run(district.district_id, "manual", "full")
    assert first.status == "queued"
    with pytest.raises(domain.lifecycle.RunInProgress) as busy:
        domain.lifecycle.start_run(district.district_id, "manual", "delta")
    assert busy.value.run_id == first.run_id
    stored = domain.store.get_district(district.district_id)
    assert stored.active_run_id == first.run_id
    assert stored.lock_expires_at > domain.lifecycle.clock()
    page, _ = domain.store.list_runs(district.district_id, 10)
    assert [run.run_id for run in page] == [first.run_id]


def test_concurrent_takes_create_exactly_one_run(domain, serializable_dynamodb):
    district = make_district()
    outcomes, barrier = [], threading.Barrier(8)

    def take():
        barrier.wait()
        try:
            outcomes.append(("run", domain.lifecycle.start_run(district.district_id, "manual", "full").run_id))
        except domain.lifecycle.RunInProgress as busy:
            outcomes.append(("busy", busy.run_id))

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [run_id for kind, run_id in outcomes if kind == "run"]
    assert len(winners) == 1
    assert all(run_id == winners[0] for kind, run_id in outcomes if kind == "busy")
    page, _ = domain.store.list_runs(district.district_id, 50)
    assert [run.run_id for run in page] == winners


def test_a_stale_lock_is_taken_over_and_its_run_failed(domain, monkeypatch):
    district = make_district()
    stale = domain.lifecycle.start_run(district.district_id, "nightly", "full", night="2026-12-02")
    assert domain.lifecycle.claim(stale, "message-1")  # a worker started it, then died
    real_clock = domain.lifecycle.clock
    # Still heart-beating (lock in the future): no takeover.
    with pytest.raises(domain.lifecycle.RunInProgress):
        domain.lifecycle.start_run(district.district_id, "manual", "full")
    # Past the lock's expiry with no heartbeat: taken over.
    monkeypatch.setattr(domain.lifecycle, "clock", lambda: real_clock() + domain.lifecycle.RUNNING_LOCK_SECONDS + 5)
    announced = []
    monkeypatch.setattr(
        domain.lifecycle.announce, "run_failed", lambda run, failure: announced.append((run.run_id, failure))
    )
    fresh = domain.lifecycle.start_run(district.district_id, "manual", "full")
    old = domain.store.get_run(district.district_id, stale.run_id)
    assert old.status == "failed"
    assert old.failure == domain.lifecycle.WORKER_STOPPED
    # Its contacts and the app hear of it like any failed run's (events, email).
    assert announced == [(stale.run_id, domain.lifecycle.WORKER_STOPPED)]
    assert old.finished_at is not None
    assert domain.store.get_district(district.district_id).active_run_id == fresh.run_id
    # The old worker wakes up: its heartbeat and its finish are refused, the new lock stays.
    with pytest.raises(domain.lifecycle.LockLost):
        domain.lifecycle.heartbeat(old, "message-1", {})
    assert not domain.lifecycle.finish(old, "message-1", "succeeded", result())
    assert domain.store.get_run(district.district_id, stale.run_id).status == "failed"
    assert domain.store.get_district(district.district_id).active_run_id == fresh.run_id


def test_a_queued_run_keeps_its_lock_longer_than_a_running_one(domain, monkeypatch):
    district = make_district()
    queued = domain.lifecycle.start_run(district.district_id, "manual", "full")
    real_clock = domain.lifecycle.clock
    # A queued run may wait in a busy queue longer than a heartbeat interval.
    monkeypatch.setattr(domain.lifecycle, "clock", lambda: real_clock() + domain.lifecycle.RUNNING_LOCK_SECONDS + 5)
    with pytest.raises(domain.lifecycle.RunInProgress) as busy:
        domain.lifecycle.start_run(district.district_id, "manual", "full")
    assert busy.value.run_id == queued.run_id


def test_finishing_records_the_result_and_releases_the_lock(domain):
    district = make_district()
    run = domain.lifecycle.start_run(district.district_id, "manual", "full")
    assert domain.lifecycle.claim(run, "m1")
    errors = [
        {"type": "students", "sisSourcedId": f"s{i}", "code": "missing_field", "message": "no name"}
        for i in range(domain.store.MAX_STORED_ERRORS + 50)
    ]
    counts = {"students": {"created": 7, "skipped": len(errors)}}
    assert domain.lifecycle.finish(run, "m1", "succeeded", result(counts=counts, errors=errors, mode="delta"))
    stored = domain.store.get_run(district.district_id, run.run_id)
    assert stored.status == "succeeded"
    assert stored.mode == "delta" and stored.requested_mode == "full"
    assert stored.finished_at is not None and stored.started_at is not None
    assert stored.invocations == 1
    assert stored.counts["students"]["created"] == 7
    assert stored.counts["teachers"] == {**{k: 0 for k in domain.store.COUNT_KINDS}, "skippedBy": {}}
    assert len(stored.errors) == domain.store.MAX_STORED_ERRORS
    assert stored.error_total == domain.store.MAX_STORED_ERRORS + 50
    assert stored.lease_id is None
    assert domain.store.get_district(district.district_id).active_run_id is None
    # Free again.
    domain.lifecycle.start_run(district.district_id, "manual", "full")


def test_errors_accumulate_across_invocations_up_to_the_bound(domain):
    district = make_district()
    run = domain.lifecycle.start_run(district.district_id, "manual", "full")
    cap = domain.store.MAX_STORED_ERRORS
    first = [{"type": "classes", "sisSourcedId": f"c{i}", "code": "bad", "message": "x"} for i in range(cap - 10)]
    second = [{"type": "users", "sisSourcedId": f"u{i}", "code": "bad", "message": "y"} for i in range(30)]
    assert domain.lifecycle.claim(run, "m1")
    domain.lifecycle.record_continuation(run, "m1", result("continue", errors=first, error_total=len(first)))
    assert domain.lifecycle.claim(run, "m2")
    domain.lifecycle.finish(run, "m2", "succeeded", result(errors=second, error_total=len(first) + len(second)))
    stored = domain.store.get_run(district.district_id, run.run_id)
    assert len(stored.errors) == cap
    assert stored.errors[0].sis_sourced_id == "c0"
    assert stored.errors[-1].sis_sourced_id == "u9"  # the first ten of the second batch fit
    assert stored.error_total == len(first) + len(second)
    assert stored.invocations == 2


def test_a_lock_left_by_a_finished_run_is_free(domain):
    district = make_district()
    run = domain.lifecycle.start_run(district.district_id, "manual", "full")
    # Finished, but the release was lost (a crash between the two writes).
    domain.store.update_run(run, [domain.store.SyncRunModel.status.set("succeeded")])
    fresh = domain.lifecycle.start_run(district.district_id, "manual", "full")
    assert domain.store.get_run(district.district_id, run.run_id).status == "succeeded"
    assert domain.store.get_district(district.district_id).active_run_id == fresh.run_id


def test_one_nightly_run_per_night(domain):
    district = make_district()
    run = domain.lifecycle.start_run(district.district_id, "nightly", "full", night="2026-12-02")
    assert domain.store.get_district(district.district_id).last_nightly_night == "2026-12-02"
    assert domain.lifecycle.claim(run, "m1") and domain.lifecycle.finish(run, "m1", "succeeded", result())
    with pytest.raises(domain.lifecycle.NightAlreadyDispatched):
        domain.lifecycle.start_run(district.district_id, "nightly", "full", night="2026-12-02")
    with pytest.raises(domain.lifecycle.NightAlreadyDispatched):
        domain.lifecycle.start_run(district.district_id, "nightly", "full", night="2026-12-01")
    domain.lifecycle.start_run(district.district_id, "nightly", "full", night="2026-12-03")


def test_a_busy_district_does_not_get_its_night_marked(domain):
    district = make_district()
    manual = domain.lifecycle.start_run(district.district_id, "manual", "full")
    with pytest.raises(domain.lifecycle.RunInProgress):
        domain.lifecycle.start_run(district.district_id, "nightly", "full", night="2026-12-02")
    assert domain.store.get_district(district.district_id).last_nightly_night is None
    assert domain.store.get_district(district.district_id).active_run_id == manual.run_id


def test_unknown_district(domain):
    with pytest.raises(domain.lifecycle.DistrictNotFound):
        domain.lifecycle.start_run("dst_missing", "manual", "full")


def test_runs_are_listed_newest_first_in_pages(domain):
    district = make_district()
    created = []
    for _ in range(5):
        run = domain.lifecycle.start_run(district.district_id, "manual", "full")
        domain.lifecycle.claim(run, "m")
        domain.lifecycle.finish(run, "m", "succeeded", result())
        created.append(run.run_id)
    first, after = domain.store.list_runs(district.district_id, 2)
    second, after2 = domain.store.list_runs(district.district_id, 2, after)
    third, after3 = domain.store.list_runs(district.district_id, 2, after2)
    listed = [r.run_id for r in first + second + third]
    assert listed == list(reversed(created))
    assert after3 is None
