"""A sync in a child process that SIGKILLs itself at a chosen point, like a Lambda dying there.

    python -m tests.reliability.crash_child DISTRICT_ID RUN_ID MODE [PHASE EVENTS]

MODE "full" or "delta" runs the engine itself; "worker:run" or "worker:approve" delivers the
run's message (that action) to the real SQS worker handler until the run is finished or held,
for runs that exist as the API creates them (tests/reliability/held_runs.py).

Without PHASE it runs until the parent kills it (or to its end). With PHASE it dies at the
EVENTS-th event of that phase of the engine: a page read, a batch of writes about to go out or
just written (so a sweep can die half applied). PHASE "checkpoint" counts the writes and
deletes of checkpoint saves instead, whatever the phase (a save can die half written).
Prints "started" first; the exit status of a self-kill is -9, like any SIGKILL.
"""

import os
import signal
import sys
import threading

from rostersync.store.batch import BatchStore
from rostersync.sync import engine as sync_engine
from rostersync.sync import record_steps
from rostersync.sync.checkpoint import CheckpointStore


def install_kill_point(target: str, after: int) -> None:
    seen = {"engine": None, "events": 0}
    lock = threading.Lock()

    def event(kind: str) -> None:
        engine = seen["engine"]
        if engine is None:
            return
        if (kind == "checkpoint") != (target == "checkpoint"):
            return
        if target != "checkpoint" and engine.state.phase != target:
            return
        with lock:
            seen["events"] += 1
            if seen["events"] >= after:
                os.kill(os.getpid(), signal.SIGKILL)

    original_init = sync_engine.SyncEngine.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        seen["engine"] = self

    original_pages = record_steps.pages  # every phase reads its SIS pages through it

    def pages(*args, **kwargs):
        for page in original_pages(*args, **kwargs):
            event("page")
            yield page

    original_write = BatchStore._write

    def write(self, batch):
        event("write")
        original_write(self, batch)
        event("write")

    class CountingClient:
        def __init__(self, client):
            self._client = client

        def __getattr__(self, name):
            attribute = getattr(self._client, name)
            if name not in ("put_item", "delete_item"):
                return attribute

            def counted(**kwargs):
                event("checkpoint")
                return attribute(**kwargs)

            return counted

    # Checkpoint parts (and parked users) go out as batches through BatchStore._send_now, the
    # head through the client's put_item: each batch and each head write is an event, so a save
    # can die half written.
    original_send_now = BatchStore._send_now

    def send_now(self, table, requests):
        for i in range(0, len(requests), 25):
            event("checkpoint")
            original_send_now(self, table, requests[i : i + 25])

    original_store_init = CheckpointStore.__init__

    def store_init(self, batch, *args):
        original_store_init(self, batch, *args)
        self.client = CountingClient(self.client)

    sync_engine.SyncEngine.__init__ = init
    record_steps.pages = pages
    BatchStore._write = write
    BatchStore._send_now = send_now
    CheckpointStore.__init__ = store_init


def main() -> int:
    district_id, run_id, mode = sys.argv[1:4]
    if len(sys.argv) > 5:
        install_kill_point(sys.argv[4], int(sys.argv[5]))
    print("started", flush=True)
    if mode.startswith("worker:"):
        from tests.reliability import held_runs

        print(held_runs.work(district_id, run_id, action=mode.split(":", 1)[1]), flush=True)
        return 0
    while True:
        result = sync_engine.run_sync(sync_engine.SyncRequest(district_id, run_id, mode=mode), lambda: 1e9)
        if result.outcome != sync_engine.Outcome.CONTINUE:
            print(result.outcome, flush=True)
            return 0


if __name__ == "__main__":
    sys.exit(main())
