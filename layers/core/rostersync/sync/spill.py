"""Eligible users, parked on local disk between reading them and knowing who is enrolled.

Whether a user is in depends on their enrollments, and enrollments are checked against
users; reading users twice from the SIS would cost requests, and holding them would cost
memory. So the users pass parks each eligible user's item in a SQLite file under /tmp
(memory stays flat), and the pass after enrollments writes the ones that turned out to be
in. The file belongs to one run; a continuation on a fresh container rebuilds it.
"""

import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator


def spill_path(district_id: str, run_id: str) -> str:
    base = os.path.join(tempfile.gettempdir(), "rostersync-spill")
    os.makedirs(base, exist_ok=True)
    return os.path.join(base, f"{district_id}-{run_id}.sqlite")


class UserSpill:
    def __init__(self, path: str):
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("PRAGMA cache_size=-8000")  # at most ~8 MB of page cache
        self._db.execute("CREATE TABLE IF NOT EXISTS users (fp INTEGER PRIMARY KEY, item TEXT)")
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")

    @property
    def complete(self) -> bool:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'complete'").fetchone()
        return bool(row and row[0] == "1")

    def mark_complete(self) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('complete', '1')")
        self._db.commit()

    def clear(self) -> None:
        self._db.execute("DELETE FROM users")
        self._db.execute("DELETE FROM meta")
        self._db.commit()

    def add_many(self, rows: list[tuple[int, dict]]) -> None:
        # SQLite integers are signed 64-bit: shift the unsigned fingerprint into range.
        self._db.executemany(
            "INSERT OR REPLACE INTO users VALUES (?, ?)",
            [(fp - (1 << 63), json.dumps(item, default=str)) for fp, item in rows],
        )

    def iterate(self, batch: int = 500) -> Iterator[list[tuple[int, dict]]]:
        cursor = self._db.execute("SELECT fp, item FROM users ORDER BY fp")
        while rows := cursor.fetchmany(batch):
            yield [(fp + (1 << 63), json.loads(item)) for fp, item in rows]

    def close(self, remove: bool = False) -> None:
        self._db.close()
        if remove and os.path.exists(self.path):
            os.remove(self.path)
