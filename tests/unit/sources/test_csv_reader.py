"""The CSV bundle reader alone (sources/csv_reader.py): exact resumption from any page's byte
position, the version pinned, delta and absent files, 1.2 users joined with roles.csv as 1.2 REST
gives them, bad rows named by file and line, and memory bounded by a page of rows."""

import tracemalloc
from datetime import UTC, datetime

import pytest

from rostersync.oneroster.records import BadRecord, parse_records
from rostersync.sources.csv_bundle import Bundle
from rostersync.sources.csv_reader import BundleUnusable, CsvBundleReader, MemoryFiles
from rostersync_tools.sandbox_sis import v1p2

USERS_HEADER = "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,givenName,familyName,email"


def users_csv(n: int, bom: bool = True) -> bytes:
    lines = [USERS_HEADER]
    for i in range(n):
        given = f'"Ann\nMarie {i}"' if i % 7 == 0 else f"Ann{i}"  # a quoted field over two lines
        family = f'"O""Neil, {i}"' if i % 5 == 0 else f"Fam{i}"
        lines.append(f'u{i},,,true,"s1,s2",student,{given},{family},u{i}@x.org')
        if i % 11 == 0:
            lines.append("")  # a blank line is no record
    return (b"\xef\xbb\xbf" if bom else b"") + "\r\n".join(lines).encode() + b"\r\n"


def bundle(files: dict, version: str = "1.1", headers: dict | None = None) -> Bundle:
    return Bundle(version, files, headers or {"users": tuple(USERS_HEADER.split(","))})


def read_all(reader: CsvBundleReader, **at) -> list:
    return [page for page in reader.users(**at)]


@pytest.mark.parametrize("chunk", [5, 64, 1 << 16])
def test_a_read_resumed_at_any_page_position_gives_exactly_the_rest(chunk):
    files = MemoryFiles({"users": users_csv(120)}, chunk=chunk)
    reader = CsvBundleReader(bundle({"users": "bulk"}), files, page_rows=9)
    pages = read_all(reader)
    everything = [r.sourced_id for p in pages for r in p.records]
    assert everything == [f"u{i}" for i in range(120)]
    assert pages[3].records[0].given_name == "Ann\nMarie 27" or any(
        "\n" in r.given_name for p in pages for r in p.records
    )
    for page in pages:
        assert page.position["byte"] > 0 and page.position["file"] == "users"
        resumed = read_all(CsvBundleReader(reader.bundle, files, page_rows=9), start=page.offset, resume=page.position)
        assert [r.sourced_id for p in resumed for r in p.records] == everything[page.offset :]
        assert [p.offset for p in resumed] == [p.offset for p in pages if p.offset >= page.offset]
        assert resumed[0].position == page.position
        assert [r for p in resumed for r in p.records] == [r for p in pages for r in p.records][page.offset :]


def test_without_a_position_start_reads_past_that_many_rows():
    files = MemoryFiles({"users": users_csv(30)})
    reader = CsvBundleReader(bundle({"users": "bulk"}), files, page_rows=4)
    assert [r.sourced_id for p in reader.users(start=25) for r in p.records] == [f"u{i}" for i in range(25, 30)]


def test_a_file_changed_since_its_position_fails_the_read():
    reader = CsvBundleReader(bundle({"users": "bulk"}), MemoryFiles({"users": users_csv(30)}), page_rows=4)
    position = read_all(reader)[2].position
    changed = CsvBundleReader(reader.bundle, MemoryFiles({"users": users_csv(31)}), page_rows=4)
    with pytest.raises(BundleUnusable) as failed:
        read_all(changed, start=8, resume=position)
    assert "users.csv changed while this run was reading it" in str(failed.value)
    assert failed.value.code == "bundle_unusable"


def test_delta_and_absent_files():
    files = MemoryFiles({"users": users_csv(5)})
    delta = CsvBundleReader(bundle({"users": "delta", "classes": "absent", "orgs": "bulk"}), files)
    assert delta.has_change_cursor
    since = datetime(2026, 1, 1, tzinfo=UTC)
    assert len([r for p in delta.users(changed_since=since) for r in p.records]) == 5
    assert list(delta.classes(changed_since=since)) == []  # absent: nothing changed
    with pytest.raises(BundleUnusable, match="delta file, but this run is a full sync"):
        list(delta.users())
    assert not CsvBundleReader(bundle({"users": "bulk"}), files).has_change_cursor


V1P2_USERS = (
    "sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,middleName,identifier,"
    "email,grades,userMasterIdentifier,preferredFirstName,preferredLastName,primaryOrgSourcedId,pronouns"
)
ROLES = "sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,orgSourcedId"


def test_a_1_2_user_and_its_roles_read_as_1_2_rest_gives_the_user():
    users = "\r\n".join(
        [
            V1P2_USERS,
            'u1,active,2026-01-02T00:00:00.000Z,true,ann,"{LDAP:ann}",Ann,Lee,,ID1,ann@x.org,"09,10",ID1,Annie,Lee,s2,she/her',
            "u2,,,true,bo,,Bo,Ma,,ID2,bo@x.org,11,ID2,,,s1,",
            "u3,,,true,cy,,Cy,No,,ID3,cy@x.org,11,ID3,,,s1,",
        ]
    )
    roles = "\r\n".join(
        [
            ROLES,
            "r2,,,u2,primary,teacher,,,s1",
            "r1,,,u1,primary,student,,,s2",
            "r1b,,,u1,primary,student,,,s1",  # one primary role per org (the 1.2 information model)
            "r1c,tobedeleted,,u1,secondary,student,,,s3",
            "r3,,,u3,primary,wizard,,,s1",
        ]
    )
    files = MemoryFiles({"users": users.encode(), "roles": roles.encode()})
    headers = {"users": tuple(V1P2_USERS.split(",")), "roles": tuple(ROLES.split(","))}
    reader = CsvBundleReader(Bundle("1.2", {"users": "bulk", "roles": "bulk"}, headers), files, page_rows=2)
    records = [r for p in reader.users() for r in p.records]
    rest = v1p2.user(
        {
            "sourcedId": "u1",
            "status": "active",
            "dateLastModified": "2026-01-02T00:00:00.000Z",
            "enabledUser": "true",
            "username": "ann",
            "userIds": [{"type": "LDAP", "identifier": "ann"}],
            "givenName": "Ann",
            "familyName": "Lee",
            "identifier": "ID1",
            "email": "ann@x.org",
            "grades": ["09", "10"],
            "role": "student",
            "orgs": [{"sourcedId": "s2"}, {"sourcedId": "s1"}],
        }
    )
    rest.update(preferredFirstName="Annie", preferredLastName="Lee", pronouns="she/her")
    assert records[0] == parse_records("users", [rest], "1.2")[0]
    assert records[0].org_ids == ("s2", "s1") and records[0].pronouns == "she/her"
    assert records[1].role == "teacher" and records[1].org_ids == ("s1",)
    bad = records[2]
    assert isinstance(bad, BadRecord) and "users.csv line 4" in bad.message and "wizard" in bad.message


def test_a_bad_date_is_a_bad_record_naming_file_and_line():
    header = "sourcedId,classSourcedId,schoolSourcedId,userSourcedId,role,status,dateLastModified,beginDate"
    rows = [header, "e1,c1,s1,u1,student,,,2026-01-01", "e2,c1,s1,u2,student,,,not-a-date"]
    files = MemoryFiles({"enrollments": "\n".join(rows).encode()})
    reader = CsvBundleReader(Bundle("1.1", {"enrollments": "bulk"}, {"enrollments": tuple(header.split(","))}), files)
    records = [r for p in reader.enrollments() for r in p.records]
    assert not isinstance(records[0], BadRecord)
    assert isinstance(records[1], BadRecord) and records[1].message.startswith("enrollments.csv line 3:")


class GeneratedFiles:
    """users.csv of n rows made as it is read: nothing held but the chunk being handed out."""

    def __init__(self, n: int):
        self.n = n

    def read(self, name, start, version):
        def chunks():
            yield (USERS_HEADER + "\n").encode()
            for first in range(0, self.n, 500):
                yield "".join(
                    f"u{i},,,true,s1,student,Given{i},Family{i},u{i}@x.org\n" for i in range(first, first + 500)
                ).encode()

        return "v1", chunks()


def peak_reading(n: int) -> int:
    reader = CsvBundleReader(bundle({"users": "bulk"}), GeneratedFiles(n), page_rows=200)
    tracemalloc.start()
    count = sum(len(p.records) for p in reader.users())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == n
    return peak


def test_memory_is_bounded_by_a_page_whatever_the_file_size():
    small, large = peak_reading(2_000), peak_reading(20_000)
    assert large <= 1.25 * small, (small, large)
