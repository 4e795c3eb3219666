"""App schools: created by support before any SIS is connected (origin "app"), or by a sync
for a selected SIS school nobody matched (origin "sis"). A match links an SIS school's
sourcedId to exactly one app school."""

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from rostersync.settings import get_settings
from rostersync.store.base import model_meta


class SchoolModel(Model):
    Meta = model_meta(get_settings().schools_table)

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


def schools_of(district_id: str):
    """Every school of a district (a district has tens to hundreds: one query)."""
    return SchoolModel.query(district_id)
