"""A Lambda-faithful harness: each invocation of a run lands on a container drawn at random
from a pool, as Lambda's SQS event source mapping would place it.

- A container is a process of its own (its own in-process caches, module state, clients)
  with its own /tmp (TMPDIR); containers are discarded between invocations at random and
  new ones start cold.
- Each invocation gets a random time budget, from "one page" to "everything".
- An invocation may be killed mid-run (SIGKILL): its message comes back after the queue's
  visibility timeout, by which time the worker's lease on the run has expired.
- Messages are real SQS messages on the embedded AWS; the worker handler is the real one,
  fed the real event shape; successful messages are deleted, failed ones come back.
"""

import json
import os
import random
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import boto3

from tests.reliability import held_runs

ROOT = Path(__file__).resolve().parents[2]
RESERVE_S = 1.0  # the worker's reserve in the pool's containers (container_child.py)
ONE_PAGE, SOME_PAGES, EVERYTHING = "one page", "some pages", "everything"


class Container:
    def __init__(self, number: int, env: dict):
        self.number = number
        self.tmp = tempfile.mkdtemp(prefix=f"rostersync-container-{number}-")
        # Open for the container's whole life (its stderr), closed in discard(): no with-block fits.
        self.log = open(os.path.join(self.tmp, "worker.log"), "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.container_child"],
            cwd=ROOT,
            env={**env, "TMPDIR": self.tmp, "POOL_RESERVE_S": str(RESERVE_S)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
        )
        assert self._readline(60) == "ready", f"container {number} did not start (see {self.tmp}/worker.log)"

    def _readline(self, timeout: float) -> str | None:
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            if not selector.select(timeout):
                return None
        finally:
            selector.close()
        line = self.proc.stdout.readline()
        return line.decode().strip() if line else None

    def invoke(self, event: dict, timeout_s: float, kill_after: float | None) -> dict | None:
        """The handler's answer, or None when the container was killed before it answered."""
        self.proc.stdin.write((json.dumps({"event": event, "timeout_s": timeout_s}) + "\n").encode())
        self.proc.stdin.flush()
        line = self._readline(kill_after if kill_after is not None else 600)
        if line is None:
            assert kill_after is not None, "an invocation never answered"
            self.discard()
            return None
        return json.loads(line)

    def discard(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None


@dataclass
class PoolFigures:
    runs: int = 0
    invocations: int = 0
    containers: int = 0
    kills: int = 0
    budgets: dict = field(default_factory=lambda: {ONE_PAGE: 0, SOME_PAGES: 0, EVERYTHING: 0})
    tmp_dirs: set = field(default_factory=set)


class LambdaPool:
    def __init__(
        self,
        rng: random.Random,
        size: int = 3,
        discard_chance: float = 0.15,
        kill_chance: float = 0.1,
        writer_processes_after: int | None = None,
    ):
        self.rng = rng
        self.size, self.discard_chance, self.kill_chance = size, discard_chance, kill_chance
        self.env = dict(os.environ)
        if writer_processes_after is not None:
            # The containers' context gives the deployed worker's memory (two writer processes,
            # store/write_processes.py); a small district starts them only when told to early.
            self.env["ROSTERSYNC_WRITER_PROCESSES_AFTER"] = str(writer_processes_after)
        self.figures = PoolFigures()
        self.containers: list[Container] = []
        self.sqs = boto3.client("sqs")
        self.queue_url = os.environ["SYNC_QUEUE_URL"]
        self.queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]

    def _start(self) -> Container:
        container = Container(self.figures.containers, self.env)
        self.figures.containers += 1
        self.figures.tmp_dirs.add(container.tmp)
        return container

    def pick(self) -> Container:
        """A container drawn at random; sometimes a warm one is discarded first (Lambda
        recycles containers), or a new one started (scale out)."""
        self.containers = [c for c in self.containers if c.alive]
        if self.containers and self.rng.random() < self.discard_chance:
            self.containers.pop(self.rng.randrange(len(self.containers))).discard()
        if len(self.containers) < self.size and (not self.containers or self.rng.random() < 0.5):
            self.containers.append(self._start())
        return self.rng.choice(self.containers)

    def budget(self) -> float:
        kind = self.rng.choices((ONE_PAGE, SOME_PAGES, EVERYTHING), weights=(4, 5, 1))[0]
        self.figures.budgets[kind] += 1
        return {ONE_PAGE: 0.03, SOME_PAGES: self.rng.uniform(0.05, 0.25), EVERYTHING: 600.0}[kind]

    def drive(
        self, district_id: str, run_id: str, max_invocations: int = 3000, first_kill_after: float | None = None
    ) -> None:
        """Deliver the run's messages to random containers until the run is finished (or held).
        first_kill_after: this drive's first invocation is killed that many seconds in (an
        approval, short, would otherwise rarely see a kill)."""
        from rostersync.store import sync_runs as store
        from rostersync_tools.local.worker_loop import failed_message_ids, sqs_record

        self.figures.runs += 1
        for delivery in range(max_invocations):
            run = store.get_run(district_id, run_id)
            if run.status in store.FINISHED_STATUSES:
                return
            received = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=1,
                AttributeNames=["All"],
                VisibilityTimeout=900,
                WaitTimeSeconds=1,
            ).get("Messages", [])
            assert received, self._lost_message(run)
            message = received[0]
            receives = int(message["Attributes"]["ApproximateReceiveCount"])
            # Kill mid-run now and then, but not so often that the message dead-letters; the pool's
            # first invocation is always killed part way through a whole-run budget, so every
            # pool (every seed) sees a kill whatever the random draws and the machine's speed.
            budget = self.budget()
            kill_after = self.rng.uniform(0.01, 0.4) if receives < 3 and self.rng.random() < self.kill_chance else None
            if self.figures.invocations == 0:
                budget, kill_after = 600.0, 0.3
            elif delivery == 0 and first_kill_after is not None:
                budget, kill_after = 600.0, first_kill_after
            answer = self.pick().invoke(
                {"Records": [sqs_record(message, self.queue_arn)]}, timeout_s=budget + RESERVE_S, kill_after=kill_after
            )
            self.figures.invocations += 1
            if answer is None:
                self.figures.kills += 1
                # The message comes back after the visibility timeout (90 min), when the dead
                # worker's lease (15 min) has long expired.
                held_runs.expire_lease(district_id, run_id)
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
                continue
            assert "error" not in answer, answer["error"]
            if failed_message_ids(answer["result"], [message["MessageId"]]):
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        raise AssertionError(f"run {run_id} did not finish in {max_invocations} invocations")

    def _lost_message(self, run) -> str:
        """Why a running run has no message: what the queues and the run item say."""
        counts = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        queue = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=[*counts, "ApproximateNumberOfMessagesDelayed"]
        )
        dlq = self.sqs.get_queue_attributes(
            QueueUrl=os.environ.get("SYNC_DLQ_URL", self.queue_url), AttributeNames=counts
        )
        return (
            f"run {run.run_id} is {run.status} but no message is on the queue (lease {run.lease_id!r} until "
            f"{run.lease_until}, invocations {run.invocations}, failure {run.failure!r}; queue: {queue['Attributes']}; "
            f"dead-letter queue: {dlq['Attributes']}; figures {self.figures})"
        )

    def close(self) -> None:
        for container in self.containers:
            container.discard()
        self.containers = []
