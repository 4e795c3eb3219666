"""A OneRoster CSV bundle (a zip of manifest.csv and one CSV per file) checked before any write,
and split into one object per file so a sync reads each as a stream.

What is checked, each failure a BundleError naming the file and the problem in words:
- a zip at all, not larger than MAX_UNCOMPRESSED once unpacked and no member compressed more
  than MAX_RATIO to one (zip bombs);
- manifest.csv present (propertyName,value rows) with oneroster.version 1.1 (1.2 bundles are
  refused with a message saying so: their users need roles.csv joined, which is not built yet);
- every file the manifest says `bulk` present, with its required columns; a file it says `absent`
  not needed; `delta` files refused for now (the engine reads a bundle as a full sync);
- each file UTF-8 (a byte order mark is allowed), its header on the first line.
The orgs, classes, users and enrollments files must be bulk: a sync of a bundle is a full sync,
and what is absent from a bulk file is gone (deactivated through the usual guard).
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

MAX_UNCOMPRESSED = 8 * 1024**3  # a very large district's enrollments are a few GB
MAX_RATIO = 200  # CSV compresses about 10:1; a member far beyond that is a bomb
CHUNK = 1024 * 1024

# file -> columns the sync cannot do without (OneRoster 1.1 CSV headers)
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "orgs": ("sourcedId", "name", "type"),
    "academicSessions": ("sourcedId", "title", "type", "startDate", "endDate"),
    "courses": ("sourcedId", "title"),
    "classes": ("sourcedId", "title", "courseSourcedId", "schoolSourcedId", "termSourcedIds"),
    "users": ("sourcedId", "enabledUser", "orgSourcedIds", "role", "givenName", "familyName"),
    "enrollments": ("sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId", "role"),
}
MUST_BE_BULK = ("orgs", "classes", "users", "enrollments")
MODES = ("bulk", "delta", "absent")


class BundleError(ValueError):
    """The bundle cannot be read; nothing was written. `file` names where (None: the zip itself)."""

    def __init__(self, message: str, file: str | None = None):
        super().__init__(f"{file}: {message}" if file else message)
        self.file = file
        self.problem = message


@dataclass(frozen=True)
class Bundle:
    """What a checked bundle holds: its version and, per file, bulk or absent (and its header)."""

    version: str
    files: dict[str, str]  # "users" -> "bulk" | "absent"
    headers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    source_system: str | None = None

    def present(self, name: str) -> bool:
        return self.files.get(name) == "bulk"

    def to_json(self) -> dict:
        return {
            "version": self.version,
            "files": dict(self.files),
            "headers": {k: list(v) for k, v in self.headers.items()},
            "sourceSystem": self.source_system,
        }

    @classmethod
    def from_json(cls, data: dict) -> Bundle:
        return cls(
            data["version"],
            dict(data["files"]),
            {k: tuple(v) for k, v in data.get("headers", {}).items()},
            data.get("sourceSystem"),
        )


def _member(archive: zipfile.ZipFile, name: str) -> zipfile.ZipInfo | None:
    # Bundles from some systems put the files in a folder: take the one whose base name matches.
    for info in archive.infolist():
        if not info.is_dir() and info.filename.rsplit("/", 1)[-1].lower() == name.lower():
            return info
    return None


def _text_lines(stream: IO[bytes], file: str):
    """The lines of a member as text, UTF-8 checked as they stream (a BOM dropped)."""
    reader = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        yield from reader
    except UnicodeDecodeError as error:
        raise BundleError(f"is not UTF-8 (byte {error.start} of a chunk cannot be read)", file) from None


def _manifest(archive: zipfile.ZipFile) -> dict[str, str]:
    info = _member(archive, "manifest.csv")
    if info is None:
        raise BundleError("The bundle has no manifest.csv: it is not a OneRoster CSV bundle.")
    with archive.open(info) as raw:
        rows = list(csv.reader(_text_lines(raw, "manifest.csv")))
    if not rows or [c.strip() for c in rows[0][:2]] != ["propertyName", "value"]:
        raise BundleError("the first line must be the header propertyName,value", "manifest.csv")
    return {row[0].strip(): row[1].strip() for row in rows[1:] if len(row) >= 2 and row[0].strip()}


def check_bundle(archive: zipfile.ZipFile) -> Bundle:
    """The bundle's manifest, sizes and headers checked; BundleError on the first problem."""
    total = 0
    for info in archive.infolist():
        total += info.file_size
        if info.compress_size and info.file_size / info.compress_size > MAX_RATIO and info.file_size > CHUNK:
            raise BundleError(
                f"is compressed {info.file_size // info.compress_size}:1, more than a CSV file can be", info.filename
            )
    if total > MAX_UNCOMPRESSED:
        raise BundleError(f"The bundle unpacks to {total:,} bytes, more than the {MAX_UNCOMPRESSED:,} allowed.")
    manifest = _manifest(archive)
    version = manifest.get("oneroster.version")
    if version == "1.2":
        raise BundleError(
            "OneRoster 1.2 CSV bundles are not read yet; export the bundle as OneRoster 1.1", "manifest.csv"
        )
    if version != "1.1":
        raise BundleError(f"oneroster.version is {version!r}; a bundle must be OneRoster 1.1", "manifest.csv")
    files: dict[str, str] = {}
    headers: dict[str, tuple[str, ...]] = {}
    for name, required in REQUIRED_COLUMNS.items():
        mode = manifest.get(f"file.{name}", "absent").lower()
        if mode not in MODES:
            raise BundleError(f"file.{name} is {mode!r}; it must be bulk, delta or absent", "manifest.csv")
        if mode == "delta":
            raise BundleError(
                f"file.{name} is delta: delta bundles are not read yet, send a bulk bundle", "manifest.csv"
            )
        if mode == "absent" and name in MUST_BE_BULK:
            raise BundleError(f"file.{name} must be bulk: a sync needs the whole {name} file", "manifest.csv")
        files[name] = mode
        if mode == "absent":
            continue
        member = _member(archive, f"{name}.csv")
        if member is None:
            raise BundleError(f"the manifest says {name}.csv is bulk, but the bundle has no {name}.csv", "manifest.csv")
        with archive.open(member) as raw:
            header = next(csv.reader(_text_lines(raw, f"{name}.csv")), None)
        if not header:
            raise BundleError("is empty: it has no header line", f"{name}.csv")
        header_names = tuple(column.strip() for column in header)
        missing = [column for column in required if column not in header_names]
        if missing:
            raise BundleError(f"lacks the required column(s) {', '.join(missing)}", f"{name}.csv")
        headers[name] = header_names
    return Bundle(version, files, headers, manifest.get("source.systemName") or None)


def split_bundle(zip_file: IO[bytes], put_file: Callable[[str, IO[bytes]], None]) -> Bundle:
    """Check a bundle, then hand each present file's bytes to `put_file(name, stream)` (an S3
    upload: one object per file, read later by byte stream). Every file is read through once
    more while it is put, so a file that is not UTF-8 past its header fails here, before a sync."""
    try:
        archive = zipfile.ZipFile(zip_file)
    except zipfile.BadZipFile:
        raise BundleError("The upload is not a zip file.") from None
    with archive:
        bundle = check_bundle(archive)
        for name, mode in bundle.files.items():
            if mode != "bulk":
                continue
            info = _member(archive, f"{name}.csv")
            assert info is not None  # noqa: S101  check_bundle found it
            with archive.open(info) as raw:
                put_file(name, io.BufferedReader(_Utf8Checked(raw, f"{name}.csv"), CHUNK))
    return bundle


class _Utf8Checked(io.RawIOBase):
    """A byte stream that raises BundleError as soon as its bytes stop being UTF-8."""

    def __init__(self, raw: IO[bytes], file: str):
        self._raw = raw
        self._file = file
        self._decoder = codecs.getincrementaldecoder("utf-8")()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._raw.read(len(buffer))
        try:
            self._decoder.decode(data, final=not data)
        except UnicodeDecodeError:
            raise BundleError("is not UTF-8", self._file) from None
        buffer[: len(data)] = data
        return len(data)
