"""notifications.send_once against moto: one message per kind, district and night whoever sends
it and however many at once; a failed send leaves no mark (and is counted), nothing is sent
without contacts or a sender, and messages never carry a registered secret."""

import threading
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest


@pytest.fixture
def setup(clean_aws):
    from rostersync.ids import new_id
    from rostersync.notify import notifications
    from rostersync.store.districts import DistrictModel

    district = DistrictModel(
        district_id=new_id("dst"),
        name="Test District",
        timezone="America/Chicago",
        created_at=datetime.now(UTC),
        contacts=["it@district.example.org"],
    )
    district.save()
    run = SimpleNamespace(run_id="run_1", trigger="nightly", finished_at=datetime.now(UTC))
    return SimpleNamespace(aws=clean_aws, notifications=notifications, district=district, run=run)


def test_many_senders_at_once_send_one_message(setup):
    n = setup.notifications
    message = n.sync_failed(setup.district, setup.run, "The SIS refused the sync")
    results: list[bool] = []
    threads = [
        threading.Thread(target=lambda: results.append(n.send_once(setup.district, "2026-12-02", message)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
    sent = n.recent(setup.district.district_id)
    assert [(m.kind, m.night, m.status) for m in sent] == [("sync_failed", "2026-12-02", "sent")]
    assert sent[0].detail  # SES's message id
    # Another night, or another kind the same night, is another message.
    assert n.send_once(setup.district, "2026-12-03", message)
    assert n.send_once(setup.district, "2026-12-02", n.sync_held(setup.district, setup.run, {"students": 40}))
    assert len(n.recent(setup.district.district_id)) == 3


def test_without_contacts_or_sender_the_message_is_recorded_not_sent(setup, monkeypatch):
    from rostersync.settings import get_settings
    from rostersync.store.districts import DistrictModel

    n = setup.notifications
    setup.district.update(actions=[DistrictModel.contacts.remove()])
    message = n.sync_failed(setup.district, setup.run, "x")
    assert n.send_once(setup.district, "2026-12-02", message)
    monkeypatch.setenv("NOTIFY_FROM", "")
    get_settings.cache_clear()
    try:
        setup.district.update(actions=[DistrictModel.contacts.set(["a@b.org"])])
        assert n.send_once(setup.district, "2026-12-02", n.sync_held(setup.district, setup.run, {}))
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert {(m.kind, m.status) for m in n.recent(setup.district.district_id)} == {
        ("sync_failed", "no_contacts"),
        ("sync_held", "no_sender"),
    }


def test_a_failed_send_leaves_no_mark_and_is_counted(setup, monkeypatch, capsys):
    from rostersync.notify import announce

    n = setup.notifications

    class Failing:
        def send_email(self, **_):
            raise RuntimeError("SES is down")

    monkeypatch.setattr("rostersync.aws_clients.ses", lambda: Failing())
    run = SimpleNamespace(
        district_id=setup.district.district_id,
        run_id="run_2",
        trigger="manual",
        mode="full",
        started_at=None,
        finished_at=datetime.now(UTC),
        night="2026-12-02",
        counts={},
        approved_at=None,
        dead_lettered_at=None,
    )
    monkeypatch.setattr("rostersync.store.sync_runs.get_run", lambda *_: None)
    announce.run_failed(run, "The run lost its district lock before a worker could start it.")  # never raises
    assert n.recent(setup.district.district_id) == []  # the mark went: a later event may try again
    from rostersync.observability import flush_metrics

    flush_metrics()
    assert '"AnnounceFailures":[1.0]' in capsys.readouterr().out
    monkeypatch.undo()
    assert n.send_once(setup.district, "2026-12-02", n.sync_failed(setup.district, setup.run, "again"))


def test_messages_never_carry_a_registered_secret(setup):
    from rostersync.observability import register_secret

    n = setup.notifications
    secret = "s3cr3t-canary-value-91"
    register_secret(secret)
    message = n.connection_unhealthy(setup.district, "credentials_rejected", f"server said {secret}", "fix it")
    assert n.send_once(setup.district, "2026-12-02", message)
    stored = n.recent(setup.district.district_id)[0]
    assert secret not in stored.body + stored.subject and "[redacted]" in stored.body


def test_an_eventbridge_outage_does_not_stop_the_email(setup, monkeypatch, capsys):
    from rostersync.notify import announce, events

    def down(*_):
        raise RuntimeError("EventBridge is down")

    monkeypatch.setattr(events, "put", down)
    monkeypatch.setattr("rostersync.store.sync_runs.get_run", lambda *_: None)
    run = SimpleNamespace(
        district_id=setup.district.district_id,
        run_id="run_3",
        trigger="manual",
        mode="full",
        started_at=None,
        finished_at=datetime.now(UTC),
        night="2026-12-04",
        counts={},
        approved_at=None,
        dead_lettered_at=None,
    )
    announce.run_failed(run, "The run lost its district lock before a worker could start it.")
    assert [(m.kind, m.status) for m in setup.notifications.recent(setup.district.district_id)] == [
        ("sync_failed", "sent")
    ]
    from rostersync.observability import flush_metrics

    flush_metrics()
    assert '"AnnounceFailures":[1.0]' in capsys.readouterr().out
