"""`rostersync local up`: the local stack in the foreground until SIGINT or SIGTERM.

stdout carries exactly one line, `ready api=... aws=... console=... [sis=...]`, once everything answers
(scripts and tests wait for it); logs go to stderr.
"""

import logging
import signal
import sys
import threading

log = logging.getLogger(__name__)
DEFAULT_CONSOLE_PORT = 3001


def configure_logging(level: int = logging.INFO) -> None:
    """The tools' own log lines (request lines, worker batches, start and stop) on stderr.

    They get a handler of their own: Powertools (the domain's logger, service "rostersync")
    puts a filter on the root logger's handlers that drops every logger whose name contains
    "rostersync", which would silence rostersync_tools.* there.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    tools = logging.getLogger("rostersync_tools")
    tools.handlers[:] = [handler]
    tools.setLevel(level)
    tools.propagate = False
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    # Libraries that would log request details (moto's werkzeug access log, botocore, urllib3).
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3", "pynamodb"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)


def run_up(
    api_port: int, aws_port: int, sis_port: int | None, state_dir: str | None = None, console_port: int | None = None
) -> int:
    """`console_port` None: the default port, or any free one when another stack holds it
    (two stacks started with their own --api-port etc. must not clash on the console)."""
    # stdout carries the ready line and nothing else. The functions log to stdout, as Lambda
    # wants (Powertools binds sys.stdout when the domain is imported), so from here on
    # everything written to sys.stdout goes to stderr; the ready line uses the real stdout.
    ready_out = sys.stdout
    sys.stdout = sys.stderr
    configure_logging()
    stopping = threading.Event()

    def on_signal(signum, _frame):
        log.info("%s received: stopping", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    from rostersync_tools.local.stack import LocalStack

    sis = None
    if sis_port is not None:
        try:
            from rostersync_tools.sandbox_sis import SandboxConfig, SandboxSIS
        except ImportError as error:
            log.error("the sandbox SIS is not available (%s); run with --no-sis", error)
            return 1
        sis = SandboxSIS(SandboxConfig())
    stack = LocalStack(
        api_port=api_port,
        aws_port=aws_port,
        sis=sis,
        sis_port=sis_port or 0,
        state_dir=state_dir,
        console_port=DEFAULT_CONSOLE_PORT if console_port is None else console_port,
        console_port_is_default=console_port is None,
    )
    try:
        stack.start()
    except OSError as error:
        log.error("the local stack could not start: %s (is another one running? try other ports)", error)
        return 1
    try:
        print(stack.ready_line(), file=ready_out, flush=True)
        log.info("the district admin console: open %s (local sign-in)", stack.console_url)
        while not stopping.wait(0.5):
            pass
    finally:
        stack.stop()
        log.info("local stack stopped")
    return 0
