"""Where a CSV bundle's files live between its arrival and the syncs that read it: one S3 object
per file (`{prefix}/{file}.csv`), written once when the bundle is checked and split, and read by
byte range by each invocation of a sync. The version each object was written as (its VersionId
in a versioned bucket, else its ETag) is kept in the bundle's manifest and in the run's
checkpoint: a read that finds another version fails the run (BundleUnusable) rather than mix two
bundles. A continuation on another container reads the same objects from the saved byte offset;
nothing is kept in /tmp.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from botocore.exceptions import ClientError

from rostersync import aws_clients

from .csv_bundle import Bundle, split_bundle
from .csv_reader import BundleUnusable, changed_under_run

READ_CHUNK = 256 * 1024


def file_key(prefix: str, name: str) -> str:
    return f"{prefix.rstrip('/')}/{name}.csv"


def object_version(response: dict) -> str:
    """What names this version of an object: its VersionId where the bucket keeps versions, else its ETag."""
    version = response.get("VersionId")
    return version if version and version != "null" else response["ETag"]


def stage_bundle(zip_file: IO[bytes], bucket: str, prefix: str) -> Bundle:
    """Check the bundle and put each of its files under `prefix`; BundleError before any put
    when the bundle is bad (a file found not UTF-8 part way fails its own put). The Bundle
    returned names each object's version (Bundle.versions)."""
    s3 = aws_clients.client("s3")

    def put(name: str, stream: IO[bytes]) -> str:
        key = file_key(prefix, name)
        s3.upload_fileobj(stream, bucket, key)
        return object_version(s3.head_object(Bucket=bucket, Key=key))

    return split_bundle(zip_file, put)


class S3BundleFiles:
    """A staged bundle's files for CsvBundleReader: read from a byte offset with a ranged GetObject."""

    def __init__(self, bucket: str, prefix: str):
        self.bucket, self.prefix = bucket, prefix
        self.s3 = aws_clients.client("s3")

    def read(self, name: str, start: int, version: str | None) -> tuple[str, Iterator[bytes]]:
        request = {"Bucket": self.bucket, "Key": file_key(self.prefix, name)}
        if start:
            request["Range"] = f"bytes={start}-"
        try:
            response = self.s3.get_object(**request)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code == "InvalidRange":  # the saved offset is the file's end: nothing more to read
                return version or "", iter(())
            if code in ("NoSuchKey", "404"):
                raise BundleUnusable(f"{name}.csv of this run's bundle is gone from the store of bundles.") from None
            raise
        found = object_version(response)
        if version and found != version:
            response["Body"].close()
            raise BundleUnusable(changed_under_run(name))
        return found, _chunks(response["Body"])


def _chunks(body) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(READ_CHUNK)
    finally:
        body.close()
