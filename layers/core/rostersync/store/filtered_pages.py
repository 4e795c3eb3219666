"""One page of a DynamoDB query that may carry a FilterExpression (audit by action or person, a
held run's records by reason).

DynamoDB applies a filter after reading: a call that reads `Limit` items may return none of
them. So a filtered page reads in larger steps and stops after a fixed read budget; it may then
hold fewer than `limit` items (even none) with a cursor to go on from. Unfiltered, it reads
`limit + 1` items (more calls only when DynamoDB's 1 MB answer cut one short), so a full last
page gives no cursor to an empty one.
"""

from __future__ import annotations

from rostersync.store.codec import from_item

FILTERED_READ = 500  # items a filtered call reads
FILTERED_CALLS = 8  # calls one filtered page may make: at most 4,000 items read a request


def query_page(client, request: dict, limit: int, key_names: tuple[str, ...]) -> tuple[list[dict], dict | None]:
    """Up to `limit` items of `request` (a Query with or without FilterExpression) and the key,
    as plain values, to start the next page after (None when nothing is left)."""
    request = dict(request)
    filtered = "FilterExpression" in request
    found: list[dict] = []
    last: dict = {}
    for _ in range(FILTERED_CALLS):
        request["Limit"] = FILTERED_READ if filtered else limit + 1 - len(found)
        response = client.query(**request)
        found.extend(from_item(item) for item in response["Items"])
        last = response.get("LastEvaluatedKey") or {}
        if len(found) > limit or (len(found) == limit and last):
            found = found[:limit]
            return found, {name: found[-1][name] for name in key_names}
        if not last:
            return found, None
        request["ExclusiveStartKey"] = last
    # The read budget is spent: go on from the last item read, matched or not.
    return found, {name: from_item({name: last[name]})[name] for name in key_names}
