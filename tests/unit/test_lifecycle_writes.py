"""No module but the run lifecycle (sync/run_lifecycle.py) and the store module it uses
(store/sync_runs.py) writes a run's status, its lease or the district lock and its token.

Searched as text in every module we deploy or run (the layer, the handlers, the tools): a
status or lock attribute set or removed, a raw item naming the stored attributes, or a call to
one of the store's lock or run writes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OWNERS = {
    ROOT / "layers/core/rostersync/sync/run_lifecycle.py",
    ROOT / "layers/core/rostersync/store/sync_runs.py",
}
SEARCHED = [ROOT / "layers/core/rostersync", ROOT / "functions", ROOT / "rostersync_tools"]
WRITES = re.compile(
    r"SyncRunModel\.status\.set"
    r"|(active_run_id|lock_expires_at|lock_token|fence_token|lease_id|lease_until|writes_end_at)\.(set|remove|add)\b"
    r"|\b(create_run_with_lock|relock_existing_run|claim_run|update_run|extend_lock|release_lock|move_token)\("
    r"|[\"'](activeRunId|lockExpiresAt|lockToken|leaseId|leaseUntil)[\"']\s*:"  # a raw item's key
)


def _sources() -> list[Path]:
    return sorted(path for folder in SEARCHED for path in folder.rglob("*.py"))


def test_the_search_finds_what_it_looks_for():
    """The owners themselves must match, or the pattern has gone blind."""
    for owner in OWNERS:
        assert WRITES.search(owner.read_text()), owner


@pytest.mark.parametrize("path", [p for p in _sources() if p not in OWNERS], ids=lambda p: str(p.relative_to(ROOT)))
def test_no_status_or_lock_write_outside_the_lifecycle(path: Path):
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if WRITES.search(line)
    ]
    assert found == [], "a run's status or the district lock is written outside sync/run_lifecycle.py"
