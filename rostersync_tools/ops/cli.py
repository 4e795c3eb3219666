"""`rostersync ops ...`: what on-call uses to see and replay failed district syncs.

  rostersync ops dlq list [--local] [--json]
  rostersync ops redrive [--district ID] [--local]

Against a deployed stack by default (its CloudFormation outputs; --stack-name, --region),
the running local stack with --local (its state file), or explicit endpoints.
"""

import argparse
import sys

from rostersync_tools.ops.target import DEFAULT_STACK, TargetError, resolve


def _add_target_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_argument_group("which stack")
    where.add_argument("--local", action="store_true", help="the running local stack (rostersync local up)")
    where.add_argument("--state-dir", help="the local stack's state directory (default $ROSTERSYNC_STATE_DIR or .rostersync)")
    where.add_argument("--stack-name", default=DEFAULT_STACK, help=f"deployed stack (default {DEFAULT_STACK})")
    where.add_argument("--region", help="AWS region (default from the environment)")
    where.add_argument("--endpoint-url", help="an AWS endpoint (moto, LocalStack) instead of a stack")
    where.add_argument("--queue-url", help="with --endpoint-url: the sync queue")
    where.add_argument("--dlq-url", help="with --endpoint-url: the sync dead-letter queue")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rostersync ops", description="On-call: failed district syncs.")
    commands = parser.add_subparsers(dest="command", metavar="command", required=True)

    dlq = commands.add_parser("dlq", help="the sync dead-letter queue")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", metavar="subcommand", required=True)
    listing = dlq_commands.add_parser("list", help="list dead-lettered syncs (nothing is deleted)")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_target_options(listing)
    listing.set_defaults(run=cmd_dlq_list)

    redrive = commands.add_parser("redrive", help="replay dead-lettered syncs as new runs (trigger replay)")
    redrive.add_argument("--district", metavar="ID", help="only this district")
    _add_target_options(redrive)
    redrive.set_defaults(run=cmd_redrive)
    return parser


def cmd_dlq_list(args) -> int:
    from rostersync_tools.ops.dlq import format_table, list_dead_letters, to_json

    target = resolve(args)
    letters = list_dead_letters(target)
    print(to_json(letters) if args.json else format_table(letters), flush=True)
    return 0


def cmd_redrive(args) -> int:
    from rostersync_tools.ops.redrive import redrive

    target = resolve(args)
    report = redrive(target, district_id=args.district)
    print(report.summary(), flush=True)
    return 1 if report.left else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        return args.run(args)
    except TargetError as error:
        print(f"rostersync ops: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
