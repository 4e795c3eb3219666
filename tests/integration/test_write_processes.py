"""Writer processes (store/write_processes.py) against the embedded AWS: they store what they are
given, stamped and fenced as the store's threads do; a refused, failed or lost batch fails the
store's flush; they end with their store, and when the process that started them dies."""

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import pytest

from rostersync.settings import get_settings
from rostersync.store import sync_runs
from rostersync.store.batch import BatchStore
from rostersync.store.change_keys import RosterStamper
from rostersync.store.write_processes import WriterFailed, WriterStopped, _portable, _Writer
from rostersync.sync.run_lifecycle import Fence, LockLost

ROOT = Path(__file__).resolve().parents[2]


def writers_alive() -> list[multiprocessing.Process]:
    return [p for p in multiprocessing.active_children() if p.name.startswith("store-writer")]


def put_district(aws, district_id: str, token: int) -> None:
    aws.client("dynamodb").put_item(
        TableName=get_settings().districts_table,
        Item={"districtId": {"S": district_id}, "lockToken": {"N": str(token)}},
    )


def users(district_id: str, count: int, start: int = 0) -> list[dict]:
    return [
        {"districtId": district_id, "userId": f"u{i:05d}", "givenName": f"Given {i}", "status": "active"}
        for i in range(start, start + count)
    ]


def stored_users(aws, district_id: str) -> dict[str, dict]:
    pages = (
        aws.client("dynamodb")
        .get_paginator("query")
        .paginate(
            TableName=get_settings().users_table,
            KeyConditionExpression="districtId = :d",
            ExpressionAttributeValues={":d": {"S": district_id}},
            ConsistentRead=True,
        )
    )
    return {item["userId"]["S"]: item for page in pages for item in page["Items"]}


def test_writer_processes_store_every_item_stamped_and_end_with_their_store(aws):
    table = get_settings().users_table
    put_district(aws, "d-wp-1", 3)
    store = BatchStore(max_in_flight=2, processes=2, processes_after=2)
    store.before_write = RosterStamper({table: "userId"})
    store.fence = Fence("d-wp-1", "run-1", 3)
    for values in users("d-wp-1", 257):
        store.put(table, values)
    store.flush()
    assert len(writers_alive()) == 2  # started after the first two batches, alive until close

    assert (store.items_written, store.write_requests) == (257, 11)
    found = stored_users(aws, "d-wp-1")
    assert len(found) == 257
    assert all(item["changeSeq"]["S"].endswith("#" + user_id) for user_id, item in found.items())
    assert found["u00256"]["givenName"] == {"S": "Given 256"}

    store.close()
    assert writers_alive() == []
    assert len(store.writer_stats) == 2
    assert all(stats["cpu_s"] > 0 and stats["peak_mb"] > 0 for stats in store.writer_stats)
    assert all(stats["max_in_flight"] >= 1 for stats in store.writer_stats)  # each was given batches
    assert all(stats["fence_checks"] >= 1 for stats in store.writer_stats)  # and checked the fence for them


def test_a_moved_token_refuses_the_writer_processes_next_batch(aws):
    table = get_settings().users_table
    put_district(aws, "d-wp-2", 7)
    store = BatchStore(max_in_flight=2, processes=1, processes_after=0)
    store.fence = Fence("d-wp-2", "run-2", 7)
    for values in users("d-wp-2", 50):
        store.put(table, values)
    store.flush()
    assert sync_runs.move_token("d-wp-2")  # a purge or a take-over: the run's token is stale

    for values in users("d-wp-2", 25, start=50):
        store.put(table, values)
    with pytest.raises(LockLost) as refused:  # the fence's own error, across the pipe
        store.flush()
    assert refused.value.args == ("run-2",)
    store.close()
    assert len(stored_users(aws, "d-wp-2")) == 50  # nothing of the refused batch was sent


def test_a_writer_process_that_dies_fails_its_batches(aws):
    table = get_settings().users_table
    store = BatchStore(max_in_flight=2, processes=1, processes_after=0)
    for values in users("d-wp-3", 25, start=100):
        store.put(table, values)
    store.flush()  # the writer is up and has written a batch
    store.fence = partial(time.sleep, 3)  # each batch now waits in the writer: killed with batches in hand
    for values in users("d-wp-3", 50):
        store.put(table, values)
    (writer,) = writers_alive()
    time.sleep(0.5)
    os.kill(writer.pid, signal.SIGKILL)
    with pytest.raises(WriterStopped, match=r"stopped \(exit code -9\) before answering"):
        store.flush()

    store.put(table, users("d-wp-3", 1)[0])  # and so does every batch after it: none is dropped
    with pytest.raises(WriterStopped):
        store.flush()
    store.close()
    assert sorted(stored_users(aws, "d-wp-3")) == [f"u{i:05d}" for i in range(100, 125)]


def test_closing_the_store_finishes_the_batches_its_writers_hold(aws):
    table = get_settings().users_table
    store = BatchStore(max_in_flight=2, processes=2, processes_after=0)
    store.fence = partial(time.sleep, 0.2)  # still waiting in the writers when close() is called
    for values in users("d-wp-5", 110):  # four batches handed over, ten items left in the buffer
        store.put(table, values)
    store.close()
    assert len(stored_users(aws, "d-wp-5")) == 100
    assert writers_alive() == []


def test_a_fence_that_cannot_be_handed_to_a_writer_fails_its_batch_with_the_reason(aws):
    table = get_settings().users_table
    store = BatchStore(max_in_flight=2, processes=1, processes_after=0)
    store.fence = lambda: None  # a closure: no writer process can be handed it
    for values in users("d-wp-6", 25):
        store.put(table, values)
    with pytest.raises(WriterFailed, match=r"could not be handed a batch: .*lambda"):
        store.flush()
    store.close()
    assert stored_users(aws, "d-wp-6") == {}


def test_a_batch_whose_send_breaks_as_the_writer_dies_fails_once():
    """The writer dies while a batch is being sent: its answer reader fails every waiting batch,
    then the send breaks. The batch fails with WriterStopped, once, and submit does not raise."""
    writer = object.__new__(_Writer)
    writer.name = "store-writer-0"
    writer._send_lock, writer._lock = threading.Lock(), threading.Lock()
    writer._pending, writer._next, writer._stopped, writer._stats = {}, 0, None, {}
    writer.process = SimpleNamespace(join=lambda timeout=None: None, exitcode=-9, terminate=lambda: None)

    class DyingPipe:
        def recv(self):
            raise EOFError

        def send(self, message):
            writer._read_answers()  # the reader sees the end first and fails what waits
            raise BrokenPipeError(32, "Broken pipe")

    writer._conn = DyingPipe()
    future = writer.submit([("t", {})], None, None)
    with pytest.raises(WriterStopped, match="exit code -9"):
        future.result(timeout=1)
    assert writer.stopped and writer.waiting() == 0
    assert writer.submit([("t", {})], None, None).exception(timeout=1) is not None  # and every later one


class TwoPartError(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(f"{status} {reason}")


def test_an_error_that_cannot_cross_the_pipe_arrives_named():
    assert isinstance(_portable(LockLost("run-9")), LockLost)
    crossed = _portable(TwoPartError(500, "broken"))  # unpickling calls TwoPartError("500 broken")
    assert isinstance(crossed, WriterFailed)
    assert str(crossed) == "TwoPartError: 500 broken"


PARENT = """
import sys, time
from rostersync.settings import get_settings
from rostersync.store.batch import BatchStore
store = BatchStore(max_in_flight=1, processes=1, processes_after=0)
store.fence = __import__("functools").partial(time.sleep, 60)
store.put(get_settings().users_table, {"districtId": "d-wp-4", "userId": "u1"})
store._submit(store._buffer)
import multiprocessing
print(multiprocessing.active_children()[0].pid, flush=True)
time.sleep(120)
"""


def test_a_writer_process_exits_when_the_process_that_started_it_dies(aws):
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], cwd=ROOT, env={**os.environ}, stdout=subprocess.PIPE, text=True
    )
    try:
        writer_pid = int(parent.stdout.readline())
        os.kill(parent.pid, signal.SIGKILL)  # as a Lambda killed at its deadline: no clean-up runs
        parent.wait(timeout=10)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and _running(writer_pid):
            time.sleep(0.1)
        assert not _running(writer_pid), "the writer process outlived its parent"
    finally:
        parent.kill()
    assert stored_users(aws, "d-wp-4") == {}  # its batch was still waiting for its fence


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] not in "ZX"  # a zombie has exited
    except FileNotFoundError:
        return False
