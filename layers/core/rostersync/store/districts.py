"""Districts: profile, SIS connection (never the secret), sync configuration, the run lock
and the nightly bookkeeping. One item per district."""

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.models import Model

from rostersync.settings import get_settings
from rostersync.store.base import model_meta


class SisConnection(MapAttribute):
    host_url = UnicodeAttribute(attr_name="hostUrl")
    client_id = UnicodeAttribute(attr_name="clientId")
    auth_method = UnicodeAttribute(attr_name="authMethod")  # resolved: oauth1 | oauth2
    requested_auth_method = UnicodeAttribute(attr_name="requestedAuthMethod", default="auto")
    token_url = UnicodeAttribute(attr_name="tokenUrl", null=True)
    scope = UnicodeAttribute(attr_name="scope", null=True)
    secret_name = UnicodeAttribute(attr_name="secretName")  # Secrets Manager name; the value lives only there
    warnings = ListAttribute(of=UnicodeAttribute, default=list)
    connected_at = UTCDateTimeAttribute(attr_name="connectedAt")


class SyncConfig(MapAttribute):
    schools = ListAttribute(of=UnicodeAttribute, null=True)  # SIS sourcedIds; None: all
    grades = ListAttribute(of=UnicodeAttribute, null=True)
    subjects = ListAttribute(of=UnicodeAttribute, null=True)
    start_date = UnicodeAttribute(attr_name="startDate")  # YYYY-MM-DD in the district's zone
    enabled = BooleanAttribute(default=True)
    # The deactivation guard: stop as needs_review when one sync would deactivate more
    # than this share AND more than this many of a district's active users or classes.
    guard_max_share = NumberAttribute(attr_name="guardMaxShare", default=0.2)
    guard_min_records = NumberAttribute(attr_name="guardMinRecords", default=20)
    full_sync_every_days = NumberAttribute(attr_name="fullSyncEveryDays", default=7)
    updated_at = UTCDateTimeAttribute(attr_name="updatedAt")


class SyncOptionSchool(MapAttribute):
    sis_sourced_id = UnicodeAttribute(attr_name="sisSourcedId")
    name = UnicodeAttribute()


class SyncOptions(MapAttribute):
    """What the SIS offers to filter on, kept so the step-4 page loads fast."""

    schools = ListAttribute(of=SyncOptionSchool, default=list)
    grades = ListAttribute(of=UnicodeAttribute, default=list)
    subjects = ListAttribute(of=UnicodeAttribute, default=list)
    refreshed_at = UTCDateTimeAttribute(attr_name="refreshedAt")


class DistrictModel(Model):
    Meta = model_meta(get_settings().districts_table)

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
    # Nightly bookkeeping: the last night (local date) a nightly run was created for.
    last_nightly_night = UnicodeAttribute(attr_name="lastNightlyNight", null=True)
    # Delta syncs read changes since the start of the last successful sync.
    last_success_started_at = UTCDateTimeAttribute(attr_name="lastSuccessStartedAt", null=True)
    last_full_sync_at = UTCDateTimeAttribute(attr_name="lastFullSyncAt", null=True)
    # A hash of the filters the last full sync used: a change forces the next sync to be full.
    synced_selection_hash = UnicodeAttribute(attr_name="syncedSelectionHash", null=True)


def get_district(district_id: str) -> DistrictModel | None:
    """The district, read consistently (a route right after a write must see it), or None."""
    try:
        return DistrictModel.get(district_id, consistent_read=True)
    except DistrictModel.DoesNotExist:
        return None
