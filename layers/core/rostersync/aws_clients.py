"""One boto3 client per AWS service, created on first use and kept for the process (creating
one costs ~100 ms), per region and endpoint: tests and the local stack point AWS_ENDPOINT_URL
at the embedded AWS, and may change it between tests.

Sessions are not thread-safe, so each client comes from a session of its own, under a lock.
A batch store (store/batch.py) takes a DynamoDB client of its own, sized for its requests in
flight: dynamodb_for_batches.
"""

from __future__ import annotations

import threading

import boto3
from botocore.config import Config

from rostersync.settings import aws_endpoint_url, get_settings

_clients: dict[tuple[str, str, str], object] = {}
_lock = threading.Lock()


def client(service: str):
    """The process's client of `service` for the current region and endpoint."""
    region = get_settings().region
    key = (service, region, aws_endpoint_url() or "")
    with _lock:
        if key not in _clients:
            _clients[key] = boto3.session.Session().client(service, region_name=region)
        return _clients[key]


def dynamodb():
    return client("dynamodb")


def secretsmanager():
    return client("secretsmanager")


def sqs():
    return client("sqs")


def events():
    return client("events")


def ses():
    return client("ses")


def dynamodb_for_batches(max_in_flight: int = 8):
    """A DynamoDB client of its own for one batch store: a connection pool for `max_in_flight`
    requests, standard retries. Every request it sends is built by store/codec.py, whose output
    the models' tests check: botocore's client-side parameter validation (a walk over every
    attribute value of every item) would only spend the worker's CPU on proving that again."""
    config = Config(
        max_pool_connections=max(10, max_in_flight * 2),
        retries={"mode": "standard", "max_attempts": 8},
        parameter_validation=False,
    )
    with _lock:
        session = boto3.session.Session()
    return session.client("dynamodb", region_name=get_settings().region, config=config)
