"""A pass over a run's own records (RunRecordsTable) that may pause between pages and continue
in a later invocation, on any container.

The re-key pairing (sync/rekeys.py) and the class title matching (sync/class_titles.py) read
back what a phase set aside, a page at a time. Their progress is one cursor in the run state
(`RunState.cursor`: the last recordKey whose page is done), saved with the checkpoint: a string,
whatever the district's size. What a page writes is flushed before the cursor passes it, so a
crash or a pause redoes at most the page in hand (every write of it is idempotent).
"""

from collections.abc import Iterator

from rostersync.store import run_records
from rostersync.store.codec import from_item
from rostersync.sync.context import RunContext

PAGE_RECORDS = 200  # records a page; the pass may pause between pages


def pages(ctx: RunContext, prefix: str, page_records: int | None = None) -> Iterator[list[dict]]:
    """The run's records under `prefix` after the saved cursor, a page at a time, in key order.

    The caller's work on a page is done when it asks for the next one: the store is flushed,
    the cursor moves past the page, and when the invocation is out of time the run pauses
    there (the checkpoint is saved; the next invocation goes on after the cursor)."""
    state = ctx.state
    run_key = run_records.run_key(ctx.district_id, ctx.run_id)
    ctx.store.flush()  # what the phase set aside is written before it is read back
    while True:
        request = {
            "TableName": run_records.table(),
            "ConsistentRead": True,
            "Limit": page_records or PAGE_RECORDS,
            "KeyConditionExpression": "runKey = :k AND begins_with(recordKey, :p)",
            "ExpressionAttributeValues": {":k": {"S": run_key}, ":p": {"S": prefix}},
        }
        if state.cursor is not None:
            request["ExclusiveStartKey"] = {"runKey": {"S": run_key}, "recordKey": {"S": state.cursor}}
        response = ctx.store.client.query(**request)
        records = [from_item(raw) for raw in response.get("Items", [])]
        if records:
            yield records
            ctx.store.flush()
            state.cursor = records[-1]["recordKey"]
            ctx.moved()
        if not response.get("LastEvaluatedKey"):
            return
        if ctx.out_of_time():
            ctx.pause()


def started(ctx: RunContext) -> bool:
    """Whether this pass has done a page already (in this invocation or an earlier one)."""
    return ctx.state.cursor is not None
