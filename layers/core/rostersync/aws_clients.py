"""One boto3 client per AWS service, created on first use and kept for the process (creating
one costs ~100 ms), per region and endpoint: tests and the local stack point AWS_ENDPOINT_URL
at the embedded AWS, and may change it between tests.

Sessions are not thread-safe, so each client comes from a session of its own, under a lock.
The sync's batch store makes its own DynamoDB client (store/batch.py), sized for its
requests in flight.
"""

from __future__ import annotations

import threading

import boto3

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
