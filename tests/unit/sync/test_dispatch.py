"""The nightly dispatcher on the embedded AWS: each district's own night, once per night,
from its start date on, also when the dispatcher is retried or runs twice at once."""

import json
import threading
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest

from rostersync.settings import dispatch_spread_seconds
from rostersync.sync.schedule import night_window_start
from tests.unit.sync.test_locks import make_district, result


@pytest.fixture
def domain(clean_aws):
    from rostersync.store import sync_runs as store
    from rostersync.sync import dispatch, messages, run_lifecycle

    return SimpleNamespace(aws=clean_aws, store=store, dispatch=dispatch, messages=messages, lifecycle=run_lifecycle)


def drain(domain) -> list[dict]:
    """Every message on the sync queue (deleted as read)."""
    import os

    sqs, url, bodies = domain.aws.client("sqs"), os.environ["SYNC_QUEUE_URL"], []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            return bodies
        for message in batch:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def work_off(domain, district_ids) -> None:
    """What the worker would do with each queued run: run it to success (the lock is freed)."""
    for district_id in district_ids:
        district = domain.store.get_district(district_id)
        if district.active_run_id:
            run = domain.store.get_run(district_id, district.active_run_id)
            assert domain.lifecycle.claim(run, f"msg-{run.run_id}")
            assert domain.lifecycle.finish(run, f"msg-{run.run_id}", "succeeded", result())


def nights_of(domain, district_id) -> list[str]:
    page, _ = domain.store.list_runs(district_id, 100)
    assert all(run.trigger == "nightly" for run in page)
    return sorted(run.night for run in page)


def ticks(start: str, end: str, every_minutes: int = 30):
    at = datetime.fromisoformat(start).replace(tzinfo=UTC)
    stop = datetime.fromisoformat(end).replace(tzinfo=UTC)
    while at < stop:
        yield at
        at += timedelta(minutes=every_minutes)


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def first_tick_at_or_after(instant: datetime, every_minutes: int = 30) -> datetime:
    step = every_minutes * 60
    return datetime.fromtimestamp(-(-instant.timestamp() // step) * step, UTC)


def test_each_district_runs_once_in_its_own_night_from_its_start_date(domain):
    chicago = make_district(tz="America/Chicago", start_date="2026-12-02")  # night = 07:00-11:00 UTC
    kolkata = make_district(tz="Asia/Kolkata", start_date="2026-12-02")  # night = 19:30-23:30 UTC, day before
    created_at: dict[str, list[tuple[str, str]]] = {chicago.district_id: [], kolkata.district_id: []}
    looked_at = 0
    for at in ticks("2026-11-30T12:00:00", "2026-12-04T00:00:00"):
        summary = domain.dispatch.dispatch_due_districts(iso(at))
        assert summary["failed"] == 0
        looked_at += summary["checked"]
        bodies = drain(domain)
        sweeps = [b for b in bodies if b["action"] == "sweep"]
        # The day's first tick also queues the sweep of purged districts, once (not a run).
        assert sweeps == (
            [{"districtId": "*", "runId": at.date().isoformat(), "action": "sweep"}]
            if at.hour == 0 and at.minute < 30
            else []
        )
        if summary["enqueued"] or summary["resent"]:
            for body in bodies:
                if body["action"] == "sweep":
                    continue
                created_at[body["districtId"]].append((iso(at), body["runId"]))
                assert body["action"] == "run"
            work_off(domain, created_at)
        else:
            assert bodies == sweeps  # nothing was sent that the summaries did not count
    assert drain(domain) == []
    # Each district is looked at when it is configured, when its night comes and once after
    # (a lost message): never on the ticks between (a scan looked at both on all 168 ticks).
    assert looked_at <= 2 * (1 + 3 * 2)

    def expected(district, tz, nights):
        """The tick of each night: the first at or after its jittered moment (configured before it)."""
        return [
            iso(first_tick_at_or_after(night_window_start(tz, night) + jitter(district, night)))
            for night in (date.fromisoformat(n) for n in nights)
        ]

    def jitter(district, night):
        return timedelta(seconds=domain.dispatch.jitter_seconds(district.district_id, night))

    # Chicago: nothing on the night of 12-01 (before the start date); 12-02 and 12-03, each within
    # the first two hours of its night (jittered).
    assert [at for at, _ in created_at[chicago.district_id]] == expected(
        chicago, "America/Chicago", ["2026-12-02", "2026-12-03"]
    )
    assert nights_of(domain, chicago.district_id) == ["2026-12-02", "2026-12-03"]
    # Kolkata (UTC+5:30): its night of 12-02 starts at 19:30 UTC on 12-01; the night of 12-01
    # (30 Nov 19:30 UTC) is before its start date.
    assert [at for at, _ in created_at[kolkata.district_id]] == expected(
        kolkata, "Asia/Kolkata", ["2026-12-02", "2026-12-03", "2026-12-04"]
    )
    assert nights_of(domain, kolkata.district_id) == ["2026-12-02", "2026-12-03", "2026-12-04"]
    for district_id, created in created_at.items():
        for at, run_id in created:  # every run within the spread (+ a tick) of its night
            night = domain.store.get_run(district_id, run_id).night
            tz = "America/Chicago" if district_id == chicago.district_id else "Asia/Kolkata"
            late = parse(at) - night_window_start(tz, date.fromisoformat(night))
            assert timedelta(0) <= late <= timedelta(seconds=dispatch_spread_seconds() + 30 * 60)


def parse(at: str) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00"))


def test_instants_around_midnight(domain):
    berlin = make_district(tz="Europe/Berlin", start_date="2026-12-02")  # UTC+1 in December
    # 23:59 local on 12-01 and 00:30 local on 12-02: not yet the night.
    for at in ("2026-12-01T22:59:00Z", "2026-12-01T23:30:00Z", "2026-12-01T23:59:59Z"):
        assert domain.dispatch.dispatch_due_districts(at)["enqueued"] == 0
    # Its night opens at 01:00 local; it is due at its jittered moment in the night's first hours.
    due_at = datetime(2026, 12, 2, 0, 0, tzinfo=UTC) + timedelta(
        seconds=domain.dispatch.jitter_seconds(berlin.district_id, date(2026, 12, 2))
    )
    assert domain.dispatch.dispatch_due_districts(iso(due_at - timedelta(seconds=1)))["enqueued"] == 0
    assert domain.dispatch.dispatch_due_districts(iso(due_at + timedelta(seconds=1)))["enqueued"] == 1
    work_off(domain, [berlin.district_id])
    # 04:59 local: already done; 05:00 local: outside the window.
    assert domain.dispatch.dispatch_due_districts("2026-12-02T03:59:00Z")["enqueued"] == 0
    assert domain.dispatch.dispatch_due_districts("2026-12-02T04:00:00Z")["enqueued"] == 0
    assert nights_of(domain, berlin.district_id) == ["2026-12-02"]
    # One run; the ticks between 00:00 and 00:30 UTC also queued the day's sweep.
    assert [b["action"] for b in drain(domain) if b["action"] != "sweep"] == ["run"]


def test_a_retried_dispatcher_creates_nothing_new(domain):
    district = make_district(start_date="2026-12-02")
    first = domain.dispatch.dispatch_due_districts("2026-12-02T08:00:00Z")
    again = domain.dispatch.dispatch_due_districts("2026-12-02T08:00:00Z")
    assert (first["due"], first["enqueued"]) == (1, 1)
    assert again["enqueued"] == 0 and again["resent"] == 0
    assert len(nights_of(domain, district.district_id)) == 1
    assert len(drain(domain)) == 1


def test_a_dispatcher_that_died_before_sending_gets_the_message_out_on_retry(domain, monkeypatch):
    district = make_district(start_date="2026-12-02")
    real_send = domain.messages.send_run_messages

    def crash(_messages, url=None):
        raise RuntimeError("the dispatcher's Lambda ran out of time")

    monkeypatch.setattr(domain.messages, "send_run_messages", crash)
    with pytest.raises(RuntimeError):
        domain.dispatch.dispatch_due_districts("2026-12-02T08:00:00Z")
    assert len(nights_of(domain, district.district_id)) == 1
    assert drain(domain) == []

    monkeypatch.setattr(domain.messages, "send_run_messages", real_send)
    # Right after (a dispatcher running alongside): the run is too fresh to re-send.
    assert domain.dispatch.dispatch_due_districts("2026-12-02T08:01:00Z")["resent"] == 0
    # EventBridge's retry, minutes later: the queued, never picked-up run is sent again.
    real_clock = domain.lifecycle.clock
    monkeypatch.setattr(domain.lifecycle, "clock", lambda: real_clock() + domain.dispatch.RESEND_AFTER_SECONDS + 1)
    summary = domain.dispatch.dispatch_due_districts("2026-12-02T08:30:00Z")
    assert (summary["enqueued"], summary["resent"]) == (0, 1)
    (body,) = drain(domain)
    assert body["runId"] == domain.store.get_district(district.district_id).active_run_id
    assert len(nights_of(domain, district.district_id)) == 1
    # Once a worker picked it up, it is never re-sent.
    run = domain.store.get_run(district.district_id, body["runId"])
    assert domain.lifecycle.claim(run, "m1")
    assert domain.dispatch.dispatch_due_districts("2026-12-02T09:00:00Z")["resent"] == 0
    assert drain(domain) == []


def test_two_concurrent_dispatchers_make_one_run_per_district(domain, serializable_dynamodb):
    districts = [
        make_district(tz=tz, start_date="2026-12-02") for tz in ["America/Chicago"] * 6 + ["America/Mexico_City"] * 6
    ]  # both UTC-6 in December
    barrier, summaries = threading.Barrier(2), []

    def dispatch():
        barrier.wait()
        summaries.append(domain.dispatch.dispatch_due_districts("2026-12-02T07:30:00Z"))

    threads = [threading.Thread(target=dispatch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(summaries) == 2
    assert sum(s["enqueued"] for s in summaries) == len(districts)
    bodies = drain(domain)
    assert sorted(b["districtId"] for b in bodies) == sorted(d.district_id for d in districts)
    for district in districts:
        assert nights_of(domain, district.district_id) == ["2026-12-02"]


def test_a_manual_run_postpones_the_night_to_a_later_tick(domain):
    district = make_district(start_date="2026-12-02")
    manual = domain.lifecycle.start_run(district.district_id, "manual", "full")
    summary = domain.dispatch.dispatch_due_districts("2026-12-02T07:00:00Z")
    assert (summary["due"], summary["skipped"], summary["enqueued"]) == (1, 1, 0)
    assert domain.store.get_district(district.district_id).last_nightly_night is None
    assert domain.lifecycle.claim(manual, "m") and domain.lifecycle.finish(manual, "m", "succeeded", result())
    assert domain.dispatch.dispatch_due_districts("2026-12-02T07:30:00Z")["enqueued"] == 1
    page, _ = domain.store.list_runs(district.district_id, 10)
    assert [(r.trigger, r.night) for r in page] == [("nightly", "2026-12-02"), ("manual", None)]


def test_only_connected_enabled_districts_are_looked_at(domain):
    make_district(start_date="2026-12-02", enabled=False)
    make_district(start_date="2026-12-02", connected=False)
    make_district(start_date="2026-12-02", configured=False)
    make_district(tz="Not/AZone", start_date="2026-12-02")
    due = make_district(start_date="2026-12-02")
    summary = domain.dispatch.dispatch_due_districts("2026-12-02T08:00:00Z")
    # The disabled and the unconnected one are looked at once and leave the dispatcher's index.
    assert (summary["checked"], summary["invalid"], summary["enqueued"]) == (4, 1, 1)
    assert [b["districtId"] for b in drain(domain)] == [due.district_id]
    assert domain.dispatch.dispatch_due_districts("2026-12-02T09:00:00Z")["checked"] == 1  # the due one


def test_messages_go_out_in_batches_of_ten(domain, monkeypatch):
    for _ in range(23):
        make_district(start_date="2026-12-02")
    calls = []
    real_client = domain.messages.sqs_client

    class Recording:
        def __init__(self, client):
            self.client = client

        def send_message_batch(self, **kwargs):
            calls.append(len(kwargs["Entries"]))
            return self.client.send_message_batch(**kwargs)

    monkeypatch.setattr(domain.messages, "sqs_client", lambda: Recording(real_client()))
    assert domain.dispatch.dispatch_due_districts("2026-12-02T08:00:00Z")["enqueued"] == 23
    assert calls == [10, 10, 3]
    assert len(drain(domain)) == 23


def test_failed_batch_entries_are_retried(domain, monkeypatch):
    messages = [domain.messages.RunMessage(f"d{i}", f"r{i}") for i in range(4)]
    real_client = domain.messages.sqs_client()
    attempts = []

    class Flaky:
        def send_message_batch(self, QueueUrl, Entries):
            attempts.append([e["Id"] for e in Entries])
            if len(attempts) == 1:  # SQS takes the first two, throttles the rest
                real_client.send_message_batch(QueueUrl=QueueUrl, Entries=Entries[:2])
                return {
                    "Successful": [{"Id": e["Id"]} for e in Entries[:2]],
                    "Failed": [
                        {"Id": e["Id"], "SenderFault": False, "Code": "ThrottlingException"} for e in Entries[2:]
                    ],
                }
            return real_client.send_message_batch(QueueUrl=QueueUrl, Entries=Entries)

    monkeypatch.setattr(domain.messages, "sqs_client", lambda: Flaky())
    monkeypatch.setattr(domain.messages.time, "sleep", lambda _s: None)
    assert domain.messages.send_run_messages(messages) == []
    assert attempts == [["0", "1", "2", "3"], ["2", "3"]]
    assert sorted(b["runId"] for b in drain(domain)) == ["r0", "r1", "r2", "r3"]
