"""Districts: profile, SIS connection (never the secret), sync configuration, the run lock
and the nightly bookkeeping. One item per district."""

from __future__ import annotations

import zlib

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.expressions.update import Action
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from rostersync.ids import new_id
from rostersync.settings import get_settings
from rostersync.store.attributes import path_of, raw_map, string_list, table_meta
from rostersync.times import utc_now

DEFAULT_GUARD_MAX_SHARE = 0.2
DEFAULT_GUARD_MIN_RECORDS = 20
DEFAULT_FULL_SYNC_EVERY_DAYS = 7


ONEROSTER_API = "oneroster_api"
ONEROSTER_CSV = "oneroster_csv"
CSV_SCHEDULES = ("on_arrival", "nightly")
DEFAULT_CSV_RETENTION_DAYS = 30  # also the raw-bundles bucket's lifecycle rule (template.yaml)


class SisConnection(MapAttribute):
    # What the district's SIS gives: a OneRoster REST server (null: saved before CSV was offered)
    # or OneRoster CSV bundles delivered to the bundles bucket (upload or SFTP). A CSV connection
    # has no host, client or secret: only its schedule and how long its bundles are kept.
    kind = UnicodeAttribute(null=True)
    csv_schedule = UnicodeAttribute(attr_name="csvSchedule", null=True)  # on_arrival | nightly
    retention_days = NumberAttribute(attr_name="retentionDays", null=True)
    host_url = UnicodeAttribute(attr_name="hostUrl", null=True)  # REST: always set
    client_id = UnicodeAttribute(attr_name="clientId", null=True)  # REST: always set
    auth_method = UnicodeAttribute(attr_name="authMethod", null=True)  # REST, resolved: oauth1 | oauth2
    requested_auth_method = UnicodeAttribute(attr_name="requestedAuthMethod", default="auto")
    token_url = UnicodeAttribute(attr_name="tokenUrl", null=True)
    scope = UnicodeAttribute(attr_name="scope", null=True)
    # The OneRoster version read (1.1 | 1.2; connections saved before 1.2 existed have none: 1.1),
    # and what the admin asked for (auto: detected at the connection test).
    version = UnicodeAttribute(null=True)
    requested_version = UnicodeAttribute(attr_name="requestedVersion", null=True)
    secret_name = UnicodeAttribute(
        attr_name="secretName", null=True
    )  # REST: Secrets Manager name; the value lives only there
    # The secret's Secrets Manager version id when it was saved: the audit shows a replaced
    # secret by this (never by its value).
    secret_version = UnicodeAttribute(attr_name="secretVersion", null=True)
    warnings = string_list(default=list)
    connected_at = UTCDateTimeAttribute(attr_name="connectedAt")
    # What the last use of the connection found (rostersync.notify.health): every sync attempt
    # and every connection test updates it. lastError is in words, never a secret.
    health = UnicodeAttribute(null=True)  # ok | credentials_rejected | access_denied | unreachable | ...
    last_checked_at = UTCDateTimeAttribute(attr_name="lastCheckedAt", null=True)
    last_ok_at = UTCDateTimeAttribute(attr_name="lastOkAt", null=True)
    last_error = UnicodeAttribute(attr_name="lastError", null=True)


class SyncConfig(MapAttribute):
    schools = string_list(null=True)  # SIS sourcedIds; None: all
    grades = string_list(null=True)
    subjects = string_list(null=True)
    start_date = UnicodeAttribute(attr_name="startDate")  # YYYY-MM-DD in the district's zone
    enabled = BooleanAttribute(default=True)
    # The deactivation guard: stop as needs_review when one sync would deactivate more
    # than this share AND more than this many of a district's active users or classes.
    guard_max_share = NumberAttribute(attr_name="guardMaxShare", default=DEFAULT_GUARD_MAX_SHARE)
    guard_min_records = NumberAttribute(attr_name="guardMinRecords", default=DEFAULT_GUARD_MIN_RECORDS)
    full_sync_every_days = NumberAttribute(attr_name="fullSyncEveryDays", default=DEFAULT_FULL_SYNC_EVERY_DAYS)
    updated_at = UTCDateTimeAttribute(attr_name="updatedAt")


class SyncOptionSchool(MapAttribute):
    sis_sourced_id = UnicodeAttribute(attr_name="sisSourcedId")
    name = UnicodeAttribute()


class SyncOptions(MapAttribute):
    """What the SIS offers to filter on, kept so the step-4 page loads fast."""

    schools = ListAttribute(of=SyncOptionSchool, default=list)
    grades = string_list(default=list)
    subjects = string_list(default=list)
    refreshed_at = UTCDateTimeAttribute(attr_name="refreshedAt")
    # The SIS's active classes by their terms: {current, ended, lastEnded} (sync/class_terms.py);
    # null where the SIS lists no academic sessions.
    class_terms = raw_map(attr_name="classTerms", null=True)


# The dispatcher's index (sync/dispatch.py): districts by when it should next look at them. Only
# districts with a nextSyncAt are in it (a sparse index): setting the sync configuration or the
# zone puts a district in at ASAP (0: the next tick looks); the dispatcher moves it on from there.
NEXT_SYNC_INDEX = "ByNextSync"
DUE_SHARDS = 4  # dueShard: "0".."3" by the district id, so no one index partition takes every write
ASAP = 0


def due_shard(district_id: str) -> str:
    return str(zlib.crc32(district_id.encode()) % DUE_SHARDS)


class ByNextSync(GlobalSecondaryIndex):
    class Meta:
        index_name = NEXT_SYNC_INDEX
        projection = AllProjection()

    due_shard = UnicodeAttribute(hash_key=True, attr_name="dueShard")
    next_sync_at = NumberAttribute(range_key=True, attr_name="nextSyncAt")


def look_again_asap(district_id: str) -> list[Action]:
    """The actions that put a district in front of the dispatcher's next tick."""
    return [DistrictModel.next_sync_at.set(ASAP), DistrictModel.due_shard.set(due_shard(district_id))]


class DistrictModel(Model):
    Meta = table_meta(get_settings().districts_table)

    district_id = UnicodeAttribute(hash_key=True, attr_name="districtId")
    name = UnicodeAttribute()
    timezone = UnicodeAttribute()  # IANA zone
    created_at = UTCDateTimeAttribute(attr_name="createdAt")
    connection = SisConnection(null=True)
    sync_config = SyncConfig(attr_name="syncConfig", null=True)
    sync_options = SyncOptions(attr_name="syncOptions", null=True)
    # The run lock: at most one queued or running sync per district. Taken with a
    # conditional update; a lock whose holder stopped heart-beating expires.
    active_run_id = UnicodeAttribute(attr_name="activeRunId", null=True)
    lock_expires_at = NumberAttribute(attr_name="lockExpiresAt", null=True)  # epoch seconds
    # The fencing token: grows with every taking of the lock and with every purge or rejection;
    # a run may write only while the token is still the one it took (sync/run_lifecycle.py).
    lock_token = NumberAttribute(attr_name="lockToken", null=True)
    # Nightly bookkeeping: the last night (local date) a nightly run was created for.
    last_nightly_night = UnicodeAttribute(attr_name="lastNightlyNight", null=True)
    # When the dispatcher should next look at this district (epoch seconds; ByNextSync).
    next_sync_at = NumberAttribute(attr_name="nextSyncAt", null=True)
    due_shard = UnicodeAttribute(attr_name="dueShard", null=True)
    by_next_sync = ByNextSync()
    # Delta syncs read changes since the start of the last successful sync.
    last_success_started_at = UTCDateTimeAttribute(attr_name="lastSuccessStartedAt", null=True)
    last_full_sync_at = UTCDateTimeAttribute(attr_name="lastFullSyncAt", null=True)
    # A hash of the filters the last full sync used: a change forces the next sync to be full.
    synced_selection_hash = UnicodeAttribute(attr_name="syncedSelectionHash", null=True)
    # Active records per type after the last successful sync: the delta sync's guard measures
    # its deactivations against these without reading the whole district.
    active_counts = raw_map(attr_name="activeCounts", null=True)
    # Who hears of a failed night, a held run or an unhealthy connection (validated addresses,
    # set by the district's admins: PATCH /districts/{districtId}).
    contacts = string_list(null=True)
    # Review (sync/review.py): after a rejection every deactivation waits for an admin
    # ({runId, by, role, at}); after a rejection or a partial approval the next run is full.
    deactivation_hold = JSONAttribute(attr_name="deactivationHold", null=True)
    full_sync_due = BooleanAttribute(attr_name="fullSyncDue", null=True)
    # Issue 13: what a sync has to look up in RecordLinksTable (set before the first key or link is
    # written, never cleared): app records to match, SIS records stored under other ids.
    has_app_users = BooleanAttribute(attr_name="hasAppUsers", null=True)
    has_app_classes = BooleanAttribute(attr_name="hasAppClasses", null=True)
    has_sis_links = BooleanAttribute(attr_name="hasSisLinks", null=True)
    # A purge asked for or under way (sync/purge.py): {state, requestedBy, requestedAt, confirmedBy, ...}
    purge = JSONAttribute(null=True)
    # A CSV district's latest checked and staged bundle (sync/csv_arrival.py): {bundleId, bucket,
    # prefix, manifest, uploadId, stagedAt}; the next run reads it (RunPlan.connection).
    csv_bundle = JSONAttribute(attr_name="csvBundle", null=True)


def is_csv(connection: SisConnection | None) -> bool:
    return connection is not None and connection.kind == ONEROSTER_CSV


def csv_retention_days(connection: SisConnection | None) -> int:
    days = connection.retention_days if connection is not None else None
    return int(days) if days else DEFAULT_CSV_RETENTION_DAYS


def get_district(district_id: str) -> DistrictModel | None:
    """The district, read consistently (a route right after a write must see it), or None."""
    try:
        return DistrictModel.get(district_id, consistent_read=True)
    except DistrictModel.DoesNotExist:
        return None


def create_district(name: str, timezone_name: str) -> DistrictModel:
    district = DistrictModel(district_id=new_id("dst"), name=name, timezone=timezone_name, created_at=utc_now())
    district.save(condition=DistrictModel.district_id.does_not_exist())
    return district


def update_profile(
    district: DistrictModel, name: str | None, timezone_name: str | None, contacts: list[str] | None
) -> None:
    """Change what was given (None: leave as is); an empty contact list removes them all."""
    actions: list[Action] = []
    if name is not None:
        actions.append(DistrictModel.name.set(name))
    if timezone_name is not None:
        actions.append(DistrictModel.timezone.set(timezone_name))
        actions.extend(look_again_asap(district.district_id))  # its night moved
    if contacts is not None:
        actions.append(DistrictModel.contacts.set(contacts) if contacts else DistrictModel.contacts.remove())
    if actions:
        district.update(actions=actions, condition=DistrictModel.district_id.exists())


def save_connection(district: DistrictModel, connection: SisConnection) -> None:
    """Store a tested connection (no secret). The cached sync options described the SIS as
    it was reached before, so they go: the next read recomputes them."""
    district.update(
        actions=[DistrictModel.connection.set(connection), DistrictModel.sync_options.remove()],
        condition=DistrictModel.district_id.exists(),
    )


def remove_connection(district: DistrictModel) -> None:
    """Forget the connection and the cached options, and stop nightly syncs (the sync
    configuration is kept, disabled, so reconnecting does not mean configuring again)."""
    actions: list[Action] = [DistrictModel.connection.remove(), DistrictModel.sync_options.remove()]
    condition = DistrictModel.district_id.exists()
    if district.sync_config is not None:
        actions.append(path_of(DistrictModel.sync_config.enabled).set(False))
        condition &= DistrictModel.sync_config.exists()
    district.update(actions=actions, condition=condition)


def save_sync_config(district: DistrictModel, config: SyncConfig) -> None:
    district.update(
        actions=[DistrictModel.sync_config.set(config), *look_again_asap(district.district_id)],
        condition=DistrictModel.district_id.exists(),
    )


def save_sync_options(district_id: str, options: SyncOptions) -> None:
    """Cache what the SIS offers (the API after computing it, the sync after a full sync)."""
    DistrictModel(district_id).update(
        actions=[DistrictModel.sync_options.set(options)], condition=DistrictModel.district_id.exists()
    )


def list_districts(limit: int, after: str | None = None) -> tuple[list[DistrictModel], str | None]:
    """One page of every district (platform admins pick one in the console), and the districtId
    to continue after. A scan: the districts table holds one small item per district."""
    last_key = {"districtId": {"S": after}} if after else None
    scan = DistrictModel.scan(
        limit=limit, last_evaluated_key=last_key, attributes_to_get=["districtId", "name", "timezone"]
    )
    page = list(scan)
    next_key = scan.last_evaluated_key
    return page, (next_key["districtId"]["S"] if next_key else None)
