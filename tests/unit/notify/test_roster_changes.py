"""Roster Changed chunking and the PutEvents batching, without AWS; and docs/events.md names what
the schemas require."""

import json
from pathlib import Path

import pytest

from rostersync.notify import events, roster_changes
from rostersync.notify.schemas import SCHEMAS


def changes(n: int):
    return ({"type": "enrollment", "id": f"{i:036d}", "change": "updated"} for i in range(n))


@pytest.mark.parametrize("n", [0, 1, 37, 1000])
def test_chunks_are_numbered_bounded_and_the_last_one_says_how_many(n):
    chunks = list(roster_changes.chunks("dst_1", "run_1", "run", changes(n), chunk_bytes=2_000))
    assert [c["sequence"] for c in chunks] == list(range(1, len(chunks) + 1))
    assert [c["last"] for c in chunks] == [False] * (len(chunks) - 1) + [True]
    assert chunks[-1]["total"] == len(chunks) and all("total" not in c for c in chunks[:-1])
    assert [c["id"] for chunk in chunks for c in chunk["changes"]] == [f"{i:036d}" for i in range(n)]
    assert all(len(json.dumps(c["changes"], separators=(",", ":"))) <= 2_000 for c in chunks)
    import jsonschema

    for chunk in chunks:
        jsonschema.validate(chunk, SCHEMAS[events.ROSTER_CHANGED])


def test_a_full_size_chunk_fits_an_eventbridge_entry(monkeypatch):
    monkeypatch.setenv("EVENT_BUS_NAME", "bus")
    from rostersync.settings import get_settings

    get_settings.cache_clear()
    chunk = next(roster_changes.chunks("dst_" + "x" * 30, "run_" + "y" * 30, "approval", changes(50_000)))
    entry = events.entry(events.ROSTER_CHANGED, chunk)
    assert len(entry["Detail"].encode()) + len(entry["DetailType"]) + len(entry["Source"]) < events.ENTRY_LIMIT_BYTES
    with pytest.raises(ValueError):
        events.entry(events.ROSTER_CHANGED, {"changes": ["x" * events.MAX_DETAIL_BYTES]})
    get_settings.cache_clear()


def test_put_entries_sends_at_most_ten_entries_and_256_kb_a_request(monkeypatch):
    sent: list[list[dict]] = []

    class Client:
        def put_events(self, Entries):
            sent.append(Entries)
            return {"FailedEntryCount": 0, "Entries": [{"EventId": "e"} for _ in Entries]}

    monkeypatch.setattr(events, "client", lambda: Client())
    small = [{"Source": "rostersync", "DetailType": "Sync Succeeded", "Detail": "{}", "EventBusName": "b"}] * 23
    big = [{"Source": "rostersync", "DetailType": "Roster Changed", "Detail": "x" * 200_000, "EventBusName": "b"}] * 3
    events.put_entries(small + big)
    assert [len(batch) for batch in sent] == [10, 10, 4, 1, 1]  # the first big one fits beside the last 3 small
    assert all(sum(len(e["Detail"]) for e in batch) <= events.ENTRY_LIMIT_BYTES for batch in sent)

    monkeypatch.setattr(
        events,
        "client",
        lambda: type(
            "Refusing",
            (),
            {
                "put_events": lambda self, Entries: {
                    "FailedEntryCount": 1,
                    "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "no"}],
                }
            },
        )(),
    )
    with pytest.raises(events.EventsNotPut, match="InternalFailure"):
        events.put_entries(small[:1])


def test_docs_events_md_describes_every_detail_type_and_its_required_fields():
    text = (Path(__file__).resolve().parents[3] / "docs" / "events.md").read_text(encoding="utf-8")
    for detail_type, schema in SCHEMAS.items():
        assert f"`{detail_type}`" in text, detail_type
        for field in schema["required"]:
            assert f"`{field}`" in text or f'"{field}"' in text, (detail_type, field)
