"""Compact sets of SIS ids for one sync run.

A sync must remember which records it saw (to deactivate the rest) without holding the
records. Each sourcedId is reduced to a 64-bit fingerprint (blake2b) and kept in sorted
arrays: 8 bytes per record, so 5 million enrollments cost 40 MB rather than gigabytes.
Collisions are possible in principle (about 1 in 10^7 for 5 million ids) and would only
keep a record active that should not be; they can never deactivate a record wrongly.
"""

import bisect
import zlib
from array import array
from hashlib import blake2b

# Ids added since the last merge wait in a plain set (membership without merging); 16,384 of
# them cost about 1.5 MB, and a merge copies the sorted array once (memcpy speed).
_CHUNK = 16384
_SORT_MERGE_RATIO = 8  # merge by one sort while the array holds at most this many times the pending ids


def fingerprint(sourced_id: str) -> int:
    return int.from_bytes(blake2b(sourced_id.encode("utf-8"), digest_size=8).digest(), "big")


class FingerprintSet:
    def __init__(self) -> None:
        self._sorted = array("Q")  # merged, sorted, unique
        self._pending: set[int] = set()  # added since the last merge

    def add(self, sourced_id: str) -> None:
        self.add_fingerprint(fingerprint(sourced_id))

    def add_fingerprint(self, value: int) -> None:
        self._pending.add(value)
        if len(self._pending) >= _CHUNK:
            self._merge()

    def __contains__(self, sourced_id: str) -> bool:
        return self.contains_fingerprint(fingerprint(sourced_id))

    def contains_fingerprint(self, value: int) -> bool:
        if value in self._pending:
            return True
        i = bisect.bisect_left(self._sorted, value)
        return i < len(self._sorted) and self._sorted[i] == value

    def __bool__(self) -> bool:
        return bool(self._pending) or len(self._sorted) > 0

    def __len__(self) -> int:
        if self._pending:
            self._merge()
        return len(self._sorted)

    def _merge(self) -> None:
        """Insert the pending values: while the array is small next to them, one sort in C over
        both (Timsort merges the two runs; dict.fromkeys drops the values already there); when
        it is large, a bisect per new value and slices of the old array copied in C (the sort's
        copy to Python ints would cost more than the bisects)."""
        old = self._sorted
        if len(old) <= _SORT_MERGE_RATIO * len(self._pending):
            values = old.tolist()
            values.extend(self._pending)
            values.sort()
            self._sorted = array("Q", dict.fromkeys(values))
            self._pending = set()
            return
        merged, start = array("Q"), 0
        size = len(old)
        for value in sorted(self._pending):
            i = bisect.bisect_left(old, value, start)
            merged.extend(old[start:i])
            start = i
            if i == size or old[i] != value:
                merged.append(value)
        merged.extend(old[start:])
        self._sorted = merged
        self._pending = set()

    def to_bytes(self) -> bytes:
        if self._pending:
            self._merge()
        return zlib.compress(self._sorted.tobytes(), 1)

    @classmethod
    def from_bytes(cls, data: bytes) -> "FingerprintSet":
        result = cls()
        result._sorted.frombytes(zlib.decompress(data))
        return result


class ReferenceMemo:
    """For ids many records refer to (an enrollment's class and user): (fingerprint, in `listed`,
    in `chosen`), remembered for up to `size` ids (about 200 bytes each). Only for sets that no
    longer change while it is used."""

    def __init__(self, listed: FingerprintSet, chosen: FingerprintSet, size: int = 16384):
        self.listed, self.chosen, self.size = listed, chosen, size
        self._known: dict[str, tuple[int, bool, bool]] = {}

    def of(self, sourced_id: str) -> tuple[int, bool, bool]:
        known = self._known.get(sourced_id)
        if known is None:
            fp = fingerprint(sourced_id)
            known = (fp, self.listed.contains_fingerprint(fp), self.chosen.contains_fingerprint(fp))
            if len(self._known) >= self.size:
                self._known.clear()
            self._known[sourced_id] = known
        return known
