"""Every item of a table that a request matches: one district's (a query on its partition) or
every district's (a scan), page by page. The ops backfills walk tables this way."""

from collections.abc import Iterator


def walk_items(client, request: dict, district_id: str | None = None) -> Iterator[dict]:
    """`request`: TableName, FilterExpression, ProjectionExpression and names, without the key."""
    request = dict(request)
    if district_id is not None:
        request.update(KeyConditionExpression="districtId = :d", ExpressionAttributeValues={":d": {"S": district_id}})
    paginator = client.get_paginator("query" if district_id is not None else "scan")
    for page in paginator.paginate(**request):
        yield from page["Items"]
