"""Which reader a sync run reads through: the one place a run's planned connection becomes a
SourceReader (sources/port.py). Today every saved connection is a OneRoster REST server, 1.1 or
1.2 (the plan's connection names the version; the client reads it). A CSV bundle's reader
(sources/csv_reader.py) is handed to the engine directly until CSV connections can be saved; its
case goes here then, chosen by what the plan's connection says.
"""

from __future__ import annotations

from collections.abc import Mapping

from rostersync import sis_access
from rostersync.settings import SyncTuning

from .csv_bundle import Bundle
from .csv_files import s3_lines
from .csv_reader import CsvBundleReader
from .oneroster_rest import OneRosterRestReader
from .port import SourceReader


def open_reader(district_id: str, connection: Mapping, tuning: SyncTuning) -> SourceReader:
    """The reader for a run's planned connection (RunPlan.connection: no secret; the secret's
    version it started with is read from Secrets Manager, SecretNotFound when gone)."""
    if connection.get("kind") == "oneroster_csv":  # minimal case for the delivery branch; csvsrc owns this
        bundle = connection["bundle"]
        return CsvBundleReader(Bundle.from_json(bundle["manifest"]), s3_lines(bundle["bucket"], bundle["prefix"]))
    client = sis_access.open_client(
        district_id,
        sis_access.plan_client_settings(connection),
        secret_version=connection.get("secretVersion"),
        page_limit=tuning.page_limit,
        max_in_flight=tuning.sis_in_flight,
    )
    return OneRosterRestReader(client)
