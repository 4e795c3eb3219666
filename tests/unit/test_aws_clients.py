"""Every DynamoDB client comes from rostersync.aws_clients with one retry policy and timeouts:
the boto3 clients and the pynamodb models' alike."""

from contextlib import contextmanager

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ParamValidationError

from rostersync import aws_clients
from rostersync.store.roster import UserModel

RETRIES = {"mode": "standard", "total_max_attempts": aws_clients.DYNAMODB_TOTAL_ATTEMPTS}


def test_the_batch_client_skips_validation_and_pools_a_connection_per_writer():
    client = aws_clients.dynamodb_for_batches(max_in_flight=8)
    assert aws_clients.dynamodb_for_batches(max_in_flight=8) is client  # built once for the process
    assert aws_clients.dynamodb_for_batches(max_in_flight=2) is not client
    config = client.meta.config
    assert config.retries == RETRIES
    assert config.max_pool_connections == 16
    assert (config.connect_timeout, config.read_timeout) == (aws_clients.CONNECT_TIMEOUT_S, aws_clients.READ_TIMEOUT_S)


def test_the_shared_client_validates_hand_built_requests_with_the_same_policy():
    config = aws_clients.dynamodb().meta.config
    assert config.retries == RETRIES and config.parameter_validation is True
    assert (config.connect_timeout, config.read_timeout) == (aws_clients.CONNECT_TIMEOUT_S, aws_clients.READ_TIMEOUT_S)


def test_the_models_client_has_the_same_policy():
    config = UserModel._get_connection().connection.client.meta.config
    assert config.retries["mode"] == "standard"
    assert config.retries["total_max_attempts"] == aws_clients.DYNAMODB_TOTAL_ATTEMPTS
    assert (config.connect_timeout, config.read_timeout) == (aws_clients.CONNECT_TIMEOUT_S, aws_clients.READ_TIMEOUT_S)


class _Raw:
    def stream(self, **_):
        yield b"{}"


@contextmanager
def answer_every_request(client):
    """Requests the client sends, answered 200 {} without a network (only inside the block: the
    client is the process's, shared with every later test)."""
    sent: list = []

    def before_send(request, **_):
        sent.append(request.body)
        return AWSResponse(request.url, 200, {}, _Raw())

    client.meta.events.register("before-send.dynamodb", before_send)
    try:
        yield sent
    finally:
        client.meta.events.unregister("before-send.dynamodb", before_send)


# A request no encoder of ours makes (a number where a string belongs): only validation stops it.
MALFORMED = {"T": [{"PutRequest": {"Item": {"a": {"S": 5}}}}]}


def test_only_the_batch_client_sends_without_client_side_validation(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")  # signed, never sent: answered above
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setattr(aws_clients, "_clients", {})  # clients made with these credentials, for this test only
    batch = aws_clients.dynamodb_for_batches()
    with answer_every_request(batch) as sent:
        batch.batch_write_item(RequestItems=MALFORMED)
    assert len(sent) == 1
    shared = aws_clients.dynamodb()
    with pytest.raises(ParamValidationError):
        shared.batch_write_item(RequestItems=MALFORMED)
