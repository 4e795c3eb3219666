"""Per-host slots in HostLeasesTable (store/host_leases.py) on the embedded AWS: never more slots
than the host's limit, expired slots free again, a pause refuses everyone, the admin's limit
wins over the default and binds at once."""

import threading

import pytest

from rostersync.oneroster.hosts import Refusal, Slot

HOST = "sis.example.org:443"


@pytest.fixture
def gate(clean_aws, monkeypatch):
    from rostersync.store.host_leases import DynamoHostGate

    monkeypatch.setenv("ROSTERSYNC_HOST_MAX_CONCURRENT", "3")
    now = [1_800_000_000.0]
    gate = DynamoHostGate(clock=lambda: now[0])
    gate.now = now
    return gate


def test_slots_up_to_the_default_limit_then_refused(gate):
    taken = [gate.take(HOST, f"w{i}") for i in range(3)]
    assert all(isinstance(slot, Slot) for slot in taken)
    assert sorted(slot.index for slot in taken) == [0, 1, 2]
    assert gate.take(HOST, "w3") == Refusal(None)
    gate.give_back([taken[1]], "w1")
    again = gate.take(HOST, "w3")
    assert isinstance(again, Slot) and again.index == taken[1].index


def test_a_killed_workers_slots_free_themselves(gate):
    from rostersync.store.host_leases import SLOT_SECONDS

    for i in range(3):
        gate.take(HOST, f"dead{i}")
    assert gate.take(HOST, "alive") == Refusal(None)
    gate.now[0] += SLOT_SECONDS + 1
    assert isinstance(gate.take(HOST, "alive"), Slot)


def test_renewing_keeps_a_slot_and_a_lost_slot_is_not_renewed(gate):
    from rostersync.store.host_leases import SLOT_SECONDS

    slot = gate.take(HOST, "me")
    gate.now[0] += 50
    renewed, paused = gate.renew(slot, "me")
    assert renewed.expires_at == gate.now[0] + SLOT_SECONDS and paused is None
    assert gate.renew(slot, "someone else") == (None, None)


def test_giving_back_only_frees_the_holders_own_slots(gate):
    mine, theirs = gate.take(HOST, "me"), gate.take(HOST, "them")
    gate.give_back([mine, Slot(HOST, theirs.index, 0)], "me")  # a slot that is not mine any more
    from rostersync.store.host_leases import describe

    assert describe(HOST, now=gate.now[0])["slotsInUse"] == 1


def test_a_pause_refuses_every_worker_until_it_ends_and_renewal_reports_it(gate):
    held = gate.take(HOST, "me")
    gate.pause(HOST, gate.now[0] + 120)
    gate.pause(HOST, gate.now[0] + 10)  # a shorter pause never shortens a longer one
    assert gate.take(HOST, "other") == Refusal(gate.now[0] + 120)
    assert gate.renew(held, "me")[1] == gate.now[0] + 120
    gate.now[0] += 121
    assert isinstance(gate.take(HOST, "other"), Slot)


def test_the_admins_limit_replaces_the_default_and_binds_at_once(gate):
    from rostersync.store.host_leases import describe, set_limit

    assert set_limit(HOST, 1, by="ops:alice") == {"host": HOST, "before": None, "after": 1}
    assert isinstance(gate.take(HOST, "a"), Slot)
    assert gate.take(HOST, "b") == Refusal(None)
    assert describe(HOST, now=gate.now[0])["limit"] == 1
    assert set_limit(HOST, None, by="ops:alice")["before"] == 1
    assert describe(HOST, now=gate.now[0]) == {
        "host": HOST,
        "limit": 3,
        "limitIsDefault": True,
        "slotsInUse": 1,
        "pausedFor": 0.0,
    }
    with pytest.raises(ValueError):
        set_limit(HOST, 0, by="ops:alice")


def test_racing_workers_never_take_more_than_the_limit(gate, serializable_dynamodb):
    results: list = []

    def worker(name):
        results.append(gate.take(HOST, name))

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    slots = [r for r in results if isinstance(r, Slot)]
    assert 1 <= len(slots) <= 3
    assert len({slot.index for slot in slots}) == len(slots)
