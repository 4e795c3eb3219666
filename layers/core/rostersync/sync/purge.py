"""Purging a district: the one place Roster Sync erases data (student-privacy agreements
require it when a district leaves).

A district admin may ask for it (DELETE /districts/{id}); only a platform admin carries it
out, by confirming (DELETE /districts/{id}?confirm=<districtId>). Confirming stops the
district's syncs (its connection is removed) and queues a `purge` message on the sync
queue. The worker (sync/worker.py hands `purge` messages here) then deletes, in an order
that a retry can always continue from:
  the district's fencing token is moved and a sync still holding it failed first: no write
  batch of a run checks the token and lands after that (sync/run_lifecycle.py fence); a batch
  already past its check may still land until that run's invocation ends (its lease);
  roster records (schools, users, classes, enrollments) and the notifications sent to its contacts;
  every run's checkpoint parts and listed records, then the runs;
  its CSV upload records and bundles (raw and staged objects in the bundles bucket);
  the SIS secret, scheduled for deletion (7-day recovery window);
  a minimal tombstone in the audit log (who asked, who confirmed, when, how many items went);
  the district item (no route reaches the district after it), then the rest of the audit log.
Every step deletes what is still there, so a message delivered twice, retried after a crash
or continued after the invocation's time ran short ends in the same state. When a sync was
running, the erasure is done once more after the last moment its invocation could write
(`writersEndAt`, kept on the purge) before the tombstone is written: the tombstone says the
purge is done (GET /districts/{id}/purge) only when nothing of the district can land any more.
"""

import json

from aws_lambda_powertools.metrics import MetricUnit

from rostersync import aws_clients
from rostersync.observability import logger, metrics
from rostersync.settings import get_settings
from rostersync.sources import csv_delivery
from rostersync.store import csv_uploads, erase, run_records
from rostersync.store.codec import from_item, to_item
from rostersync.store.districts import DistrictModel, get_district
from rostersync.sync import messages
from rostersync.times import now_iso_z

TOMBSTONE = "~purged"  # the audit entry that outlives the district (sorts after every aud_ id: newest first)
MAX_DELAY_SECONDS = 900  # SQS's longest message delay: a longer wait takes several messages
RECOVERY_WINDOW_DAYS = 7
REQUESTED, QUEUED, RUNNING, DONE = "requested", "queued", "running", "done"
MIN_SECONDS = 5.0  # stop and continue in a new message when less is left


def tombstone(client, district_id: str) -> dict | None:
    item = client.get_item(
        TableName=get_settings().audit_table,
        ConsistentRead=True,
        Key={"districtId": {"S": district_id}, "entryId": {"S": TOMBSTONE}},
    ).get("Item")
    return from_item(item) if item else None


def send(district_id: str, purge_id: str, delay_seconds: int = 0) -> None:
    body = messages.RunMessage(district_id, purge_id, "purge").body()
    messages.sqs_client().send_message(QueueUrl=messages.queue_url(), MessageBody=body, DelaySeconds=delay_seconds)


class Purge:
    def __init__(self, district_id: str, purge_id: str, time_left, client=None):
        self.district_id = district_id
        self.purge_id = purge_id
        self.time_left = time_left
        self.client = client or aws_clients.dynamodb()
        self.settings = get_settings()

    def out_of_time(self) -> bool:
        return self.time_left() < MIN_SECONDS

    def run(self) -> str:
        """done, waiting (for a stopped sync's invocation to end) or continue (out of time)."""
        district = get_district(self.district_id)
        if district is None:
            # A retry after the district item went, or a duplicate: erase whatever of the district
            # is still (or again) there and finish the log.
            sweep(self.district_id, self.client)
            logger.info("purge: the district is gone already")
            return DONE
        purge = district.purge or {}
        if purge.get("state") not in (QUEUED, RUNNING) or purge.get("purgeId") != self.purge_id:
            logger.warning("purge: not confirmed for this purge id; ignoring the message")
            return DONE
        if purge.get("state") == QUEUED:
            DistrictModel(self.district_id).update(
                actions=[DistrictModel.purge.set({**purge, "state": RUNNING, "startedAt": now_iso_z()})]
            )
        writers_end_at = self._stop_syncs(district, purge)
        if writers_end_at is not None:
            purge = {**purge, "writersEndAt": writers_end_at}
        counts = dict(purge.get("deleted") or {})
        if not erase_district_items(self.client, self.district_id, counts, self.out_of_time):
            return self._continue(purge, counts)
        if purge.get("writersEndAt") and self._clock() <= int(purge["writersEndAt"]):
            # A stopped sync's invocation may still land a batch: erase again after its end.
            self._continue(purge, counts)
            return "waiting"
        self._delete_secret()
        st = self.settings
        self.client.put_item(
            TableName=st.audit_table,
            Item=to_item(
                {
                    "districtId": self.district_id,
                    "entryId": TOMBSTONE,
                    "action": "district.purged",
                    "at": now_iso_z(),
                    "bySub": (purge.get("confirmedBy") or {}).get("sub"),
                    "byRole": "platform_admin",
                    "after": json.dumps(
                        {
                            "purgeId": self.purge_id,
                            "requestedBy": purge.get("requestedBy"),
                            "confirmedBy": purge.get("confirmedBy"),
                            "itemsDeleted": sum(counts.values()),
                        }
                    ),
                }
            ),
        )
        # The district item before the audit log: once it is gone no route can add an entry, and a
        # retry that finds only the tombstone finishes the log.
        DistrictModel(self.district_id).delete()
        _delete_audit(self.client, self.district_id)
        metrics.add_metric(name="DistrictsPurged", unit=MetricUnit.Count, value=1)
        logger.info("district purged", extra={"districtId": self.district_id, "itemsDeleted": sum(counts.values())})
        return DONE

    def _continue(self, purge: dict, counts: dict) -> str:
        DistrictModel(self.district_id).update(
            actions=[DistrictModel.purge.set({**purge, "state": RUNNING, "deleted": counts})]
        )
        return "continue"

    def _stop_syncs(self, district, purge: dict) -> int | None:
        """Fence off and fail a sync still holding the district; the last moment a stopped
        run's invocation may write (the latest of this and an earlier pass's), or None."""
        from rostersync.sync import run_lifecycle

        writing_until = run_lifecycle.stop_for_purge(district)
        known = purge.get("writersEndAt")
        if writing_until is None:
            return None if known is None else int(known)
        return max(writing_until, int(known or 0))

    def seconds_to_wait(self) -> int:
        """How long a waiting purge's next message is delayed: until the writers' end."""
        district = get_district(self.district_id)
        writers_end_at = ((district.purge or {}) if district else {}).get("writersEndAt")
        if not writers_end_at:
            return 0
        return max(1, min(MAX_DELAY_SECONDS, int(writers_end_at) + 1 - int(self._clock())))

    @staticmethod
    def _clock() -> float:
        from rostersync.sync import run_lifecycle

        return run_lifecycle.clock()

    def _delete_secret(self) -> None:
        from rostersync.sis_secrets import schedule_secret_deletion

        schedule_secret_deletion(self.district_id, RECOVERY_WINDOW_DAYS)


def erase_district_items(client, district_id: str, counts: dict, out_of_time=lambda: False) -> bool:
    """Delete the district's roster items, notifications, record links, every run with its
    checkpoint parts and records, and its CSV uploads and bundle files, adding to `counts`
    (table -> items); False when `out_of_time` stopped it before the end (call again: it deletes
    what is still there)."""
    st = get_settings()
    for table, sort_key in (
        (st.enrollments_table, "enrollmentId"),
        (st.classes_table, "classId"),
        (st.users_table, "userId"),
        (st.schools_table, "schoolId"),
        (st.terms_table, "termId"),
        (st.notifications_table, "notificationKey"),
        (st.record_links_table, "linkKey"),
    ):
        deleted, complete = erase.delete_query(client, table, "districtId", district_id, sort_key, out_of_time)
        counts[table] = counts.get(table, 0) + deleted
        if not complete:
            return False
    for key in erase.keys_of_partition(client, st.sync_runs_table, "districtId", district_id, "runId"):
        run_id = key["runId"]["S"]
        erase.delete_query(client, st.checkpoints_table, "runKey", f"{district_id}#{run_id}", "part")
        run_records.delete_run(client, district_id, run_id)
        erase.delete_keys(client, st.sync_runs_table, [key])
        counts["runs"] = counts.get("runs", 0) + 1
        if out_of_time():
            return False
    counts["csvUploads"] = counts.get("csvUploads", 0) + csv_uploads.delete_uploads(client, district_id)
    if st.bundles_bucket:  # every deployed function has it (template Globals); some test setups do not
        counts["csvBundleObjects"] = counts.get("csvBundleObjects", 0) + csv_delivery.delete_all(district_id)
    return True


def _delete_audit(client, district_id: str) -> int:
    """Every audit entry of the district but its tombstone."""
    audit_table = get_settings().audit_table
    keys = (
        key
        for key in erase.keys_of_partition(client, audit_table, "districtId", district_id, "entryId")
        if key["entryId"]["S"] != TOMBSTONE
    )
    return erase.delete_keys(client, audit_table, keys)


def sweep(district_id: str, client=None) -> int:
    """Erase whatever of a purged district (its tombstone says so) is found after the purge
    was done: a write that slipped through, an item put back by anything. Returns how many
    items were erased (0 also when the district is not a purged one); the tombstone stays."""
    client = client or aws_clients.dynamodb()
    if tombstone(client, district_id) is None:
        return 0
    counts: dict = {}
    erase_district_items(client, district_id, counts)
    if get_district(district_id) is not None:  # a purged district has no district item
        DistrictModel(district_id).delete()
        counts["district"] = 1
    counts["audit"] = _delete_audit(client, district_id)
    found = sum(counts.values())
    if found:
        logger.warning("purge sweep: items of a purged district found and erased", extra={"erased": counts})
        metrics.add_metric(name="PurgedItemsSwept", unit=MetricUnit.Count, value=found)
    return found


def purged_districts(client=None) -> list[str]:
    """Every district whose tombstone is in the audit log (a scan of the audit table)."""
    client = client or aws_clients.dynamodb()
    pages = client.get_paginator("scan").paginate(
        TableName=get_settings().audit_table,
        FilterExpression="entryId = :tombstone",
        ExpressionAttributeValues={":tombstone": {"S": TOMBSTONE}},
        ProjectionExpression="districtId",
    )
    return [item["districtId"]["S"] for page in pages for item in page["Items"]]


def sweep_purged(client=None) -> dict[str, int]:
    """The periodic sweep (the dispatcher's first tick of each UTC day): `sweep` every purged
    district; {districtId: items erased} of those where something was found."""
    client = client or aws_clients.dynamodb()
    found = {district_id: sweep(district_id, client) for district_id in purged_districts(client)}
    return {district_id: n for district_id, n in found.items() if n}


def handle(message, time_left) -> None:
    """A `purge` message from the sync queue. Raises (so SQS retries) when a step fails."""
    job = Purge(message.district_id, message.run_id, time_left)
    outcome = job.run()
    if outcome == "waiting":
        send(message.district_id, message.run_id, delay_seconds=job.seconds_to_wait())
    elif outcome == "continue":
        send(message.district_id, message.run_id)
