"""Where a CSV bundle's files live between its arrival and the syncs that read it: one S3 object
per file (`{prefix}/{file}.csv`), written once when the bundle is checked and split, read as a
stream of lines by each invocation of a sync (a continuation on another container reads the same
objects; nothing is kept in /tmp).
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from typing import IO

from rostersync import aws_clients

from .csv_bundle import Bundle, split_bundle
from .csv_reader import OpenLines

READ_CHUNK = 256 * 1024


def file_key(prefix: str, name: str) -> str:
    return f"{prefix.rstrip('/')}/{name}.csv"


def stage_bundle(zip_file: IO[bytes], bucket: str, prefix: str) -> Bundle:
    """Check the bundle and put each of its files under `prefix`; BundleError before any put
    when the bundle is bad (a file found not UTF-8 part way fails its own put)."""
    s3 = aws_clients.client("s3")

    def put(name: str, stream: IO[bytes]) -> None:
        s3.upload_fileobj(stream, bucket, file_key(prefix, name))

    return split_bundle(zip_file, put)


def s3_lines(bucket: str, prefix: str) -> OpenLines:
    """An opener for CsvBundleReader: a file's lines, streamed from its object."""
    s3 = aws_clients.client("s3")

    def open_lines(name: str) -> Iterator[str]:
        body = s3.get_object(Bucket=bucket, Key=file_key(prefix, name))["Body"]
        decode = codecs.getincrementaldecoder("utf-8-sig")()
        pending = ""
        try:
            for chunk in body.iter_chunks(READ_CHUNK):
                # split on newlines only: csv itself handles quoted fields that hold other breaks
                *lines, pending = (pending + decode.decode(chunk)).split("\n")
                for line in lines:
                    yield line + "\n"
            tail = pending + decode.decode(b"", final=True)
            if tail:
                yield tail
        finally:
            body.close()

    return open_lines
