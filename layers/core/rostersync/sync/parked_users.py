"""Eligible users, parked in the run's checkpoint between reading them and knowing who is in.

Whether a user is in depends on their enrollments, and enrollments are checked against
users; reading users twice from the SIS would cost requests, and holding them would cost
memory. So the users pass parks each eligible user's item, a page at a time, as a compressed
chunk in the checkpoints table, and the pass after enrollments writes the ones that turned
out to be in. Chunks live in DynamoDB, not on a container's /tmp: a run continued on any
container finds exactly the chunks its saved state names.
"""

import json
import zlib
from collections.abc import Iterator

from rostersync.sync.checkpoint import CheckpointStore

Row = tuple[int, dict]  # (fingerprint of the sourcedId, the user's item without updatedAt)


class ParkedUsers:
    def __init__(self, checkpoints: CheckpointStore, chunks: list[list]):
        self.checkpoints = checkpoints
        self.chunks = chunks  # the run state's list of [token, parts]: saved with it
        self._pending: list[Row] = []

    def add_many(self, rows: list[Row]) -> None:
        self._pending.extend(rows)

    def flush(self) -> None:
        """Write what was added as one chunk; the next checkpoint save makes it count."""
        if not self._pending:
            return
        data = zlib.compress(json.dumps([[fp, item] for fp, item in self._pending], separators=(",", ":")).encode(), 1)
        token = self.checkpoints.new_token()
        self.chunks.append([token, self.checkpoints.write_blob(f"p#{token}", data)])
        self._pending = []

    def clear(self) -> None:
        self.chunks.clear()
        self._pending = []

    def iterate(self, start: int = 0) -> Iterator[tuple[int, list[Row]]]:
        """(chunk number, rows) from chunk `start` on, in the order they were parked."""
        for number in range(start, len(self.chunks)):
            token, parts = self.chunks[number]
            rows = json.loads(zlib.decompress(self.checkpoints.read_blob(f"p#{token}", parts)))
            yield number, [(fp, item) for fp, item in rows]

    def find(self, fingerprints: set[int]) -> dict[int, dict]:
        """Parked items among `fingerprints` (the last parked copy of each)."""
        found = {}
        for _number, rows in self.iterate():
            for fp, item in rows:
                if fp in fingerprints:
                    found[fp] = item
        found.update({fp: item for fp, item in self._pending if fp in fingerprints})
        return found
