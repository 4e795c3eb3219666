"""App schools: created by support before any SIS is connected (origin "app"), or by a sync
for a selected SIS school nobody matched (origin "sis"). A match links an SIS school's
sourcedId to exactly one app school."""

from datetime import UTC, datetime

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from rostersync.ids import new_id
from rostersync.settings import get_settings
from rostersync.store.attributes import table_meta
from rostersync.store.change_keys import change_seq, time_text
from rostersync.store.roster import by_change_index


class SchoolModel(Model):
    Meta = table_meta(get_settings().schools_table)

    district_id = UnicodeAttribute(hash_key=True, attr_name="districtId")
    school_id = UnicodeAttribute(range_key=True, attr_name="schoolId")
    name = UnicodeAttribute()
    identifier = UnicodeAttribute(null=True)
    sis_sourced_id = UnicodeAttribute(attr_name="sisSourcedId", null=True)
    origin = UnicodeAttribute(default="app")  # app | sis
    status = UnicodeAttribute(default="active")  # active | inactive
    content_hash = UnicodeAttribute(attr_name="contentHash", null=True)
    created_at = UTCDateTimeAttribute(attr_name="createdAt")
    updated_at = UTCDateTimeAttribute(attr_name="updatedAt", null=True)
    change_seq = UnicodeAttribute(attr_name="changeSeq", null=True)  # store/change_keys.py
    by_change = by_change_index()


def schools_of(district_id: str):
    """Every school of a district (a district has tens to hundreds: one query)."""
    return SchoolModel.query(district_id)


ORIGIN_APP = "app"
ORIGIN_SIS = "sis"
ACTIVE = "active"


def create_app_school(district_id: str, name: str, identifier: str | None) -> SchoolModel:
    """A school that exists in the app before (or apart from) the SIS: support creates these."""
    now = datetime.now(UTC)
    school_id = new_id("sch")
    school = SchoolModel(
        district_id=district_id,
        school_id=school_id,
        name=name,
        identifier=identifier,
        origin=ORIGIN_APP,
        status=ACTIVE,
        created_at=now,
        updated_at=now,
        change_seq=change_seq(time_text(now), school_id),
    )
    school.save(condition=SchoolModel.school_id.does_not_exist())
    return school


def active_schools(district_id: str) -> list[SchoolModel]:
    """The district's active schools, read consistently, by name."""
    schools = [s for s in SchoolModel.query(district_id, consistent_read=True) if s.status == ACTIVE]
    return sorted(schools, key=lambda s: (s.name.casefold(), s.school_id))


def set_match(school: SchoolModel, sis_sourced_id: str | None) -> None:
    """Link an app school to an SIS school (or unlink it with None)."""
    now = datetime.now(UTC)
    actions: list[Action] = [
        SchoolModel.updated_at.set(now),
        SchoolModel.change_seq.set(change_seq(time_text(now), school.school_id)),
    ]
    if sis_sourced_id is None:
        actions.append(SchoolModel.sis_sourced_id.remove())
    else:
        actions.append(SchoolModel.sis_sourced_id.set(sis_sourced_id))
    school.update(actions=actions, condition=SchoolModel.school_id.exists())
