"""Which reader a sync run reads through: the one place a run's planned connection becomes a
SourceReader (sources/port.py), chosen by what the plan's connection says:
- `"kind": "oneroster_csv"`: a staged CSV bundle, `{"bundle": {"bucket", "prefix", "bundleId",
  "manifest"}}` (the manifest is csv_bundle.Bundle.to_json(), with each file object's version),
  read by byte range from S3 (sources/csv_files.py, sources/csv_reader.py);
- no kind, or `"oneroster_api"`: a OneRoster REST server, 1.1 or 1.2 (the plan's connection
  names the version; the client reads it).
"""

from __future__ import annotations

from collections.abc import Mapping

from rostersync import sis_access
from rostersync.settings import SyncTuning

from .csv_bundle import Bundle
from .csv_files import S3BundleFiles
from .csv_reader import PAGE_ROWS, CsvBundleReader
from .oneroster_rest import OneRosterRestReader
from .port import SourceReader

CSV_KIND = "oneroster_csv"


def is_csv(connection: Mapping) -> bool:
    return connection.get("kind") == CSV_KIND


def planned_bundle(connection: Mapping) -> Bundle | None:
    """The bundle a CSV run's plan names (None for a REST connection)."""
    return Bundle.from_json(connection["bundle"]["manifest"]) if is_csv(connection) else None


def open_bundle(staged: Mapping, page_rows: int = PAGE_ROWS) -> CsvBundleReader:
    """A reader of a staged bundle ({bucket, prefix, manifest}: a run's plan, or the district's
    latest, DistrictModel.csv_bundle, which setup steps 3 and 4 read)."""
    files = S3BundleFiles(staged["bucket"], staged["prefix"])
    return CsvBundleReader(Bundle.from_json(staged["manifest"]), files, page_rows=page_rows)


def open_reader(district_id: str, connection: Mapping, tuning: SyncTuning) -> SourceReader:
    """The reader for a run's planned connection (RunPlan.connection: no secret; the secret's
    version it started with is read from Secrets Manager, SecretNotFound when gone)."""
    if is_csv(connection):
        return open_bundle(connection["bundle"], page_rows=tuning.page_limit)
    client = sis_access.open_client(
        district_id,
        sis_access.plan_client_settings(connection),
        secret_version=connection.get("secretVersion"),
        page_limit=tuning.page_limit,
        max_in_flight=tuning.sis_in_flight,
    )
    return OneRosterRestReader(client)
