"""Identifiers.

Records that come from the SIS get ids derived from (district, kind, sourcedId): the same
SIS record always maps to the same id, so ids are stable across syncs, a record that
comes back gets its old id, and a sync that is re-run after a crash cannot duplicate
anything. Things people create (districts, app schools, runs) get time-ordered random ids.
"""

import hashlib
import secrets
import time
import uuid

_NAMESPACE = uuid.UUID("8a4b7c2e-0f5d-4e1b-9c3a-6d2f1e0b7a95")
_NAMESPACE_BYTES = _NAMESPACE.bytes


def record_id(district_id: str, kind: str, sourced_id: str) -> str:
    """Stable id of an SIS record of `kind` (user, class, enrollment, school) in a district:
    str(uuid.uuid5(namespace, name)), computed without building a UUID object (a full sync
    makes one per record; tests/unit/test_ids.py holds it to uuid5's answer)."""
    digest = bytearray(
        hashlib.sha1(  # uuid5 is SHA-1 by definition (RFC 9562): an id, not a security control
            _NAMESPACE_BYTES + f"{district_id}\x1f{kind}\x1f{sourced_id}".encode(), usedforsecurity=False
        ).digest()[:16]
    )
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def new_id(prefix: str) -> str:
    """`prefix_` + 12 hex digits of milliseconds + 10 random hex digits: sorts by creation time."""
    return f"{prefix}_{int(time.time() * 1000):012x}{secrets.token_hex(5)}"
