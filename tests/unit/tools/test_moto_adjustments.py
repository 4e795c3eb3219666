"""What the embedded AWS changes in moto (rostersync_tools.local.moto_adjustments) changes no answer:
- DynamoDB's data-plane answers are written with json.dumps instead of moto's model walk: every
  operation covered answers exactly what moto's own serializer would, status, type and body;
- a host's service is remembered: the same backend moto's own lookup finds;
- a table's items are sorted by keys computed once: the order moto's own all_items gives."""

import json
from typing import Any

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


def _moto_answers_again(monkeypatch) -> None:
    """moto's own Table.query, all_items and sorted_items back, for the answers to compare with."""
    monkeypatch.setattr(Table, "query", getattr(Table, "_rostersync_moto_query"))  # noqa: B009
    monkeypatch.setattr(Table, "all_items", getattr(Table, "_rostersync_moto_all_items"))  # noqa: B009
    monkeypatch.setattr(Table, "sorted_items", getattr(Table, "_rostersync_moto_sorted_items"))  # noqa: B009


def _every_page(db, request: dict[str, Any]) -> list[dict]:
    """A query's pages, ExclusiveStartKey from each LastEvaluatedKey, until there is none."""
    pages, start = [], request.pop("ExclusiveStartKey", None)
    while True:
        page = db.query(**request, **({"ExclusiveStartKey": start} if start else {}))
        pages.append({k: page.get(k) for k in ("Items", "Count", "ScannedCount", "LastEvaluatedKey")})
        start = page.get("LastEvaluatedKey")
        if not start or len(pages) > 200:
            return pages


def test_a_query_with_a_limit_answers_as_moto_answers_it(aws, monkeypatch):
    """moto is handed only what its walk can reach when a query has a Limit (_Reach): every page of
    tables' and indexes' partitions, forward and reverse, under every key condition, with filters,
    projections, ties in an index's range key, items without the index's keys, a start key from
    another partition, and pages cut at 1 MB, is the page moto answers itself."""
    db = aws.client("dynamodb")
    number, string = "N", "S"

    def create(name, keys, attributes, indexes=()):
        db.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": a, "KeyType": k} for a, k in keys],
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": t} for a, t in attributes],
            BillingMode="PAY_PER_REQUEST",
            **({"GlobalSecondaryIndexes": list(indexes)} if indexes else {}),
        )

    def index(name, keys, projection):
        return {
            "IndexName": name,
            "KeySchema": [{"AttributeName": a, "KeyType": k} for a, k in keys],
            "Projection": projection,
        }

    create(
        "reach",
        [("pk", "HASH"), ("sk", "RANGE")],
        [("pk", string), ("sk", number), ("g", string), ("gs", number), ("gname", string), ("nh", number)],
        [
            index("ByG", [("g", "HASH"), ("gs", "RANGE")], {"ProjectionType": "ALL"}),
            index(
                "ByName",
                [("g", "HASH"), ("gname", "RANGE")],
                {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["v"]},
            ),
            index("ByNumber", [("nh", "HASH"), ("sk", "RANGE")], {"ProjectionType": "KEYS_ONLY"}),
            index("ByGOnly", [("g", "HASH")], {"ProjectionType": "KEYS_ONLY"}),
        ],
    )
    create("reach-names", [("pk", "HASH"), ("sk", "RANGE")], [("pk", string), ("sk", string)])
    create("reach-big", [("pk", "HASH"), ("sk", "RANGE")], [("pk", string), ("sk", number)])
    try:
        for i in range(45):
            item = {"pk": {"S": f"p{i % 2}"}, "sk": {"N": str((i * 37) % 61 - 20)}, "v": {"N": str(i % 9)}}
            if i % 4:  # a sparse index: a quarter of the items are in none of the g indexes
                item |= {"g": {"S": "g1"}, "gname": {"S": f"{'abx'[i % 3]}{i % 5}-{i:02d}"}}
                if i % 5:  # and some in ByName only: no gs
                    item["gs"] = {"N": str((i * 13) % 4)}  # ties: few values of the range key
            if i % 3:  # numbers that are one value in several spellings
                item["nh"] = {"N": ["7", "7.0", "7.00"][i % 3]}
            db.put_item(TableName="reach", Item=item)
            db.put_item(TableName="reach-names", Item={"pk": {"S": "n"}, "sk": {"S": f"{'abc'[i % 3]}{i:02d}"}})
        for i in range(12):  # ~260 KB each: a 1 MB page holds three
            big = {"pk": {"S": "b"}, "sk": {"N": str(i)}, "blob": {"S": ("x" * 260_000) if i != 5 else "small"}}
            db.put_item(TableName="reach-big", Item=big)
        db.put_item(TableName="reach", Item={"pk": {"S": "lonely"}, "sk": {"N": "1"}})

        values: dict[str, Any] = {
            ":p": {"S": "p1"},
            ":lonely": {"S": "lonely"},
            ":g": {"S": "g1"},
            ":seven": {"N": "7"},
            ":n": {"S": "n"},
            ":b": {"S": "b"},
            ":lo": {"N": "-5"},
            ":hi": {"N": "18"},
            ":mid": {"N": "1"},
            ":two": {"N": "2"},
            ":pre": {"S": "b"},
            ":name": {"S": "b07"},
            ":nlo": {"S": "a10"},
            ":nhi": {"S": "c02"},
            ":v": {"N": "4"},
            ":eight": {"N": "8"},
        }
        key_conditions = {
            ("reach", None): [
                "pk = :p",
                "pk = :p AND sk > :lo",
                "pk = :p AND sk < :lo",
                "pk = :p AND sk >= :mid",
                "pk = :p AND sk <= :hi",
                "pk = :p AND sk BETWEEN :lo AND :hi",
                "pk = :p AND sk = :mid",
                "pk = :lonely",
            ],
            ("reach", "ByG"): ["g = :g", "g = :g AND gs > :mid", "g = :g AND gs <= :mid", "g = :g AND gs = :two"],
            ("reach", "ByName"): ["g = :g", "g = :g AND begins_with(gname, :pre)", "g = :g AND gname > :name"],
            ("reach", "ByNumber"): ["nh = :seven", "nh = :seven AND sk BETWEEN :lo AND :hi"],
            ("reach", "ByGOnly"): ["g = :g"],
            ("reach-names", None): [
                "pk = :n",
                "pk = :n AND begins_with(sk, :pre)",
                "pk = :n AND sk BETWEEN :nlo AND :nhi",
            ],
            ("reach-big", None): ["pk = :b", "pk = :b AND sk > :eight", "pk = :b AND sk < :two"],
        }
        requests = []
        for (table, index_name), conditions in key_conditions.items():
            for condition in conditions:
                for forward in (True, False):
                    is_big, seen_big = table == "reach-big", set()
                    shapes: tuple[tuple[int | None, bool], ...] = (
                        (2, False),
                        (5, False),
                        (5, True),
                        (1000, False),
                        (None, True),
                    )
                    for limit, filtered in shapes:
                        if is_big:  # pages cut at 1 MB, and Limits below and above where they are cut
                            limit, filtered = {2: 2, 5: 4, 1000: 20}.get(limit or 0, limit), False
                            if (limit, filtered) in seen_big:
                                continue
                            seen_big.add((limit, filtered))
                        request: dict[str, Any] = {"TableName": table, "KeyConditionExpression": condition}
                        request |= {"ScanIndexForward": forward} if not forward or limit == 5 else {}
                        request |= {"IndexName": index_name} if index_name else {}
                        request |= {"Limit": limit} if limit else {}
                        request |= {"FilterExpression": "v > :v"} if filtered else {}
                        if limit == 5 and table == "reach":
                            request |= {"ProjectionExpression": "pk, sk, v"}
                        used = {k: v for k, v in values.items() if k in str(request)}
                        requests.append(request | {"ExpressionAttributeValues": used})
        for forward in (True, False):  # a start key from the other partition: all before, or all after
            for other in ("p0", "p2"):
                requests.append(
                    {
                        "TableName": "reach",
                        "KeyConditionExpression": "pk = :p",
                        "ExpressionAttributeValues": {":p": values[":p"]},
                        "ScanIndexForward": forward,
                        "Limit": 3,
                        "ExclusiveStartKey": {"pk": {"S": other}, "sk": {"N": "3"}},
                    }
                )

        ours = [_every_page(db, dict(request)) for request in requests]
        pages = [page for answer in ours for page in answer]
        assert len(requests) > 180 and len(pages) > 600
        assert sum(page["Count"] for page in pages) > 2_000
        assert any(page["Count"] < page["ScannedCount"] for page in pages)  # filtered after the Limit
        big_pages = [
            page
            for request, answer in zip(requests, ours, strict=True)
            if request["TableName"] == "reach-big"
            for page in answer
        ]
        assert any(page["LastEvaluatedKey"] and page["Count"] == 3 for page in big_pages)  # cut at 1 MB
        _moto_answers_again(monkeypatch)
        for request, answer in zip(requests, ours, strict=True):
            assert _every_page(db, dict(request)) == answer, request
    finally:
        for table in ("reach", "reach-names", "reach-big"):
            db.delete_table(TableName=table)
