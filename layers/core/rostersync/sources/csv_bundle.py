"""A OneRoster CSV bundle (a zip of manifest.csv and one CSV per file) checked before any write,
and split into one object per file so a sync reads each as a stream.

What is checked, each failure a BundleError naming the file and the problem in words:
- a zip at all, not larger than MAX_UNCOMPRESSED once unpacked and no member compressed more
  than MAX_RATIO to one (zip bombs);
- manifest.csv present (propertyName,value rows) with oneroster.version 1.1 or 1.2;
- every file the manifest says `bulk` or `delta` present, with its version's required columns
  (a delta file also its `status` and `dateLastModified`); a file it says `absent` not needed;
- each file UTF-8 (a byte order mark is allowed), its header on the first line.

What a bundle may say of each file (docs/design.md, "CSV bundles"):
- orgs.csv is always bulk (every school places classes and users); courses.csv and
  academicSessions.csv bulk or absent (read whole in every run);
- classes, users and enrollments (and in 1.2 roles, which carry users' roles and schools) are
  all bulk in a bundle without delta files: a full sync, what is absent from them is gone
  (deactivated through the usual guard). A bundle with a delta file is a delta: its delta files
  list what changed (`status` active or tobedeleted), an absent file leaves its type alone.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import IO

MAX_UNCOMPRESSED = 8 * 1024**3  # a very large district's enrollments are a few GB
MAX_RATIO = 200  # CSV compresses about 10:1; a member far beyond that is a bomb
CHUNK = 1024 * 1024
VERSIONS = ("1.1", "1.2")

# file -> columns the sync cannot do without, per OneRoster version's CSV binding
REQUIRED_V1P1: dict[str, tuple[str, ...]] = {
    "orgs": ("sourcedId", "name", "type"),
    "academicSessions": ("sourcedId", "title", "type", "startDate", "endDate"),
    "courses": ("sourcedId", "title"),
    "classes": ("sourcedId", "title", "courseSourcedId", "schoolSourcedId", "termSourcedIds"),
    "users": ("sourcedId", "enabledUser", "orgSourcedIds", "role", "givenName", "familyName"),
    "enrollments": ("sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId", "role"),
}
# 1.2 moves a user's role and schools to roles.csv (userProfiles.csv is not read: no record uses it)
REQUIRED_V1P2: dict[str, tuple[str, ...]] = {
    **REQUIRED_V1P1,
    "users": ("sourcedId", "enabledUser", "givenName", "familyName"),
    "roles": ("sourcedId", "userSourcedId", "roleType", "role", "orgSourcedId"),
}
REQUIRED_COLUMNS = {"1.1": REQUIRED_V1P1, "1.2": REQUIRED_V1P2}
DELTA_COLUMNS = ("status", "dateLastModified")
ALWAYS_BULK = ("orgs",)
NEVER_DELTA = ("orgs", "courses", "academicSessions")  # read whole in every run, delta or full
MODES = ("bulk", "delta", "absent")


class BundleError(ValueError):
    """The bundle cannot be read; nothing was written. `file` names where (None: the zip itself)."""

    def __init__(self, message: str, file: str | None = None):
        super().__init__(f"{file}: {message}" if file else message)
        self.file = file
        self.problem = message


@dataclass(frozen=True)
class Bundle:
    """What a checked bundle holds: its version and, per file, bulk, delta or absent (and its
    header); once staged, each file object's version (S3 VersionId, else its ETag)."""

    version: str
    files: dict[str, str]  # "users" -> "bulk" | "delta" | "absent"
    headers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    source_system: str | None = None
    versions: dict[str, str] = field(default_factory=dict)

    def mode(self, name: str) -> str:
        return self.files.get(name, "absent")

    def present(self, name: str) -> bool:
        return self.mode(name) in ("bulk", "delta")

    @property
    def is_delta(self) -> bool:
        """A bundle with any delta file is read as a delta sync; one without as a full sync."""
        return "delta" in self.files.values()

    def delta_files(self) -> list[str]:
        return [name for name, mode in self.files.items() if mode == "delta"]

    def to_json(self) -> dict:
        return {
            "version": self.version,
            "files": dict(self.files),
            "headers": {k: list(v) for k, v in self.headers.items()},
            "sourceSystem": self.source_system,
            "versions": dict(self.versions),
        }

    @classmethod
    def from_json(cls, data: dict) -> Bundle:
        return cls(
            data["version"],
            dict(data["files"]),
            {k: tuple(v) for k, v in data.get("headers", {}).items()},
            data.get("sourceSystem"),
            dict(data.get("versions") or {}),
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


def _check_sizes(archive: zipfile.ZipFile) -> None:
    total = 0
    for info in archive.infolist():
        total += info.file_size
        if info.compress_size and info.file_size / info.compress_size > MAX_RATIO and info.file_size > CHUNK:
            raise BundleError(
                f"is compressed {info.file_size // info.compress_size}:1, more than a CSV file can be", info.filename
            )
    if total > MAX_UNCOMPRESSED:
        raise BundleError(f"The bundle unpacks to {total:,} bytes, more than the {MAX_UNCOMPRESSED:,} allowed.")


def _modes(manifest: dict[str, str], required: dict[str, tuple[str, ...]]) -> dict[str, str]:
    files = {}
    for name in required:
        mode = manifest.get(f"file.{name}", "absent").lower()
        if mode not in MODES:
            raise BundleError(f"file.{name} is {mode!r}; it must be bulk, delta or absent", "manifest.csv")
        files[name] = mode
    delta = "delta" in files.values()
    for name, mode in files.items():
        if name in ALWAYS_BULK and mode != "bulk":
            raise BundleError(f"file.{name} must be bulk: a sync needs every school in {name}.csv", "manifest.csv")
        if name in NEVER_DELTA and mode == "delta":
            raise BundleError(f"file.{name} must be bulk or absent: {name}.csv is read whole", "manifest.csv")
        if not delta and mode == "absent" and name not in NEVER_DELTA:
            raise BundleError(
                f"file.{name} must be bulk: a bundle without delta files is a full sync, which needs the whole "
                f"{name} file",
                "manifest.csv",
            )
    if "roles" in files and files["users"] != "absent" and files["roles"] == "absent":
        raise BundleError("file.roles is absent: OneRoster 1.2 users need roles.csv", "manifest.csv")
    return files


def check_bundle(archive: zipfile.ZipFile) -> Bundle:
    """The bundle's manifest, sizes and headers checked; BundleError on the first problem."""
    _check_sizes(archive)
    manifest = _manifest(archive)
    version = manifest.get("oneroster.version")
    if version not in VERSIONS:
        raise BundleError(f"oneroster.version is {version!r}; a bundle must be OneRoster 1.1 or 1.2", "manifest.csv")
    required_columns = REQUIRED_COLUMNS[version]
    files = _modes(manifest, required_columns)
    headers: dict[str, tuple[str, ...]] = {}
    for name, mode in files.items():
        if mode == "absent":
            continue
        member = _member(archive, f"{name}.csv")
        if member is None:
            raise BundleError(
                f"the manifest says {name}.csv is {mode}, but the bundle has no {name}.csv", "manifest.csv"
            )
        with archive.open(member) as raw:
            header = next(csv.reader(_text_lines(raw, f"{name}.csv")), None)
        if not header:
            raise BundleError("is empty: it has no header line", f"{name}.csv")
        header_names = tuple(column.strip() for column in header)
        required = required_columns[name] + (DELTA_COLUMNS if mode == "delta" else ())
        missing = [column for column in required if column not in header_names]
        if missing:
            raise BundleError(f"lacks the required column(s) {', '.join(missing)}", f"{name}.csv")
        headers[name] = header_names
    return Bundle(version, files, headers, manifest.get("source.systemName") or None)


def split_bundle(zip_file: IO[bytes], put_file: Callable[[str, IO[bytes]], str | None]) -> Bundle:
    """Check a bundle, then hand each present file's bytes to `put_file(name, stream)` (an S3
    upload: one object per file, read later by byte range), which answers the version it wrote
    (kept in the Bundle: a sync reads that version or fails). Every file is read through once
    more while it is put, so a file that is not UTF-8 past its header fails here, before a sync."""
    try:
        archive = zipfile.ZipFile(zip_file)
    except zipfile.BadZipFile:
        raise BundleError("The upload is not a zip file.") from None
    with archive:
        bundle = check_bundle(archive)
        versions = {}
        for name, mode in bundle.files.items():
            if mode == "absent":
                continue
            info = _member(archive, f"{name}.csv")
            assert info is not None  # noqa: S101  check_bundle found it
            with archive.open(info) as raw:
                version = put_file(name, io.BufferedReader(_Utf8Checked(raw, f"{name}.csv"), CHUNK))
            if version:
                versions[name] = version
    return replace(bundle, versions=versions)


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
