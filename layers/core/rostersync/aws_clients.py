"""Every AWS client of the domain, built here: one boto3 client per service, created on first
use and kept for the process (creating one costs ~100 ms), per region and endpoint (tests and
the local stack point AWS_ENDPOINT_URL at the embedded AWS, and may change it between tests).

DynamoDB is reached only through botocore (boto3 clients here, pynamodb's models with the
settings `pynamodb_settings` gives store/base.py), so every request is signed, retried, timed
out, proxied and traced by the SDK. The retry policy is botocore's standard mode for
throttling, 5xx answers and dropped connections, set here once for both; the one thing the SDK
does not retry, items a batch hands back unprocessed, is store/batch.py's `Backoff`.

Sessions are not thread-safe, so each client comes from a session of its own, under a lock.
Batch stores (store/batch.py) share a DynamoDB client sized for their requests in flight:
dynamodb_for_batches.
"""

from __future__ import annotations

import threading
from typing import Final, Literal

import boto3
from botocore.config import Config

from rostersync.settings import aws_endpoint_url, get_settings

# botocore's standard mode: exponential backoff with jitter on throttling, 5xx and connection
# errors, a retry quota per client. Not adaptive: its client-side rate limiter is per process
# and would slow every writer of a worker after one throttle, where on-demand tables recover
# within the backoff anyway.
DYNAMODB_RETRY_MODE: Final = "standard"
DYNAMODB_TOTAL_ATTEMPTS = 8  # the first try and up to 7 retries, each after a jittered, growing wait
CONNECT_TIMEOUT_S = 5
READ_TIMEOUT_S = 30  # a 16 MB BatchWriteItem answers in well under a second; 30 s is a dead peer

# The services the domain uses (a Literal lets the SDK's stubs pick each one's client type).
Service = Literal["dynamodb", "secretsmanager", "sqs", "events", "ses", "s3"]

_clients: dict[tuple[str, str, str], object] = {}
_lock = threading.Lock()


def dynamodb_config(max_pool_connections: int = 10, parameter_validation: bool = True) -> Config:
    return Config(
        retries={"mode": DYNAMODB_RETRY_MODE, "total_max_attempts": DYNAMODB_TOTAL_ATTEMPTS},
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        max_pool_connections=max_pool_connections,
        tcp_keepalive=True,
        parameter_validation=parameter_validation,
    )


_CONFIGS = {"dynamodb": dynamodb_config()}


def _kept(name: str, service: Service, config: Config | None):
    """The process's client `name` for the current region and endpoint, made once."""
    region = get_settings().region
    key = (name, region, aws_endpoint_url() or "")
    with _lock:
        if key not in _clients:
            _clients[key] = boto3.session.Session().client(service, region_name=region, config=config)
        return _clients[key]


def client(service: Service):
    """The process's client of `service` for the current region and endpoint."""
    return _kept(service, service, _CONFIGS.get(service))


def dynamodb():
    """For hand-built requests (queries, conditional writes, transactions): botocore validates them."""
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
    """The DynamoDB client for batch stores of `max_in_flight` writers: a connection for each of
    them and the reads beside them. Kept for the process like the others (a worker's every
    invocation used to build its own, ~100 ms of CPU); botocore clients are thread-safe.

    parameter_validation=False: botocore's client-side validation walks every attribute value of
    every item against the service model (about a sixth of a writer thread's CPU, bench/README.md),
    and every item and key this client sends comes from store/codec.py, the one encoder, whose
    output the models' tests check (tests/unit/store/test_codec.py). DynamoDB still validates
    each request on its side; a malformed one is refused with a ValidationException.
    """
    config = dynamodb_config(max_pool_connections=max(10, max_in_flight * 2), parameter_validation=False)
    return _kept(f"dynamodb-batches-{max_in_flight}", "dynamodb", config)


def pynamodb_settings() -> dict:
    """What the pynamodb models' Meta sets (store/base.py): pynamodb builds its own botocore
    client from these, with the same retry policy and timeouts as the clients above (pynamodb
    counts retries after the first try, and itself turns validation off: a model serializes
    its own attributes)."""
    return {
        "max_retry_attempts": DYNAMODB_TOTAL_ATTEMPTS - 1,
        "connect_timeout_seconds": CONNECT_TIMEOUT_S,
        "read_timeout_seconds": READ_TIMEOUT_S,
        "max_pool_connections": 10,
    }
