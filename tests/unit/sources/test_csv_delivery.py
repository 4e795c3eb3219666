"""Where CSV bundles live and how long (sources/csv_delivery.py): keys per district, retention
deletions that spare other districts and newer bundles, a purge's deletion of everything; and a
run refusing a CSV district's latest bundle once it is past the retention (sync/run_start.py)."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from rostersync import aws_clients
from rostersync.sources import csv_delivery
from rostersync.store.districts import ONEROSTER_CSV
from rostersync.sync.run_start import csv_bundle_failure


def _put(key: str) -> None:
    aws_clients.client("s3").put_object(Bucket=csv_delivery.bucket(), Key=key, Body=b"x")


def _keys(prefix: str) -> list[str]:
    answer = aws_clients.client("s3").list_objects_v2(Bucket=csv_delivery.bucket(), Prefix=prefix)
    return sorted(o["Key"] for o in answer.get("Contents", []))


def test_keys_name_the_district_and_only_raw_keys_are_deliveries():
    assert csv_delivery.upload_key("dst_1", "upl_2") == "raw/dst_1/upl_2.zip"
    assert csv_delivery.staged_prefix("dst_1", "bnd_3") == "staged/dst_1/bnd_3"
    assert csv_delivery.district_of_key("raw/dst_1/nightly export.zip") == ("dst_1", "nightly export.zip")
    for key in ("staged/dst_1/bnd/users.csv", "raw/dst_1/", "raw//x.zip", "raw/dst_1", "other/dst_1/x.zip"):
        with pytest.raises(csv_delivery.NotDeliveryKey):
            csv_delivery.district_of_key(key)


def test_retention_deletes_a_district_s_older_bundles_only(aws):
    for key in ("raw/dst_a/upl_1.zip", "staged/dst_a/bnd_1/users.csv", "raw/dst_b/upl_2.zip"):
        _put(key)
    assert csv_delivery.delete_older_than("dst_a", 7) == 0  # all written just now
    later = datetime.now(UTC) + timedelta(days=8)
    assert csv_delivery.delete_older_than("dst_a", 7, now=later) == 2
    assert _keys("raw/dst_a/") == [] and _keys("staged/dst_a/") == []
    assert _keys("raw/dst_b/") == ["raw/dst_b/upl_2.zip"]


def test_a_purge_deletes_every_object_of_the_district(aws):
    keys = ["raw/dst_p/upl_1.zip", *(f"staged/dst_p/bnd_1/f{i}.csv" for i in range(5))]
    for key in keys:
        _put(key)
    _put("raw/dst_q/upl_9.zip")
    assert csv_delivery.delete_all("dst_p") == len(keys)
    assert _keys("raw/dst_p/") == [] and _keys("staged/dst_p/") == []
    assert _keys("raw/dst_q/") == ["raw/dst_q/upl_9.zip"]


def _district(staged_at: datetime | None, days: int = 30):
    connection = SimpleNamespace(kind=ONEROSTER_CSV, retention_days=days)
    bundle = (
        None if staged_at is None else {"prefix": "staged/d/b", "stagedAt": staged_at.strftime("%Y-%m-%dT%H:%M:%SZ")}
    )
    return SimpleNamespace(connection=connection, csv_bundle=bundle)


def test_a_csv_run_needs_a_bundle_within_the_retention():
    now = datetime(2026, 12, 6, 12, tzinfo=UTC)
    assert "No CSV bundle has been delivered yet" in csv_bundle_failure(_district(None), now)
    assert csv_bundle_failure(_district(now - timedelta(days=29)), now) is None
    old = csv_bundle_failure(_district(now - timedelta(days=8), days=7), now)
    assert old is not None and "7 days of retention" in old and "28 November 2026" in old
