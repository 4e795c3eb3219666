"""Teachers, students, classes and enrollments as the app reads them.

Each item carries what the sync needs to be cheap and safe:
- sisSourcedId: the SIS's id; the item's own id is rostersync.ids.record_id(district, kind, sourcedId);
- contentHash: hash of the mapped fields; same hash and status means unchanged, so no write;
- status (active | inactive): records are never erased, only set inactive;
- lastRunId / updatedAt: which run last wrote the item, and when;
- deactivatedBy: the run that set it inactive (sync/delta.py re-plans a crashed finish with it).
Index keys join the district with the value so no query can cross districts.
"""

from pynamodb.attributes import BooleanAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from rostersync.settings import get_settings
from rostersync.store.attributes import string_list, table_meta

ACTIVE = "active"
INACTIVE = "inactive"


def index_key(district_id: str, value: str) -> str:
    return f"{district_id}#{value}"


def _index_meta(name: str) -> type:
    class Meta:
        index_name = name
        projection = AllProjection()

    return Meta


class RosterItem(Model):
    """Attributes every roster item has."""

    sis_sourced_id = UnicodeAttribute(attr_name="sisSourcedId", null=True)  # none on unlinked app records
    origin = UnicodeAttribute(null=True)  # "app" for app-made records (store/app_records.py); else the SIS's
    status = UnicodeAttribute(default=ACTIVE)
    sis_status = UnicodeAttribute(attr_name="sisStatus", null=True)
    content_hash = UnicodeAttribute(attr_name="contentHash", null=True)
    updated_at = UTCDateTimeAttribute(attr_name="updatedAt")
    last_run_id = UnicodeAttribute(attr_name="lastRunId", null=True)
    # updatedAt + "#" + id, the item's place in the ByChange index (store/change_keys.py).
    change_seq = UnicodeAttribute(attr_name="changeSeq", null=True)


def by_change_index() -> GlobalSecondaryIndex:
    """A district's items in the order they were last written (every roster table has one; an
    index class per model, as pynamodb binds an index's Meta to its model)."""

    class ByChange(GlobalSecondaryIndex):
        Meta = _index_meta("ByChange")
        district_id = UnicodeAttribute(hash_key=True, attr_name="districtId")
        change_seq = UnicodeAttribute(range_key=True, attr_name="changeSeq")

    return ByChange()


class UsersByRole(GlobalSecondaryIndex):
    Meta = _index_meta("ByRole")
    district_role = UnicodeAttribute(hash_key=True, attr_name="districtRole")
    user_id = UnicodeAttribute(range_key=True, attr_name="userId")


class UserChangesByRole(GlobalSecondaryIndex):
    """One role's changes (GET /users?role=&updatedSince=): keyed by attributes every user has."""

    Meta = _index_meta("RoleChanges")
    district_role = UnicodeAttribute(hash_key=True, attr_name="districtRole")
    change_seq = UnicodeAttribute(range_key=True, attr_name="changeSeq")


class UsersByEmail(GlobalSecondaryIndex):
    """Teachers by email, lowercased: "districtId#email" (keys only)."""

    class Meta:
        index_name = "ByEmail"
        projection = KeysOnlyProjection()

    district_email = UnicodeAttribute(hash_key=True, attr_name="districtEmail")
    user_id = UnicodeAttribute(range_key=True, attr_name="userId")


class UsersByIdentity(GlobalSecondaryIndex):
    """SIS users by "districtId#id:<identifier>" (else their email), keys only: a user under a
    new sourcedId is found by it (sync/rekeys.py; sync/mapping.py sets it)."""

    class Meta:
        index_name = "ByIdentity"
        projection = KeysOnlyProjection()

    district_identity = UnicodeAttribute(hash_key=True, attr_name="districtIdentity")
    user_id = UnicodeAttribute(range_key=True, attr_name="userId")


# ---------------------------------------------------------------- roster search (issue 26)
# Three indexes serve GET .../users?q= (store/roster_queries.py search_users): the district's
# teachers or students by family then given name (ByName, a prefix of the name), and exact
# matches on email and username (keys only). Every user write sets their keys (sync/mapping.py,
# store/app_records.py, both through search_keys); an SIS id is found by its record id.


def name_key(family_name: str | None, given_name: str | None) -> str:
    """ByName's sort key: "family given", case and spacing folded (so sorted by family name; DynamoDB
    orders equal names by the table's key). Never empty: a key attribute cannot be."""
    return f"{fold(family_name)} {fold(given_name)}"[:200]


def fold(text: str | None) -> str:
    return " ".join(str(text or "").split()).casefold()


def search_keys(district_id: str, values: dict) -> dict:
    """The search indexes' attributes of a user item built from its API-shaped fields."""
    keys = {"nameKey": name_key(values.get("familyName"), values.get("givenName"))}
    for attribute, field in (("districtSearchEmail", "email"), ("districtUsername", "username")):
        if fold(values.get(field)):
            keys[attribute] = index_key(district_id, fold(values.get(field))[:200])
    return keys


class UsersByName(GlobalSecondaryIndex):
    Meta = _index_meta("ByName")
    district_role = UnicodeAttribute(hash_key=True, attr_name="districtRole")
    name_key = UnicodeAttribute(range_key=True, attr_name="nameKey")


class UsersBySearchEmail(GlobalSecondaryIndex):
    """Teachers and students by email, case folded: "districtId#email" (keys only)."""

    class Meta:
        index_name = "BySearchEmail"
        projection = KeysOnlyProjection()

    district_search_email = UnicodeAttribute(hash_key=True, attr_name="districtSearchEmail")
    user_id = UnicodeAttribute(range_key=True, attr_name="userId")


class UsersByUsername(GlobalSecondaryIndex):
    """Teachers and students by username, case folded: "districtId#username" (keys only)."""

    class Meta:
        index_name = "ByUsername"
        projection = KeysOnlyProjection()

    district_username = UnicodeAttribute(hash_key=True, attr_name="districtUsername")
    user_id = UnicodeAttribute(range_key=True, attr_name="userId")


# ---------------------------------------------------------------- end of roster search


# ---------------------------------------------------------------- list-valued filters (issue 31)
# A GSI key is one value; a user's schoolIds and a class's termIds are lists. Each item carries its
# memberships as keys of its own, computed from its values whenever it is built (key_slots): its
# first and second school (term), in sorted order, in two slot indexes, or, with more than two,
# one overflow partition of its kind (read filtered: such items are rare). DynamoDB keeps every
# index entry with the item on every write path, so there is no membership item to delete when a
# user leaves a school. A read of one school (term) merges the slots' and overflow's partitions by
# id (store/roster_queries.py, _merged_page): items read = items returned + one page, plus the
# overflow's items of other schools (terms). A change read of one school (term) merges the same
# partitions of the change-ordered copies of these indexes (same hash keys, changeSeq the range) by
# changeSeq (_merged_change_page).
MEMBERSHIP_SLOTS = 2


def key_slots(prefix: str, slot_attributes: tuple[str, ...], overflow_attribute: str, values) -> dict[str, str]:
    """{attribute: key}: each of `values` (deduplicated, sorted) in a slot as "<prefix>#<value>", or,
    past the slots, only the overflow key "<prefix>" (an item is in one index per value read)."""
    unique = sorted({v for v in values or () if v})
    if len(unique) > len(slot_attributes):
        return {overflow_attribute: prefix}
    return {attribute: f"{prefix}#{value}" for attribute, value in zip(slot_attributes, unique, strict=False)}


USER_SCHOOL_SLOTS = ("districtSchoolRole1", "districtSchoolRole2")
USER_MANY_SCHOOLS = "districtRoleManySchools"
CLASS_TERM_SLOTS = ("districtTerm1", "districtTerm2")
CLASS_MANY_TERMS = "districtManyTerms"


def school_keys(district_id: str, role: str, school_ids) -> dict[str, str]:
    """A user's membership keys: "districtId#role#schoolId" per school (role first: the partition
    answers users?role=&schoolId=), or "districtId#role" in the overflow."""
    return key_slots(index_key(district_id, role), USER_SCHOOL_SLOTS, USER_MANY_SCHOOLS, school_ids)


def term_keys(district_id: str, term_ids) -> dict[str, str]:
    """A class's membership keys: "districtId#termId" per term, or "districtId" in the overflow."""
    return key_slots(district_id, CLASS_TERM_SLOTS, CLASS_MANY_TERMS, term_ids)


def _slot_index(name: str, hash_attribute: str, range_attribute: str, range_name: str) -> GlobalSecondaryIndex:
    """A slot or overflow index (an index class per index: pynamodb binds an index's Meta to it)."""
    attributes = {
        "Meta": _index_meta(name),
        "hash_value": UnicodeAttribute(hash_key=True, attr_name=hash_attribute),
        range_name: UnicodeAttribute(range_key=True, attr_name=range_attribute),
    }
    return type(name, (GlobalSecondaryIndex,), attributes)()


# ---------------------------------------------------------------- end of list-valued filters


class UserModel(RosterItem):
    Meta = table_meta(get_settings().users_table)

    district_id = UnicodeAttribute(hash_key=True, attr_name="districtId")
    user_id = UnicodeAttribute(range_key=True, attr_name="userId")
    district_role = UnicodeAttribute(attr_name="districtRole")
    by_role = UsersByRole()
    role_changes = UserChangesByRole()
    district_email = UnicodeAttribute(attr_name="districtEmail", null=True)  # teachers with an email
    by_email = UsersByEmail()
    district_identity = UnicodeAttribute(attr_name="districtIdentity", null=True)  # SIS users with an identity
    by_identity = UsersByIdentity()
    by_change = by_change_index()
    # Roster search (issue 26): see search_keys.
    name_key = UnicodeAttribute(attr_name="nameKey", null=True)
    by_name = UsersByName()
    district_search_email = UnicodeAttribute(attr_name="districtSearchEmail", null=True)
    by_search_email = UsersBySearchEmail()
    district_username = UnicodeAttribute(attr_name="districtUsername", null=True)
    by_username = UsersByUsername()
    # users?schoolId= (issue 31): see school_keys.
    district_school_role_1 = UnicodeAttribute(attr_name="districtSchoolRole1", null=True)
    district_school_role_2 = UnicodeAttribute(attr_name="districtSchoolRole2", null=True)
    district_role_many_schools = UnicodeAttribute(attr_name="districtRoleManySchools", null=True)
    by_school_1 = _slot_index("BySchoolRole1", "districtSchoolRole1", "userId", "user_id")
    by_school_2 = _slot_index("BySchoolRole2", "districtSchoolRole2", "userId", "user_id")
    many_schools = _slot_index("ManySchools", "districtRoleManySchools", "userId", "user_id")
    # users?schoolId=&updatedSince=: the same partitions in change order.
    school_changes_1 = _slot_index("SchoolRoleChanges1", "districtSchoolRole1", "changeSeq", "change_seq")
    school_changes_2 = _slot_index("SchoolRoleChanges2", "districtSchoolRole2", "changeSeq", "change_seq")
    many_schools_changes = _slot_index("ManySchoolsChanges", "districtRoleManySchools", "changeSeq", "change_seq")

    role = UnicodeAttribute()  # teacher | student
    given_name = UnicodeAttribute(attr_name="givenName", null=True)
    family_name = UnicodeAttribute(attr_name="familyName", null=True)
    # OneRoster 1.2 only (absent for users read over 1.1)
    preferred_given_name = UnicodeAttribute(attr_name="preferredGivenName", null=True)
    preferred_family_name = UnicodeAttribute(attr_name="preferredFamilyName", null=True)
    pronouns = UnicodeAttribute(null=True)
    email = UnicodeAttribute(null=True)
    username = UnicodeAttribute(null=True)
    identifier = UnicodeAttribute(null=True)
    grades = string_list(default=list)
    school_ids = string_list(attr_name="schoolIds", default=list)

    def serialize(self, null_check: bool = True) -> dict:
        """Every save and batch save writes the membership keys of the user's schools as they are now."""
        keys = school_keys(self.district_id, self.role, self.school_ids) if self.role else {}
        self.district_school_role_1 = keys.get(USER_SCHOOL_SLOTS[0])
        self.district_school_role_2 = keys.get(USER_SCHOOL_SLOTS[1])
        self.district_role_many_schools = keys.get(USER_MANY_SCHOOLS)
        return super().serialize(null_check)


class ClassesBySchool(GlobalSecondaryIndex):
    Meta = _index_meta("BySchool")
    district_school = UnicodeAttribute(hash_key=True, attr_name="districtSchool")
    class_id = UnicodeAttribute(range_key=True, attr_name="classId")


class ClassChangesBySchool(GlobalSecondaryIndex):
    """One school's class changes (GET /classes?schoolId=&updatedSince=): keys every class has."""

    Meta = _index_meta("SchoolChanges")
    district_school = UnicodeAttribute(hash_key=True, attr_name="districtSchool")
    change_seq = UnicodeAttribute(range_key=True, attr_name="changeSeq")


class ClassModel(RosterItem):
    Meta = table_meta(get_settings().classes_table)

    district_id = UnicodeAttribute(hash_key=True, attr_name="districtId")
    class_id = UnicodeAttribute(range_key=True, attr_name="classId")
    district_school = UnicodeAttribute(attr_name="districtSchool")
    by_school = ClassesBySchool()
    school_changes = ClassChangesBySchool()
    by_change = by_change_index()
    # classes?termId= (issue 31): see term_keys.
    district_term_1 = UnicodeAttribute(attr_name="districtTerm1", null=True)
    district_term_2 = UnicodeAttribute(attr_name="districtTerm2", null=True)
    district_many_terms = UnicodeAttribute(attr_name="districtManyTerms", null=True)
    by_term_1 = _slot_index("ByTerm1", "districtTerm1", "classId", "class_id")
    by_term_2 = _slot_index("ByTerm2", "districtTerm2", "classId", "class_id")
    many_terms = _slot_index("ManyTerms", "districtManyTerms", "classId", "class_id")
    # classes?termId=&updatedSince=: the same partitions in change order.
    term_changes_1 = _slot_index("TermChanges1", "districtTerm1", "changeSeq", "change_seq")
    term_changes_2 = _slot_index("TermChanges2", "districtTerm2", "changeSeq", "change_seq")
    many_terms_changes = _slot_index("ManyTermsChanges", "districtManyTerms", "changeSeq", "change_seq")

    title = UnicodeAttribute(null=True)
    class_code = UnicodeAttribute(attr_name="classCode", null=True)
    school_id = UnicodeAttribute(attr_name="schoolId")
    grades = string_list(default=list)
    subjects = string_list(default=list)
    term_ids = string_list(attr_name="termIds", default=list)  # its sessions' termIds

    def serialize(self, null_check: bool = True) -> dict:
        """Every save and batch save writes the membership keys of the class's terms as they are now."""
        keys = term_keys(self.district_id, self.term_ids)
        self.district_term_1 = keys.get(CLASS_TERM_SLOTS[0])
        self.district_term_2 = keys.get(CLASS_TERM_SLOTS[1])
        self.district_many_terms = keys.get(CLASS_MANY_TERMS)
        return super().serialize(null_check)


class EnrollmentsByClass(GlobalSecondaryIndex):
    Meta = _index_meta("ByClass")
    district_class = UnicodeAttribute(hash_key=True, attr_name="districtClass")
    enrollment_id = UnicodeAttribute(range_key=True, attr_name="enrollmentId")


class EnrollmentsByUser(GlobalSecondaryIndex):
    Meta = _index_meta("ByUser")
    district_user = UnicodeAttribute(hash_key=True, attr_name="districtUser")
    enrollment_id = UnicodeAttribute(range_key=True, attr_name="enrollmentId")


# Change reads of one class's or one user's enrollments (GET .../classes/{id}/students?updatedSince=,
# .../users/{id}/classes?updatedSince=, /enrollments?classId=|userId=&updatedSince=): a key-condition
# query on the partition answered, not the district's ByChange filtered. Their keys are attributes
# every enrollment already has (districtClass, districtUser, changeSeq), so writes add nothing.
class EnrollmentChangesByClass(GlobalSecondaryIndex):
    Meta = _index_meta("ClassChanges")
    district_class = UnicodeAttribute(hash_key=True, attr_name="districtClass")
    change_seq = UnicodeAttribute(range_key=True, attr_name="changeSeq")


class EnrollmentChangesByUser(GlobalSecondaryIndex):
    Meta = _index_meta("UserChanges")
    district_user = UnicodeAttribute(hash_key=True, attr_name="districtUser")
    change_seq = UnicodeAttribute(range_key=True, attr_name="changeSeq")


# enrollments?role= (issue 31): an enrollment's role is one value, known when it is written.
class EnrollmentsByRole(GlobalSecondaryIndex):
    Meta = _index_meta("ByRole")
    district_role = UnicodeAttribute(hash_key=True, attr_name="districtRole")
    enrollment_id = UnicodeAttribute(range_key=True, attr_name="enrollmentId")


class EnrollmentChangesByRole(GlobalSecondaryIndex):
    Meta = _index_meta("RoleChanges")
    district_role = UnicodeAttribute(hash_key=True, attr_name="districtRole")
    change_seq = UnicodeAttribute(range_key=True, attr_name="changeSeq")


class EnrollmentModel(RosterItem):
    Meta = table_meta(get_settings().enrollments_table)

    district_id = UnicodeAttribute(hash_key=True, attr_name="districtId")
    enrollment_id = UnicodeAttribute(range_key=True, attr_name="enrollmentId")
    district_class = UnicodeAttribute(attr_name="districtClass")
    district_user = UnicodeAttribute(attr_name="districtUser")
    by_class = EnrollmentsByClass()
    by_user = EnrollmentsByUser()
    by_change = by_change_index()
    class_changes = EnrollmentChangesByClass()
    user_changes = EnrollmentChangesByUser()
    district_role = UnicodeAttribute(attr_name="districtRole", null=True)  # "districtId#role"
    by_role = EnrollmentsByRole()
    role_changes = EnrollmentChangesByRole()

    class_id = UnicodeAttribute(attr_name="classId")
    user_id = UnicodeAttribute(attr_name="userId")
    class_sourced_id = UnicodeAttribute(attr_name="classSourcedId")
    user_sourced_id = UnicodeAttribute(attr_name="userSourcedId")
    role = UnicodeAttribute()  # teacher | student
    primary = BooleanAttribute(null=True)
    begin_date = UnicodeAttribute(attr_name="beginDate", null=True)
    end_date = UnicodeAttribute(attr_name="endDate", null=True)

    def serialize(self, null_check: bool = True) -> dict:
        """Every save and batch save writes the role key (ByRole, RoleChanges)."""
        self.district_role = index_key(self.district_id, self.role) if self.role else None
        return super().serialize(null_check)
