"""Embedded AWS: moto in server mode on loopback, with the template's tables and queues.

Everything that talks to AWS (boto3, pynamodb, Powertools) is pointed at it through the
standard AWS_ENDPOINT_URL variable, so the product's code runs unchanged.
"""

import logging
import os
import threading
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from rostersync_tools.local.event_sink import LOCAL_SENDER
from rostersync_tools.local.moto_adjustments import adjust_moto
from rostersync_tools.local.template_resources import CreatedResources, create_resources

REGION = "us-east-1"
# moto accepts any credentials; these only keep botocore from looking for real ones.
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local"}


def quiet_werkzeug() -> None:
    """moto's server logs every request through werkzeug: keep only errors."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)


class KeptClients:
    """The embedded AWS's clients, one per service and endpoint, from one session, made once.
    A new boto3 session loads botocore's service models again (~100 ms of CPU, where a client of
    a kept session costs ~14 ms), and tests ask for clients at every reset and in every helper.
    Clients are thread-safe; a session making them is not (the lock). Callers use it as the
    session it replaces: `.client(service, endpoint_url=...)`."""

    def __init__(self):
        self._session = boto3.Session(
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=LOCAL_CREDENTIALS["AWS_SESSION_TOKEN"],
            region_name=REGION,
        )
        self._clients: dict[tuple[str, str | None], Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str, endpoint_url: str | None = None) -> Any:
        # Any service by name (tests and tools ask for several); boto3-stubs types literal names only.
        key = (service, endpoint_url)
        with self._lock:
            if key not in self._clients:
                session: Any = self._session
                self._clients[key] = session.client(service, endpoint_url=endpoint_url)
            return self._clients[key]


class EmbeddedAws:
    def __init__(self, port: int = 0):
        self.port = port
        self._server: ThreadedMotoServer | None = None
        self.endpoint_url = ""
        self.resources: CreatedResources | None = None
        self._clients = KeptClients()

    def start(self) -> "EmbeddedAws":
        quiet_werkzeug()
        adjust_moto()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.port = port
        self.endpoint_url = f"http://{host}:{port}"
        self._create()
        return self

    def _create(self) -> None:
        from rostersync_tools.local import event_sink

        self.resources = create_resources(self._clients, self.endpoint_url)
        event_sink.prepare(self._clients, self.endpoint_url, self.resources.event_buses["EventBus"])

    def client(self, service: str) -> Any:
        return self._clients.client(service, endpoint_url=self.endpoint_url)

    def environment(self) -> dict[str, str]:
        """What the product's code needs in os.environ to use this endpoint and these resources."""
        if self.resources is None:
            raise RuntimeError("start() first")
        return {
            **LOCAL_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "ROSTERSYNC_STAGE": "local",
            "ROSTERSYNC_SECRET_PREFIX": "rostersync/local/district/",
            "ROSTERSYNC_ALLOW_PRIVATE_SIS_HOSTS": "1",
            "ROSTERSYNC_LOCAL_STACK": "1",
            "POWERTOOLS_SERVICE_NAME": "rostersync",
            "POWERTOOLS_METRICS_NAMESPACE": "RosterSync",
            "POWERTOOLS_TRACE_DISABLED": "1",
            "NOTIFY_FROM": LOCAL_SENDER,
            **self.resources.environment(),
        }

    def apply_environment(self) -> None:
        os.environ.update(self.environment())

    def reset(self) -> None:
        """Forget every item and queue message, then create the resources again (tests)."""
        import requests

        requests.post(f"{self.endpoint_url}/moto-api/reset", timeout=10).raise_for_status()
        self._create()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
