"""BatchWriteItem and BatchGetItem (and plain PutItem, DeleteItem) straight on DynamoDB's JSON
wire protocol.

Why: a full sync is thousands of 25-item batches, and botocore spends about 3 ms of CPU on each
(its shape-driven serializer walks every attribute of every item, then a dozen event hooks,
endpoint rules, a request object copied several times and the response parser), more than
everything else the worker does per record together (bench/README.md, "what took the CPU").
The request we send is already in DynamoDB's attribute-value JSON (a batch of writes joins the
text store/wire_items.py encoded each item to when it was put; anything else is one `json.dumps`),
so this module does only what the protocol needs: a SigV4 signature, one POST on the calling
thread's own keep-alive connection (store/wire_connection.py), one `json.loads`.

Same inputs and outputs as the boto3 client's two methods (`RequestItems=` in; the response
dict with UnprocessedItems / Responses / UnprocessedKeys out), the same endpoint, region and
credentials as the client it is built from (botocore's credential chain, refreshed as they
expire), the same CA bundle, and the same errors: a refused request raises botocore's
ClientError with DynamoDB's error code. Throttling, 5xx answers, dropped connections and a body
whose CRC32 does not match are retried with backoff before that. The signature is SigV4 for one
fixed request shape (POST /, four headers); tests/unit/store/test_dynamodb_wire.py checks it
against botocore's signer. Plain puts and deletes go over it through WireFirstClient (the
checkpoints'); everything else (queries, conditional writes, transactions) stays on boto3.
It connects to the endpoint directly: no HTTP(S)_PROXY (Lambda reaches DynamoDB without one; a
VPC needs a gateway endpoint, as boto3 would).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import random
import ssl
import threading
import time
import zlib
from collections import Counter
from datetime import UTC, datetime
from urllib.parse import urlsplit

import boto3
from botocore.exceptions import ClientError, HTTPClientError
from botocore.httpsession import where as ca_bundle

from rostersync.store.wire_connection import WireConnection
from rostersync.store.wire_items import WireItem

TARGET_PREFIX = "DynamoDB_20120810."
CONTENT_TYPE = "application/x-amz-json-1.0"
# What DynamoDB and its front ends answer when a retry can succeed (the rest are the caller's fault).
RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionInProgressException",
    }
)
ATTEMPTS = 8
TIMEOUT_S = 30


class DynamoDbWire:
    """The two batch calls of a boto3 DynamoDB client, without botocore's per-request machinery."""

    def __init__(self, client, attempts: int = ATTEMPTS, sleep=time.sleep, credentials=None):
        self.endpoint_url = client.meta.endpoint_url.rstrip("/") + "/"
        self.region = client.meta.region_name
        self.host = _host(self.endpoint_url)
        self._credentials = credentials or boto3.session.Session().get_credentials()
        self._endpoint = urlsplit(self.endpoint_url)
        self._path = self._endpoint.path or "/"  # where requests go, and what the signature names
        self._tls = ssl.create_default_context(cafile=ca_bundle()) if self._endpoint.scheme == "https" else None
        self._local = threading.local()  # each store thread its own connection (one request at a time)
        self._connections: list[WireConnection] = []
        self._keys: dict[tuple[str, str], bytes] = {}  # (secret, day) -> SigV4 signing key
        self.attempts, self.sleep = attempts, sleep
        # What was sent, for the bench: requests by operation, and the most writes in flight at once.
        self.calls: Counter = Counter()
        self._lock = threading.Lock()
        self._writes_in_flight = 0

    def batch_write_item(self, RequestItems: dict) -> dict:
        with self._lock:
            self._writes_in_flight += 1
            self.calls["maxWritesInFlight"] = max(self.calls["maxWritesInFlight"], self._writes_in_flight)
        try:
            return self.call("BatchWriteItem", payload=_write_payload(RequestItems))
        finally:
            with self._lock:
                self._writes_in_flight -= 1

    def batch_get_item(self, RequestItems: dict) -> dict:
        response = self.call("BatchGetItem", {"RequestItems": RequestItems})
        for items in response.get("Responses", {}).values():
            for item in items:
                _decode_binary(item)
        return response

    def put_item(self, TableName: str, Item: dict) -> dict:
        return self.call("PutItem", {"TableName": TableName, "Item": Item})

    def delete_item(self, TableName: str, Key: dict) -> dict:
        return self.call("DeleteItem", {"TableName": TableName, "Key": Key})

    def call(self, operation: str, body: dict | None = None, payload: bytes | None = None) -> dict:
        """One operation with `body` (a dict) or its ready JSON `payload`."""
        if payload is None:
            payload = _json(body).encode("utf-8")
        for attempt in range(self.attempts):
            with self._lock:
                self.calls[operation] += 1
            try:
                status, headers, content = self._post(operation, payload)
            except HTTPClientError:  # dropped or refused connection, timeout: the request may be sent again
                if attempt + 1 == self.attempts:
                    raise
                self._wait(attempt)
                continue
            if status == 200 and _crc_matches(headers, content):
                return json.loads(content)
            code, message = _error(status, content)
            if attempt + 1 == self.attempts or not (status >= 500 or code in RETRYABLE_CODES or status == 200):
                raise ClientError(
                    {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
                    operation,
                )
            self._wait(attempt)
        raise AssertionError("unreachable")

    def _post(self, operation: str, payload: bytes) -> tuple[int, dict, bytes]:
        headers = self.signed_headers(operation, payload, datetime.now(UTC))
        connection = self._connection()
        try:
            return connection.post(self._path, headers, payload)
        except (OSError, http.client.HTTPException) as error:
            connection.close()  # reopened by the next request (a kept-alive connection the server dropped, too)
            raise HTTPClientError(error=error) from error

    def _connection(self) -> WireConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = WireConnection(self._endpoint.hostname, self._endpoint.port, TIMEOUT_S, self._tls)
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def signed_headers(self, operation: str, payload: bytes, now: datetime) -> dict:
        """The request's headers with its SigV4 Authorization (service dynamodb, POST to the endpoint)."""
        credentials = self._credentials.get_frozen_credentials()
        amz_date = now.strftime("%Y%m%dT%H%M%SZ")
        day = amz_date[:8]
        headers = {
            "content-type": CONTENT_TYPE,
            "host": self.host,
            "x-amz-date": amz_date,
            "x-amz-target": TARGET_PREFIX + operation,
        }
        if credentials.token:
            headers["x-amz-security-token"] = credentials.token
        names = sorted(headers)
        signed = ";".join(names)
        canonical = "\n".join(
            [
                "POST",
                self._path,
                "",
                *(f"{name}:{headers[name]}" for name in names),
                "",
                signed,
                hashlib.sha256(payload).hexdigest(),
            ]
        )
        scope = f"{day}/{self.region}/dynamodb/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        signature = hmac.digest(self._signing_key(credentials.secret_key, day), to_sign.encode(), "sha256")
        headers["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={signed}, Signature={signature.hex()}"
        )
        return headers

    def _signing_key(self, secret: str, day: str) -> bytes:
        key = self._keys.get((secret, day))
        if key is None:
            key = ("AWS4" + secret).encode()
            for part in (day, self.region, "dynamodb", "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            self._keys = {(secret, day): key}  # one key at a time: credentials rotate, days pass
        return key

    def _wait(self, attempt: int) -> None:
        self.sleep(random.uniform(0, min(5.0, 0.05 * 2**attempt)))  # full jitter, as botocore's standard mode

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()


def _json(value) -> str:
    return json.dumps(value, separators=(",", ":"), default=_base64)


def _write_payload(request_items: dict) -> bytes:
    """BatchWriteItem's body: the text of items encoded when they were put (store/wire_items.py)
    joined as it is, anything else (items handed back unprocessed) through json.dumps."""
    tables = []
    for table, requests in request_items.items():
        entries = []
        for request in requests:
            item = request.get("PutRequest", {}).get("Item") if len(request) == 1 else None
            if type(item) is WireItem:
                entries.append('{"PutRequest":{"Item":' + item.json() + "}}")
            else:
                entries.append(_json(request))
        tables.append(_json(table) + ":[" + ",".join(entries) + "]")
    return ('{"RequestItems":{' + ",".join(tables) + "}}").encode("utf-8")


def _base64(value):
    """Binary attribute values travel as base64 text (as botocore sends them)."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not a DynamoDB attribute value")


def _decode_binary(attributes: dict) -> None:
    """Binary values back to bytes, in place, as botocore hands them to callers."""
    for value in attributes.values():
        if "B" in value:
            value["B"] = base64.b64decode(value["B"])
        elif "BS" in value:
            value["BS"] = [base64.b64decode(v) for v in value["BS"]]
        elif "M" in value:
            _decode_binary(value["M"])
        elif "L" in value:
            for element in value["L"]:
                _decode_binary({"": element})


def _host(url: str) -> str:
    """The Host header as signed: the port only where it is not the scheme's default."""
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.hostname if parts.port in (None, default) else f"{parts.hostname}:{parts.port}"


def _crc_matches(headers, content: bytes) -> bool:
    """DynamoDB signs its bodies with a CRC32 header (botocore checks it too); a mismatch is a
    corrupted answer, sent again rather than trusted."""
    expected = headers.get("x-amz-crc32")
    return expected is None or int(expected) == zlib.crc32(content) & 0xFFFFFFFF


def _error(status: int, content: bytes) -> tuple[str, str]:
    if status == 200:
        return "CRC32CheckFailed", "The response body did not match its CRC32 checksum."
    try:
        body = json.loads(content or b"{}")
    except ValueError:
        return f"HTTP{status}", content[:200].decode("utf-8", "replace")
    code = str(body.get("__type", f"HTTP{status}")).rpartition("#")[2]
    return code, str(body.get("message") or body.get("Message") or "")


class WireFirstClient:
    """A boto3 DynamoDB client whose plain put_item and delete_item (no conditions, nothing
    returned) go over the wire: a run's checkpoint parts and parked users are ~150 of them in a
    full sync, ~2 ms of botocore's CPU each. Every other call goes to the client itself."""

    def __init__(self, client, wire: DynamoDbWire):
        self._client, self._wire = client, wire

    def put_item(self, **kwargs) -> dict:
        if kwargs.keys() <= {"TableName", "Item"}:
            return self._wire.put_item(**kwargs)
        return self._client.put_item(**kwargs)

    def delete_item(self, **kwargs) -> dict:
        if kwargs.keys() <= {"TableName", "Key"}:
            return self._wire.delete_item(**kwargs)
        return self._client.delete_item(**kwargs)

    def __getattr__(self, name: str):
        return getattr(self._client, name)
