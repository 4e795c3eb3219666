"""CSV bundles against REST (issue 27): the same sandbox district synced from its OneRoster CSV
bundle and over REST, at 1x and at 4x its size.

    .venv/bin/python bench/csv_bundle.py                  # the default district (bench/district_sync.py's) and 4x
    .venv/bin/python bench/csv_bundle.py --fraction 0.25  # a quarter of it and 4x that (the default district)

Each sync is a child process (bench/worker_child.py: `sync` over REST, `csv_sync` from the bundle
staged in the embedded S3 by sources/csv_files.stage_bundle), into a fresh district, so its wall
time and peak RSS (VmHWM) are the worker's own. Staging (check, split, upload) is timed in this
process. Targets: the 4x CSV sync's peak memory <= 1.25x the 1x one's (the reader holds a page
of rows whatever a file's size); wall times are reported, CSV against REST, without a target.
Results go to bench/results/csv_bundle.json; figures in bench/README.md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "layers" / "core"), str(ROOT), str(ROOT / "bench")]

from district_sync import RESULTS, connect_district, run_child  # noqa: E402

from rostersync_tools.local.embedded_aws import EmbeddedAws  # noqa: E402
from rostersync_tools.sandbox_sis import SandboxConfig, SandboxSIS  # noqa: E402

DEFAULT = {"students": 10_000, "teachers": 600, "classes": 2_000, "enrollments": 60_000}
BUCKET = "rostersync-bench-bundles"


def measure(factor: float, label: str, args, s3) -> dict:
    from rostersync.sources.csv_files import stage_bundle
    from rostersync_tools.sandbox_sis.csv_export import export_bundle

    sizes = {k: max(1, round(v * factor)) for k, v in DEFAULT.items()}
    config = SandboxConfig(
        seed=args.seed,
        schools=args.schools,
        latency_ms=args.latency_ms,
        students=sizes["students"],
        teachers=sizes["teachers"],
        classes=sizes["classes"],
        enrollments=sizes["enrollments"],
    )
    sis = SandboxSIS(config)
    sis.start(port=0)
    try:
        data = sis.state()["data"]
        zipped = io.BytesIO()
        export_bundle(data, zipped, args.version)
        started = time.perf_counter()
        prefix = f"bench/{label}"
        bundle = stage_bundle(io.BytesIO(zipped.getvalue()), BUCKET, prefix)
        stage_s = time.perf_counter() - started
        csv_bytes = sum(
            s3.head_object(Bucket=BUCKET, Key=f"{prefix}/{name}.csv")["ContentLength"] for name in bundle.versions
        )
        print(f"{label}: {sizes}; bundle {len(zipped.getvalue()) / 1e6:.1f} MB zipped, {csv_bytes / 1e6:.1f} MB CSV")
        out = {"sizes": sizes, "zip_mb": round(len(zipped.getvalue()) / 1e6, 2), "csv_mb": round(csv_bytes / 1e6, 2)}
        out["stage_s"] = round(stage_s, 2)
        runs = [("csv", "csv_sync", {"bucket": BUCKET, "prefix": prefix, "manifest": bundle.to_json()})]
        if not args.no_rest:
            runs.append(("rest", "sync", {}))
        for kind, task, extra in runs:
            district = connect_district(sis, f"Bench {label} {kind}")
            result = run_child(task, {"district_id": district, "run_id": f"bench-{label}-{kind}", **extra}, sis)
            assert result["outcome"] == "succeeded", result
            out[kind] = {k: result[k] for k in ("wall_s", "cpu_s", "peak_rss_mb", "invocations", "load_1m")}
            out[kind]["sis_requests"] = result.get("sis_requests")
            out[kind]["phases_s"] = result.get("phases_s")
            print(
                f"  {kind}: {result['wall_s']:.1f} s wall, {result['cpu_s']:.1f} s CPU, "
                f"{result['peak_rss_mb']:.0f} MB peak (load {result['load_1m']})",
                flush=True,
            )
        return out
    finally:
        sis.stop()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fraction", type=float, default=1.0, help="the 1x size as a share of the default district")
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--version", default="1.1", choices=["1.1", "1.2"])
    parser.add_argument("--schools", type=int, default=10)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-rest", action="store_true", help="CSV syncs only")
    parser.add_argument("--output", default=str(RESULTS / "csv_bundle.json"))
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    aws = EmbeddedAws().start()
    aws.apply_environment()
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT / "layers" / "core"), str(ROOT)])
    from rostersync import aws_clients
    from rostersync.settings import get_settings

    get_settings.cache_clear()
    s3 = aws_clients.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    try:
        one = measure(args.fraction, "1x", args, s3)
        many = measure(args.fraction * args.scale, f"{args.scale}x", args, s3)
    finally:
        aws.stop()
    ratio = many["csv"]["peak_rss_mb"] / one["csv"]["peak_rss_mb"]
    report = {"version": args.version, "1x": one, f"{args.scale}x": many, "csv_peak_ratio": round(ratio, 3)}
    for label, run in (("1x", one), (f"{args.scale}x", many)):
        if "rest" in run:
            report[f"csv_vs_rest_wall_{label}"] = round(run["csv"]["wall_s"] / run["rest"]["wall_s"], 2)
    Path(args.output).write_text(json.dumps(report, indent=2))
    ok = ratio <= 1.25
    print(json.dumps({k: v for k, v in report.items() if not isinstance(v, dict)}))
    print(f"{'PASS' if ok else 'FAIL'}: CSV peak memory {args.scale}x / 1x = {ratio:.3f} (target <= 1.25)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
