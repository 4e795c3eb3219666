"""Embedded AWS: moto in server mode on loopback, with the template's tables and queues.

Everything that talks to AWS (boto3, pynamodb, Powertools) is pointed at it through the
standard AWS_ENDPOINT_URL variable, so the product's code runs unchanged.
"""

import base64
import json
import logging
import os
import threading
import uuid
from datetime import datetime
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from rostersync_tools.local.event_sink import LOCAL_SENDER
from rostersync_tools.local.template_resources import CreatedResources, create_resources

REGION = "us-east-1"
# moto accepts any credentials; these only keep botocore from looking for real ones.
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local"}


def serialize_moto_writes() -> None:
    """DynamoDB checks a write's condition and applies it atomically; moto, serving requests
    on threads, does not lock between the two, so two concurrent conditional writes (two
    dispatchers, a manual and a nightly sync) could both pass. One lock around moto's writes
    makes the local stack and the tests behave like DynamoDB. Idempotent."""
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend, "_rostersync_serialized", False):
        return
    lock = threading.RLock()
    for name in ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item"):
        original = getattr(DynamoDBBackend, name, None)
        if original is None:
            continue

        def atomic(self, *args, __original=original, **kwargs):
            with lock:
                return __original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, atomic)
    setattr(DynamoDBBackend, "_rostersync_serialized", True)  # noqa: B010  (a marker moto's class does not declare)


# DynamoDB's data-plane operations: the ones a sync sends thousands of times.
FAST_DYNAMODB_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)


def _wire_json(value: Any) -> Any:
    """A moto DynamoDB result as DynamoDB's JSON protocol writes it: binary values in base64,
    times as epoch seconds, absent (None) members left out."""
    if isinstance(value, dict):
        return {key: _wire_json(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_wire_json(item) for item in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime):
        return value.timestamp()
    return value


def fast_dynamodb_responses() -> None:
    """moto 5.2 writes every response by walking botocore's output model attribute by attribute:
    for DynamoDB that walk is most of the embedded AWS's CPU (a query of 100 items spends far more
    time being serialized than being answered). A data-plane result is already DynamoDB JSON, so
    it is written with json.dumps, keeping only the operation's output members as the model walk
    does; errors and every other operation keep moto's own path.
    tests/unit/tools/test_fast_dynamodb_responses.py holds the two to the same answers. Idempotent."""
    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoHandler, "_rostersync_fast", False):
        return
    from moto.core.responses import get_service_model

    original = DynamoHandler.serialized
    output_members: dict[str, frozenset[str]] = {}

    def serialized(self, action_result):
        action = self._get_action()
        result = action_result.result
        if action not in FAST_DYNAMODB_OPERATIONS or not isinstance(result, dict):
            return original(self, action_result)
        if action not in output_members:
            shape = get_service_model("dynamodb").operation_model(action).output_shape
            output_members[action] = frozenset(shape.members) if shape is not None else frozenset()
        members = output_members[action]
        body = json.dumps(
            {key: _wire_json(value) for key, value in result.items() if key in members and value is not None}
        )
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-requestid": uuid.uuid4().hex}
        headers.update(self.response_headers)
        return 200, headers, body

    setattr(DynamoHandler, "serialized", serialized)  # noqa: B010
    setattr(DynamoHandler, "_rostersync_moto_serialized", original)  # noqa: B010  (for the test that compares)
    setattr(DynamoHandler, "_rostersync_fast", True)  # noqa: B010  (a marker moto's class does not declare)


def quiet_werkzeug() -> None:
    """moto's server logs every request through werkzeug: keep only errors."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)


class EmbeddedAws:
    def __init__(self, port: int = 0):
        self.port = port
        self._server: ThreadedMotoServer | None = None
        self.endpoint_url = ""
        self.resources: CreatedResources | None = None

    def start(self) -> "EmbeddedAws":
        quiet_werkzeug()
        serialize_moto_writes()
        fast_dynamodb_responses()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.port = port
        self.endpoint_url = f"http://{host}:{port}"
        self._create()
        return self

    def _create(self) -> None:
        from rostersync_tools.local import event_sink

        self.resources = create_resources(self.session(), self.endpoint_url)
        event_sink.prepare(self.session(), self.endpoint_url, self.resources.event_buses["EventBus"])

    def session(self) -> boto3.Session:
        return boto3.Session(
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=LOCAL_CREDENTIALS["AWS_SESSION_TOKEN"],
            region_name=REGION,
        )

    def client(self, service: str) -> Any:
        # Any service by name (tests and tools ask for several); boto3-stubs types literal names only.
        session: Any = self.session()
        return session.client(service, endpoint_url=self.endpoint_url)

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
