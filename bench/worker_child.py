"""One measured piece of worker work in its own process: a sync, a floor, or the naive sync.

    .venv/bin/python bench/worker_child.py TASK '{"json": "arguments"}'

TASK is one of
  sync   run_sync(SyncRequest(district, run, mode)) until the outcome is not "continue";
  csv_sync  the same, reading a staged CSV bundle ("bucket", "prefix", "manifest"; a fresh
         CsvBundleReader per invocation, as sources/opening.py opens one);
  fetch  the fetch-only floor: every collection a full sync reads, through the same client
         (same page limit, same pages in flight), records parsed, nothing stored;
  store  the store-only floor: items from a JSON-lines file written through BatchStore
         (same batches, same requests in flight), no SIS;
  naive  bench/naive_sync.py: sequential pages with plain requests, one PutItem per record.

The parent (bench/district_sync.py) hosts the embedded AWS and the sandbox SIS and hands this
process their environment, so resource.getrusage here is the worker's own: CPU time (user +
system) spent on the task, and the process's peak RSS. The last line on stdout is
`RESULT {json}`. With "profile": PATH in the arguments the task runs under pyinstrument
(main thread) and the profile is written to PATH (.html and .txt).
"""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "layers" / "core"), str(ROOT), str(ROOT / "bench")]

READ_ORDER = ("schools", "courses", "classes", "users", "enrollments")  # what a full sync reads, in order


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """This process's peak RSS: VmHWM of its own address space.

    Not getrusage's ru_maxrss: on Linux that survives execve, so a child of the parent (which
    holds moto's tables) would report the parent's high-water mark at fork time.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # elsewhere: the best there is


class ThreadCpu:
    """CPU seconds (user + system) by thread group (store, oneroster-page, MainThread...): each
    thread's own clock read as it ends, the main thread's around the task. Where a run's CPU went,
    without a profiler's overhead (py-spy counts a thread waiting for the GIL as running)."""

    def __init__(self):
        self.seconds: Counter = Counter()
        self._lock = threading.Lock()
        self._main0 = time.thread_time()
        original, record = threading.Thread.run, self._record

        def run(thread):
            try:
                original(thread)
            finally:
                record(thread.name, time.thread_time())

        threading.Thread.run = run

    def _record(self, name: str, seconds: float) -> None:
        group = name.rsplit("_", 1)[0].rsplit("-", 1)[0] if name[-1:].isdigit() else name
        with self._lock:
            self.seconds[group] += seconds

    def as_dict(self) -> dict:
        """Threads still running are not counted (a task's pools are shut down before it ends)."""
        seconds = dict(self.seconds)
        seconds["MainThread"] = time.thread_time() - self._main0
        return {name: round(value, 3) for name, value in sorted(seconds.items(), key=lambda kv: -kv[1])}


class GcTime:
    """Garbage collections during the task, by generation, and the CPU time they took (the
    collecting thread's own clock)."""

    def __init__(self):
        self.collections, self.seconds, self._started = Counter(), Counter(), 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.thread_time()
        else:
            self.collections[f"gen{info['generation']}"] += 1
            self.seconds[f"gen{info['generation']}_s"] += time.thread_time() - self._started

    def as_dict(self) -> dict:
        gc.callbacks.remove(self._callback)
        return {
            **self.collections,
            **{k: round(v, 3) for k, v in self.seconds.items()},
            "tracked_objects_at_end": len(gc.get_objects()),
        }


class DynamoDbCalls:
    """DynamoDB API calls a BatchStore made, by operation, counted by botocore's event hooks on
    both its clients (the batches' own and the one for everything else), with the most
    BatchWriteItem requests it had in flight at once ("maxWritesInFlight")."""

    def __init__(self, store):
        self.store = store
        self.calls: Counter = Counter()
        lock = threading.Lock()

        def before_call(model, **_):
            with lock:
                self.calls[model.name] += 1

        clients = {id(c): c for c in (store.client, store.batch_client)}
        for client in clients.values():
            client.meta.events.register("before-call.dynamodb", before_call)

    def as_dict(self) -> dict:
        return dict(self.calls) | {"maxWritesInFlight": self.store.max_writes_in_flight}

    def __getitem__(self, name: str) -> int:
        return self.calls[name]


def tuning():
    from rostersync.sync.engine import Tuning

    return Tuning.from_env()


def engine_store():
    """The BatchStore the engine would build (sync/engine.py), built here so its counters can be
    read: the same writers in flight, and writer processes when the tuning has them."""
    from rostersync.store.batch import BatchStore

    t = tuning()
    return BatchStore(
        max_in_flight=t.store_in_flight, processes=t.writer_processes, processes_after=t.writer_processes_after
    )


def store_figures(store, calls: DynamoDbCalls) -> dict:
    """What a closed store counted: items and requests, DynamoDB calls, fence checks (this
    process's and its writer processes'), and its writers' own figures."""
    from rostersync.store.batch_requests import fence_checks_made

    return {
        "items_written": store.items_written,
        "write_requests": store.write_requests,
        "get_requests": store.get_requests,
        "dynamodb_calls": calls.as_dict(),
        "fence_checks": fence_checks_made() + sum(w["fence_checks"] for w in store.writer_stats),
        "writer_stats": store.writer_stats,
    }


def worker_fence(args: dict):
    """The fence the worker hands the engine (sync/worker.py): one consistent read of the
    district before each write batch, against its current token."""
    from rostersync.store.sync_runs import lock_token
    from rostersync.sync.run_lifecycle import Fence

    return Fence(args["district_id"], args["run_id"], lock_token(args["district_id"])[1])


# ---------------------------------------------------------------------------------- tasks
def task_sync(args: dict) -> dict:
    from rostersync.sync.engine import Outcome, SyncRequest, run_sync

    source = None
    if "manifest" in args:  # csv_sync
        from rostersync.sources.csv_bundle import Bundle
        from rostersync.sources.csv_files import S3BundleFiles
        from rostersync.sources.csv_reader import CsvBundleReader

        bundle = Bundle.from_json(args["manifest"])

        def source():
            return CsvBundleReader(bundle, S3BundleFiles(args["bucket"], args["prefix"]), tuning().page_limit)

    store = engine_store()
    calls = DynamoDbCalls(store)
    fence = worker_fence(args)
    invocations, result, phases = 0, None, {}
    while result is None or result.outcome == Outcome.CONTINUE:
        invocations += 1
        result = run_sync(
            SyncRequest(args["district_id"], args["run_id"], mode=args.get("mode", "full"), fence=fence),
            lambda: 1e9,
            store=store,
            source=source() if source else None,
        )
        for phase, seconds in result.phase_seconds.items():  # wall seconds per phase, flushes included
            phases[phase] = round(phases.get(phase, 0) + seconds, 3)
    store.close()
    return {
        "outcome": str(result.outcome),
        "mode": result.mode,
        "failure": result.failure,
        "invocations": invocations,
        "counts": result.counts,
        "errors": result.error_total,
        "phases_s": phases,
        **store_figures(store, calls),
    }


def _client_for(district_id: str):
    """The OneRoster client as the engine opens it (rostersync.sis_access, the engine's tuning)."""
    from rostersync import sis_access
    from rostersync.store.districts import DistrictModel

    t = tuning()
    return sis_access.open_client(
        district_id,
        sis_access.client_settings(DistrictModel.get(district_id).connection),
        page_limit=t.page_limit,
        max_in_flight=t.sis_in_flight,
    )


def task_fetch(args: dict) -> dict:
    from rostersync.oneroster import BadRecord

    client = _client_for(args["district_id"])
    collections = {}
    with client:
        for collection in READ_ORDER:
            stream = client.stream(collection)
            records = bad = 0
            for page in stream.pages():
                for record in page.records:
                    if isinstance(record, BadRecord):
                        bad += 1
                    else:
                        records += 1
            collections[collection] = {
                "records": records,
                "bad": bad,
                "pages": stream.pages_read,
                "requests": stream.requests,
                "page_size": stream.page_size,
            }
    return {"collections": collections, "sis_requests_client": client.requests_total}


def load_items(path: str, district_id: str, tables: dict[str, str]) -> list[tuple[str, dict]]:
    """The dumped items, moved to `district_id` (their keys and index keys name the district)
    and to the tables `tables` maps theirs to."""
    from rostersync.store.codec import parse_datetime

    items = []
    with open(path) as lines:
        for line in lines:
            table, item = json.loads(line)
            table = tables.get(table, table)
            old = item["districtId"]
            for name, value in item.items():
                if isinstance(value, str) and value.startswith(old):
                    item[name] = district_id + value[len(old) :]
            for name in ("updatedAt", "createdAt"):  # the engine hands BatchStore datetimes
                if name in item:
                    item[name] = parse_datetime(item[name])
            items.append((table, item))
    return items


def task_store(args: dict, items: list[tuple[str, dict]]) -> dict:
    store = engine_store()
    store.fence = worker_fence(args["fence"])
    calls = DynamoDbCalls(store)
    table = None
    for item_table, item in items:
        if item_table != table:  # the engine flushes at each phase's end
            store.flush()
            table = item_table
        store.put(item_table, item)
    store.flush()
    store.close()
    return store_figures(store, calls)


def task_naive(args: dict) -> dict:
    import naive_sync

    return naive_sync.naive_sync(args["district_id"], args["run_id"])


# ---------------------------------------------------------------------------------- main
def main() -> int:
    task, args = sys.argv[1], json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    prepared = None
    if task == "store":
        prepared = load_items(args["items_path"], args["district_id"], args.get("tables", {}))  # not part of the floor
    # Import what the task needs before the clock starts: a warm Lambda container has.
    import naive_sync  # noqa: F401

    import rostersync.sync.engine  # noqa: F401

    profiler = None
    if args.get("profile"):
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.002)
        profiler.start()
    threads, collections = ThreadCpu(), GcTime()
    cpu0, wall0, usage0 = cpu_seconds(), time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    if task == "store":
        out = task_store(args, prepared)
    else:
        out = {"sync": task_sync, "csv_sync": task_sync, "fetch": task_fetch, "naive": task_naive}[task](args)
    wall, cpu = time.perf_counter() - wall0, cpu_seconds() - cpu0
    cpu_by_thread, gc_time = threads.as_dict(), collections.as_dict()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    if profiler is not None:
        profiler.stop()
        base = args["profile"]
        Path(base + ".html").write_text(profiler.output_html())
        Path(base + ".txt").write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    # Writer processes (store/write_processes.py) measured themselves: the worker's CPU is this
    # process's and theirs together.
    writers = out.get("writer_stats") or []
    if any(not w for w in writers):  # a writer that died measured nothing: no figure to report
        raise RuntimeError(f"a writer process ended without its figures: {writers}")
    writer_cpu = [w["cpu_s"] for w in writers]
    out.update(
        task=task,
        wall_s=round(wall, 3),
        cpu_s=round(cpu + sum(writer_cpu), 3),
        main_cpu_s=round(cpu, 3),
        writer_cpu_s=writer_cpu,
        peak_rss_mb=round(peak_rss_mb(), 1),  # this process's: where a run's state lives
        writer_peak_mb=[w["peak_mb"] for w in writers],  # each holds only its batches in flight
        pid=os.getpid(),
        cpu_user_s=round(usage.ru_utime - usage0.ru_utime, 3),
        cpu_system_s=round(usage.ru_stime - usage0.ru_stime, 3),
        cpu_by_thread_s=cpu_by_thread,
        gc=gc_time,
    )
    print("RESULT " + json.dumps(out, default=str), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
