"""What the embedded AWS changes in moto (rostersync_tools.local.moto_adjustments) changes no answer:
- DynamoDB's data-plane answers are written with json.dumps instead of moto's model walk: every
  operation covered answers exactly what moto's own serializer would, status, type and body;
- a host's service is remembered: the same backend moto's own lookup finds;
- a table's items are sorted by keys computed once: the order moto's own all_items gives."""

import json

import pytest
from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

from rostersync_tools.local.moto_adjustments import FAST_DYNAMODB_OPERATIONS

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


def test_a_remembered_service_is_the_one_moto_finds():
    dispatcher = DomainDispatcherApplication(create_app=None)
    moto_lookup = getattr(DomainDispatcherApplication, "_rostersync_moto_backend_for_host")  # noqa: B009
    hosts = [
        "dynamodb",
        "sqs.us-east-1.amazonaws.com",
        "s3.us-east-1.amazonaws.com",
        "bucket.s3.amazonaws.com",
        "events.us-east-1.amazonaws.com",
        "secretsmanager.us-east-1.amazonaws.com",
        "moto_api",
        None,
        "nothing.example.org",
    ]
    for _ in range(2):  # the second time from memory
        assert [dispatcher.get_backend_for_host(host) for host in hosts] == [
            moto_lookup(dispatcher, host) for host in hosts
        ]
    assert dispatcher.get_backend_for_host("sqs.us-east-1.amazonaws.com") == "sqs"


def test_a_table_is_ordered_as_moto_orders_it(aws):
    db = aws.client("dynamodb")
    shapes = {
        "order-hash-number": ([("pk", "HASH", "N")], lambda i: {"pk": {"N": str((i * 37) % 101 - 50) + ".5"}}),
        "order-hash-range": (
            [("pk", "HASH", "S"), ("sk", "RANGE", "N")],
            lambda i: {"pk": {"S": f"d{i % 3}"}, "sk": {"N": str((i * 53) % 97 - 40)}},
        ),
        "order-binary": (
            [("pk", "HASH", "S"), ("sk", "RANGE", "B")],
            lambda i: {"pk": {"S": "a"}, "sk": {"B": bytes([(i * 29) % 251, i % 7])}},
        ),
    }
    dynamodb = get_backend("dynamodb")[DEFAULT_ACCOUNT_ID]["us-east-1"]
    moto_all_items = getattr(Table, "_rostersync_moto_all_items")  # noqa: B009
    for name, (keys, item) in shapes.items():
        db.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": a, "KeyType": k} for a, k, _ in keys],
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": t} for a, _, t in keys],
            BillingMode="PAY_PER_REQUEST",
        )
        try:
            for i in range(60):
                db.put_item(TableName=name, Item={**item(i), "n": {"N": str(i)}})
            table = dynamodb.get_table(name)
            ours = [(it.hash_key, it.range_key) for it in table.all_items()]
            assert len(ours) > 30
            assert ours == [(it.hash_key, it.range_key) for it in moto_all_items(table)], name
        finally:
            db.delete_table(TableName=name)


def test_queries_answer_as_moto_answers_them(aws, monkeypatch):
    db = aws.client("dynamodb")
    attributes = [("pk", "S"), ("sk", "N"), ("g", "S"), ("gs", "N")]
    db.create_table(
        TableName="walks",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": t} for a, t in attributes],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "ByG",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}, {"AttributeName": "gs", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": "ByGOnly",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    db.create_table(
        TableName="walks-hash",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    try:
        for i in range(80):
            item = {"pk": {"S": f"p{i % 4}"}, "sk": {"N": str((i * 37) % 101 - 30)}, "v": {"N": str(i)}}
            if i % 3:  # a sparse index: a third of the items are not in it
                item |= {"g": {"S": f"g{i % 2}"}, "gs": {"N": str((i * 13) % 7)}}
            db.put_item(TableName="walks", Item=item)
            db.put_item(TableName="walks-hash", Item={"pk": {"S": f"h{i}"}, "v": {"N": str(i)}})
        values = {":p": {"S": "p1"}, ":g": {"S": "g1"}, ":lo": {"N": "0"}, ":v": {"N": "40"}, ":h": {"S": "h7"}}

        def ask(**request):
            used = {k: v for k, v in values.items() if k in str(request)}
            pages, start = [], None
            while True:
                page = db.query(
                    **request, ExpressionAttributeValues=used, **({"ExclusiveStartKey": start} if start else {})
                )
                pages.append({k: page.get(k) for k in ("Items", "Count", "ScannedCount", "LastEvaluatedKey")})
                start = page.get("LastEvaluatedKey")
                if not start:
                    return pages

        requests = [
            {"TableName": "walks", "KeyConditionExpression": "pk = :p"},
            {"TableName": "walks", "KeyConditionExpression": "pk = :p AND sk > :lo", "ScanIndexForward": False},
            {"TableName": "walks", "KeyConditionExpression": "pk = :p", "Limit": 3, "FilterExpression": "v > :v"},
            {"TableName": "walks", "IndexName": "ByG", "KeyConditionExpression": "g = :g", "Limit": 4},
            {"TableName": "walks", "IndexName": "ByG", "KeyConditionExpression": "g = :g AND gs > :lo"},
            {"TableName": "walks", "IndexName": "ByGOnly", "KeyConditionExpression": "g = :g", "Limit": 5},
            {"TableName": "walks-hash", "KeyConditionExpression": "pk = :h"},
        ]
        ours = [ask(**r) for r in requests]
        assert sum(len(page["Items"]) for answer in ours for page in answer) > 60
        monkeypatch.setattr(Table, "query", getattr(Table, "_rostersync_moto_query"))  # noqa: B009
        monkeypatch.setattr(Table, "all_items", getattr(Table, "_rostersync_moto_all_items"))  # noqa: B009
        monkeypatch.setattr(Table, "sorted_items", getattr(Table, "_rostersync_moto_sorted_items"))  # noqa: B009
        assert [ask(**r) for r in requests] == ours
    finally:
        db.delete_table(TableName="walks")
        db.delete_table(TableName="walks-hash")


def test_a_value_casts_as_moto_casts_it():
    from moto.dynamodb.models.dynamo_type import DynamoType

    moto_cast_value = getattr(DynamoType, "_rostersync_moto_cast_value").fget  # noqa: B009
    values = [
        {"S": "a"},
        {"S": ""},
        {"N": "1.50"},
        {"N": "-3"},
        {"B": b"\x00"},
        {"BOOL": False},
        {"NULL": True},
        {"SS": ["a", "b"]},
        {"NS": ["1", "2.0"]},
        {"BS": [b"1"]},
        {"L": [{"S": "x"}, {"N": "2"}]},
        {"M": {"k": {"S": "v"}, "n": {"N": "1"}}},
    ]
    for value in values:
        typed = DynamoType(value)
        assert typed.cast_value == moto_cast_value(typed), value
        assert type(typed.cast_value) is type(moto_cast_value(typed)), value
