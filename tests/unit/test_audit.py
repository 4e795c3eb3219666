"""audit.py's guards: no key naming a secret and no registered secret ever reaches an entry."""

import json

from rostersync import audit
from rostersync.observability import register_secret


def test_keys_that_name_a_secret_are_dropped_at_any_depth():
    value = {
        "hostUrl": "https://sis",
        "clientSecret": "x",
        "nested": [{"client_secret": "y", "password": "z", "scope": "roster"}],
    }
    assert audit.scrub(value) == {"hostUrl": "https://sis", "nested": [{"scope": "roster"}]}


def test_a_registered_secret_is_redacted_wherever_it_hides():
    register_secret("s3cr3t-value-for-audit")
    text = audit._json({"note": "the value s3cr3t-value-for-audit leaked into a field"})
    assert "s3cr3t-value-for-audit" not in text and json.loads(text)["note"].startswith("the value ")


def test_a_huge_change_is_summarised_not_stored():
    text = audit._json({"schools": ["x" * 50] * 5000})
    assert json.loads(text) == {"truncated": True, "chars": len(json.dumps({"schools": ["x" * 50] * 5000}))}
