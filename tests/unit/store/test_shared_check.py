"""store/batch_requests.py SharedCheck: write attempts that ask for the fence while a check runs
share the next one, and never go out on a check that began before they asked."""

import threading
import time

import pytest

from rostersync.store.batch_requests import SharedCheck


class Moved(Exception):
    pass


class Gate:
    """A fence check that blocks until let go, and sees the token as it is when it begins."""

    def __init__(self):
        self.began = threading.Semaphore(0)
        self.go = threading.Semaphore(0)
        self.token_moved = False

    def __call__(self) -> None:
        moved_at_start = self.token_moved  # a consistent read happens when the check begins
        self.began.release()
        self.go.acquire()
        if moved_at_start:
            raise Moved()


def ask(check: SharedCheck, results: dict, name: str) -> threading.Thread:
    def run():
        try:
            check()
            results[name] = "sent"
        except Moved:
            results[name] = "refused"

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def wait_for_waiters(check: SharedCheck, count: int) -> None:
    deadline = time.monotonic() + 5
    while len(check._changed._waiters) < count:  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "the attempts never waited"
        time.sleep(0.001)


def test_attempts_one_after_another_each_make_their_own_check():
    calls = []
    check = SharedCheck(lambda: calls.append(1))
    for _ in range(3):
        check()
    assert len(calls) == check.checks == 3


def test_attempts_that_ask_during_a_check_share_the_next_one():
    gate, results = Gate(), {}
    check = SharedCheck(gate)
    first = ask(check, results, "a")
    assert gate.began.acquire(timeout=5)  # check 1 runs for a
    later = [ask(check, results, name) for name in ("b", "c", "d")]
    wait_for_waiters(check, 3)
    gate.go.release()  # check 1 ends: b, c and d asked after it began, so none may use it
    assert gate.began.acquire(timeout=5)  # check 2 begins, for all three
    assert not gate.began.acquire(timeout=0.2)  # and no other
    gate.go.release()
    for thread in (first, *later):
        thread.join(timeout=5)
    assert results == {"a": "sent", "b": "sent", "c": "sent", "d": "sent"}
    assert check.checks == 2


def test_a_token_moved_during_a_check_refuses_the_attempts_that_asked_after_it_began():
    """Check 1 began before the token moved and passes for its own attempt; the attempts that asked
    while it ran are answered by check 2, which sees the move: none of them is sent."""
    gate, results = Gate(), {}
    check = SharedCheck(gate)
    first = ask(check, results, "a")
    assert gate.began.acquire(timeout=5)
    gate.token_moved = True  # a purge or a take-over, while check 1 is out
    later = [ask(check, results, name) for name in ("b", "c")]
    wait_for_waiters(check, 2)
    gate.go.release()
    assert gate.began.acquire(timeout=5)
    gate.go.release()
    for thread in (first, *later):
        thread.join(timeout=5)
    assert results == {"a": "sent", "b": "refused", "c": "refused"}


def test_an_error_of_the_check_reaches_every_attempt_that_shared_it():
    def failing():
        raise Moved()

    check = SharedCheck(failing)
    for _ in range(2):
        with pytest.raises(Moved):
            check()
    assert check.checks == 2
