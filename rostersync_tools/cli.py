"""`rostersync`: the local stack, the sandbox SIS, on-call tools, the demo and the OpenAPI document.

Every subcommand imports what it needs when it runs, so `rostersync --help` is instant and a
part that is missing or broken does not take the others down with it.
"""

import argparse
import sys

ROLES = ("platform_admin", "district_admin", "teacher")
# Subcommands owned elsewhere that parse their own arguments.
DELEGATED = {
    "sandbox-sis": (
        "rostersync_tools.sandbox_sis.cli",
        "the sandbox OneRoster 1.1 SIS (rostersync sandbox-sis --help)",
    ),
    "ops": ("rostersync_tools.ops.cli", "on-call: dead-letter queue, runs, redrive (rostersync ops --help)"),
    "console": (
        "rostersync_tools.console_config",
        "the district admin console's deployed config.json (rostersync console --help)",
    ),
}


def _domain_logs_to_stderr():
    """The functions log to stdout (Lambda's log); here stdout is for the command's answer.
    Returns the real stdout; sys.stdout becomes stderr before any domain code is imported."""
    real = sys.stdout
    sys.stdout = sys.stderr
    return real


def _fail(message: str, code: int = 1) -> int:
    print(f"rostersync: {message}", file=sys.stderr)
    return code


# ---------------------------------------------------------------- local
def cmd_local_up(args) -> int:
    from rostersync_tools.local.up import run_up

    return run_up(args.api_port, args.aws_port, None if args.no_sis else args.sis_port, console_port=args.console_port)


def cmd_local_token(args) -> int:
    from rostersync_tools.local.state import state_dir
    from rostersync_tools.local.tokens import issue_client_token, issue_token, load_or_create_key_pair

    if args.client:
        keys = load_or_create_key_pair(state_dir())
        print(
            issue_client_token(
                keys, args.client, district_id=args.district, expires_in_s=args.expires_in, write=args.write
            ),
            flush=True,
        )
        return 0
    if args.role != "platform_admin" and not args.district:
        print(f"note: a {args.role} token without --district reaches no district's routes (403)", file=sys.stderr)
    keys = load_or_create_key_pair(state_dir())
    token = issue_token(keys, args.role, district_id=args.district, sub=args.sub, expires_in_s=args.expires_in)
    print(token, flush=True)
    return 0


def cmd_local_tick(args) -> int:
    from rostersync_tools.local.state import NoRunningStack, state_dir
    from rostersync_tools.local.tick import parse_instant, summarise, tick_running_stack

    try:
        instant = parse_instant(args.time)
    except ValueError as error:
        return _fail(f"--time: {error}", 2)
    out = _domain_logs_to_stderr()
    try:
        result = tick_running_stack(state_dir(), instant)
    except NoRunningStack as error:
        return _fail(str(error))
    except Exception as error:
        import traceback

        traceback.print_exc()
        return _fail(f"the dispatcher failed: {type(error).__name__}: {error}")
    print(summarise(instant, result), file=out, flush=True)
    return 0


def cmd_local_events(args) -> int:
    from rostersync_tools.local.state import NoRunningStack
    from rostersync_tools.local.watch import show_events

    out = _domain_logs_to_stderr()
    try:
        return show_events(args.district, args.type, args.limit, args.json, args.full, args.follow, out=out)
    except NoRunningStack as error:
        return _fail(str(error))


def cmd_local_outbox(args) -> int:
    from rostersync_tools.local.state import NoRunningStack
    from rostersync_tools.local.watch import show_outbox

    out = _domain_logs_to_stderr()
    try:
        return show_outbox(args.district, args.limit, args.json, out=out)
    except NoRunningStack as error:
        return _fail(str(error))


# ---------------------------------------------------------------- the rest
def cmd_openapi(_args) -> int:
    from rostersync.api.app import openapi_document

    # The document ends in one newline already: print() would add a second, and the committed
    # docs/openapi.json would then read as stale.
    sys.stdout.write(openapi_document())
    sys.stdout.flush()
    return 0


def cmd_demo(args) -> int:
    from rostersync_tools.demo import run_demo

    return run_demo()


def _delegate(name: str, argv: list[str]) -> int:
    import importlib

    module_name, _ = DELEGATED[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        return _fail(f"`{name}` is not available in this checkout ({error})")
    return module.main(argv) or 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rostersync")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rostersync", description="Roster Sync tools: local stack, sandbox SIS, ops, demo."
    )
    parser.add_argument("--version", action="version", version=f"rostersync {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="command", required=True)

    local = commands.add_parser("local", help="the local stack (embedded AWS, HTTP API, sync worker, sandbox SIS)")
    local_commands = local.add_subparsers(dest="local_command", metavar="subcommand", required=True)

    up = local_commands.add_parser("up", help="run the local stack in the foreground until Ctrl-C")
    up.add_argument("--api-port", type=int, default=3000)
    up.add_argument("--aws-port", type=int, default=5000)
    sis = up.add_mutually_exclusive_group()
    sis.add_argument("--sis-port", type=int, default=8900, help="sandbox SIS port (default 8900)")
    sis.add_argument("--no-sis", action="store_true", help="do not start the sandbox SIS")
    up.add_argument(
        "--console-port",
        type=int,
        default=None,
        help="the district admin console (default 3001, or a free port when 3001 is taken; 0 for any free port)",
    )
    up.set_defaults(run=cmd_local_up)

    token = local_commands.add_parser("token", help="print a bearer token the local stack accepts")
    who = token.add_mutually_exclusive_group(required=True)
    who.add_argument("--role", choices=ROLES, help="a person's ID token")
    who.add_argument(
        "--client",
        choices=("app",),
        help="an API client's access token (client credentials): scope roster/read, or with "
        "--district roster/read:<ID> only",
    )
    token.add_argument(
        "--district",
        metavar="ID",
        help="custom:district_id (district admins and teachers); with --client, the one district",
    )
    token.add_argument(
        "--write", action="store_true", help="with --client: roster/write too (register app users and classes)"
    )
    token.add_argument("--expires-in", type=int, default=3600, metavar="S", help="lifetime in seconds (default 3600)")
    token.add_argument("--sub", metavar="S", help="the user's subject (default local-<role>)")
    token.set_defaults(run=cmd_local_token)

    tick = local_commands.add_parser("tick", help="run the nightly dispatcher once, as EventBridge would at --time")
    tick.add_argument(
        "--time", default=None, metavar="ISO8601", help="the instant, e.g. 2026-12-02T10:00:00Z (default now)"
    )
    tick.set_defaults(run=cmd_local_tick)

    events = local_commands.add_parser("events", help="the events the stack put on its bus, newest first")
    events.add_argument("--follow", "-f", action="store_true", help="then keep printing new ones until Ctrl-C")
    events.add_argument("--district", metavar="ID", help="only this district's")
    events.add_argument("--type", metavar="DETAIL_TYPE", help='only this detail type, e.g. "Sync Failed"')
    events.add_argument("--limit", type=int, default=50, metavar="N", help="at most N (default 50)")
    events.add_argument("--full", action="store_true", help="print each event's whole detail")
    events.add_argument("--json", action="store_true", help="one JSON event per line")
    events.set_defaults(run=cmd_local_events)

    outbox = local_commands.add_parser("outbox", help="the messages sent to district contacts, newest first")
    outbox.add_argument("--district", metavar="ID", help="only this district's")
    outbox.add_argument("--limit", type=int, default=20, metavar="N", help="at most N (default 20)")
    outbox.add_argument("--json", action="store_true", help="print JSON")
    outbox.set_defaults(run=cmd_local_outbox)

    for name, (_, help_text) in DELEGATED.items():
        commands.add_parser(name, help=help_text, add_help=False)

    commands.add_parser("openapi", help="print the HTTP API's OpenAPI document (JSON)").set_defaults(run=cmd_openapi)
    commands.add_parser(
        "demo", help="set up a district against the sandbox SIS, run one full sync, print a summary"
    ).set_defaults(run=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Delegated commands get their arguments untouched (their own --help included).
    if argv and argv[0] in DELEGATED:
        return _delegate(argv[0], argv[1:])
    args = build_parser().parse_args(argv)
    if getattr(args, "local_command", None) == "tick" and args.time is None:
        from rostersync.times import iso_z_seconds, utc_now

        args.time = iso_z_seconds(utc_now())
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
