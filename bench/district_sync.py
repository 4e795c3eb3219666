"""District-scale benchmark of the sync engine (issue 6): `make bench`.

    .venv/bin/python bench/district_sync.py [--quick] [--students N --teachers N --classes N
        --enrollments N --schools N] [--latency-ms 20] [--page-cap 1000] [--profile]

This process hosts the local stack's store (moto server, tables from template.yaml) and the
sandbox SIS (per-request latency, page cap); every measured piece of work runs in its own
child process (bench/worker_child.py), so CPU time and peak RSS are the worker's own.

In one run it measures
  full      a full sync of the large district (first sync: tables empty for it);
  fetch     floor: the same reads through the same client and concurrency, nothing stored;
  store     floor: the same items written the same way through BatchStore, no SIS;
  night0    the next night in delta mode, nothing changed;
  night1%   the night after, in delta mode, with --change-share of the records changed;
  quarter   the same full sync at a quarter of the size (memory growth);
  naive     bench/naive_sync.py at the quarter size (reference);
  scale     with --scale N: the same full sync at N times the size (wall and memory growth);
checks the issues' targets (ratios from this run), projects what districts of 10,000, 50,000
and 500,000 students cost per night on AWS and how long their syncs take there
(bench/cost_projection.py, prices in bench/aws_prices.py), prints a table and writes
bench/results/district_sync.json. --profile also records the full sync with py-spy (the worker:
the thread holding the GIL, sampled without pausing it, since pausing it doubled its CPU; and,
separately, every thread of this process's moto and sandbox) and pyinstrument (the worker's main
thread) into bench/results/.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "layers" / "core"), str(ROOT), str(ROOT / "bench")]

from rostersync_tools.local.embedded_aws import REGION, EmbeddedAws  # noqa: E402
from rostersync_tools.sandbox_sis import SandboxConfig, SandboxSIS  # noqa: E402

RESULTS = ROOT / "bench" / "results"
CHILD = ROOT / "bench" / "worker_child.py"
READ_ORDER = ("schools", "courses", "classes", "users", "enrollments")
DELTA_COLLECTIONS = READ_ORDER  # a delta reads schools and courses whole, the rest filtered
RUN_GROUPS = ("fetch", "full", "store", "nights", "quarter", "naive", "scale")
QUICK = {"students": 5_000, "teachers": 300, "classes": 1_000, "enrollments": 30_000}


# ---------------------------------------------------------------------------------- set-up
def start_sandbox(args, scale: float = 1.0):
    """SandboxSIS in this process (the default), or a SisProcess (--sis-process)."""
    sizes = {k: max(1, round(getattr(args, k) * scale)) for k in ("students", "teachers", "classes", "enrollments")}
    config = SandboxConfig(
        seed=args.seed, schools=args.schools, page_cap=args.page_cap, latency_ms=args.latency_ms, **sizes
    )
    if args.sis_process:
        from sis_host import SisProcess

        return SisProcess(config)
    sis = SandboxSIS(config)
    sis.start(port=0)
    sis.state()  # every record's JSON cached now, so no measured run pays for warming the sandbox
    return sis


def _writer_peaks(run: dict) -> str:
    peaks = run.get("writer_peak_mb") or []
    return "/".join(f"{p:.0f}" for p in peaks) if peaks else "none"


def worker_memory_mb() -> int:
    from rostersync_tools.local.template_resources import function_memory_mb, load_template

    return function_memory_mb(load_template(), "SyncWorkerFunction")


def connect_district(sis, name: str) -> str:
    """A connected district with a sync configuration selecting everything (as tests/fixtures do)."""
    from rostersync.ids import new_id
    from rostersync.sis_secrets import put_client_secret
    from rostersync.store.districts import DistrictModel, SisConnection, SyncConfig

    now = datetime.now(UTC)
    district_id = new_id("dst")
    secret_name = put_client_secret(district_id, sis.config.client_secret)
    DistrictModel(
        district_id=district_id,
        name=name,
        timezone="America/Chicago",
        created_at=now,
        connection=SisConnection(
            host_url=sis.host_url,
            client_id=sis.config.client_id,
            auth_method="oauth2",
            secret_name=secret_name,
            connected_at=now,
        ),
        sync_config=SyncConfig(
            start_date="2026-01-01", enabled=True, guard_max_share=0.2, guard_min_records=20, updated_at=now
        ),
    ).save()
    return district_id


# ---------------------------------------------------------------------------------- children
def run_child(task: str, child_args: dict, sis=None, py_spy: str | None = None, parent_spy: str | None = None) -> dict:
    """Run one task in a child process; its RESULT, plus the SIS requests the sandbox counted."""
    command = [sys.executable, str(CHILD), task, json.dumps(child_args)]
    if py_spy:
        command = [
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "--format",
            "raw",
            "--rate",
            "200",
            "--gil",
            "--nonblocking",
            "--threads",
            "-o",
            py_spy,
            "--",
            *command,
        ]
    spy = None
    if parent_spy:  # moto and the sandbox live in this process: see what they spend it on
        spy = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "py-spy"),
                "record",
                "--format",
                "raw",
                "--rate",
                "100",
                "--threads",
                "--nonblocking",
                "-o",
                parent_spy,
                "--pid",
                str(os.getpid()),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1)
    if sis is not None:
        sis.reset_stats()
    parent_cpu0 = time.process_time()
    completed = subprocess.run(command, cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True)
    parent_cpu = time.process_time() - parent_cpu0
    if spy is not None:
        spy.send_signal(2)
        spy.wait(30)
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    if completed.returncode != 0 or not lines:
        sys.stderr.write(completed.stdout[-4000:] + completed.stderr[-8000:])
        raise RuntimeError(f"bench child {task} failed (exit {completed.returncode})")
    result = json.loads(lines[-1][len("RESULT ") :])
    result["parent_cpu_s"] = round(parent_cpu, 3)  # moto + sandbox work, in this process
    result["load_1m"] = round(os.getloadavg()[0], 1)  # this machine's other work shows here
    if sis is not None:
        stats = sis.stats()
        result["sis_requests"] = stats["requests"]
        result["sis_token_requests"] = stats["tokenRequests"]
        result["sis_by_path"] = stats["byPath"]
    return result


def stored_items(aws: EmbeddedAws, table: str, district_id: str) -> list[dict]:
    """A district's items in `table`, as DynamoDB attribute values.

    Read from the moto backend in this process when it is there: through the API, each page of
    a Query makes moto sort the whole table, which for 70,000 items takes minutes.
    """
    try:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends
        from moto.dynamodb.models.dynamo_type import DynamoType

        moto_table = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].get_table(table)
        return [
            item.to_json()["Attributes"] for item in moto_table.items.get(DynamoType({"S": district_id}), {}).values()
        ]
    except Exception:  # another moto: the slow, public way
        items = []
        for page in (
            aws.client("dynamodb")
            .get_paginator("query")
            .paginate(
                TableName=table,
                KeyConditionExpression="districtId = :d",
                ExpressionAttributeValues={":d": {"S": district_id}},
            )
        ):
            items += page["Items"]
        return items


def written_tables() -> tuple[str, ...]:
    """The tables a sync writes its items to, in the order it writes them (terms last)."""
    from rostersync.settings import get_settings

    settings = get_settings()
    return (
        settings.schools_table,
        settings.classes_table,
        settings.enrollments_table,
        settings.users_table,
        settings.terms_table,
    )


def mirror_tables(aws: EmbeddedAws, prefix: str) -> dict[str, str]:
    """Empty copies of the tables a sync writes (keys, indexes): {table: its copy}."""
    client, mirrors = aws.client("dynamodb"), {}
    for table in written_tables():
        spec = client.describe_table(TableName=table)["Table"]
        create = {
            "TableName": f"{prefix}-{table}",
            "KeySchema": spec["KeySchema"],
            "AttributeDefinitions": spec["AttributeDefinitions"],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if spec.get("GlobalSecondaryIndexes"):
            create["GlobalSecondaryIndexes"] = [
                {k: index[k] for k in ("IndexName", "KeySchema", "Projection")}
                for index in spec["GlobalSecondaryIndexes"]
            ]
        client.create_table(**create)
        mirrors[table] = create["TableName"]
    return mirrors


def drop_tables(aws: EmbeddedAws, tables) -> None:
    client = aws.client("dynamodb")
    for table in tables:
        client.delete_table(TableName=table)


def dump_items(aws: EmbeddedAws, district_id: str, path: Path) -> int:
    """The district's items, in the order the sync writes them, as JSON lines."""
    from rostersync.store.codec import from_item

    count = 0
    with path.open("w") as out:
        for table in written_tables():
            for item in stored_items(aws, table, district_id):
                out.write(json.dumps([table, from_item(item)]) + "\n")
                count += 1
    return count


# ---------------------------------------------------------------------------------- report
def pages_needed(records: dict[str, int], page_size: int) -> int:
    return sum(math.ceil(n / page_size) for n in records.values())


def check_targets(r: dict, args) -> list[dict]:
    """Every target whose runs were made (all of them unless --only)."""
    needs = (
        ("full", "fetch", "store"),
        ("naive", "quarter"),
        ("full",),
        ("night0",),
        ("night1",),
        ("night1",),
        ("full", "quarter"),
        ("full",),
        ("full", "night1"),
        ("night1",),
        ("full",),
        ("full", "scale"),
        ("full", "scale"),
        ("projection",),
        ("projection",),
    )
    return [t for t, need in zip(_targets(r, args), needs, strict=True) if all(k in r for k in need)]


def _targets(r: dict, args) -> list[dict]:
    missing = {
        "wall_s": math.nan,
        "peak_rss_mb": math.nan,
        "items_written": 0,
        "write_requests": 0,
        "sis_requests": 0,
        "sis_token_requests": 0,
    }
    full, fetch, store = (r.get(k, missing) for k in ("full", "fetch", "store"))
    r = {**{k: missing for k in ("naive", "quarter", "night0", "night1", "scale")}, **r}
    floor = max(fetch["wall_s"], store["wall_s"])
    changed = r.get("changes", {})
    changed_total = max(1, sum(len(v) for v in changed.values()))
    delta_needed = sum(math.ceil(len(changed.get(c, [])) / args.page_cap) for c in DELTA_COLLECTIONS)
    delta_allowed = 1.2 * delta_needed + len(DELTA_COLLECTIONS)

    def target(name, value, limit, ok, detail):
        return {"target": name, "value": value, "limit": limit, "pass": bool(ok), "detail": detail}

    return [
        target(
            "full sync wall <= 1.3 x max(fetch floor, store floor)",
            round(full["wall_s"] / floor, 2),
            1.3,
            full["wall_s"] <= 1.3 * floor,
            f"{full['wall_s']:.1f} s vs floors fetch {fetch['wall_s']:.1f} s, store {store['wall_s']:.1f} s",
        ),
        target(
            ">= 5x faster than naive (quarter size)",
            round(r["naive"]["wall_s"] / r["quarter"]["wall_s"], 1),
            5,
            r["naive"]["wall_s"] >= 5 * r["quarter"]["wall_s"],
            f"naive {r['naive']['wall_s']:.1f} s vs sync {r['quarter']['wall_s']:.1f} s",
        ),
        target(
            "full sync SIS requests <= 1.05 x pages needed",
            round(full["sis_requests"] / r.get("pages_needed", 1), 3),
            1.05,
            full["sis_requests"] <= 1.05 * r.get("pages_needed", 0),
            f"{full['sis_requests']} requests ({full['sis_token_requests']} token) for {r.get('pages_needed')} pages",
        ),
        target(
            "no-change night writes 0 roster items",
            r["night0"]["items_written"],
            0,
            r["night0"]["items_written"] == 0,
            f"{r['night0']['items_written']} items, {r['night0']['write_requests']} write requests",
        ),
        target(
            "1% night writes <= 1.1 x changed records",
            round(r["night1"]["items_written"] / changed_total, 3),
            1.1,
            r["night1"]["items_written"] <= 1.1 * changed_total,
            f"{r['night1']['items_written']} items for {changed_total} changed records",
        ),
        target(
            "1% night SIS requests <= 1.2 x needed + 1 per collection",
            r["night1"]["sis_requests"],
            round(delta_allowed, 1),
            r["night1"]["sis_requests"] <= delta_allowed,
            f"{r['night1']['sis_requests']} requests ({r['night1']['sis_token_requests']} token); "
            f"{delta_needed} pages of changes, {len(DELTA_COLLECTIONS)} collections",
        ),
        target(
            "peak memory full <= 1.25 x quarter",
            round(full["peak_rss_mb"] / r["quarter"]["peak_rss_mb"], 3),
            1.25,
            full["peak_rss_mb"] <= 1.25 * r["quarter"]["peak_rss_mb"],
            f"{full['peak_rss_mb']:.0f} MB vs {r['quarter']['peak_rss_mb']:.0f} MB (the sync's process; writer "
            f"processes at {_writer_peaks(full)} and {_writer_peaks(r['quarter'])} MB)",
        ),
        target(
            "writes batched 25 per request, several in flight",
            round(full["items_written"] / max(1, full["write_requests"]), 2),
            25,
            full["items_written"] <= 25 * full["write_requests"]
            and full["write_requests"] <= math.ceil(full["items_written"] / 25) + 10
            and full.get("dynamodb_calls", {}).get("maxWritesInFlight", 0) >= 2,
            f"{full['items_written']} items in {full['write_requests']} BatchWriteItem requests after "
            f"{full.get('fence_checks')} fence checks, up to "
            f"{full.get('dynamodb_calls', {}).get('maxWritesInFlight')} in flight (of {args.store_in_flight}); "
            "unprocessed items retried with backoff: tests/unit/store/test_batch.py",
        ),
        # issue 17
        target(
            "1% night wall <= 0.15 x full sync wall",
            round(r["night1"]["wall_s"] / full["wall_s"], 3),
            0.15,
            r["night1"]["wall_s"] <= 0.15 * full["wall_s"],
            f"{r['night1']['wall_s']:.1f} s vs {full['wall_s']:.1f} s",
        ),
        target(
            "1% night store reads <= changed/25 + 10",
            store_reads(r["night1"]),
            math.ceil(changed_total / 25) + 10,
            store_reads(r["night1"]) <= math.ceil(changed_total / 25) + 10,
            f"{store_reads(r['night1'])} read requests ({read_calls(r['night1'])}) for {changed_total} changed",
        ),
        target(
            "worker CPU per written item <= 120 us (full sync)",
            cpu_per_item_us(full),
            120,
            cpu_per_item_us(full) <= 120,
            f"{full.get('cpu_s', math.nan)} s CPU for {full['items_written']} items",
        ),
        target(
            f"scale x{args.scale or '-'}: full sync wall <= 1.1 x N x the 1x wall",
            round(r["scale"]["wall_s"] / full["wall_s"], 2),
            round(1.1 * (args.scale or 0), 2),
            r["scale"]["wall_s"] <= 1.1 * (args.scale or 0) * full["wall_s"],
            f"{r['scale']['wall_s']:.1f} s vs {full['wall_s']:.1f} s",
        ),
        target(
            f"scale x{args.scale or '-'}: peak memory <= 1.25 x the 1x peak",
            round(r["scale"]["peak_rss_mb"] / full["peak_rss_mb"], 3),
            1.25,
            r["scale"]["peak_rss_mb"] <= 1.25 * full["peak_rss_mb"],
            f"{r['scale']['peak_rss_mb']:.0f} MB vs {full['peak_rss_mb']:.0f} MB",
        ),
        target(
            "projection: no-change night, 50,000 students < $0.001",
            _projected(r, 50_000, "no-change night", "cost_usd"),
            0.001,
            _projected(r, 50_000, "no-change night", "cost_usd") < 0.001,
            "see the projection table",
        ),
        target(
            "projection: full sync, 500,000 students < 15 min wall",
            round(_projected(r, 500_000, "full sync", "wall_s") / 60, 1),
            15,
            _projected(r, 500_000, "full sync", "wall_s") < 15 * 60,
            "see the projection table and docs/design.md",
        ),
    ]


def read_calls(run: dict) -> dict:
    calls = run.get("dynamodb_calls", {})
    return {k: calls[k] for k in ("GetItem", "BatchGetItem", "Query", "Scan") if calls.get(k)}


def store_reads(run: dict) -> int:
    return sum(read_calls(run).values())


def cpu_per_item_us(run: dict) -> float:
    return round(run.get("cpu_s", math.nan) / max(1, run.get("items_written", 0)) * 1e6, 1)


def _projected(r: dict, students: int, label: str, field: str) -> float:
    try:
        return r["projection"][students][label][field]
    except KeyError:
        return math.nan


ROWS = (
    ("full", "full sync"),
    ("fetch", "floor: fetch only"),
    ("store", "floor: store only"),
    ("night0", "night, no change (delta)"),
    ("night1", "night, 1% changed (delta)"),
    ("quarter", "full sync, quarter size"),
    ("naive", "naive sync, quarter size"),
    ("scale", "full sync, scaled"),
)


def render(r: dict) -> str:
    def cell(value, width, fmt="{}"):
        return (fmt.format(value) if value is not None else "-").rjust(width)

    lines = [
        f"{'run':<28}{'wall s':>8}{'SIS req':>9}{'items':>8}{'writes':>8}{'BatchGet':>9}{'CPU s':>7}"
        f"{'host CPU s':>11}{'peak MB':>9}{'load':>6}",
        "-" * 103,
    ]
    for key, label in ROWS:
        row = r.get(key)
        if row is None:
            continue
        lines.append(
            f"{label:<28}{cell(row['wall_s'], 8, '{:.2f}')}{cell(row.get('sis_requests'), 9)}"
            f"{cell(row.get('items_written'), 8)}{cell(row.get('write_requests'), 8)}"
            f"{cell(row.get('get_requests'), 9)}{cell(row['cpu_s'], 7, '{:.1f}')}"
            f"{cell(row['parent_cpu_s'], 11, '{:.1f}')}{cell(row['peak_rss_mb'], 9, '{:.0f}')}"
            f"{cell(row.get('load_1m'), 6, '{:.1f}')}"
        )
    lines.append("")
    for t in r["targets"]:
        lines.append(
            f"{'PASS' if t['pass'] else 'FAIL'}  {t['target']:<58} {t['value']!s:>7} (limit {t['limit']})  "
            f"{t['detail']}"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------- main
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=10_000)
    parser.add_argument("--teachers", type=int, default=600)
    parser.add_argument("--classes", type=int, default=2_000)
    parser.add_argument("--enrollments", type=int, default=60_000)
    parser.add_argument("--schools", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="half the default sizes (about 3 minutes)")
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--page-cap", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--change-share", type=float, default=0.01)
    parser.add_argument(
        "--scale",
        type=int,
        default=0,
        help="also run the full sync at N times the size (wall and memory growth; not by default)",
    )
    parser.add_argument("--sis-in-flight", type=int, default=None, help="ROSTERSYNC_SIS_IN_FLIGHT (engine default)")
    parser.add_argument("--store-in-flight", type=int, default=None, help="ROSTERSYNC_STORE_IN_FLIGHT (engine default)")
    parser.add_argument(
        "--writer-processes",
        type=int,
        default=None,
        help="ROSTERSYNC_WRITER_PROCESSES (default: the deployed worker's, from its MemorySize in template.yaml)",
    )
    parser.add_argument(
        "--sis-process",
        action="store_true",
        help="run the sandbox SIS in a process of its own (default: in this one, beside moto)",
    )
    parser.add_argument("--profile", action="store_true", help="profile the full sync (py-spy, pyinstrument)")
    parser.add_argument("--only", help=f"a comma-separated subset of {','.join(RUN_GROUPS)} (targets need all)")
    parser.add_argument("--output", default=str(RESULTS / "district_sync.json"))
    args = parser.parse_args(argv)
    if args.quick:
        for name, value in QUICK.items():
            setattr(args, name, value)
    RESULTS.mkdir(parents=True, exist_ok=True)
    started, load_at_start = time.perf_counter(), os.getloadavg()[0]

    aws = EmbeddedAws().start()
    aws.apply_environment()
    from rostersync.settings import writer_processes_for

    if args.writer_processes is None:  # as the deployed worker runs (sync/worker.py: the context's memory)
        args.writer_processes = writer_processes_for(worker_memory_mb())
    for flag, variable in (
        (args.sis_in_flight, "ROSTERSYNC_SIS_IN_FLIGHT"),
        (args.store_in_flight, "ROSTERSYNC_STORE_IN_FLIGHT"),
        (args.writer_processes, "ROSTERSYNC_WRITER_PROCESSES"),
    ):
        if flag is not None:
            os.environ[variable] = str(flag)
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT / "layers" / "core"), str(ROOT)])
    from rostersync.settings import get_settings
    from rostersync.sync.engine import Tuning

    get_settings.cache_clear()
    tuning = Tuning.from_env()
    args.sis_in_flight, args.store_in_flight = tuning.sis_in_flight, tuning.store_in_flight
    r: dict = {}
    large = quarter_sis = None
    try:
        large = start_sandbox(args)
        district = connect_district(large, "Bench large district")
        print(
            f"sandbox: {large.config.students} students, {large.config.teachers} teachers, {large.config.classes} "
            f"classes, {large.config.enrollments} enrollments, {args.schools} schools; page cap {args.page_cap}, "
            f"{args.latency_ms} ms per request; SIS in flight {args.sis_in_flight}, store in flight "
            f"{args.store_in_flight}, writer processes {args.writer_processes}; "
            f"sandbox in {'its own process' if args.sis_process else 'this process'}; "
            f"{os.cpu_count()} CPUs, load {load_at_start:.1f}",
            flush=True,
        )

        def step(key, label, task, child_args, sis=None, **kw):
            print(f"  {label} ...", end="", flush=True)
            r[key] = run_child(task, child_args, sis, **kw)
            print(
                f" {r[key]['wall_s']:.1f} s (at {time.perf_counter() - started:.0f} s, load {os.getloadavg()[0]:.1f})",
                flush=True,
            )
            return r[key]

        want = set(args.only.split(",")) if args.only else set(RUN_GROUPS)
        if want & {"store", "nights"}:
            want.add("full")  # the store floor writes the full sync's items; the nights follow it
        if "fetch" in want or "full" in want:
            fetch = step("fetch", "fetch-only floor", "fetch", {"district_id": district}, large)
            records = {c: v["records"] + v["bad"] for c, v in fetch["collections"].items()}
            r["records"] = records
            r["pages_needed"] = pages_needed(records, args.page_cap)

        items_path = RESULTS / "district_sync_items.jsonl"
        if "full" in want:
            profile = {}
            if args.profile:
                profile = {
                    "py_spy": str(RESULTS / "profile_full_sync.pyspy.txt"),
                    "parent_spy": str(RESULTS / "profile_full_sync.host.pyspy.txt"),
                }
            full = step(
                "full",
                "full sync",
                "sync",
                {"district_id": district, "run_id": "bench-full", "mode": "full"},
                large,
                **profile,
            )
            assert full["outcome"] == "succeeded", full
            dumped = dump_items(aws, district, items_path)
            assert dumped == full["items_written"], (dumped, full["items_written"])

        if "store" in want:  # right after the full sync: this machine's other load drifts
            mirrors = mirror_tables(aws, "BenchFloor")  # empty tables like the ones the full sync wrote to
            try:
                store = step(
                    "store",
                    "store-only floor",
                    "store",
                    # Fenced as the full sync is: against the large district's lock token.
                    {
                        "items_path": str(items_path),
                        "district_id": "dst_floor",
                        "tables": mirrors,
                        "fence": {"district_id": district, "run_id": "bench-floor"},
                    },
                )
            finally:
                drop_tables(aws, mirrors.values())
            assert store["items_written"] == dumped, (store, dumped)

        if "nights" in want:
            night0 = step(
                "night0",
                "night without changes",
                "sync",
                {"district_id": district, "run_id": "bench-night-0", "mode": "delta"},
                large,
            )
            if args.sis_process:
                r["changes"] = large.change_share(args.change_share, args.seed)
            else:
                from changes import change_share

                r["changes"] = change_share(large, args.change_share, seed=args.seed)
            night1 = step(
                "night1",
                f"night with {args.change_share:.0%} changed",
                "sync",
                {"district_id": district, "run_id": "bench-night-1", "mode": "delta"},
                large,
            )
            for night in (night0, night1):
                assert night["outcome"] == "succeeded" and night["mode"] == "delta", night

        # The runs below start from an empty store, as the full sync did: moto's queries sort
        # whole tables, so other districts' items would slow a run down (DynamoDB's do not).
        if items_path.exists():
            items_path.unlink()
        if args.profile:  # pyinstrument: the worker's main thread, in a second (also first) sync
            aws.reset()
            step(
                "full_pyinstrument",
                "full sync under pyinstrument",
                "sync",
                {
                    "district_id": connect_district(large, "Bench profile district"),
                    "run_id": "bench-prof",
                    "profile": str(RESULTS / "profile_full_sync"),
                },
                large,
            )
        large.stop()
        large = None

        if want & {"quarter", "naive"}:
            quarter_sis = start_sandbox(args, 0.25)
        if "quarter" in want:
            aws.reset()
            step(
                "quarter",
                "full sync, quarter size",
                "sync",
                {"district_id": connect_district(quarter_sis, "Bench quarter"), "run_id": "bench-quarter"},
                quarter_sis,
            )
        if "naive" in want:
            aws.reset()
            step(
                "naive",
                "naive sync, quarter size",
                "naive",
                {"district_id": connect_district(quarter_sis, "Bench naive"), "run_id": "bench-naive"},
                quarter_sis,
            )
        if "quarter" in r and "naive" in r:  # the same roster items (the naive sync writes no academic sessions)
            roster_items = sum(c["created"] + c["updated"] for c in r["quarter"]["counts"].values())
            assert r["naive"]["items_written"] == roster_items, (r["naive"], r["quarter"])
        if args.scale and "scale" in want:
            quarter_sis.stop() if quarter_sis is not None else None
            quarter_sis = start_sandbox(args, args.scale)
            aws.reset()
            scaled = step(
                "scale",
                f"full sync, {args.scale} x the size",
                "sync",
                {"district_id": connect_district(quarter_sis, "Bench scaled"), "run_id": "bench-scale"},
                quarter_sis,
            )
            assert scaled["outcome"] == "succeeded", scaled
    finally:
        for sis in (large, quarter_sis):
            if sis is not None:
                sis.stop()
        aws.stop()

    memory_mb = worker_memory_mb()
    if "full" in r:
        from cost_projection import project

        r["projection"] = project(r, args.students, memory_mb)
    changes = {c: len(v) for c, v in r.get("changes", {}).items()}
    night1_counts = {t: c["updated"] for t, c in r["night1"]["counts"].items() if c["updated"]} if "night1" in r else {}
    r["targets"] = check_targets(r, args)
    report = {
        "benchmark": "district_sync",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "git": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_1m": {"start": round(load_at_start, 2), "end": round(os.getloadavg()[0], 2)},
        "district": {k: getattr(args, k) for k in ("schools", "students", "teachers", "classes", "enrollments")},
        "latency_ms": args.latency_ms,
        "page_cap": args.page_cap,
        "sandbox": "own process" if args.sis_process else "host process (beside moto)",
        "tuning": {"sis_in_flight": args.sis_in_flight, "store_in_flight": args.store_in_flight},
        "records": r.get("records"),
        "pages_needed": r.get("pages_needed"),
        "changes": changes,
        "night1_updated": night1_counts,
        "runs": {key: r[key] for key, _ in ROWS if key in r},
        "projection": {"memory_mb": memory_mb, "students": r.get("projection")},
        "targets": r["targets"],
        "all_pass": all(t["pass"] for t in r["targets"]),
        "bench_seconds": round(time.perf_counter() - started, 1),
    }
    if "full_pyinstrument" in r:
        report["runs"]["full_pyinstrument"] = r["full_pyinstrument"]
    print()
    print(
        f"records read: {r.get('records')} -> {r.get('pages_needed')} pages of {args.page_cap}; "
        f"changed for the {args.change_share:.0%} night: {changes} ({sum(changes.values())}), "
        f"updated: {night1_counts}"
    )
    print(render(r))
    if "projection" in r:
        from cost_projection import render as render_projection

        print()
        print(render_projection(r["projection"], memory_mb))
    if args.profile:
        from profile_summary import summarise

        for name in ("profile_full_sync", "profile_full_sync.host"):
            raw = RESULTS / f"{name}.pyspy.txt"
            if raw.exists():
                (RESULTS / f"{name}.summary.txt").write_text(summarise(str(raw)) + "\n")
        print(
            "profiles: bench/results/profile_full_sync.{pyspy,summary}.txt (worker, py-spy), "
            "profile_full_sync.host.{pyspy,summary}.txt (moto and the sandbox), "
            "profile_full_sync.{txt,html} (pyinstrument)"
        )
    Path(args.output).write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"\nwritten: {os.path.relpath(args.output, ROOT)} (bench took {report['bench_seconds']:.0f} s)")
    return 0 if report["all_pass"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
