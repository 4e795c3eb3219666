"""Deleting items in bulk: the one place data is erased (a district purge, sync/purge.py).

Everything else in Roster Sync sets records inactive and never deletes them. Deletes go in
BatchWriteItem requests of 25 keys, unprocessed keys sent again with the store's one backoff
(store/batch.py); deleting what is already gone is harmless, so a purge retried after a crash
simply carries on.
"""

from collections.abc import Callable, Iterable

from rostersync.store.batch_requests import WRITE_BATCH, Backoff, BatchRetriesExhausted, send_writes


class EraseIncomplete(RuntimeError):
    pass


def delete_keys(client, table: str, keys: Iterable[dict]) -> int:
    """Delete items by their keys (DynamoDB attribute maps); how many were asked for."""
    count, batch = 0, []
    for key in keys:
        batch.append({"DeleteRequest": {"Key": key}})
        if len(batch) == WRITE_BATCH:
            _write(client, table, batch)
            count += len(batch)
            batch = []
    if batch:
        _write(client, table, batch)
        count += len(batch)
    return count


def _write(client, table: str, requests: list[dict]) -> None:
    try:
        send_writes(client, {table: requests}, Backoff())
    except BatchRetriesExhausted as error:
        raise EraseIncomplete(f"{table}: {error}") from error


def keys_of_partition(client, table: str, hash_name: str, hash_value: str, range_name: str) -> Iterable[dict]:
    """The keys of every item under one partition key, page by page."""
    paginator = client.get_paginator("query")
    for page in paginator.paginate(
        TableName=table,
        KeyConditionExpression="#h = :h",
        ExpressionAttributeNames={"#h": hash_name, "#r": range_name},
        ExpressionAttributeValues={":h": {"S": hash_value}},
        ProjectionExpression="#h, #r",
        ConsistentRead=True,
    ):
        yield from page["Items"]


def delete_query(
    client,
    table: str,
    hash_name: str,
    hash_value: str,
    range_name: str,
    out_of_time: Callable[[], bool] = lambda: False,
) -> tuple[int, bool]:
    """Delete every item under one partition key: (how many, whether all are gone). Stops
    early when `out_of_time` says so between batches."""
    count, batch = 0, []
    for key in keys_of_partition(client, table, hash_name, hash_value, range_name):
        batch.append(key)
        if len(batch) == WRITE_BATCH:
            count += delete_keys(client, table, batch)
            batch = []
            if out_of_time():
                return count, False
    if batch:
        count += delete_keys(client, table, batch)
    return count, True
