"""content_hash's JSON is exactly json.dumps(sort_keys, compact, ensure_ascii=False, default=str):
stored items' hashes must not move when the encoder does (sync/mapping.py)."""

import hashlib
import json
from datetime import UTC, date, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from rostersync.sync.mapping import _hashed_json_text, content_hash

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(),
    st.dates(),
    st.datetimes(timezones=st.just(UTC)),
)
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4), max_leaves=12
)


def reference(fields: dict) -> str:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(), VALUES, max_size=10))
def test_the_hashed_text_is_json_dumps_with_the_same_options(fields):
    assert _hashed_json_text(fields) == reference(fields)


def test_a_known_hash_does_not_move():
    fields = {
        "sisSourcedId": "enr-1",
        "classId": "c",
        "userId": "u",
        "primary": False,
        "endDate": None,
        "grades": ["09", "10"],
        "title": 'Zoë "A"\n',
        "when": date(2026, 8, 18),
        "at": datetime(2026, 12, 1, tzinfo=UTC),
    }
    assert _hashed_json_text(fields) == reference(fields)
    assert content_hash(fields) == hashlib.blake2b(reference(fields).encode(), digest_size=12).hexdigest()
    assert content_hash(fields) == content_hash(dict(reversed(list(fields.items()))))
