"""The local stack's stand-in for S3's EventBridge notifications: moto does not emit them, so this
loop lists the bundles bucket's raw/ prefix and hands each new object to the real arrival
function (functions/csv_arrival/app.py) in the event shape S3 puts on EventBridge, as the
template's BundleArrived rule would. An object counts as new by its key and ETag (a re-upload
under the same key arrives again, as on AWS)."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import UTC, datetime

from rostersync_tools.local.embedded_aws import REGION
from rostersync_tools.local.functions import LOCAL_ACCOUNT_ID, LambdaContext, load_handler

log = logging.getLogger(__name__)

POLL_S = 0.5
RAW_PREFIX = "raw/"


def object_created_event(bucket: str, key: str, size: int, etag: str, reason: str = "PostObject") -> dict:
    """S3's "Object Created" event as EventBridge delivers it."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": LOCAL_ACCOUNT_ID,
        "time": now,
        "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": size, "etag": etag, "sequencer": f"{time.time_ns():X}"},
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": LOCAL_ACCOUNT_ID,
            "source-ip-address": "127.0.0.1",
            "reason": reason,
        },
    }


class BundleArrivalLoop:
    def __init__(self, s3_client, bucket: str, handler=None):
        self.s3 = s3_client
        self.bucket = bucket
        self._handler = handler
        self._seen: set[tuple[str, str]] = set()
        self._stop = threading.Event()
        self._busy = threading.Event()
        self._thread: threading.Thread | None = None
        self.handled = 0  # arrivals handed to the function so far (tests)

    def start(self) -> BundleArrivalLoop:
        self._thread = threading.Thread(target=self._run, name="local-bundle-arrivals", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                if self._stop.is_set():
                    break
                log.exception("bundle arrivals: listing the bundles bucket failed; retrying")
            self._stop.wait(POLL_S)

    def new_objects(self) -> list[dict]:
        found = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=RAW_PREFIX):
            for obj in page.get("Contents", []):
                if (obj["Key"], obj["ETag"]) not in self._seen:
                    found.append(obj)
        return found

    def poll_once(self) -> int:
        """Hand every new raw object to the arrival function; how many."""
        found = self.new_objects()
        if not found:
            return 0
        self._busy.set()
        try:
            for obj in found:
                self._seen.add((obj["Key"], obj["ETag"]))
                self.invoke(object_created_event(self.bucket, obj["Key"], int(obj["Size"]), obj["ETag"].strip('"')))
        finally:
            self._busy.clear()
        return len(found)

    def invoke(self, event: dict) -> None:
        """As Lambda would for EventBridge (an asynchronous invocation): a failure is logged."""
        try:
            handler = self._handler or load_handler("csv_arrival")
            result = handler(event, LambdaContext("csv_arrival"))
            log.info("bundle arrival %s: %s", event["detail"]["object"]["key"], result)
        except Exception:
            log.exception("the CSV arrival function failed for %s", event["detail"]["object"]["key"])
        self.handled += 1

    def wait_until_idle(self, timeout: float = 60) -> None:
        """Every object in raw/ handed over (tests)."""
        deadline = time.monotonic() + timeout
        # Listing first: the poller marks an object seen only once it is busy with it, so an object
        # found seen here means busy is set (or its handling is over) when busy is read next.
        while self.new_objects() or self._busy.is_set():
            if time.monotonic() > deadline:
                raise TimeoutError(f"bundle arrivals still pending after {timeout} s")
            time.sleep(0.1)
