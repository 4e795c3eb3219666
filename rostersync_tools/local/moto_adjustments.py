"""What the embedded AWS changes in moto, each for one reason: a behaviour DynamoDB has that moto
lacks (atomic conditional writes), or a cost of moto's own that no deployed request pays and that
made the test suite slow (response serialization, service dispatch, sorting and walking a whole
table per query).
None changes an answer: tests/unit/tools/test_moto_adjustments.py holds each to moto's own."""

import base64
import json
import threading
import uuid
from datetime import datetime
from typing import Any


def adjust_moto() -> None:
    """Every adjustment below, once per process (each is idempotent)."""
    serialize_moto_writes()
    fast_dynamodb_responses()
    remembered_service_dispatch()
    native_key_table_order()
    queries_walk_only_what_they_keep()
    plain_values_first()


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


def remembered_service_dispatch() -> None:
    """moto's server finds a request's service anew on every request, under one lock: it lists its
    own package directory (os.listdir and isdir for each of ~200 folders) and tries every
    service's URL patterns. The answer for a host never changes, so it is remembered."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    if getattr(DomainDispatcherApplication, "_rostersync_remembered", False):
        return
    original = DomainDispatcherApplication.get_backend_for_host
    backends: dict[str | None, Any] = {}

    def get_backend_for_host(self, host):
        if host not in backends:
            backends[host] = original(self, host)
        return backends[host]

    setattr(DomainDispatcherApplication, "get_backend_for_host", get_backend_for_host)  # noqa: B010
    setattr(DomainDispatcherApplication, "_rostersync_moto_backend_for_host", original)  # noqa: B010
    setattr(DomainDispatcherApplication, "_rostersync_remembered", True)  # noqa: B010


def _native_key(item) -> Any:
    """An item's primary key as plain Python values (str, Decimal, bytes): the order moto's
    DynamoType comparisons give (they compare these values), without building them per comparison."""
    if item.range_key:
        return (item.hash_key.cast_value, item.range_key.cast_value)
    return item.hash_key.cast_value


def native_key_table_order() -> None:
    """moto answers every query and scan from Table.all_items, which sorts the whole table by
    DynamoType keys: each comparison rebuilds both values (cast_value), so most of a query's time
    went to sorting. The same order from keys computed once per item."""
    from moto.dynamodb.models.table import Table

    if getattr(Table, "_rostersync_native_order", False):
        return
    original = Table.all_items

    def all_items(self):
        if self.range_key_attr:
            items = [item for hash_set in self.items.values() for item in hash_set.values()]
        else:
            items = list(self.items.values())
        return sorted(items, key=_native_key)

    setattr(Table, "all_items", all_items)  # noqa: B010
    setattr(Table, "_rostersync_moto_all_items", original)  # noqa: B010
    setattr(Table, "_rostersync_native_order", True)  # noqa: B010


_query = threading.local()  # the query this thread is answering: its partition, or None for an index's


def queries_walk_only_what_they_keep() -> None:
    """moto's Table.query takes all_items() (the whole table, sorted), keeps the items of the
    partition asked for, then sorts those by the index's or the table's keys: a total order, so
    the first sort decides nothing. A query of an index walks the table unsorted, and its sort
    (Table.sorted_items) compares keys computed once per item; a query of the table itself walks
    only its own partition (moto then keeps exactly those items), handed over already in range-key
    order so that moto's own sort of it is a single pass. Scans, which answer in all_items' order,
    keep it."""
    from moto.dynamodb.models.table import Table

    if getattr(Table, "_rostersync_query_walk", False):
        return
    original_query = Table.query
    sorted_all_items = Table.all_items

    def query(self, hash_key, *args, **kwargs):
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        _query.partition = None if index_name else hash_key
        _query.active = True
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _query.active = False

    def all_items(self):
        if not getattr(_query, "active", False):
            return sorted_all_items(self)
        if _query.partition is not None:
            partition = self.items.get(_query.partition)
            if partition is None:
                return []
            if not self.range_key_attr:
                return [partition]
            return sorted(partition.values(), key=lambda item: item.range_key.cast_value)
        if self.range_key_attr:
            return [item for hash_set in self.items.values() for item in hash_set.values()]
        return list(self.items.values())

    def sorted_items(self, hash_key_attrs, range_key_attrs, items):
        attributes = self._generate_attr_to_sort_by(hash_key_attrs, range_key_attrs)
        items.sort(key=lambda item: tuple(item.attrs[name].cast_value for name in attributes))
        return items

    setattr(Table, "query", query)  # noqa: B010
    setattr(Table, "all_items", all_items)  # noqa: B010
    setattr(Table, "_rostersync_moto_sorted_items", Table.sorted_items)  # noqa: B010
    setattr(Table, "sorted_items", sorted_items)  # noqa: B010
    setattr(Table, "_rostersync_moto_query", original_query)  # noqa: B010
    setattr(Table, "_rostersync_query_walk", True)  # noqa: B010


def plain_values_first() -> None:
    """Every comparison moto makes between two DynamoDB values (a key condition, a sort, a filter)
    reads DynamoType.cast_value, which asks five questions of the type (number, set, list, map,
    null) before it hands a string back. Strings, binaries and booleans, most of what is compared,
    are answered first; every other type goes the way moto goes."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    if getattr(DynamoType, "_rostersync_plain_first", False):
        return
    moto_cast_value: Any = DynamoType.cast_value  # a property (typeshed sees its getter)

    def cast_value(self):
        if self.type in _PLAIN_TYPES:
            return self.value
        return moto_cast_value.fget(self)

    setattr(DynamoType, "cast_value", property(cast_value))  # noqa: B010
    setattr(DynamoType, "_rostersync_moto_cast_value", moto_cast_value)  # noqa: B010
    setattr(DynamoType, "_rostersync_plain_first", True)  # noqa: B010


_PLAIN_TYPES = frozenset({"S", "B", "BOOL"})  # what moto's cast_value hands back as it is
