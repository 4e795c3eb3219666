"""`rostersync sandbox-sis`: run the sandbox OneRoster server in the foreground until interrupted.

Prints exactly one line starting with "sandbox-sis listening on http://127.0.0.1:PORT", then one
with the OneRoster base URL, token URL and client id. The secret is never printed.
"""

import argparse
import os
import signal
import sys
import threading
from dataclasses import fields

from .config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SandboxConfig
from .faults import Quirks
from .server import SandboxSIS

DEFAULT_PORT = 8900
BOOLEAN_QUIRKS = [f.name for f in fields(Quirks) if f.type in (bool, "bool")]


def build_parser() -> argparse.ArgumentParser:
    defaults = SandboxConfig()
    parser = argparse.ArgumentParser(
        prog="rostersync sandbox-sis",
        description="A OneRoster 1.1 and 1.2 REST server on 127.0.0.1 with a generated district "
        "(a tool, not a product).",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 for any free port (default %(default)s)")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="same seed, same district (%(default)s)")
    for name in ("schools", "students", "teachers", "classes", "enrollments"):
        parser.add_argument(f"--{name}", type=int, default=getattr(defaults, name), help="(default %(default)s)")
    parser.add_argument("--page-cap", type=int, default=defaults.page_cap, help="limit is capped at this")
    parser.add_argument("--latency-ms", type=int, default=defaults.latency_ms, help="added to every answer")
    parser.add_argument("--path-prefix", default="", help='vendor path before /ims/oneroster/v1p1, e.g. "/district42"')
    parser.add_argument(
        "--versions",
        default=",".join(defaults.versions),
        help="the OneRoster versions served, comma-separated (default %(default)s)",
    )
    parser.add_argument("--token-ttl-s", type=float, default=defaults.token_ttl_s, help="bearer token lifetime")
    parser.add_argument(
        "--school-year", type=int, default=None, help="first year of the school year (default: the current one)"
    )
    parser.add_argument(
        "--client-id",
        default=os.environ.get("ROSTERSYNC_SANDBOX_CLIENT_ID", DEFAULT_CLIENT_ID),
        help="default: $ROSTERSYNC_SANDBOX_CLIENT_ID, else sandbox-client",
    )
    # No %(default)s here: the help text must never show a secret.
    parser.add_argument(
        "--client-secret",
        default=os.environ.get("ROSTERSYNC_SANDBOX_CLIENT_SECRET", DEFAULT_CLIENT_SECRET),
        help="default: $ROSTERSYNC_SANDBOX_CLIENT_SECRET (preferred: not visible in ps), else the sandbox default",
    )
    quirks = parser.add_argument_group("quirks (can also be switched at runtime: POST /_admin/quirks)")
    for name in BOOLEAN_QUIRKS:
        quirks.add_argument(f"--{name.replace('_', '-')}", dest=name, action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["export-csv"]:  # `rostersync sandbox-sis export-csv ...`: write a CSV bundle, no server
        from .csv_export import main as export_csv

        return export_csv(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        config = SandboxConfig(
            seed=args.seed,
            schools=args.schools,
            students=args.students,
            teachers=args.teachers,
            classes=args.classes,
            enrollments=args.enrollments,
            page_cap=args.page_cap,
            latency_ms=args.latency_ms,
            client_id=args.client_id,
            client_secret=args.client_secret,
            path_prefix=args.path_prefix,
            token_ttl_s=args.token_ttl_s,
            school_year=args.school_year,
            versions=tuple(v.strip() for v in args.versions.split(",") if v.strip()),
        )
    except ValueError as exc:
        print(f"sandbox-sis: {exc}", file=sys.stderr)
        return 2
    sis = SandboxSIS(config)
    switched_on = {name: True for name in BOOLEAN_QUIRKS if getattr(args, name)}
    if switched_on:
        sis.set_quirks(**switched_on)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        host_url = sis.start(port=args.port)
    except OSError as exc:
        print(f"sandbox-sis: cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"sandbox-sis listening on {host_url}", flush=True)
    quirk_note = f"; quirks {', '.join(sorted(switched_on))}" if switched_on else ""
    print(
        f"OneRoster base {sis.base_url} ; token URL {sis.token_url} ; client id {config.client_id}"
        f"{quirk_note} ; admin {host_url}/_admin",
        flush=True,
    )
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sis.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
