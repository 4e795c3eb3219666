"""Micro-benchmark of the OneRoster client against the sandbox SIS.

    .venv/bin/python bench/oneroster_client.py [--students 10000 --enrollments 60000 --latency-ms 20]

Measures
- parse: records/s turning recorded page bodies into typed records (json.loads + envelope +
  records), and the typed-record step alone, per collection;
- fetch: pages/s and records/s streaming a collection from the sandbox with 20 ms latency
  per request, sequential (max_in_flight=1) versus concurrent (4 and 8).
Prints a table and writes bench/results/oneroster_client.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "layers" / "core"), str(ROOT)]

import requests  # noqa: E402

from rostersync.oneroster import ConnectionSettings, OneRosterClient  # noqa: E402
from rostersync.oneroster.envelopes import records_of  # noqa: E402
from rostersync.oneroster.records import forget_parsed_datetimes, parse_records  # noqa: E402
from rostersync_tools.sandbox_sis import SandboxConfig, SandboxSIS  # noqa: E402
from rostersync_tools.sandbox_sis.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "oneroster_client.json"


@dataclass
class Sandbox:
    """Where the sandbox listens, and how to switch its quirks (in-process or over its admin API)."""

    host_url: str
    client_id: str
    client_secret: str
    set_quirks: object
    stop: object

    @property
    def base_url(self) -> str:
        return self.host_url + "/ims/oneroster/v1p1"

    @property
    def token_url(self) -> str:
        return self.host_url + "/token"


def start_sandbox(config: SandboxConfig, in_process: bool) -> Sandbox:
    """By default in its own process, as a real SIS would be: sharing this process's GIL would
    make the server's JSON encoding compete with the client's parsing."""
    if in_process:
        sis = SandboxSIS(config)
        sis.start(port=0)
        return Sandbox(sis.host_url, config.client_id, config.client_secret, lambda **q: sis.set_quirks(**q), sis.stop)
    args = [
        sys.executable,
        "-c",
        "from rostersync_tools.sandbox_sis.cli import main; raise SystemExit(main())",
        "--port",
        "0",
        "--seed",
        str(config.seed),
        "--page-cap",
        str(config.page_cap),
    ]
    for name in ("schools", "students", "teachers", "classes", "enrollments"):
        args += [f"--{name}", str(getattr(config, name))]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "core"), str(ROOT)])}
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not line.startswith("sandbox-sis listening on "):
        process.kill()
        raise RuntimeError(f"the sandbox did not start: {line!r}")
    host_url = line.split()[-1]

    def set_quirks(**quirks):
        requests.post(f"{host_url}/_admin/quirks", json=quirks, timeout=10).raise_for_status()

    def stop():
        process.terminate()
        process.wait(10)

    return Sandbox(host_url, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, set_quirks, stop)


def record_pages(sis: Sandbox, collection: str, limit: int) -> list[bytes]:
    """The raw bodies of every page of a collection, as the server sent them."""
    token = requests.post(
        sis.token_url, auth=(sis.client_id, sis.client_secret), data={"grant_type": "client_credentials"}, timeout=30
    ).json()["access_token"]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    bodies, offset = [], 0
    while True:
        reply = session.get(f"{sis.base_url}/{collection}", params={"limit": limit, "offset": offset}, timeout=60)
        reply.raise_for_status()
        count = len(reply.json()[collection])
        if not count:
            return bodies
        bodies.append(reply.content)
        offset += count


def bench_parse(bodies: list[bytes], collection: str, repeats: int) -> dict:
    decoded = [records_of(json.loads(b), collection, endpoint="/bench") for b in bodies]
    count = sum(len(page) for page in decoded)
    best_full = best_typed = float("inf")
    for _ in range(repeats):
        forget_parsed_datetimes()  # honest: no dates remembered from the previous round
        start = time.perf_counter()
        for body in bodies:
            parse_records(collection, records_of(json.loads(body), collection, endpoint="/bench"))
        best_full = min(best_full, time.perf_counter() - start)
        forget_parsed_datetimes()
        start = time.perf_counter()
        for page in decoded:
            parse_records(collection, page)
        best_typed = min(best_typed, time.perf_counter() - start)
    return {
        "collection": collection,
        "records": count,
        "bytes": sum(map(len, bodies)),
        "decode_and_parse_records_per_s": round(count / best_full),
        "typed_parse_only_records_per_s": round(count / best_typed),
        "seconds_per_5m_records_decode_and_parse": round(5_000_000 / (count / best_full), 1),
    }


def bench_fetch(sis: Sandbox, collection: str, in_flight: int, repeats: int) -> dict:
    settings = ConnectionSettings(host_url=sis.host_url, client_id=sis.client_id, auth_method="auto")
    best = None
    for _ in range(repeats):
        with OneRosterClient(
            settings, sis.client_secret, allow_private=True, page_limit=1000, max_in_flight=in_flight
        ) as client:
            _ = client.auth_method  # resolve auth (token request) outside the timed part
            stream = client.stream(collection)
            start = time.perf_counter()
            records = sum(len(page.records) for page in stream.pages())
            elapsed = time.perf_counter() - start
            run = {
                "collection": collection,
                "max_in_flight": in_flight,
                "pages": stream.pages_read,
                "records": records,
                "requests": stream.requests,
                "seconds": round(elapsed, 3),
                "pages_per_s": round(stream.pages_read / elapsed, 1),
                "records_per_s": round(records / elapsed),
            }
            if best is None or run["seconds"] < best["seconds"]:
                best = run
    return best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=10_000)
    parser.add_argument("--teachers", type=int, default=600)
    parser.add_argument("--classes", type=int, default=2_000)
    parser.add_argument("--enrollments", type=int, default=60_000)
    parser.add_argument("--schools", type=int, default=10)
    parser.add_argument("--page-cap", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--in-process", action="store_true", help="run the sandbox in this process")
    args = parser.parse_args(argv)

    config = SandboxConfig(
        seed=42,
        schools=args.schools,
        students=args.students,
        teachers=args.teachers,
        classes=args.classes,
        enrollments=args.enrollments,
        page_cap=args.page_cap,
        latency_ms=0,
    )
    started = time.perf_counter()
    sis = start_sandbox(config, args.in_process)
    setup_s = time.perf_counter() - started
    try:
        parse = [bench_parse(record_pages(sis, c, args.page_cap), c, args.repeats) for c in ("enrollments", "users")]
        sis.set_quirks(latency_ms=args.latency_ms)
        fetch = [bench_fetch(sis, c, n, args.repeats) for c in ("enrollments", "users") for n in (1, 4, 8)]
    finally:
        sis.stop()

    sequential = {f["collection"]: f["pages_per_s"] for f in fetch if f["max_in_flight"] == 1}
    for run in fetch:
        run["speedup"] = round(run["pages_per_s"] / sequential[run["collection"]], 2)
    result = {
        "benchmark": "oneroster_client",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "district": {
            k: getattr(config, k) for k in ("schools", "students", "teachers", "classes", "enrollments", "page_cap")
        },
        "latency_ms": args.latency_ms,
        "sandbox": "in-process" if args.in_process else "subprocess",
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "sandbox_start_s": round(setup_s, 2),
        "parse": parse,
        "fetch": fetch,
    }

    print(
        f"sandbox ({result['sandbox']}): {result['district']}, {args.latency_ms} ms per request "
        f"(started in {setup_s:.1f} s); {result['cpus']} CPUs, load {result['load_average_1m']}"
    )
    print(f"\n{'parse':<12}{'records':>9}{'decode+parse rec/s':>20}{'typed only rec/s':>18}{'per 5M records':>16}")
    for p in parse:
        print(
            f"{p['collection']:<12}{p['records']:>9}{p['decode_and_parse_records_per_s']:>20,}"
            f"{p['typed_parse_only_records_per_s']:>18,}{p['seconds_per_5m_records_decode_and_parse']:>14} s"
        )
    print(
        f"\n{'fetch':<12}{'in flight':>10}{'pages':>7}{'requests':>9}{'seconds':>9}{'pages/s':>9}"
        f"{'records/s':>11}{'speedup':>9}"
    )
    for f in fetch:
        print(
            f"{f['collection']:<12}{f['max_in_flight']:>10}{f['pages']:>7}{f['requests']:>9}{f['seconds']:>9}"
            f"{f['pages_per_s']:>9}{f['records_per_s']:>11,}{f['speedup']:>8}x"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten: {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
