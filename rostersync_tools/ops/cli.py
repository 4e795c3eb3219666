"""`rostersync ops ...`: what on-call uses to find, inspect and replay failed district syncs.

  rostersync ops dlq list                      [--json]   failed syncs waiting in the dead-letter queue
  rostersync ops runs --district ID [--limit N] [--json]  a district's recent runs
  rostersync ops run RUN_ID --district ID      [--json]   one run: counts, failure, record errors
  rostersync ops redrive [--district ID] [--dry-run] [--yes] [--no-follow] [--timeout S] [--json]
  rostersync ops host-limit HOST [--set N | --default] [--json]   a SIS host's limit of requests in flight
                                               shared by every sync worker (store/host_leases.py); changes audited
  rostersync ops backfill-next-sync [--dry-run] [--json]   once after deploying issue 29: configured districts
                                               without nextSyncAt go before the dispatcher's next tick
  rostersync ops backfill-change-keys [--district ID] [--dry-run] [--json]   change keys for items written
                                               before changeSeq existed (store/change_backfill.py)
  rostersync ops backfill-identity-keys [--district ID] [--dry-run] [--json]   re-key identity keys for SIS
                                               users written before ByIdentity existed (sync/identity_backfill.py)
  rostersync ops backfill-search-keys [--district ID] [--dry-run] [--json]   roster search keys for users
                                               written before ByName existed (store/search_backfill.py)
  rostersync ops backfill-membership-keys [--district ID] [--dry-run] [--json]   school, term and role keys for
                                               items written before issue 31's indexes (store/membership_backfill.py)

Each against a deployed stack by default (its CloudFormation outputs; --stack-name, --region),
the running local stack with --local (its state file), or explicit endpoints. Every command
prints a table for people or, with --json, one JSON document on stdout (progress on stderr).
"""

from __future__ import annotations

import argparse
import sys

from rostersync_tools.ops.target import DEFAULT_STACK, TargetError, resolve

REFUSED = 2  # exit status when redrive was not confirmed by anyone


def _add_common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of a table")
    where = parser.add_argument_group("which stack")
    where.add_argument("--local", action="store_true", help="the running local stack (rostersync local up)")
    where.add_argument(
        "--state-dir", help="the local stack's state directory (default $ROSTERSYNC_STATE_DIR or .rostersync)"
    )
    where.add_argument("--stack-name", default=DEFAULT_STACK, help=f"deployed stack (default {DEFAULT_STACK})")
    where.add_argument("--region", help="AWS region (default from the environment)")
    where.add_argument("--endpoint-url", help="an AWS endpoint (moto, LocalStack) instead of a stack")
    where.add_argument("--queue-url", help="with --endpoint-url: the sync queue")
    where.add_argument("--dlq-url", help="with --endpoint-url: the sync dead-letter queue")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rostersync ops", description="On-call: find, inspect and replay failed district syncs."
    )
    commands = parser.add_subparsers(dest="command", metavar="command", required=True)

    dlq = commands.add_parser("dlq", help="the sync dead-letter queue")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", metavar="subcommand", required=True)
    listing = dlq_commands.add_parser("list", help="list dead-lettered syncs (nothing is deleted)")
    _add_common_options(listing)
    listing.set_defaults(run=cmd_dlq_list)

    runs = commands.add_parser("runs", help="a district's recent sync runs, newest first")
    runs.add_argument("--district", metavar="ID", required=True)
    runs.add_argument("--limit", type=int, default=20, metavar="N", help="how many (default 20, at most 100)")
    _add_common_options(runs)
    runs.set_defaults(run=cmd_runs)

    run = commands.add_parser("run", help="one sync run: status, counts, failure and record errors")
    run.add_argument("run_id", metavar="RUN_ID")
    run.add_argument("--district", metavar="ID", required=True)
    _add_common_options(run)
    run.set_defaults(run=cmd_run)

    redrive = commands.add_parser(
        "redrive",
        help="replay dead-lettered syncs as new runs (trigger replay); asks first",
        description="Shows what it will do per district, asks (unless --yes), replays, and follows each replay "
        "(on AWS: the SQS message move task first) until it finishes or --timeout.",
    )
    redrive.add_argument("--district", metavar="ID", help="only this district")
    redrive.add_argument("--dry-run", action="store_true", help="show what would be done; change nothing")
    redrive.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    redrive.add_argument(
        "--no-follow",
        dest="follow",
        action="store_false",
        help="return once the replays are queued (or the move task started)",
    )
    redrive.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        metavar="S",
        help="stop following after S seconds (default 900); what is unfinished is reported",
    )
    redrive.add_argument("--poll", type=float, default=5.0, metavar="S", help=argparse.SUPPRESS)
    _add_common_options(redrive)
    redrive.set_defaults(run=cmd_redrive)

    backfill = commands.add_parser(
        "backfill-change-keys",
        help="give roster items written before changeSeq existed their change key (once)",
        description="Stamps updatedAt and changeSeq (now) on every roster item that has no changeSeq, so change "
        "reads (?updatedSince=) answer it once. Safe to re-run: items that have a key are left alone.",
    )
    backfill.add_argument("--district", metavar="ID", help="only this district (a query; otherwise a scan)")
    backfill.add_argument("--dry-run", action="store_true", help="count what would be stamped; change nothing")
    _add_common_options(backfill)
    backfill.set_defaults(run=cmd_backfill_change_keys)

    identities = commands.add_parser(
        "backfill-identity-keys",
        help="give SIS users written before the ByIdentity index existed their identity key "
        "(once), so a re-keyed SIS pairs them",
        description="Sets districtIdentity (identifier, else email) on every SIS user that has none, as a sync "
        "would write it; no updatedAt or change key moves. Safe to re-run.",
    )
    identities.add_argument("--district", metavar="ID", help="only this district (a query; otherwise a scan)")
    identities.add_argument("--dry-run", action="store_true", help="count what would be keyed; change nothing")
    _add_common_options(identities)
    identities.set_defaults(run=cmd_backfill_identity_keys)

    searchable = commands.add_parser(
        "backfill-search-keys",
        help="give users written before roster search's indexes existed their search keys (once), so "
        "GET .../users?q= and ?sort=name list them",
        description="Sets nameKey, districtSearchEmail and districtUsername on every user that has no nameKey, as "
        "a sync would write them; no updatedAt or change key moves. Safe to re-run.",
    )
    searchable.add_argument("--district", metavar="ID", help="only this district (a query; otherwise a scan)")
    searchable.add_argument("--dry-run", action="store_true", help="count what would be keyed; change nothing")
    _add_common_options(searchable)
    searchable.set_defaults(run=cmd_backfill_search_keys)

    memberships = commands.add_parser(
        "backfill-membership-keys",
        help="give users, classes and enrollments written before issue 31's list indexes their school, term "
        "and role keys (once), so users?schoolId=, classes?termId= and enrollments?role= list them",
        description="Sets the school keys of every user, the term keys of every class and the role key of every "
        "enrollment that has none, as a sync would write them; no updatedAt or change key moves. Safe to re-run.",
    )
    memberships.add_argument("--district", metavar="ID", help="only this district (a query; otherwise a scan)")
    memberships.add_argument("--dry-run", action="store_true", help="count what would be keyed; change nothing")
    _add_common_options(memberships)
    memberships.set_defaults(run=cmd_backfill_membership_keys)
    host_limit = commands.add_parser(
        "host-limit",
        help="show or set a SIS host's limit of requests in flight, shared by every sync worker",
        description="HOST is the SIS host URL or name[:port] (port 443 when none). Without --set or --default: "
        "the host's limit, slots in use and Retry-After pause. Changes are recorded in the audit trail "
        "(district 'platform', action host_limit.update).",
    )
    host_limit.add_argument("host", metavar="HOST")
    change = host_limit.add_mutually_exclusive_group()
    change.add_argument("--set", type=int, metavar="N", dest="limit", help="at most N requests in flight to HOST")
    change.add_argument("--default", action="store_true", help="back to the default limit")
    _add_common_options(host_limit)
    host_limit.set_defaults(run=cmd_host_limit)

    next_sync = commands.add_parser(
        "backfill-next-sync",
        help="give configured districts written before the dispatcher's index their nextSyncAt (once)",
        description="The dispatcher reads districts by nextSyncAt (ByNextSync), never a scan; districts "
        "configured before it existed have none. This scan sets it to 0: the next tick looks at them. "
        "Safe to re-run.",
    )
    next_sync.add_argument("--dry-run", action="store_true", help="count what would be scheduled; change nothing")
    _add_common_options(next_sync)
    next_sync.set_defaults(run=cmd_backfill_next_sync)
    return parser


def cmd_backfill_membership_keys(args) -> int:
    from rostersync.aws_clients import dynamodb
    from rostersync.store.membership_backfill import backfill
    from rostersync_tools.ops.output import Progress, print_json, table

    resolve(args)
    progress = Progress(args.json)
    done = backfill(
        dynamodb(),
        district_id=args.district,
        dry_run=args.dry_run,
        on_progress=lambda kind, keyed: progress(f"{keyed} {kind} keyed so far"),
    )
    if args.json:
        print_json({"districtId": args.district, "dryRun": args.dry_run, **done})
    else:
        label = "would key" if args.dry_run else "keyed"
        print(table(("items", label), [(kind, str(count)) for kind, count in done.items()]), flush=True)
    return 0


def cmd_backfill_next_sync(args) -> int:
    from rostersync.sync.dispatch import backfill_next_sync
    from rostersync_tools.ops.output import print_json, table

    resolve(args)
    done = backfill_next_sync(dry_run=args.dry_run)
    if args.json:
        print_json({"dryRun": args.dry_run, **done})
    else:
        verb = "would schedule" if args.dry_run else "scheduled"
        print(table(("districts", "count"), [(verb, str(done["scheduled"]))]), flush=True)
    return 0


PLATFORM_AUDIT = "platform"  # the audit trail's partition for changes that belong to no district


def host_of(text: str) -> str:
    """A host as the limits name it ("name:port") from a URL or name[:port]."""
    from rostersync.oneroster.hosts import host_key

    return host_key(text if "://" in text else f"https://{text}")


def cmd_host_limit(args) -> int:
    import getpass

    from rostersync import audit
    from rostersync.store import host_leases
    from rostersync_tools.ops.output import print_json, table

    resolve(args)
    host = host_of(args.host)
    if args.limit is not None or args.default:
        by = f"ops:{getpass.getuser()}"
        try:
            change = host_leases.set_limit(host, None if args.default else args.limit, by=by)
        except ValueError as error:
            print(f"rostersync ops: {error}", file=sys.stderr)
            return REFUSED
        audit.record(
            PLATFORM_AUDIT,
            by,
            "host_limit.update",
            before={"maxConcurrent": change["before"]},
            after={"maxConcurrent": change["after"]},
            target=host,
        )
    shown = host_leases.describe(host)
    if args.json:
        print_json(shown)
    else:
        rows = [
            ("limit", f"{shown['limit']}" + (" (default)" if shown["limitIsDefault"] else "")),
            ("slots in use", str(shown["slotsInUse"])),
            ("paused for", f"{shown['pausedFor']} s"),
        ]
        print(table((host, ""), rows), flush=True)
    return 0


def cmd_backfill_search_keys(args) -> int:
    from rostersync.aws_clients import dynamodb
    from rostersync.store.search_backfill import backfill
    from rostersync_tools.ops.output import Progress, print_json, table

    resolve(args)
    progress = Progress(args.json)
    done = backfill(
        dynamodb(),
        district_id=args.district,
        dry_run=args.dry_run,
        on_progress=lambda keyed: progress(f"{keyed} users keyed so far"),
    )
    if args.json:
        print_json({"districtId": args.district, "dryRun": args.dry_run, **done})
    else:
        print(table(("users", "count"), [("would key" if args.dry_run else "keyed", str(done["keyed"]))]), flush=True)
    return 0


def cmd_backfill_identity_keys(args) -> int:
    from rostersync.aws_clients import dynamodb
    from rostersync.sync.identity_backfill import backfill
    from rostersync_tools.ops.output import Progress, print_json, table

    resolve(args)
    progress = Progress(args.json)
    done = backfill(
        dynamodb(),
        district_id=args.district,
        dry_run=args.dry_run,
        on_progress=lambda keyed, _without: progress(f"{keyed} users keyed so far"),
    )
    if args.json:
        print_json({"districtId": args.district, "dryRun": args.dry_run, **done})
    else:
        verb = "would key" if args.dry_run else "keyed"
        print(
            table(
                ("users", "count"),
                [(verb, str(done["keyed"])), ("without identifier or email", str(done["withoutIdentity"]))],
            ),
            flush=True,
        )
    return 0


def cmd_backfill_change_keys(args) -> int:
    from rostersync.aws_clients import dynamodb
    from rostersync.store.change_backfill import backfill
    from rostersync_tools.ops.output import Progress, print_json, table

    resolve(args)
    progress = Progress(args.json)
    verb = "would stamp" if args.dry_run else "stamped"
    done = backfill(
        dynamodb(),
        district_id=args.district,
        dry_run=args.dry_run,
        on_table=lambda name, count: progress(f"{name}: {verb} {count}"),
    )
    if args.json:
        print_json({"districtId": args.district, "dryRun": args.dry_run, "stamped": done})
    else:
        print(table(("table", verb), [(name, str(count)) for name, count in done.items()]), flush=True)
    return 0


def cmd_dlq_list(args) -> int:
    from rostersync_tools.ops.dlq import format_table, list_dead_letters, to_json

    target = resolve(args)
    letters = list_dead_letters(target)
    print(to_json(letters) if args.json else format_table(letters), flush=True)
    return 0


def _show(args, read, document, table) -> int:
    """One JSON document (--json) or a table of what `read()` found; exit status 1 for an unknown run."""
    from rostersync_tools.ops.output import print_json
    from rostersync_tools.ops.run_history import RunNotFound

    resolve(args)
    try:
        found = read()
    except RunNotFound as missing:
        return _fail(str(missing))
    if args.json:
        print_json(document(found))
    else:
        print(table(found), flush=True)
    return 0


def cmd_runs(args) -> int:
    from rostersync_tools.ops.run_history import recent_runs, runs_table

    return _show(
        args,
        lambda: recent_runs(args.district, args.limit),
        lambda found: {"districtId": args.district, "runs": found},
        lambda found: runs_table(args.district, found),
    )


def cmd_run(args) -> int:
    from rostersync_tools.ops.run_history import one_run, run_details

    return _show(args, lambda: one_run(args.district, args.run_id), lambda found: found, run_details)


def cmd_redrive(args) -> int:
    from rostersync_tools.ops.output import Progress, print_json
    from rostersync_tools.ops.redrive import plan, redrive

    target = resolve(args)
    planned = plan(target, district_id=args.district)
    if args.dry_run or planned.empty:
        if args.json:
            print_json({"dryRun": args.dry_run, "plan": planned.to_json(), "report": None})
        else:
            print(
                planned.describe() + ("\nDry run: nothing was changed." if args.dry_run and not planned.empty else ""),
                flush=True,
            )
        return 0
    say = Progress(args.json)
    if not args.json:
        print(planned.describe(), flush=True)
    if not args.yes:
        answer = _confirm(f"Replay {len(planned.districts)} district(s) on {planned.target}?")
        if answer is None:
            return _fail(
                "redrive changes the stack and there is no one to ask (no standard input): "
                "run it again with --yes to go ahead, or --dry-run to only see the plan.",
                REFUSED,
            )
        if not answer:
            return _fail("not confirmed: nothing was changed.", 1)
    report = redrive(
        target, district_id=args.district, say=say, follow=args.follow, timeout_s=args.timeout, poll_s=args.poll
    )
    if args.json:
        print_json({"dryRun": False, "plan": planned.to_json(), "report": report.to_json()})
    else:
        print(report.summary(), flush=True)
    return 0 if report.ok else 1


def _confirm(question: str) -> bool | None:
    """The person's yes or no on stdin; None when nobody can answer (no stdin, or it is at its end)."""
    stdin = sys.stdin
    if stdin is None or stdin.closed:
        return None
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    try:
        line = stdin.readline()
    except (OSError, ValueError):
        return None
    if line == "":
        print(file=sys.stderr)
        return None
    return line.strip().lower() in ("y", "yes")


def _fail(message: str, code: int = 1) -> int:
    print(f"rostersync ops: {message}", file=sys.stderr, flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    _domain_logs_to_stderr()
    try:
        return args.run(args)
    except TargetError as error:
        return _fail(str(error))


def _domain_logs_to_stderr() -> None:
    """The domain logs to stdout (Lambda's log); here stdout is the command's answer (--json).
    Its log handler takes the stream that is sys.stdout when it is first imported."""
    real = sys.stdout
    sys.stdout = sys.stderr
    try:
        import rostersync.observability  # noqa: F401
    finally:
        sys.stdout = real


if __name__ == "__main__":
    sys.exit(main())
