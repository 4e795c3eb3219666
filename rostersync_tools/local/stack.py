"""LocalStack: the whole local stack in this process, for `local up`, the demo and tests.

Embedded AWS (moto, tables and queues from template.yaml) -> the functions' environment ->
the HTTP API adapter, the sync worker loop and, when given, the sandbox SIS. The state file
tells `local tick`/`local token`/`ops --local` in other processes where it all listens.
"""

import logging
import os
from datetime import datetime
from typing import Protocol

import requests

from rostersync_tools.local.bundle_arrivals import BundleArrivalLoop
from rostersync_tools.local.console_server import LocalConsole
from rostersync_tools.local.embedded_aws import EmbeddedAws
from rostersync_tools.local.functions import load_handler
from rostersync_tools.local.http_adapter import LocalHttpApi
from rostersync_tools.local.state import remove_state, write_state
from rostersync_tools.local.state import state_dir as default_state_dir
from rostersync_tools.local.tick import invoke_dispatcher, parse_instant
from rostersync_tools.local.tokens import DEFAULT_EXPIRES_IN_S, KeyPair, issue_token, load_or_create_key_pair
from rostersync_tools.local.worker_loop import WorkerLoop

log = logging.getLogger(__name__)


class LocalStack:
    def __init__(
        self,
        api_port: int = 0,
        aws_port: int = 0,
        sis=None,
        sis_port: int = 0,
        aws: EmbeddedAws | None = None,
        state_dir: str | os.PathLike | None = None,
        write_state_file: bool = True,
        worker_handler=None,
        console_port: int | None = 0,
        console_port_is_default: bool = False,
    ):
        """`console_port`: where the console is served (0: any free port; None: not at all); when it
        is only the default (`console_port_is_default`), a taken port means another free one.
        `sis`: a SandboxSIS not yet started (this stack starts and stops it), or None.
        `aws`: an EmbeddedAws already started (tests share one; this stack leaves it running)."""
        self.api_port = api_port
        self.aws_port = aws_port
        self.sis = sis
        self.sis_port = sis_port
        self.aws = aws
        self._owns_aws = aws is None
        self.state_dir = default_state_dir(state_dir)
        self.write_state_file = write_state_file
        self._worker_handler = worker_handler
        self.console_port = console_port
        self.console_port_is_default = console_port_is_default
        self.api: LocalHttpApi | None = None
        self.console: LocalConsole | None = None
        self.worker: WorkerLoop | None = None
        self.arrivals: BundleArrivalLoop | None = None  # S3 -> EventBridge -> CsvArrivalFunction, by polling
        self.sis_host_url: str | None = None  # what a district admin enters as hostUrl
        self.keys: KeyPair | None = None

    # ------------------------------------------------------------ lifecycle
    def start(self) -> "LocalStack":
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        if self.aws is None:
            self.aws = EmbeddedAws(port=self.aws_port).start()
        aws = self.aws
        # The functions read their settings from the environment, as in Lambda: set it before
        # any domain module is imported, and drop settings cached from an earlier environment.
        aws.apply_environment()
        from rostersync.settings import get_settings

        get_settings.cache_clear()
        keys = self.keys = load_or_create_key_pair(self.state_dir)
        if self.sis is not None:
            self.sis.start(port=self.sis_port)
            # What a district admin enters as hostUrl: the host plus any vendor path prefix.
            self.sis_host_url = self.sis.prefixed_host_url
        self._warm_functions()
        self.api = LocalHttpApi(keys, port=self.api_port).start()
        if self.console_port is not None:
            self.console = LocalConsole(
                lambda: self.api_url,
                lambda: keys,
                port=self.console_port,
                sis_host_url=lambda: self.sis_host_url,
                any_port_if_busy=self.console_port_is_default,
                upload_origins=lambda: [aws.endpoint_url],
            ).start()
        self.worker = WorkerLoop(aws.client("sqs"), os.environ["SYNC_QUEUE_URL"], handler=self._worker_handler).start()
        self.arrivals = BundleArrivalLoop(aws.client("s3"), os.environ["BUNDLES_BUCKET"]).start()
        self._check_answers()
        if self.write_state_file:
            write_state(self.state_dir, self.state())
        log.info("local stack up: api=%s aws=%s sis=%s", self.api_url, aws.endpoint_url, self.sis_url or "-")

    def _warm_functions(self) -> None:
        """Import the handlers now, as Lambda's init would; a failure is logged, not fatal, and
        retried on the first invocation (the domain may still be mid-edit)."""
        for name in ("api", "sync_worker", "dispatcher", "csv_arrival"):
            try:
                load_handler(name)
            except Exception as error:
                log.warning(
                    "functions/%s/app.py does not import yet (%s: %s); it will be retried when invoked",
                    name,
                    type(error).__name__,
                    error,
                )

    def _check_answers(self) -> None:
        """Everything answers before anyone is told the stack is ready."""
        _running(self.aws, "embedded AWS").client("dynamodb").list_tables()
        response = requests.get(f"{self.api_url}/districts", timeout=10)
        if response.status_code != 401:
            raise RuntimeError(f"the local API answered {response.status_code} without a token")
        sis_url = self.sis_url
        if sis_url:
            requests.get(sis_url, timeout=10)  # any HTTP answer will do (it wants auth)
        if self.console is not None:
            requests.get(f"{self.console.url}/config.json", timeout=10).raise_for_status()
        if not _running(self.worker, "sync worker loop").alive():
            raise RuntimeError("the sync worker loop did not start")

    def stop(self) -> None:
        parts: list[tuple[str, _Stoppable | None]] = [
            ("bundle arrivals", self.arrivals),
            ("worker", self.worker),
            ("console", self.console),
            ("api", self.api),
            ("sis", self.sis if self.sis_host_url else None),  # started by this stack
            ("aws", self.aws if self._owns_aws else None),
        ]
        for name, part in parts:
            if part is None:
                continue
            try:
                part.stop()
            except Exception:
                log.exception("stopping the local %s failed", name)
        self.worker = self.api = self.console = self.arrivals = None
        self.sis_host_url = None
        if self.write_state_file:
            remove_state(self.state_dir, os.getpid())

    def __enter__(self) -> "LocalStack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------ what it offers
    @property
    def api_url(self) -> str:
        return _running(self.api, "HTTP API").url

    @property
    def aws_url(self) -> str:
        """The embedded AWS's endpoint."""
        return _running(self.aws, "embedded AWS").endpoint_url

    @property
    def sis_url(self) -> str | None:
        """The sandbox's OneRoster base URL (for people; the product wants sis_host_url)."""
        return self.sis.base_url if self.sis_host_url else None

    @property
    def console_url(self) -> str | None:
        """The console's address (its own origin, as deployed: the API is another)."""
        return f"{self.console.url}/" if self.console else None

    def ready_line(self) -> str:
        line = f"ready api={self.api_url} aws={self.aws_url}"
        if self.console:
            line += f" console={self.console_url}"
        return f"{line} sis={self.sis_url}" if self.sis_url else line

    def state(self) -> dict:
        aws = _running(self.aws, "embedded AWS")
        return {
            "pid": os.getpid(),
            "api": self.api_url,
            "aws": aws.endpoint_url,
            "sis": self.sis_url,
            "sisHostUrl": self.sis_host_url,
            "console": self.console_url,
            "environment": aws.environment(),
        }

    def token(
        self,
        role: str,
        district_id: str | None = None,
        expires_in_s: int = DEFAULT_EXPIRES_IN_S,
        sub: str | None = None,
        **claims,
    ) -> str:
        return issue_token(
            _running(self.keys, "key pair"), role, district_id=district_id, sub=sub, expires_in_s=expires_in_s, **claims
        )

    def tick(self, time_str: str | datetime):
        """Run the nightly dispatcher once as EventBridge would at that instant; its result."""
        instant = time_str if isinstance(time_str, datetime) else parse_instant(time_str)
        return invoke_dispatcher(instant)

    def wait_until_idle(self, timeout: float = 60) -> None:
        if self.arrivals is not None:
            self.arrivals.wait_until_idle(timeout)
        _running(self.worker, "sync worker loop").wait_until_idle(timeout)


class _Stoppable(Protocol):
    def stop(self) -> None: ...


def _running[T](part: T | None, name: str) -> T:
    """A part of the stack that start() made (or was given)."""
    if part is None:
        raise RuntimeError(f"the local stack's {name} is not running: start() it first")
    return part
