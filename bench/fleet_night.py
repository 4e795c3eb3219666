"""One night of a whole fleet, simulated from measured costs (issue 29): `make fleet`.

    .venv/bin/python bench/fleet_night.py [--districts 10000] [--hosts 50] [--top-host-share 0.2]
        [--host-limit 4] [--workers auto|N] [--spread-minutes 120] [--seed 7] [--from-bench FILE]

A discrete-event simulation of one night: every district of the fleet becomes due at 01:00 in its
own time zone (sync/schedule.py) and must be done by 05:00 local. Its inputs are the per-district
costs `make bench` measured (SIS requests, items written, worker CPU, per night kind; from
bench/results/district_sync.json when --from-bench names it, else the README's latest figures,
below) scaled by students, and AWS figures from bench/aws_prices.py. bench/README.md ("Fleet night")
explains the model; tests/unit/tools/test_fleet_night.py holds it to cases worked out by hand.

What it models, and how:
- Districts: sizes log-normal around a median (3,000 students) with one district at the maximum
  (500,000); US time zones by share of districts; a weekly full sync on a day of the week chosen
  by district, delta nights otherwise with --change-share changed.
- SIS hosts: a popularity skew (host 0 serves --top-host-share of districts, the rest Zipf), a
  page latency per host (log-normal around --page-latency), a limit of concurrent requests per
  host shared by every worker (--host-limit). A district is admitted to its host only while fewer
  than `limit` districts of that host run; otherwise its message comes back after --busy-delay
  seconds without holding a worker (and without counting toward the dead-letter queue). Admitted
  districts queue their pages for the host's slots (first come, first served; each district keeps
  up to --sis-in-flight pages in flight).
- Dispatch: the dispatcher ticks every 30 minutes; a district is due at its night's start plus
  an offset spread over --spread-minutes (a hash of the district; 0 for the districts whose sync
  needs more than --big-sync-minutes, which go first), sent with up to 15 minutes of SQS delay.
- Workers: at most --workers run at once (the sync queue's MaximumConcurrency). A run's fetch
  (simulated page by page) overlaps its writes and CPU (as `make bench` measured): it ends at the
  later of its last page and its start plus max(CPU, store time), plus one second of start-up and
  one per continuation (an invocation lasts at most 900 s; the continuation is assumed to start
  at once on the same worker).
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import random
import statistics
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench")]

import aws_prices as prices  # noqa: E402

# The README's latest default-size `make bench` (10,000 students): per night kind, what the run read,
# wrote and spent. Used unless --from-bench points at a bench/results/district_sync.json.
MEASURED_STUDENTS = 10_000
# Worker CPU per written item with the SDK store (bench/README.md "Issue 24: the SDK again": 255 µs,
# 9.3 s for 36,251 items); the 7.5 s of the table above it was the retired wire's (103 µs).
SDK_CPU_PER_ITEM_S = 255e-6
MEASURED = {
    "first": {
        "sis_requests": 77,
        "items_written": 72_558,
        "cpu_s": round(SDK_CPU_PER_ITEM_S * 72_558, 1),  # 18.5 s
        "store_reads": 1_000,
    },  # full sync, empty store
    "fetch": {"sis_requests": 76, "items_written": 0, "cpu_s": 1.5, "store_reads": 0},  # the same reads, no store
    # A night with 1% changed: the wire's 0.8 s plus the SDK's extra (255 - 103 µs) per written item.
    "delta": {"sis_requests": 7, "items_written": 725, "cpu_s": 0.9, "store_reads": 38},
}
MEASURED_CHANGE_SHARE = 0.01

# US time zones in winter (UTC offsets, hours) and the share of districts in each (roughly by
# public school districts per zone).
TIME_ZONES = ((-5, 0.45), (-6, 0.30), (-7, 0.08), (-8, 0.15), (-9, 0.01), (-10, 0.01))
NIGHT_START_H, NIGHT_END_H = 1, 5
TICK_S = 1800  # the dispatcher's schedule
MAX_SQS_DELAY_S = 900
INVOCATION_S = prices.LAMBDA_MAX_SECONDS - 30  # an invocation stops short of its deadline
START_UP_S = 1.0  # token, secret, checkpoint
CONTINUATION_S = 1.0


def _worker_memory_mb() -> int:
    from rostersync_tools.local.template_resources import function_memory_mb, load_template

    return function_memory_mb(load_template(), "SyncWorkerFunction")


WORKER_MEMORY_MB = _worker_memory_mb()  # billed for every second a worker holds
# The CPU a run gets: at most one vCPU's worth. Runs over 25,000 items send their batches from
# writer processes on a second vCPU (store/write_processes.py), which this model leaves out: a
# large run's CPU time here is one process's, an upper bound.
VCPU = min(1.0, WORKER_MEMORY_MB / prices.LAMBDA_MB_PER_VCPU)
ITEM_BYTES = 600
DEFERRAL_CHARGE_S = 0.1
# Batch gets of 100 items, 4 in flight, ~20 ms each: like DYNAMODB_ITEMS_PER_SECOND_PER_WORKER in
# bench/aws_prices.py, an assumption about DynamoDB, not a published limit.
ITEMS_READ_PER_SECOND_PER_WORKER = 4 * 100 / 0.020  # a busy host's message: one short invocation that gives it back


@dataclass
class Host:
    latency_s: float
    limit: int
    active_districts: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    waiting: deque = field(default_factory=deque)  # runs waiting for a slot, one entry per page
    requests: int = 0


@dataclass
class District:
    index: int
    students: int
    utc_offset_h: int
    host: int
    kind: str  # full | delta
    sis_requests: int = 0
    items: int = 0
    cpu_s: float = 0.0
    store_reads: int = 0
    items_read: int = 0  # items a weekly full sync compares (batch gets)
    due_s: float = 0.0  # when the dispatcher may send it (seconds from 00:00 UTC)
    sent_s: float = 0.0
    started_s: float | None = None
    fetch_done_s: float | None = None
    finished_s: float | None = None
    pages_left: int = 0
    pages_in_flight: int = 0
    pages_queued: int = 0  # waiting in the host's line for a slot
    deferrals: int = 0
    held_s: float = 0.0  # worker time held (Lambda duration)

    @property
    def deadline_s(self) -> float:
        return (NIGHT_END_H - self.utc_offset_h) * 3600.0

    @property
    def window_start_s(self) -> float:
        return (NIGHT_START_H - self.utc_offset_h) * 3600.0


def costs_per_student(bench: dict | None) -> tuple[dict, int, float]:
    """(per night kind: what a run costs, measured students, change share) from a bench report."""
    if not bench:
        return MEASURED, MEASURED_STUDENTS, MEASURED_CHANGE_SHARE
    runs = bench["runs"]

    def reads(run: dict) -> int:
        calls = run.get("dynamodb_calls", {})
        return sum(calls.get(k, 0) for k in ("GetItem", "BatchGetItem", "Query", "Scan"))

    measured = {
        kind: {
            "sis_requests": runs[key]["sis_requests"],
            "items_written": runs[key]["items_written"],
            "cpu_s": runs[key]["cpu_s"],
            "store_reads": reads(runs[key]),
        }
        for kind, key in (("first", "full"), ("fetch", "fetch"), ("delta", "night1"))
    }
    total_changed = sum((bench.get("changes") or {}).values())
    records = sum((bench.get("records") or {}).values()) or 1
    share = total_changed / records if total_changed else MEASURED_CHANGE_SHARE
    return measured, bench["district"]["students"], share


def district_costs(d: District, measured: dict, students: int, change_share: float, wanted_share: float) -> None:
    """Scale the measured runs to the district's size (every roster count grows with students).

    first: a district's first full sync (measured: every item written). full: a weekly full sync of
    a synced district, which reads every page and compares every item (batch gets of 100) but
    writes only what changed: the fetch floor's CPU plus a delta's work per changed record (an
    estimate built from two measured runs, not a measured run). delta: a night's delta sync."""
    scale = d.students / students
    change = scale * wanted_share / change_share  # the measured delta's work, scaled to this change
    first, delta = measured["first"], measured["delta"]
    if d.kind == "first":
        d.sis_requests = max(7, math.ceil(first["sis_requests"] * scale))
        d.items = round(first["items_written"] * scale)
        d.cpu_s = first["cpu_s"] * scale
        d.store_reads = round(first["store_reads"] * scale)
    elif d.kind == "full":
        d.sis_requests = max(7, math.ceil(first["sis_requests"] * scale))
        d.items = round(delta["items_written"] * change)
        d.items_read = round(first["items_written"] * scale)
        d.cpu_s = measured["fetch"]["cpu_s"] * scale + delta["cpu_s"] * change
        d.store_reads = math.ceil(d.items_read / 100)
    else:  # a delta reads a page per collection, plus a page per 1,000 changed records
        d.items = round(delta["items_written"] * change)
        d.sis_requests = delta["sis_requests"] + d.items // 1000
        d.cpu_s = delta["cpu_s"] * change
        d.store_reads = max(1, round(delta["store_reads"] * change))


def run_seconds_without_sis(d: District, vcpu: float) -> float:
    """CPU and store time of a run: they overlap each other and the fetch."""
    store_s = d.items / prices.DYNAMODB_ITEMS_PER_SECOND_PER_WORKER + d.items_read / ITEMS_READ_PER_SECOND_PER_WORKER
    return max(d.cpu_s / vcpu, store_s)


def make_fleet(args, measured: dict, students: int, change_share: float) -> tuple[list[District], list[Host]]:
    rng = random.Random(args.seed)  # a simulation's draws, not secrets
    # Host popularity: host 0 takes its share, the rest a Zipf curve.
    rest = [1 / (rank + 1) for rank in range(args.hosts - 1)]
    weights = [args.top_host_share] + [w / sum(rest) * (1 - args.top_host_share) for w in rest]
    hosts = [
        Host(latency_s=args.page_latency * math.exp(rng.gauss(0, args.host_spread)), limit=args.host_limit)
        for _ in range(args.hosts)
    ]
    zones, zone_weights = zip(*TIME_ZONES, strict=True)
    sigma = args.size_sigma
    districts = []
    for i in range(args.districts):
        size = (
            args.max_students
            if i == 0
            else min(args.max_students, round(args.median_students * math.exp(rng.gauss(0, sigma))))
        )
        d = District(
            index=i,
            students=max(50, size),
            utc_offset_h=rng.choices(zones, zone_weights)[0],
            host=rng.choices(range(args.hosts), weights)[0],
            kind=("first" if args.largest_first else "full")
            if i == 0
            else ("full" if rng.randrange(7) == 0 else "delta"),
        )
        district_costs(d, measured, students, change_share, args.change_share)
        districts.append(d)
    vcpu = VCPU
    for d in districts:
        alone = run_seconds_without_sis(d, vcpu)
        offset = 0.0 if alone > args.big_sync_minutes * 60 else rng.uniform(0, args.spread_minutes * 60)
        due = d.window_start_s + offset
        tick = math.ceil(due / TICK_S) * TICK_S
        d.due_s = tick + (rng.uniform(0, MAX_SQS_DELAY_S) if args.spread_minutes else 0.0)
    return districts, hosts


def simulate(districts: list[District], hosts: list[Host], workers: int, args) -> dict:
    """Runs the night; returns what happened (the districts are updated in place)."""
    rng = random.Random(args.seed + 1)  # a simulation's draws, not secrets
    vcpu = VCPU
    events: list = []
    seq = 0

    def at(t: float, kind: str, d: District) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (t, seq, kind, d))

    for d in sorted(districts, key=lambda d: (d.due_s, d.host)):  # a batch interleaves hosts
        d.sent_s = d.due_s
        at(d.due_s, "arrive", d)
    queue: deque[District] = deque()
    free_workers = workers
    busy_peak = 0

    def send_page(d: District, host: Host, now: float) -> None:
        host.in_flight += 1
        host.requests += 1
        host.peak_in_flight = max(host.peak_in_flight, host.in_flight)
        d.pages_left -= 1
        d.pages_in_flight += 1
        at(now + host.latency_s * math.exp(rng.gauss(0, args.page_jitter)), "page", d)

    def ask_for_pages(d: District, host: Host, now: float) -> None:
        while d.pages_in_flight + d.pages_queued < args.sis_in_flight and d.pages_left > d.pages_queued:
            if host.in_flight < host.limit and not host.waiting:
                send_page(d, host, now)
            else:
                host.waiting.append(d)
                d.pages_queued += 1

    def start_runs(now: float) -> None:
        nonlocal free_workers, busy_peak
        deferred = []
        while free_workers and queue:
            d = queue.popleft()
            host = hosts[d.host]
            if host.active_districts >= host.limit:  # the host is busy: come back later
                d.deferrals += 1
                d.held_s += DEFERRAL_CHARGE_S
                deferred.append(d)
                continue
            free_workers -= 1
            busy_peak = max(busy_peak, workers - free_workers)
            host.active_districts += 1
            d.started_s = now
            d.pages_left = d.sis_requests
            ask_for_pages(d, host, now)
        for d in deferred:
            at(now + args.busy_delay, "arrive", d)

    def finish_fetch(d: District, now: float) -> None:
        d.fetch_done_s = now
        started = d.started_s or 0.0
        work_end = max(now, started + run_seconds_without_sis(d, vcpu))
        continuations = math.ceil((work_end - started) / INVOCATION_S) - 1
        at(work_end + START_UP_S + CONTINUATION_S * max(0, continuations), "done", d)

    while events:
        now, _, kind, d = heapq.heappop(events)
        host = hosts[d.host]
        if kind == "arrive":
            queue.append(d)
        elif kind == "page":
            host.in_flight -= 1
            d.pages_in_flight -= 1
            while host.waiting and host.in_flight < host.limit:  # the next run's page takes the slot
                waiter = host.waiting.popleft()
                waiter.pages_queued -= 1
                send_page(waiter, host, now)
            if d.pages_left > 0:
                ask_for_pages(d, host, now)
            elif d.pages_in_flight == 0:
                finish_fetch(d, now)
        elif kind == "done":
            d.finished_s = now
            d.held_s += now - (d.started_s if d.started_s is not None else now)
            host.active_districts -= 1
            free_workers += 1
        start_runs(now)
    return {"workers_peak": busy_peak}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)] if ordered else 0.0


def night_cost(d: District) -> dict:
    lambda_usd = d.held_s * WORKER_MEMORY_MB / 1024 * prices.LAMBDA_PER_GB_SECOND
    invocations = 1 + d.deferrals + max(0, math.ceil(((d.finished_s or 0) - (d.started_s or 0)) / INVOCATION_S) - 1)
    lambda_usd += invocations * prices.LAMBDA_PER_REQUEST
    write_units = d.items * math.ceil(ITEM_BYTES / prices.DYNAMODB_WRITE_UNIT_BYTES)
    # a batch get reads up to 100 items (eventually consistent: half a unit per 4 KB); counted as full
    read_units = d.store_reads * (1 if d.kind == "delta" else 100) * 0.5
    dynamodb_usd = write_units * prices.DYNAMODB_PER_WRITE_UNIT + read_units * prices.DYNAMODB_PER_READ_UNIT
    sqs_usd = invocations * 3 * prices.SQS_PER_REQUEST
    secrets_usd = invocations * prices.SECRETS_MANAGER_PER_API_CALL
    return {"lambda": lambda_usd, "dynamodb": dynamodb_usd, "sqs": sqs_usd, "secrets_manager": secrets_usd}


def why_late(d: District, vcpu: float) -> str:
    if d.finished_s is None or d.started_s is None:
        return "never started"
    alone = max(run_seconds_without_sis(d, vcpu), 0) + START_UP_S
    waited = d.started_s - d.sent_s
    if d.window_start_s + alone > d.deadline_s:
        return f"its own {d.kind} sync needs {alone / 60:.0f} min, longer than the night"
    if d.deferrals:
        return f"its SIS host was busy ({d.deferrals} deferrals, {waited / 60:.0f} min)"
    return f"waited {waited / 60:.0f} min for a worker"


def run_night(args, measured, students, change_share, workers: int) -> tuple[list[District], list[Host], dict]:
    districts, hosts = make_fleet(args, measured, students, change_share)
    sim = simulate(districts, hosts, workers, args)
    return districts, hosts, sim


def all_done_in_time(districts: list[District]) -> bool:
    return all(d.finished_s is not None and d.finished_s <= d.deadline_s for d in districts)


def workers_needed(args, measured, students, change_share, most: int = 4000) -> int | None:
    """The fewest workers with which every district is done by 05:00 local (binary search)."""
    low, high = 1, most
    districts, _, _ = run_night(args, measured, students, change_share, high)
    if not all_done_in_time(districts):
        return None
    while low < high:
        middle = (low + high) // 2
        districts, _, _ = run_night(args, measured, students, change_share, middle)
        if all_done_in_time(districts):
            high = middle
        else:
            low = middle + 1
    return low


def report(args, districts: list[District], hosts: list[Host], sim: dict, workers: int, needed: int | None) -> dict:
    vcpu = VCPU
    late = [d for d in districts if d.finished_s is None or d.finished_s > d.deadline_s]
    costs = [night_cost(d) for d in districts]
    totals = {part: sum(c[part] for c in costs) for part in costs[0]}
    per_district = [sum(c.values()) for c in costs]
    largest = max(districts, key=lambda d: d.students)
    over = [(i, h.peak_in_flight, h.limit) for i, h in enumerate(hosts) if h.peak_in_flight > h.limit]
    finish_local = [((d.finished_s or 0) / 3600 + d.utc_offset_h) for d in districts]
    return {
        "districts": len(districts),
        "full_syncs": sum(d.kind != "delta" for d in districts),
        "students": sum(d.students for d in districts),
        "workers": workers,
        "workers_peak": sim["workers_peak"],
        "workers_needed": needed,
        "done_by_0500_local": round(1 - len(late) / len(districts), 4),
        "late": [
            {"district": d.index, "students": d.students, "kind": d.kind, "why": why_late(d, vcpu)} for d in late[:20]
        ],
        "late_total": len(late),
        "latest_finish_local_h": round(max(finish_local), 2),
        "host_limit": args.host_limit,
        "host_peak_in_flight": max(h.peak_in_flight for h in hosts),
        "hosts_over_limit": over,
        "top_host": {"districts": sum(d.host == 0 for d in districts), "requests": hosts[0].requests},
        "deferrals": sum(d.deferrals for d in districts),
        "cost_usd": {part: round(v, 2) for part, v in totals.items()} | {"total": round(sum(totals.values()), 2)},
        "cost_per_district_night_usd": {
            "median": round(statistics.median(per_district), 6),
            "p99": round(percentile(per_district, 0.99), 6),
        },
        "lambda_gb_s": round(sum(d.held_s for d in districts) * WORKER_MEMORY_MB / 1024),
        "largest_district": {
            "students": largest.students,
            "kind": largest.kind,
            "wall_min": round(((largest.finished_s or 0) - (largest.started_s or 0)) / 60, 1),
            "invocations": math.ceil(((largest.finished_s or 0) - (largest.started_s or 0)) / INVOCATION_S),
            "cpu_min": round(largest.cpu_s / vcpu / 60, 1),
            "store_min": round(largest.items / prices.DYNAMODB_ITEMS_PER_SECOND_PER_WORKER / 60, 1),
            "fetch_min": round(((largest.fetch_done_s or 0) - (largest.started_s or 0)) / 60, 1),
            "finished_local_h": round((largest.finished_s or 0) / 3600 + largest.utc_offset_h, 2),
        },
    }


def render(r: dict) -> str:
    big = r["largest_district"]
    lines = [
        f"fleet: {r['districts']:,} districts, {r['students']:,} students, {r['full_syncs']:,} full syncs tonight",
        f"workers: {r['workers']} allowed, {r['workers_peak']} busy at the peak; fewest that finish every district "
        f"by 05:00 local: {r['workers_needed']}",
        f"done by 05:00 local: {r['done_by_0500_local']:.2%} ({r['late_total']} late; latest finish "
        f"{r['latest_finish_local_h']:.2f} h local)",
        f"SIS hosts: peak {r['host_peak_in_flight']} requests in flight on one host (limit {r['host_limit']}); "
        f"over the limit: {len(r['hosts_over_limit'])}; busy-host deferrals: {r['deferrals']:,}; "
        f"top host: {r['top_host']['districts']:,} districts, {r['top_host']['requests']:,} requests",
        f"night's cost: ${r['cost_usd']['total']:,.2f} (Lambda ${r['cost_usd']['lambda']:,.2f}, "
        f"DynamoDB ${r['cost_usd']['dynamodb']:,.2f}, SQS ${r['cost_usd']['sqs']:,.2f}, Secrets Manager "
        f"${r['cost_usd']['secrets_manager']:,.2f}); {r['lambda_gb_s']:,} GB-s",
        f"per district-night: median ${r['cost_per_district_night_usd']['median']:.5f}, "
        f"p99 ${r['cost_per_district_night_usd']['p99']:.5f}",
        f"largest district: {big['students']:,} students, {big['kind']} sync {big['wall_min']} min on one worker "
        f"({big['invocations']} invocations; CPU {big['cpu_min']} min, store {big['store_min']} min, "
        f"fetch {big['fetch_min']} min), done {big['finished_local_h']:.2f} h local",
    ]
    lines += [
        f"  late: district {x['district']} ({x['students']:,} students, {x['kind']}): {x['why']}" for x in r["late"]
    ]
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--districts", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--top-host-share", type=float, default=0.2)
    parser.add_argument("--host-limit", type=int, default=4, help="concurrent requests per SIS host")
    parser.add_argument("--page-latency", type=float, default=1.0, help="median seconds per SIS page of 1,000")
    parser.add_argument("--sis-in-flight", type=int, default=4, help="pages one run keeps in flight")
    parser.add_argument("--median-students", type=int, default=3_000)
    parser.add_argument("--size-sigma", type=float, default=1.2, help="log-normal spread of district sizes")
    parser.add_argument("--max-students", type=int, default=500_000)
    parser.add_argument("--change-share", type=float, default=0.01)
    parser.add_argument(
        "--largest-first",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the largest district's night is its first full sync (the heaviest; else a weekly full)",
    )
    parser.add_argument("--host-spread", type=float, default=0.4, help="log-normal spread of host latencies")
    parser.add_argument("--page-jitter", type=float, default=0.3, help="log-normal spread of one page's latency")
    parser.add_argument("--spread-minutes", type=float, default=120, help="0: every district at its tick")
    parser.add_argument("--big-sync-minutes", type=float, default=30, help="longer syncs start at once")
    parser.add_argument("--busy-delay", type=float, default=60, help="seconds before a busy host's district returns")
    parser.add_argument("--workers", default="auto", help="the sync queue's MaximumConcurrency, or auto")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--from-bench", help="a bench/results/district_sync.json to take the costs from")
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "fleet_night.json"))
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    bench = json.loads(Path(args.from_bench).read_text()) if args.from_bench else None
    measured, students, change_share = costs_per_student(bench)
    needed = workers_needed(args, measured, students, change_share)
    workers = (needed or 4000) if args.workers == "auto" else int(args.workers)
    districts, hosts, sim = run_night(args, measured, students, change_share, workers)
    result = report(args, districts, hosts, sim, workers, needed)
    result["inputs"] = {
        "measured_students": students,
        "measured": measured,
        "source": args.from_bench or "README's latest make bench",
    }
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(render(result))
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(f"written: {args.output} ({result['seconds']} s)")
    return 0 if result["done_by_0500_local"] == 1.0 and not result["hosts_over_limit"] else 1


if __name__ == "__main__":
    sys.exit(main())
