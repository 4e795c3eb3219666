"""The batch calls on DynamoDB's wire protocol (store/dynamodb_wire.py): the same signature as
botocore's signer, the same answers as the boto3 client against the embedded DynamoDB (binary
values included), and retries only where a retry can succeed."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError, HTTPClientError

from rostersync.store.dynamodb_wire import DynamoDbWire

NOW = datetime(2026, 12, 1, 17, 30, 5, tzinfo=UTC)


def wire_for(endpoint: str, credentials: Credentials, **kwargs) -> DynamoDbWire:
    client = SimpleNamespace(meta=SimpleNamespace(endpoint_url=endpoint, region_name="us-west-2"))
    return DynamoDbWire(client, credentials=credentials, **kwargs)


@pytest.mark.parametrize("endpoint", ["https://dynamodb.us-west-2.amazonaws.com", "http://127.0.0.1:4566"])
@pytest.mark.parametrize("token", [None, "a-session-token"])
def test_the_signature_is_botocores(endpoint, token, monkeypatch):
    import botocore.auth

    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: NOW.replace(tzinfo=None))
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    wire = wire_for(endpoint, credentials)
    payload = b'{"RequestItems":{"t":[{"PutRequest":{"Item":{"id":{"S":"\xc3\xa9"}}}}]}}'
    ours = wire.signed_headers("BatchWriteItem", payload, NOW)

    theirs = AWSRequest(
        method="POST",
        url=endpoint + "/",
        data=payload,
        headers={"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.BatchWriteItem"},
    )
    SigV4Auth(credentials, "dynamodb", "us-west-2").add_auth(theirs)
    assert ours["authorization"] == theirs.headers["Authorization"]
    assert ours.get("x-amz-security-token") == token


def test_batches_round_trip_through_the_embedded_dynamodb_like_boto3(aws):
    from rostersync.aws_clients import dynamodb_for_batches as dynamodb_client
    from rostersync.settings import get_settings

    table = get_settings().checkpoints_table
    client = dynamodb_client()
    wire = DynamoDbWire(client)
    blob = bytes(range(256)) * 4
    items = [
        {
            "districtId": {"S": "dst_wire"},
            "key": {"S": f"k{i}"},
            "blob": {"B": blob},
            "n": {"N": str(i)},
            "m": {"M": {"inner": {"B": b"\x00\xff"}}},
        }
        for i in range(3)
    ]
    key_schema = {k["AttributeName"] for k in client.describe_table(TableName=table)["Table"]["KeySchema"]}
    items = [
        {name: value for name, value in item.items() if name in key_schema or name in ("blob", "n", "m")}
        | {name: {"S": f"k{i}"} for name in key_schema if name not in item}
        for i, item in enumerate(items)
    ]
    written = wire.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": item}} for item in items]})
    assert written.get("UnprocessedItems", {}) == {}
    keys = [{name: item[name] for name in key_schema} for item in items]
    ours = wire.batch_get_item(RequestItems={table: {"Keys": keys, "ConsistentRead": True}})["Responses"][table]
    theirs = client.batch_get_item(RequestItems={table: {"Keys": keys, "ConsistentRead": True}})["Responses"][table]
    key = sorted(key_schema)[0]
    assert sorted(ours, key=lambda i: i[key]["S"]) == sorted(theirs, key=lambda i: i[key]["S"])
    assert ours[0]["blob"]["B"] == blob and ours[0]["m"]["M"]["inner"]["B"] == b"\x00\xff"
    assert wire.calls["BatchWriteItem"] == 1 and wire.calls["BatchGetItem"] == 1


class ScriptedWire(DynamoDbWire):
    """The wire with its HTTP exchange replaced by a script of answers."""

    def __init__(self, answers):
        super().__init__(
            SimpleNamespace(meta=SimpleNamespace(endpoint_url="https://dynamodb.example", region_name="x")),
            credentials=Credentials("a", "b"),
            sleep=lambda _seconds: None,
        )
        self.answers, self.sent = list(answers), 0

    def _post(self, operation, payload):
        self.sent += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def answer(status: int, body: bytes, crc: int | None = None):
    import zlib

    return status, {"x-amz-crc32": str(zlib.crc32(body) if crc is None else crc)}, body


THROTTLED = answer(
    400, b'{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}'
)
OK = answer(200, b'{"UnprocessedItems":{}}')


@pytest.mark.parametrize(
    "first",
    [
        THROTTLED,
        answer(500, b"{}"),
        answer(200, b'{"UnprocessedItems":{}}', crc=1),
        HTTPClientError(error=ConnectionResetError()),
    ],
)
def test_what_a_retry_can_cure_is_retried(first):
    wire = ScriptedWire([first, first, OK])
    assert wire.batch_write_item(RequestItems={}) == {"UnprocessedItems": {}}
    assert wire.sent == 3 and wire.calls["BatchWriteItem"] == 3


def test_a_refused_request_raises_clienterror_at_once_with_dynamodbs_code():
    wire = ScriptedWire(
        [
            answer(
                400,
                b'{"__type":"com.amazon.coral.validate#ValidationException",'
                b'"message":"Item size has exceeded the maximum allowed size"}',
            )
        ]
    )
    with pytest.raises(ClientError) as refused:
        wire.batch_write_item(RequestItems={})
    assert refused.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "Item size has exceeded the maximum allowed size",
    }
    assert wire.sent == 1


def test_retries_end():
    wire = ScriptedWire([THROTTLED] * 8)
    with pytest.raises(ClientError) as throttled:
        wire.batch_write_item(RequestItems={})
    assert throttled.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert wire.sent == 8


def test_a_connection_the_server_drops_is_reopened_and_kept_alive_otherwise():
    """Against a real HTTP/1.1 server on loopback: requests share one kept-alive connection;
    one the server closes without an answer is retried on a new connection."""
    import http.server
    import threading
    import zlib

    seen = {"requests": 0, "connections": set()}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            seen["requests"] += 1
            seen["connections"].add(self.client_address)
            if seen["requests"] == 3:
                self.close_connection = True  # dropped without an answer
                return
            body = b'{"UnprocessedItems":{}}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("x-amz-crc32", str(zlib.crc32(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        wire = wire_for(f"http://127.0.0.1:{server.server_address[1]}", Credentials("a", "b"), sleep=lambda _s: None)
        for _ in range(4):
            assert wire.batch_write_item(RequestItems={}) == {"UnprocessedItems": {}}
        assert seen["requests"] == 5  # the dropped one was sent again
        assert len(seen["connections"]) == 2  # one kept alive until the drop, one after
        wire.close()
    finally:
        server.shutdown()


def test_plain_puts_and_deletes_go_over_the_wire_and_the_rest_to_the_client(aws):
    from rostersync.aws_clients import dynamodb_for_batches as dynamodb_client
    from rostersync.settings import get_settings
    from rostersync.store.dynamodb_wire import WireFirstClient

    table = get_settings().checkpoints_table
    client = dynamodb_client()
    wire = DynamoDbWire(client)
    both = WireFirstClient(client, wire)
    key = {"runKey": {"S": "dst_wire#run"}, "part": {"S": "head"}}
    assert both.put_item(TableName=table, Item=key | {"data": {"B": b"\x00\x01"}, "n": {"N": "3"}}) == {}
    found = both.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]  # the client's own call
    assert found["data"]["B"] == b"\x00\x01" and found["n"] == {"N": "3"}
    assert both.delete_item(TableName=table, Key=key) == {}
    assert "Item" not in client.get_item(TableName=table, Key=key, ConsistentRead=True)
    assert wire.calls["PutItem"] == 1 and wire.calls["DeleteItem"] == 1
    with pytest.raises(ClientError):  # a conditional put is the client's, and refused as it would be
        both.put_item(TableName=table, Item=key, ConditionExpression="attribute_exists(runKey)")
    assert wire.calls["PutItem"] == 1
