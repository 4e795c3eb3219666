"""What a district costs per night on AWS, and how long its syncs take there, projected from
what `make bench` measured (bench/district_sync.py) and the prices in bench/aws_prices.py.

Built only from measured quantities, scaled by the number of students (every roster count in
the sandbox district grows with it):
  - worker CPU seconds (Lambda gets memory/1,769 of a vCPU, up to 6). Each process's work is
    one interpreter's, so a run takes at least its busiest process's CPU and at least all of its
    CPU over the vCPUs: with writer processes (store/write_processes.py) the larger of the main
    process's CPU, the busiest writer's, and the total over the vCPUs (`cpu_bound_s`: the
    processes fully overlapped, a lower bound; `cpu_serial_s` is the other end, nothing
    overlapped); without, all of it on at most one vCPU. Fixed costs (a writer's start, the
    batches sent in threads before the writers start) are scaled with the rest: an over-estimate;
  - SIS requests and the measured time to fetch the pages (the fetch floor), which overlaps
    the writes, as the full sync's wall time shows;
  - items written and their size (DynamoDB write units), store read requests (read units);
  - invocations, SQS messages, Secrets Manager reads.
A run's projected wall time is the slowest of its CPU, SIS and store work (they overlap), plus
one continuation's overhead per 900 s invocation.
"""

from __future__ import annotations

import math

import aws_prices as p

DISTRICTS = (10_000, 50_000, 500_000)  # students
ITEM_BYTES = 600  # a roster item with its keys and index keys (users ~700, enrollments ~550)
SECRET_READS_PER_INVOCATION = 1
SQS_REQUESTS_PER_INVOCATION = 3  # the message's send, receive and delete


def _reads(run: dict) -> int:
    calls = run.get("dynamodb_calls", {})
    return sum(calls.get(k, 0) for k in ("GetItem", "BatchGetItem", "Query", "Scan"))


def project_run(run: dict, scale: float, memory_mb: int, fetch_wall_s: float | None = None) -> dict:
    """One measured run scaled by `scale` (students / measured students) on Lambda at memory_mb."""
    vcpu = worker_vcpus(memory_mb)
    items = run.get("items_written", 0) * scale
    writers = run.get("writer_cpu_s") or []
    serial_s = run["cpu_s"] * scale / min(1.0, vcpu)
    if writers:
        busiest = max(run.get("main_cpu_s", 0.0), *writers, run["cpu_s"] / vcpu)
        cpu_s = busiest * scale / min(1.0, vcpu)
    else:
        cpu_s = serial_s
    sis_s = (fetch_wall_s if fetch_wall_s is not None else 0.0) * scale
    store_s = items / p.DYNAMODB_ITEMS_PER_SECOND_PER_WORKER
    work_s = max(cpu_s, sis_s, store_s)
    invocations = max(1, math.ceil(work_s / (p.LAMBDA_MAX_SECONDS - 30)))
    wall_s = work_s + invocations * 1.0  # a continuation: save, send, receive, load (~1 s)
    write_units = items * math.ceil(ITEM_BYTES / p.DYNAMODB_WRITE_UNIT_BYTES)
    # Reads, eventually consistent (half a unit per 4 KB): a batch get reads up to 100 items
    # (counted as 100, an upper bound); a full sync's queries are the sweep's 1 MB pages, a
    # delta's read one small item each (Limit 1 checks, index lookups).
    calls = run.get("dynamodb_calls", {})
    read_requests = _reads(run) * scale
    query_units = 128 if run.get("mode") == "full" else 0.5
    read_units = (
        (calls.get("BatchGetItem", 0) * 100 + calls.get("GetItem", 0)) * 0.5 + calls.get("Query", 0) * query_units
    ) * scale
    lambda_cost = wall_s * memory_mb / 1024 * p.LAMBDA_PER_GB_SECOND + invocations * p.LAMBDA_PER_REQUEST
    dynamodb_cost = write_units * p.DYNAMODB_PER_WRITE_UNIT + read_units * p.DYNAMODB_PER_READ_UNIT
    sqs_cost = invocations * SQS_REQUESTS_PER_INVOCATION * p.SQS_PER_REQUEST
    secrets_cost = invocations * SECRET_READS_PER_INVOCATION * p.SECRETS_MANAGER_PER_API_CALL
    return {
        "wall_s": round(wall_s, 1),
        "cpu_bound_s": round(cpu_s, 1),
        "cpu_serial_s": round(serial_s, 1),
        "sis_bound_s": round(sis_s, 1),
        "store_bound_s": round(store_s, 1),
        "invocations": invocations,
        "items_written": round(items),
        "sis_requests": round(run.get("sis_requests", 0) * scale),
        "store_read_requests": round(read_requests),
        "cost_usd": round(lambda_cost + dynamodb_cost + sqs_cost + secrets_cost, 6),
        "cost_parts_usd": {
            "lambda": round(lambda_cost, 6),
            "dynamodb": round(dynamodb_cost, 6),
            "sqs": round(sqs_cost, 6),
            "secrets_manager": round(secrets_cost, 6),
        },
    }


def project(report_runs: dict, measured_students: int, memory_mb: int) -> dict:
    """{students: {full, night0, night1}} for DISTRICTS, from the bench's runs."""
    fetch_wall = report_runs.get("fetch", {}).get("wall_s")
    out = {}
    for students in DISTRICTS:
        scale = students / measured_students
        row = {}
        for key, label in (("full", "full sync"), ("night0", "no-change night"), ("night1", "1% night")):
            if key in report_runs:
                row[label] = project_run(report_runs[key], scale, memory_mb, fetch_wall if key == "full" else None)
        out[students] = row
    return out


def worker_vcpus(memory_mb: int) -> float:
    return min(6.0, memory_mb / p.LAMBDA_MB_PER_VCPU)


def render(projection: dict, memory_mb: int) -> str:
    lines = [
        f"AWS projection (worker at {memory_mb} MB = {worker_vcpus(memory_mb):.2f} vCPU; prices {p.PRICES_AS_OF})",
        f"{'students':>9}  {'run':<16}{'wall':>10}{'invocations':>12}{'items':>11}{'cost $':>11}",
    ]
    for students, row in projection.items():
        for label, run in row.items():
            lines.append(
                f"{students:>9,}  {label:<16}{_duration(run['wall_s']):>10}{run['invocations']:>12}"
                f"{run['items_written']:>11,}{run['cost_usd']:>11.4f}"
            )
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
