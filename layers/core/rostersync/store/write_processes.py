"""A sync worker's batch writes in processes of their own, for a worker with more than one vCPU.

Why: sending a 25-item BatchWriteItem costs botocore about 4 ms of CPU (serializing every
attribute, signing, its hooks) and the fence's GetItem before it about 1.7 ms: three quarters
of a full sync's CPU (bench/README.md, "Issue 24"). Threads share one interpreter lock, so a
worker's writer threads and its main thread (reading, mapping, diffing) take turns on one core
whatever the Lambda's size. Writer processes run those sends on the other vCPUs: the worker at
3,538 MB has two (template.yaml). Not our own HTTP: every request is still the SDK's.

How: each process is a clean interpreter (spawn: no fork of a threaded process) with its own
DynamoDB client and `threads` senders. A batch goes to it over a pipe with the run's fence and
stamper (values, pickled) and comes back as the number of requests sent or the error raised.
The parent's BatchStore keeps its contract: flush waits for every batch and re-raises a failure.
A process that dies fails its batches (WriterStopped), never loses them silently; an answer or a
batch that cannot cross the pipe fails its batch with the reason (WriterFailed); a process whose
parent dies exits at once, mid-batch, as a killed Lambda would. The processes live as long as
their BatchStore (one invocation), which starts them after its first `processes_after` batches.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import threading
import time
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection

from rostersync import aws_clients
from rostersync.store.batch_requests import Backoff, BeforeWrite, FenceCheck, InFlight, fence_checks_made, put_batch

_SPAWN = multiprocessing.get_context("spawn")
STOP_WAIT_SECONDS = 120  # closing writers finish their batches first (retries included), all within this


class WriterStopped(RuntimeError):
    """A writer process ended before answering for a batch: the batch may or may not be stored."""


class WriterFailed(RuntimeError):
    """An error a writer process met that cannot cross the pipe as itself (named in the text)."""


class WriterProcesses:
    """`processes` writer processes; a batch goes to the one with the fewest waiting."""

    def __init__(self, processes: int, threads: int, backoff: Backoff):
        self._writers: list[_Writer] = [_Writer(f"store-writer-{i}", threads, backoff) for i in range(processes)]

    def submit(
        self, batch: list[tuple[str, dict]], fence: FenceCheck | None, before_write: BeforeWrite | None
    ) -> Future:
        """A future of the requests sent for `batch`, or of the error that stopped it."""
        live = [writer for writer in self._writers if not writer.stopped] or self._writers
        return min(live, key=_Writer.waiting).submit(batch, fence, before_write)

    def close(self) -> list[dict]:
        """Stop every process once its batches are done (within STOP_WAIT_SECONDS in all): what
        each one measured of itself (cpu_s, peak_mb, max_in_flight; empty for a process that died)."""
        for writer in self._writers:
            writer.stop()
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        return [writer.join(deadline) for writer in self._writers]


class _Writer:
    """The parent's side of one writer process: sends batches, and a thread that reads answers."""

    def __init__(self, name: str, threads: int, backoff: Backoff):
        self.name = name
        ours, theirs = _SPAWN.Pipe()
        self.process = _SPAWN.Process(target=serve, args=(theirs, threads, backoff), name=name, daemon=True)
        self.process.start()
        theirs.close()
        self._conn = ours
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()  # _pending, _next, _stopped
        self._pending: dict[int, Future] = {}
        self._next = 0
        self._stopped: str | None = None  # why it takes no more batches
        self._stats: dict = {}
        self._reader = threading.Thread(target=self._read_answers, name=f"{name}-answers", daemon=True)
        self._reader.start()

    def waiting(self) -> int:
        return len(self._pending)

    @property
    def stopped(self) -> bool:
        return self._stopped is not None

    def submit(
        self, batch: list[tuple[str, dict]], fence: FenceCheck | None, before_write: BeforeWrite | None
    ) -> Future:
        future: Future = Future()
        with self._lock:
            if self._stopped is not None:
                future.set_exception(WriterStopped(self._stopped))
                return future
            number, self._next = self._next, self._next + 1
            self._pending[number] = future
        try:
            with self._send_lock:
                self._conn.send(("put", number, batch, fence, before_write))
        except Exception as error:  # gone (OSError), or a fence or stamper that does not pickle
            with self._lock:
                mine = self._pending.pop(number, None)  # None: the reader already failed it
            if mine is not None:
                failure = WriterStopped if isinstance(error, (OSError, ValueError)) else WriterFailed
                mine.set_exception(failure(f"{self.name} could not be handed a batch: {type(error).__name__}: {error}"))
        return future

    def _read_answers(self) -> None:
        """Resolve each batch's future as its answer comes; when the answers end (the process
        exited, or an answer could not be read), fail every batch still waiting."""
        why = None
        try:
            while True:
                answer = self._conn.recv()
                if answer[0] == "stats":  # its last word before it exits
                    self._stats = answer[1]
                    continue
                kind, number, value = answer
                with self._lock:
                    future = self._pending.pop(number, None)
                if future is None:  # already failed on our side (its send broke)
                    continue
                if kind == "done":
                    _resolve(future, value, None)
                else:
                    _resolve(future, None, value)
        except (EOFError, OSError):
            pass
        except Exception as error:  # an answer that could not be read: nothing more can be
            why = f"{self.name}'s answers could not be read ({type(error).__name__}: {error})"
            self.process.terminate()
        finally:
            self.process.join(timeout=5)
            with self._lock:
                if why is not None or self._stopped is None or self._pending:
                    self._stopped = why or f"{self.name} stopped (exit code {self.process.exitcode}) before answering"
                pending, self._pending = self._pending, {}
            for future in pending.values():
                _resolve(future, None, WriterStopped(self._stopped))

    def stop(self) -> None:
        with self._lock:
            if self._stopped is None:
                self._stopped = f"{self.name} is closed"
        try:
            with self._send_lock:
                self._conn.send(("stop",))
        except (OSError, ValueError):
            pass  # already gone

    def join(self, deadline: float) -> dict:
        self._reader.join(timeout=max(0.0, deadline - time.monotonic()))
        if self.process.is_alive():
            self.process.terminate()
        self.process.join(timeout=5)
        self._conn.close()
        return self._stats


def _resolve(future: Future, result: object, error: BaseException | None) -> None:
    """Settle `future` unless something settled it first (a send and the reader can race)."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


# ------------------------------------------------------------------------ in the writer process


def serve(conn: Connection, threads: int, backoff: Backoff) -> None:
    """A writer process's loop: put each batch it is sent with `threads` senders, answer for it,
    and on "stop" finish them all, say what it measured and exit."""
    client = aws_clients.dynamodb_for_batches(threads)
    answer_lock, in_flight = threading.Lock(), InFlight()

    def answer(message: tuple) -> None:
        try:
            with answer_lock:
                conn.send(message)
        except OSError:
            os._exit(0)  # the parent is gone
        except Exception as error:  # the answer would not pickle: say so, rather than fall silent
            with answer_lock:
                conn.send(("failed", message[1], WriterFailed(f"{type(error).__name__}: {error}")))

    def put(number: int, batch: list, fence: FenceCheck | None, before_write: BeforeWrite | None) -> None:
        try:
            with in_flight:
                sent = put_batch(client, batch, backoff, fence, before_write)
        except Exception as error:
            error.add_note(f"in {multiprocessing.current_process().name}:\n{traceback.format_exc()}")
            answer(("failed", number, _portable(error)))
        else:
            answer(("done", number, sent))

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="store") as pool:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                os._exit(0)  # the parent died: nothing may be sent for it any more
            if message[0] == "stop":
                break
            pool.submit(put, *message[1:])
    stats = {"cpu_s": round(time.process_time(), 3), "peak_mb": _peak_mb(), "max_in_flight": in_flight.most}
    answer(("stats", stats | {"fence_checks": fence_checks_made()}))
    conn.close()


def _portable(error: Exception) -> Exception:
    """`error` if it survives the pipe as itself (LockLost, BatchRetriesExhausted do), else its
    name and text."""
    try:
        pickle.loads(pickle.dumps(error))  # noqa: S301 (our own bytes, just made)
        return error
    except Exception:
        return WriterFailed(f"{type(error).__name__}: {error}")


def _peak_mb() -> float:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0
