"""Identifiers.

Records that come from the SIS get ids derived from (district, kind, sourcedId): the same
SIS record always maps to the same id, so ids are stable across syncs, a record that
comes back gets its old id, and a sync that is re-run after a crash cannot duplicate
anything. Things people create (districts, app schools, runs) get time-ordered random ids.
"""

import secrets
import time
import uuid

_NAMESPACE = uuid.UUID("8a4b7c2e-0f5d-4e1b-9c3a-6d2f1e0b7a95")


def record_id(district_id: str, kind: str, sourced_id: str) -> str:
    """Stable id of an SIS record of `kind` (user, class, enrollment, school) in a district."""
    return str(uuid.uuid5(_NAMESPACE, f"{district_id}\x1f{kind}\x1f{sourced_id}"))


def new_id(prefix: str) -> str:
    """`prefix_` + 12 hex digits of milliseconds + 10 random hex digits: sorts by creation time."""
    return f"{prefix}_{int(time.time() * 1000):012x}{secrets.token_hex(5)}"
