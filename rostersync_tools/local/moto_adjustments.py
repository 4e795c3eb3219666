"""What the embedded AWS changes in moto, each for one reason: a behaviour DynamoDB has that moto
lacks (atomic conditional writes), or a cost of moto's own that no deployed request pays and that
made the test suite slow (response serialization, service dispatch, sorting and walking a whole
table per query).
None changes an answer: tests/unit/tools/test_moto_adjustments.py holds each to moto's own."""

import base64
import heapq
import inspect
import json
import operator
import threading
import uuid
from datetime import datetime
from itertools import compress, repeat
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


_query = threading.local()  # the query this thread is answering: set by Table.query's hook below

# moto refuses an item over this many bytes (dynamo_type.LimitedSizeDict), so no one item fills
# a 1 MB page by itself.
ITEM_SIZE_LIMIT = 405_000


def _as_operators() -> dict:
    """moto's key comparisons (moto.dynamodb.comparisons) that are Python's operators: the same
    answer, without a Python call per item."""
    from moto.dynamodb.comparisons import COMPARISON_FUNCS

    named = {"=": operator.eq, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
    return {COMPARISON_FUNCS[symbol]: function for symbol, function in named.items()}


_AS_OPERATORS: dict = {}


def _first(pair: tuple) -> Any:
    return pair[0]


class _Reach:
    """What moto's loop in Table.query can reach when the query has a Limit. After the
    ExclusiveStartKey, moto walks the sorted partition: an item failing the range condition is
    passed over (counted nowhere), a passing one is kept, and the loop stops at the first item (of
    either kind) met with Limit items kept, or whose size would take the page past 1 MB, and sets
    LastEvaluatedKey from the last item kept. So it reaches no further than the (limit + 1)th
    passing item; the items before the first passing one meet an empty page and change nothing
    (no item is near 1 MB); no failing item lies between two passing ones (a key condition is an
    interval of the range key: =, <, <=, >, >=, BETWEEN, BEGINS_WITH); and when fewer than
    limit + 1 pass, the loop walks on to the end only to stop at a failing item that is the
    (limit + 1)th item or would pass 1 MB: one such item decides it as all would."""

    def __init__(self, limit: int, start_key: dict | None, forward: bool, condition: Any) -> None:
        self.limit = limit
        self.start_key = start_key
        self.forward = forward
        self.condition = condition  # (range key, moto's comparison, values cast), or None: all pass

    def select(self, items: list, attributes: list[str]) -> list | None:
        """Of one partition's items (attributes[0] the same value in all), what moto's loop can
        reach, in moto's order of `attributes`; None where moto's own path must answer (a condition
        not on the range key; key values that do not compare, a start key without them: moto
        raises as it would)."""
        try:
            return self._select(items, attributes)
        except (TypeError, KeyError, AttributeError):
            return None

    def _select(self, items: list, attributes: list[str]) -> list | None:
        from moto.dynamodb.models.dynamo_type import DynamoType
        from moto.dynamodb.models.table import RESULT_SIZE_LIMIT

        if not items:
            return []
        forward, limit = self.forward, self.limit
        lead, rest = attributes[1], attributes[1:]

        def key(item) -> tuple:  # moto's order within the partition: by these values, cast
            return tuple(item.attrs[name].cast_value for name in rest)

        def beyond(later: Any, than: Any) -> bool:  # comes after `than` in the walk's direction
            return later > than if forward else later < than

        # The walk's order is decided by the lead attribute (the range key) but for its ties: each
        # item's lead value is cast once, whole keys only where leads tie. Parallel lists, not a
        # tuple per item: a partition's worth of new tuples sets the collector walking moto's heap.
        leads = [item.attrs[lead].cast_value for item in items]
        if self.start_key is not None:
            start = tuple(DynamoType(self.start_key[name]).cast_value for name in attributes)
            if items[0].attrs[attributes[0]].cast_value != start[0]:  # another partition's start
                if not beyond(items[0].attrs[attributes[0]].cast_value, start[0]):
                    return []  # every item comes before it
            else:
                at, after_start = start[1], start[1:]
                if forward:
                    wanted = [
                        v > at or (v == at and key(item) > after_start) for v, item in zip(leads, items, strict=True)
                    ]
                else:
                    wanted = [
                        v < at or (v == at and key(item) < after_start) for v, item in zip(leads, items, strict=True)
                    ]
                items, leads = list(compress(items, wanted)), list(compress(leads, wanted))
        failing: list = []
        failing_leads: list = []
        if self.condition is not None:
            name, compare, values = self.condition
            if name != lead:
                return None  # not a key condition on the range key: moto's own walk
            if compare in _AS_OPERATORS and len(values) == 1:
                passes = list(map(_AS_OPERATORS[compare], leads, repeat(values[0])))
            else:
                passes = [compare(v, *values) for v in leads]
            fails = list(map(operator.not_, passes))
            failing, failing_leads = list(compress(items, fails)), list(compress(leads, fails))
            items, leads = list(compress(items, passes)), list(compress(leads, passes))
        pick = heapq.nsmallest if forward else heapq.nlargest
        top = pick(limit + 1, range(len(leads)), key=leads.__getitem__)
        if not top:
            return []
        if len(top) > limit:  # those with the edge's lead value too: their whole keys decide
            edge = leads[top[-1]]
            top = [i for i, v in enumerate(leads) if (v <= edge if forward else v >= edge)]
        reached = pick(limit + 1, [(key(items[i]), items[i]) for i in top], key=_first)
        last = reached[-1][0]
        handed = list(reached)
        if len(reached) <= limit:
            after = [
                item
                for v, item in zip(failing_leads, failing, strict=True)
                if beyond(v, last[0]) or (v == last[0] and beyond(key(item), last))
            ]
            if after and len(reached) == limit:
                handed.append((key(after[0]), after[0]))
            elif after and sum(item.size() for _, item in reached) + ITEM_SIZE_LIMIT > RESULT_SIZE_LIMIT:
                largest = max(after, key=lambda item: item.size())
                handed.append((key(largest), largest))
        handed.sort(key=_first)
        return [item for _, item in handed]


def _reach_of(arguments: dict[str, Any]) -> _Reach | None:
    """A query's _Reach, or None where moto must walk all it keeps: no Limit (the 1 MB page
    decides where it stops), the old QueryFilter parameters, a range comparison without its
    condition's attribute or not an interval of the range key."""
    limit = arguments.get("limit")
    forward = arguments.get("scan_index_forward", True)
    if type(limit) is not int or limit < 1 or not isinstance(forward, bool) or arguments.get("filter_kwargs"):
        return None
    range_comparison = arguments.get("range_comparison")
    condition = None
    if range_comparison:
        conditions = arguments.get("range_key_conditions") or []
        if not conditions:
            return None
        from moto.dynamodb.comparisons import COMPARISON_FUNCS, get_comparison_func

        compare = get_comparison_func(range_comparison)
        intervals = [COMPARISON_FUNCS[name] for name in ("=", "<", "<=", ">", ">=", "BETWEEN", "BEGINS_WITH")]
        if not any(compare is interval for interval in intervals):
            return None
        values = [value.cast_value for value in arguments.get("range_objs") or []]
        condition = (conditions[-1][0], compare, values)
    return _Reach(limit, arguments.get("exclusive_start_key"), forward, condition)


def _in_index_partition(table, index_name: str, hash_conditions: list, range_conditions: list) -> list | None:
    """The items of the index partition a query asks for, as moto keeps them in Table.query (each
    hash condition's attribute present, of the type and value asked; the index's range key
    present), for an index of one hash and one range key queried by its hash key; else None."""
    schema = table.get_index(index_name).schema
    hashes = [key["AttributeName"] for key in schema if key["KeyType"] == "HASH"]
    ranges = [key["AttributeName"] for key in schema if key["KeyType"] == "RANGE"]
    asked = dict(hash_conditions)
    if len(hashes) != 1 or len(ranges) != 1 or list(asked) != hashes or len(range_conditions) > 1:
        return None
    (name, wanted), range_name = next(iter(asked.items())), ranges[0]
    wanted_type, wanted_value = wanted.type, wanted.cast_value
    partitions = table.items.values() if table.range_key_attr else [table.items]
    # A plain type's cast value is its value: read without a cast per item.
    value_of = operator.attrgetter("value" if wanted_type in _PLAIN_TYPES else "cast_value")
    return [
        item
        for partition in partitions
        for item in partition.values()
        if (found := item.attrs.get(name)) is not None
        and found.type == wanted_type
        and value_of(found) == wanted_value
        and range_name in item.attrs
    ]


def _maybe_in_partition(items: list, hash_conditions: list) -> list:
    """Of a table's items, those that may be in an index partition: each string or binary hash key
    value equal (moto then checks type and value); every item if a value is a number."""
    if not hash_conditions or any(value.type not in ("S", "B") for _, value in hash_conditions):
        return items
    for name, value in hash_conditions:
        wanted = value.value
        items = [item for item in items if (found := item.attrs.get(name)) is not None and found.value == wanted]
    return items


def queries_walk_only_what_they_keep() -> None:
    """moto's Table.query takes all_items() (the whole table, sorted), keeps the items of the
    partition asked for, then sorts those by the index's or the table's keys, then walks them from
    the ExclusiveStartKey until Limit are kept. The first sort decides nothing (the second is a
    total order), and with a Limit the second need not order the whole partition either: a query
    of an index walks the table unsorted, keeping only the items whose hash key value matches;
    a query of the table itself walks only its own partition; and a query with a Limit is handed
    only what moto's walk can reach (_Reach: its page and where it stops, by keys computed once),
    which moto then sorts and walks as ever. Without a Limit the partition is sorted by keys
    computed once. Scans, which answer in all_items' order, keep it."""
    from moto.dynamodb.models.table import Table

    if getattr(Table, "_rostersync_query_walk", False):
        return
    original_query = Table.query
    sorted_all_items = Table.all_items
    _AS_OPERATORS.update(_as_operators())
    query_parameters = inspect.signature(original_query)

    def query(self, *args, **kwargs):
        arguments = query_parameters.bind(self, *args, **kwargs).arguments
        _query.index_name = arguments.get("index_name")
        _query.partition = None if _query.index_name else arguments.get("hash_key")
        _query.hash_conditions = arguments.get("hash_key_conditions") or []
        _query.range_conditions = arguments.get("range_key_conditions") or []
        _query.reach = _reach_of(arguments)
        _query.active = True
        try:
            return original_query(self, *args, **kwargs)
        finally:
            _query.active = False
            _query.reach = None

    def all_items(self):
        if not getattr(_query, "active", False):
            return sorted_all_items(self)
        reach = _query.reach
        if _query.partition is not None:
            partition = self.items.get(_query.partition)
            if partition is None:
                return []
            if not self.range_key_attr:
                return [partition]
            items = list(partition.values())
            if reach is not None:
                attributes = self._generate_attr_to_sort_by([self.hash_key_attr], [self.range_key_attr])
                reached = reach.select(items, attributes)
                if reached is not None:
                    return reached
            return sorted(items, key=lambda item: item.range_key.cast_value)
        if reach is not None:
            kept = _in_index_partition(self, _query.index_name, _query.hash_conditions, _query.range_conditions)
            if kept is not None:
                index_hash, index_range = (
                    next(k["AttributeName"] for k in self.get_index(_query.index_name).schema if k["KeyType"] == kind)
                    for kind in ("HASH", "RANGE")
                )
                attributes = self._generate_attr_to_sort_by(
                    [index_hash, self.hash_key_attr], [index_range, self.range_key_attr]
                )
                reached = reach.select(kept, attributes)
                return kept if reached is None else reached
        if self.range_key_attr:
            items = [item for hash_set in self.items.values() for item in hash_set.values()]
        else:
            items = list(self.items.values())
        return _maybe_in_partition(items, _query.hash_conditions)

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
