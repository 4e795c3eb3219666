"""One client's slots at the shared per-host gate (oneroster/hosts.py HostSlots), with a gate in
memory: slots are reused page after page, renewed before they expire, refused as HostBusy only
to a client holding none, given back on close; a Retry-After pauses the host."""

import threading
import time

import pytest

from rostersync.oneroster.hosts import HostBusy, HostSlots, Refusal, Slot, gated, host_key, slots_for_new_client


class MemoryGate:
    def __init__(self, limit: int, seconds: float = 60.0, clock=time.time):
        self.limit, self.seconds, self.clock = limit, seconds, clock
        self.slots: dict[tuple[str, int], tuple[str, float]] = {}
        self.not_before: dict[str, float] = {}
        self.writes = 0
        self._lock = threading.Lock()

    def take(self, host, holder):
        with self._lock:
            now = self.clock()
            if self.not_before.get(host, 0) > now:
                return Refusal(self.not_before[host])
            for index in range(self.limit):
                held = self.slots.get((host, index))
                if held is None or held[1] < now:
                    self.writes += 1
                    self.slots[(host, index)] = (holder, now + self.seconds)
                    return Slot(host, index, now + self.seconds)
            return Refusal(None)

    def renew(self, slot, holder):
        with self._lock:
            self.writes += 1
            held = self.slots.get((slot.host, slot.index))
            if held is None or held[0] != holder:
                return None, None
            renewed = Slot(slot.host, slot.index, self.clock() + self.seconds)
            self.slots[(slot.host, slot.index)] = (holder, renewed.expires_at)
            return renewed, self.not_before.get(slot.host)

    def give_back(self, slots, holder):
        with self._lock:
            self.writes += 1
            for slot in slots:
                if self.slots.get((slot.host, slot.index), ("",))[0] == holder:
                    del self.slots[(slot.host, slot.index)]

    def pause(self, host, until):
        with self._lock:
            self.not_before[host] = max(until, self.not_before.get(host, 0))

    def in_use(self, host):
        now = self.clock()
        return sum(1 for (h, _), (_, until) in self.slots.items() if h == host and until >= now)


URL = "https://sis.example.org/ims/oneroster/v1p1/users"


def one_request(slots: HostSlots) -> None:
    with slots.slot(URL):
        pass


def test_host_key_names_the_host_and_its_port():
    assert host_key(URL) == "sis.example.org:443"
    assert host_key("http://127.0.0.1:8123/x") == "127.0.0.1:8123"
    assert host_key("HTTPS://SIS.Example.org.:8443/") == "sis.example.org:8443"


def test_a_client_reuses_its_slot_page_after_page():
    gate = MemoryGate(limit=2)
    slots = HostSlots(gate)
    for _page in range(50):
        with slots.slot(URL):
            assert gate.in_use("sis.example.org:443") == 1
    assert gate.writes == 1  # one take for fifty pages
    slots.close()
    assert gate.in_use("sis.example.org:443") == 0


def test_a_client_holding_no_slot_is_refused_with_host_busy_and_others_keep_theirs():
    gate = MemoryGate(limit=1)
    first, second = HostSlots(gate), HostSlots(gate)
    with first.slot(URL), pytest.raises(HostBusy) as busy:
        one_request(second)
    assert busy.value.retry_at is None and second.refused is busy.value
    assert first.refused is None
    first.close()
    writes = gate.writes
    with pytest.raises(HostBusy):  # refused a moment ago: not asked again so soon (no gate write)
        one_request(second)
    assert gate.writes == writes
    with HostSlots(gate).slot(URL):  # the next slice's client gets the slot given back
        pass


def test_a_client_with_a_slot_waits_for_its_own_rather_than_fail():
    gate = MemoryGate(limit=1)
    slots = HostSlots(gate)
    peak, current, lock = [0], [0], threading.Lock()

    def page():
        with slots.slot(URL):
            with lock:
                current[0] += 1
                peak[0] = max(peak[0], current[0])
            time.sleep(0.02)
            with lock:
                current[0] -= 1

    threads = [threading.Thread(target=page) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert peak[0] == 1 and slots.refused is None
    assert gate.in_use("sis.example.org:443") == 1


def test_a_slot_close_to_its_end_is_renewed_before_a_request_and_a_lost_one_replaced():
    now = [1000.0]
    gate = MemoryGate(limit=2, seconds=60, clock=lambda: now[0])
    slots = HostSlots(gate, clock=lambda: now[0])
    with slots.slot(URL):
        pass
    now[0] += 30  # 30 s left: less than a request may take
    with slots.slot(URL):
        pass
    assert gate.writes == 2  # take, renew
    now[0] += 100  # expired; someone else took it meanwhile
    gate.slots[("sis.example.org:443", 0)] = ("another", now[0] + 60)
    with slots.slot(URL):
        assert gate.in_use("sis.example.org:443") == 2
    assert gate.slots[("sis.example.org:443", 1)][0] == slots.holder


def test_a_long_retry_after_pauses_the_host_for_every_client():
    now = [1000.0]
    gate = MemoryGate(limit=4, clock=lambda: now[0])
    told, other = HostSlots(gate, clock=lambda: now[0]), HostSlots(gate, clock=lambda: now[0])
    assert told.pause(URL, 30) is True
    with pytest.raises(HostBusy) as busy:
        one_request(other)
    assert busy.value.retry_at == 1030.0
    assert told.pause(URL, 1) is False  # a moment: waited out where it is
    now[0] = 1031.0
    with other.slot(URL):
        pass


def test_only_clients_opened_inside_gated_hold_slots():
    gate = MemoryGate(limit=1)
    assert slots_for_new_client() is None
    with gated(gate) as opened:
        inside = slots_for_new_client()
        assert inside is not None and opened == [inside]
        seen = []
        worker = threading.Thread(target=lambda: seen.append(slots_for_new_client()))
        worker.start()
        worker.join()
        assert seen == [None]  # another thread (an API request) is not gated
    assert slots_for_new_client() is None


# ---------------------------------------------------------------- the client, gated


def test_a_gated_client_holds_its_hosts_slot_and_gives_it_back_on_close(make_fake, make_client):
    from tests.unit.oneroster.test_failures import make_users

    fake = make_fake(data={"users": make_users(5)}, page_cap=2)
    gate = MemoryGate(limit=1)
    with gated(gate) as opened:
        client = make_client(fake, auth_method="oauth1")
    assert len(list(client.stream("users"))) == 5  # three pages on one slot
    assert len(opened) == 1
    host = host_key(fake.host_url)
    assert gate.in_use(host) == 1 and gate.writes == 1
    client.close()
    assert gate.in_use(host) == 0


def test_a_long_retry_after_pauses_the_host_and_ends_the_slice(make_fake, make_client, sleeps):
    from tests.unit.oneroster.fake_sis import Reply
    from tests.unit.oneroster.test_failures import USERS, make_users

    fake = make_fake(data={"users": make_users(2)})
    fake.fail(USERS, Reply(429, {"error": "slow down"}, {"Retry-After": "120"}))
    gate = MemoryGate(limit=4)
    with gated(gate):
        client = make_client(fake, auth_method="oauth1")
    started = time.time()
    with pytest.raises(HostBusy) as busy:
        list(client.stream("users"))
    assert sleeps == []  # no worker held waiting for two minutes
    assert busy.value.retry_at >= started + 119
    assert gate.not_before[host_key(fake.host_url)] >= started + 119  # every worker waits
    client.close()


def test_a_short_retry_after_is_waited_out_and_an_ungated_client_is_unchanged(make_fake, make_client, sleeps):
    from tests.unit.oneroster.fake_sis import Reply
    from tests.unit.oneroster.test_failures import USERS, make_users

    fake = make_fake(data={"users": make_users(2)})
    fake.fail(USERS, Reply(429, {"error": "slow down"}, {"Retry-After": "1"}))
    gate = MemoryGate(limit=4)
    with gated(gate):
        client = make_client(fake, auth_method="oauth1")
    assert len(list(client.stream("users"))) == 2
    assert sleeps == [1.0]
    fake.fail(USERS, Reply(429, {"error": "slow down"}, {"Retry-After": "120"}))
    ungated = make_client(fake, auth_method="oauth1", retry_policy=None, max_retries=1)
    ungated._requester.retry.sleep = sleeps
    assert len(list(ungated.stream("users"))) == 2  # no gate: Retry-After waited (capped), as before
    assert sleeps[-1] == 60.0


def test_a_request_made_inside_another_rides_on_its_slot():
    """The OAuth 2 token is fetched while a page's request holds the slot: at a limit of 1 it
    must not wait for itself."""
    gate = MemoryGate(limit=1)
    slots = HostSlots(gate)
    with slots.slot(URL), slots.slot("https://sis.example.org/oauth/token"):
        assert gate.in_use("sis.example.org:443") == 1
    with slots.slot(URL):  # the slot is back for the next page
        pass
    assert gate.writes == 1
