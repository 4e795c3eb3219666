"""The embedded AWS writes DynamoDB's data-plane answers with json.dumps instead of moto's model
walk (rostersync_tools.local.embedded_aws.fast_dynamodb_responses): every operation it covers
must answer exactly what moto's own serializer would, status, type and body."""

import json

import pytest
from moto.dynamodb.responses import DynamoHandler

from rostersync_tools.local.embedded_aws import FAST_DYNAMODB_OPERATIONS

ITEM = {
    "pk": {"S": "a"},
    "sk": {"S": "1"},
    "number": {"N": "1.5"},
    "binary": {"B": b"\x00\xff"},
    "list": {"L": [{"S": "x"}, {"NULL": True}, {"BOOL": False}]},
    "map": {"M": {"strings": {"SS": ["a", "b"]}, "binaries": {"BS": [b"1"]}, "numbers": {"NS": ["1", "2"]}}},
    "empty": {"L": []},
}


@pytest.fixture
def both_answers(monkeypatch):
    """Every answer the fast path gives, beside what moto's serializer gives for the same result."""
    fast = DynamoHandler.serialized
    moto_serialized = getattr(DynamoHandler, "_rostersync_moto_serialized")  # noqa: B009  (set by the embedded AWS)
    pairs: list[tuple[str, tuple, tuple]] = []

    def serialized(self, action_result):
        answer = fast(self, action_result)
        pairs.append((self._get_action(), answer, moto_serialized(self, action_result)))
        return answer

    monkeypatch.setattr(DynamoHandler, "serialized", serialized)
    return pairs


def test_every_data_plane_answer_is_the_one_moto_would_write(aws, both_answers):
    db = aws.client("dynamodb")
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
    types = [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}]
    db.create_table(TableName="fast-answers", KeySchema=keys, AttributeDefinitions=types, BillingMode="PAY_PER_REQUEST")
    try:
        key = {"pk": {"S": "a"}, "sk": {"S": "1"}}
        db.put_item(TableName="fast-answers", Item=ITEM)
        db.put_item(TableName="fast-answers", Item=ITEM, ReturnValues="ALL_OLD", ReturnConsumedCapacity="TOTAL")
        db.get_item(TableName="fast-answers", Key=key)
        db.get_item(TableName="fast-answers", Key={**key, "sk": {"S": "missing"}})
        db.batch_write_item(
            RequestItems={"fast-answers": [{"PutRequest": {"Item": {**ITEM, "sk": {"S": str(i)}}}} for i in range(5)]}
        )
        query = {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "a"}}}
        db.query(TableName="fast-answers", Limit=2, ReturnConsumedCapacity="INDEXES", **query)  # LastEvaluatedKey
        db.query(TableName="fast-answers", Select="COUNT", **query)
        db.scan(TableName="fast-answers", Limit=3)
        update = {"UpdateExpression": "SET #n = :v", "ExpressionAttributeNames": {"#n": "number"}}
        values = {"ExpressionAttributeValues": {":v": {"N": "2"}}}
        db.update_item(TableName="fast-answers", Key=key, ReturnValues="ALL_NEW", **update, **values)
        db.update_item(TableName="fast-answers", Key=key, **update, **values)
        db.batch_get_item(RequestItems={"fast-answers": {"Keys": [{**key, "sk": {"S": str(i)}} for i in range(3)]}})
        db.transact_write_items(
            TransactItems=[{"Put": {"TableName": "fast-answers", "Item": {**ITEM, "sk": {"S": "9"}}}}]
        )
        db.transact_get_items(TransactItems=[{"Get": {"TableName": "fast-answers", "Key": {**key, "sk": {"S": "9"}}}}])
        db.delete_item(TableName="fast-answers", Key={**key, "sk": {"S": "9"}}, ReturnValues="ALL_OLD")
        with pytest.raises(db.exceptions.ConditionalCheckFailedException):  # errors keep moto's own path
            db.put_item(TableName="fast-answers", Item=ITEM, ConditionExpression="attribute_not_exists(pk)")
    finally:
        db.delete_table(TableName="fast-answers")

    compared = {action for action, _, _ in both_answers if action in FAST_DYNAMODB_OPERATIONS}
    assert compared == FAST_DYNAMODB_OPERATIONS
    for action, (status, headers, body), (moto_status, moto_headers, moto_body) in both_answers:
        assert status == moto_status, action
        assert headers["Content-Type"] == moto_headers["Content-Type"], action
        assert json.loads(body) == json.loads(moto_body), action
