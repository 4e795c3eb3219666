"""OneRoster CSV bundles as a source (issue 27), through the same engine: the sandbox district
synced once over REST and once from its CSV bundle (checked, split into S3 objects, read back as
streams) gives the same roster record by record; a run cut into many invocations, each with a
reader of its own (another container), ends the same; bad bundles fail before any write, with
the file and the problem named; bad rows are errors naming file and line."""

import csv
import io
import zipfile
from datetime import datetime

import pytest

from rostersync import aws_clients
from rostersync.sources import SourceReader, csv_bundle
from rostersync.sources.csv_bundle import BundleError
from rostersync.sources.csv_files import S3BundleFiles, file_key, stage_bundle
from rostersync.sources.csv_reader import CsvBundleReader
from rostersync.store.batch import BatchStore
from rostersync.sync import run_state
from rostersync.sync.checkpoint import CheckpointStore
from rostersync.sync.engine import Outcome, SyncRequest, run_sync
from rostersync_tools.sandbox_sis.csv_export import export_bundle
from rostersync_tools.sandbox_sis.timestamps import parse_instant
from tests.fixtures.districts import connect_district
from tests.fixtures.roster_oracle import expected_roster
from tests.fixtures.synced_roster import synced_roster as roster
from tests.integration.test_sync_engine import assert_matches, sync

BUCKET = "rostersync-test-bundles"
V1P2_USER_FIELDS = ("preferred_given_name", "preferred_family_name", "pronouns")


def bundle_bytes(data: dict, version: str = "1.1", delta_since: datetime | None = None) -> bytes:
    out = io.BytesIO()
    export_bundle(data, out, version, delta_since)
    return out.getvalue()


@pytest.fixture
def bucket(aws):
    s3 = aws_clients.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    return BUCKET


def csv_sync(district, run_id, bundle, prefix, time_left=lambda: 1e9, page_rows=1000, mode="full"):
    invocations = 0
    while True:
        invocations += 1
        reader = CsvBundleReader(bundle, S3BundleFiles(BUCKET, prefix), page_rows=page_rows)  # a fresh container
        result = run_sync(SyncRequest(district, run_id, mode=mode), time_left, source=reader)
        if result.outcome != Outcome.CONTINUE:
            result.invocations = invocations
            return result


def assert_same_roster(over_rest, over_csv, user_fields=()):
    rest, csv_ = roster(over_rest, user_fields), roster(over_csv, user_fields)
    for kind in ("users", "classes", "enrollments"):
        assert rest[kind], kind
        assert rest[kind].keys() == csv_[kind].keys(), kind
        differing = [sid for sid in rest[kind] if rest[kind][sid] != csv_[kind][sid]]
        assert not differing, (kind, [(rest[kind][s], csv_[kind][s]) for s in differing[:2]])


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_rest_and_csv_of_one_district_sync_to_the_same_roster(make_sandbox_sis, bucket, version):
    sis = make_sandbox_sis(versions=("1.1", "1.2"))
    raw = sis.state()
    prefix = f"districts/d1/bundles/v{version}"
    bundle = stage_bundle(io.BytesIO(bundle_bytes(raw["data"], version)), bucket, prefix)
    assert bundle.version == version and set(bundle.versions) == {n for n, m in bundle.files.items() if m == "bulk"}
    assert isinstance(CsvBundleReader(bundle, S3BundleFiles(bucket, prefix)), SourceReader)
    over_rest = connect_district(sis, version=version)
    over_csv = connect_district(sis)
    assert sync(over_rest).outcome == Outcome.SUCCEEDED
    stats = sis.stats()
    result = csv_sync(over_csv, "run_csv_1", bundle, prefix)
    assert result.outcome == Outcome.SUCCEEDED, result.failure
    assert sis.stats() == stats  # the CSV sync read only the bundle
    assert_matches(over_csv, expected_roster(raw))
    assert_same_roster(over_rest, over_csv, V1P2_USER_FIELDS if version == "1.2" else ())
    if version == "1.2":  # the 1.2-only fields came through, on some users
        users = roster(over_csv, V1P2_USER_FIELDS)["users"].values()
        assert any(u[-1] for u in users) and any(u[-3] for u in users)


@pytest.fixture
def csv_connection(monkeypatch):
    """Districts whose runs plan a staged bundle, as the delivery side plans them: the
    connection {"kind": "oneroster_csv", "bundle": {...}} (sources/opening.py)."""
    planned = {}

    def plan(district_id, bucket, prefix, bundle):
        planned[district_id] = {
            "kind": "oneroster_csv",
            "bundle": {
                "bucket": bucket,
                "prefix": prefix,
                "bundleId": prefix.rsplit("/", 1)[-1],
                "manifest": bundle.to_json(),
            },
        }

    real = run_state.RunPlan.of_district.__func__

    def of_district(cls, district, secret_version):
        plan_ = real(cls, district, secret_version)
        if district.district_id in planned:
            plan_.connection = planned[district.district_id]
        return plan_

    monkeypatch.setattr(run_state.RunPlan, "of_district", classmethod(of_district))
    return plan


def test_a_csv_run_continued_on_other_containers_reads_on_from_its_byte_offset(
    sandbox_sis, bucket, csv_connection, monkeypatch
):
    raw = sandbox_sis.state()
    prefix = "districts/d2/bundles/b1"
    bundle = stage_bundle(io.BytesIO(bundle_bytes(raw["data"])), bucket, prefix)
    district = connect_district(sandbox_sis)
    csv_connection(district, bucket, prefix, bundle)
    monkeypatch.setenv("ROSTERSYNC_SIS_PAGE_LIMIT", "37")
    reads = []
    real_read = S3BundleFiles.read

    def read(self, name, start, version):
        reads.append((name, start, version))
        return real_read(self, name, start, version)

    monkeypatch.setattr(S3BundleFiles, "read", read)
    run_id, positions, invocations = "run_csv_sliced", [], 0
    while True:  # each invocation a fresh engine and reader, opened from the run's plan: another container
        invocations += 1
        clock = iter([1e9] * 3)  # three looks at the clock, then out of time
        result = run_sync(SyncRequest(district, run_id), lambda clock=clock: next(clock, 0))
        if result.outcome != Outcome.CONTINUE:
            break
        saved = CheckpointStore(BatchStore(), district, run_id).load()
        positions.append(saved.position)
        assert "/tmp" not in repr(saved.to_json())
        if saved.position is not None:  # the saved offset and byte position name the same page
            engine_reads, start = len(reads), saved.offset - saved.last_page_size
            stream = getattr(CsvBundleReader(bundle, S3BundleFiles(bucket, prefix), 37), str(saved.phase))
            resumed = next(stream(start=start, resume=saved.position))
            whole = [r for page in stream() for r in page.records]
            assert resumed.offset == start and resumed.records[0] == whole[start], saved.phase
            del reads[engine_reads:]  # the check's own reads are not the engine's
    assert result.outcome == Outcome.SUCCEEDED, result.failure
    assert invocations > 5
    assert_matches(district, expected_roster(raw))
    mid_file = [p for p in positions if p and p["byte"] > 0]
    assert mid_file and all(p["version"] == bundle.versions[p["file"]] for p in mid_file)
    # every continued read began at a saved byte offset, at the version the bundle was staged as
    resumed = [(name, start) for name, start, _ in reads if start]
    assert resumed and all(version == bundle.versions[name] for name, _, version in reads)
    assert {(p["file"], p["byte"]) for p in mid_file} >= set(resumed)
    # and no file read again from its start at every invocation
    for name in ("users", "enrollments"):
        again = sum(1 for n, start, _ in reads if n == name and start == 0)
        assert again <= 2, (name, again)


def test_a_bundle_changed_under_a_running_sync_fails_the_run_without_mixing(sandbox_sis, bucket, csv_connection):
    raw = sandbox_sis.state()
    prefix = "districts/d3/bundles/b1"
    bundle = stage_bundle(io.BytesIO(bundle_bytes(raw["data"])), bucket, prefix)
    district = connect_district(sandbox_sis)
    csv_connection(district, bucket, prefix, bundle)
    clock = iter([1e9] * 3)
    assert run_sync(SyncRequest(district, "run_changed"), lambda: next(clock, 0)).outcome == Outcome.CONTINUE
    s3 = aws_clients.client("s3")
    key = file_key(prefix, "enrollments")
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    s3.put_object(Bucket=bucket, Key=key, Body=body + b"\r\n")  # another bundle landed on the same key
    result = run_sync(SyncRequest(district, "run_changed"), lambda: 1e9)
    assert result.outcome == Outcome.FAILED
    assert "enrollments.csv changed while this run was reading it" in result.failure
    assert CheckpointStore(BatchStore(), district, "run_changed").load() is None


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_a_delta_bundle_applies_what_changed_like_a_rest_delta(make_sandbox_sis, bucket, csv_connection, version):
    sis = make_sandbox_sis(versions=("1.1", "1.2"))
    over_rest, over_csv = connect_district(sis, version=version), connect_district(sis)
    prefix = f"districts/d4-{version}/bundles"
    full = stage_bundle(io.BytesIO(bundle_bytes(sis.state()["data"], version)), bucket, f"{prefix}/full")
    csv_connection(over_csv, bucket, f"{prefix}/full", full)
    assert sync(over_rest).outcome == Outcome.SUCCEEDED
    assert run_sync(SyncRequest(over_csv, "run_full"), lambda: 1e9).outcome == Outcome.SUCCEEDED
    before = sis.state()["data"]
    since = max(
        parse_instant(r["dateLastModified"])
        for name in ("users", "classes", "enrollments")
        for r in before[name]
        if r.get("dateLastModified")
    )
    changes = sis.advance_day()["changes"]
    assert changes
    payload = bundle_bytes(sis.state()["data"], version, delta_since=since)
    delta = stage_bundle(io.BytesIO(payload), bucket, f"{prefix}/delta")
    assert delta.is_delta and delta.files["users"] == "delta" and delta.files["orgs"] == "bulk"
    with zipfile.ZipFile(io.BytesIO(payload)) as bundle_zip:
        rows = bundle_zip.read("enrollments.csv").decode().splitlines()
        assert 1 < len(rows) < len(before["enrollments"]) // 2  # only what changed
    csv_connection(over_csv, bucket, f"{prefix}/delta", delta)
    rest = sync(over_rest, mode="delta")
    assert rest.outcome == Outcome.SUCCEEDED and rest.mode == "delta"
    result = run_sync(SyncRequest(over_csv, "run_delta"), lambda: 1e9)  # asked as full: the bundle says delta
    assert result.outcome == Outcome.SUCCEEDED, result.failure
    assert result.mode == "delta"
    assert sum(c["created"] + c["updated"] + c["deactivated"] for c in result.counts.values()) > 0
    assert_same_roster(over_rest, over_csv, V1P2_USER_FIELDS if version == "1.2" else ())


def test_a_delta_bundle_for_a_district_never_synced_fails_before_any_write(sandbox_sis, bucket, csv_connection):
    from rostersync.store.roster import UserModel

    data = sandbox_sis.state()["data"]
    payload = bundle_bytes(data, delta_since=datetime.fromisoformat("2000-01-01T00:00:00+00:00"))
    delta = stage_bundle(io.BytesIO(payload), bucket, "districts/d5/bundles/delta")
    district = connect_district(sandbox_sis)
    csv_connection(district, bucket, "districts/d5/bundles/delta", delta)
    result = run_sync(SyncRequest(district, "run_first_delta"), lambda: 1e9)
    assert result.outcome == Outcome.FAILED
    assert "delta" in result.failure and "users.csv" in result.failure and "bulk" in result.failure
    assert UserModel.count(district) == 0


def rezip(original: bytes, change) -> bytes:
    files = {}
    with zipfile.ZipFile(io.BytesIO(original)) as source:
        for name in source.namelist():
            files[name] = source.read(name)
    change(files)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name, content in files.items():
            target.writestr(name, content)
    return out.getvalue()


def _set_manifest(files, key, value):
    lines = files["manifest.csv"].decode().splitlines()
    lines = [f"{key},{value}" if line.startswith(key + ",") else line for line in lines]
    files["manifest.csv"] = ("\r\n".join(lines) + "\r\n").encode()


BAD_BUNDLES = [
    ("not a zip", lambda f: None, b"PK-not-really", None, "not a zip file"),
    ("no manifest", lambda f: f.pop("manifest.csv"), None, None, "no manifest.csv"),
    ("unknown version", lambda f: _set_manifest(f, "oneroster.version", "1.0"), None, "manifest.csv", "'1.0'"),
    ("1.2 users without roles", lambda f: _set_manifest(f, "file.roles", "absent"), None, "manifest.csv", "roles"),
    ("missing file", lambda f: f.pop("users.csv"), None, "manifest.csv", "no users.csv"),
    ("orgs delta", lambda f: _set_manifest(f, "file.orgs", "delta"), None, "manifest.csv", "must be bulk"),
    ("courses delta", lambda f: _set_manifest(f, "file.courses", "delta"), None, "manifest.csv", "bulk or absent"),
    ("users absent", lambda f: _set_manifest(f, "file.users", "absent"), None, "manifest.csv", "must be bulk"),
    (
        "delta file without status",
        lambda f: (
            _set_manifest(f, "file.users", "delta"),
            f.__setitem__("users.csv", f["users.csv"].replace(b"status,", b"state,", 1)),
        ),
        None,
        "users.csv",
        "status",
    ),
    (
        "column missing",
        lambda f: f.__setitem__("classes.csv", f["classes.csv"].replace(b"schoolSourcedId", b"schoolId", 1)),
        None,
        "classes.csv",
        "schoolSourcedId",
    ),
    (
        "not UTF-8",
        lambda f: f.__setitem__("users.csv", f["users.csv"] + "Zo\u00eb".encode("latin-1") + b",x\r\n"),
        None,
        "users.csv",
        "not UTF-8",
    ),
]


@pytest.mark.parametrize("label, change, raw_bytes, file, words", BAD_BUNDLES, ids=[b[0] for b in BAD_BUNDLES])
def test_a_bad_bundle_fails_naming_the_file_and_the_problem(sandbox_sis, bucket, label, change, raw_bytes, file, words):
    original = bundle_bytes(sandbox_sis.state()["data"], "1.2" if label.startswith("1.2") else "1.1")
    payload = raw_bytes if raw_bytes is not None else rezip(original, change)
    prefix = f"districts/bad/{label.replace(' ', '-')}"
    with pytest.raises(BundleError) as failed:
        stage_bundle(io.BytesIO(payload), bucket, prefix)
    assert failed.value.file == file and words in str(failed.value)
    if label != "not UTF-8":  # found in the header check: nothing was put
        listed = aws_clients.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
        assert listed.get("KeyCount", 0) == 0


def test_a_zip_bomb_is_refused_before_it_is_read(bucket):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        bomb.writestr("manifest.csv", "propertyName,value\r\noneroster.version,1.1\r\n")
        bomb.writestr("users.csv", b"0" * (50 * 1024 * 1024))
    with pytest.raises(BundleError) as failed:
        stage_bundle(io.BytesIO(out.getvalue()), bucket, "districts/bomb")
    assert failed.value.file == "users.csv" and "compressed" in str(failed.value)


def test_a_bundle_too_big_once_unpacked_is_refused(sandbox_sis, bucket, monkeypatch):
    payload = bundle_bytes(sandbox_sis.state()["data"])
    monkeypatch.setattr(csv_bundle, "MAX_UNCOMPRESSED", 10_000)
    with pytest.raises(BundleError) as failed:
        stage_bundle(io.BytesIO(payload), bucket, "districts/big")
    assert failed.value.file is None and "unpacks to" in str(failed.value)
    assert aws_clients.client("s3").list_objects_v2(Bucket=bucket, Prefix="districts/big").get("KeyCount", 0) == 0


def test_bad_rows_are_skipped_as_errors_naming_file_and_line_and_the_rest_syncs(sandbox_sis, bucket):
    raw = sandbox_sis.state()
    users_by_role = {}
    for user in raw["data"]["users"]:
        users_by_role.setdefault(user["role"], []).append(user["sourcedId"])

    def spoil(files):
        lines = files["enrollments.csv"].decode().split("\r\n")
        lines[5] = ",".join(["", *lines[5].split(",")[1:]])  # line 6: no sourcedId
        cells = lines[7].split(",")
        lines[7] = ",".join([cells[0], "no-such-class", *cells[2:]])  # line 8: a class the bundle does not hold
        lines.insert(10, lines[9])  # line 11: line 10's sourcedId again
        files["enrollments.csv"] = "\r\n".join(lines).encode()
        users = files["users.csv"].decode().split("\r\n")
        cells = next(csv.reader([users[3]]))
        cells[2] = "last tuesday"  # line 4: dateLastModified is not a date
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow(cells)
        users[3] = out.getvalue()
        files["users.csv"] = "\r\n".join(users).encode()

    payload = rezip(bundle_bytes(raw["data"]), spoil)
    bundle = stage_bundle(io.BytesIO(payload), bucket, "districts/rows")
    district = connect_district(sandbox_sis)
    result = csv_sync(district, "run_csv_rows", bundle, "districts/rows")
    assert result.outcome == Outcome.SUCCEEDED, result.failure
    messages = [e.get("message", "") for e in result.errors]
    assert any("enrollments.csv line 6" in m for m in messages), messages[:5]
    assert any("users.csv line 4" in m and "last tuesday" in m for m in messages), messages[:5]
    codes = {e.get("code") for e in result.errors}
    assert {"unknown_class", "duplicate_sourced_id"} <= codes, codes
    enrollments = result.counts["enrollments"]["skippedBy"]
    users_invalid = sum(result.counts[t].get("skippedBy", {}).get("invalid", 0) for t in ("students", "teachers"))
    assert enrollments.get("invalid", 0) >= 1 and users_invalid >= 1
    assert enrollments.get("unknown_reference", 0) >= 1 and enrollments.get("duplicate", 0) >= 1


def test_the_sandbox_writes_its_district_as_a_bundle_from_the_command_line(tmp_path, capsys):
    from rostersync_tools.sandbox_sis.cli import main

    out = tmp_path / "district.zip"
    assert (
        main(
            [
                "export-csv",
                "--out",
                str(out),
                "--schools",
                "2",
                "--students",
                "30",
                "--teachers",
                "4",
                "--classes",
                "6",
                "--enrollments",
                "60",
            ]
        )
        == 0
    )
    with zipfile.ZipFile(out) as bundle:
        names = set(bundle.namelist())
        users = bundle.read("users.csv").decode().splitlines()
    assert {"manifest.csv", "orgs.csv", "users.csv", "enrollments.csv", "classes.csv"} <= names
    assert users[0].startswith("sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role")
    roles = [row[5] for row in csv.reader(users[1:])]
    assert (roles.count("student"), roles.count("teacher")) == (30, 4)
    assert "wrote" in capsys.readouterr().out


def test_the_sandbox_writes_a_1_2_delta_bundle_from_the_command_line(tmp_path):
    from rostersync_tools.sandbox_sis.cli import main

    out = tmp_path / "delta.zip"
    sizes = ["--schools", "2", "--students", "30", "--teachers", "4", "--classes", "6", "--enrollments", "60"]
    assert main(["export-csv", "--out", str(out), "--version", "1.2", "--delta-since", "2000-01-01", *sizes]) == 0
    with zipfile.ZipFile(out) as bundle:
        manifest = dict(row for row in csv.reader(bundle.read("manifest.csv").decode().splitlines()[1:]))
        users = list(csv.DictReader(bundle.read("users.csv").decode().splitlines()))
        roles = list(csv.DictReader(bundle.read("roles.csv").decode().splitlines()))
    assert manifest["oneroster.version"] == "1.2" and manifest["file.orgs"] == "bulk"
    assert {manifest[f"file.{n}"] for n in ("classes", "users", "enrollments", "roles")} == {"delta"}
    assert users and all(u["status"] in ("active", "tobedeleted") and u["primaryOrgSourcedId"] for u in users)
    assert {r["userSourcedId"] for r in roles} == {u["sourcedId"] for u in users}
    assert {r["role"] for r in roles} >= {"student", "teacher"}


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_dangling_references_and_repeated_ids_name_their_file_and_line(make_sandbox_sis, bucket, version):
    """The engine's own row errors (not the parser's) on a bundle's rows say where the row is:
    an enrollment of a class or user the bundle does not hold, a user row repeated, a user refused
    when mapped (in 1.2 a copy of the listed user, with its role at the selected schools). They keep
    their reasons (unknown_reference, duplicate), as for REST; the rest of the bundle syncs."""
    sandbox_sis = make_sandbox_sis(versions=("1.1", "1.2"))
    raw = sandbox_sis.state()

    def spoil(files):
        enrollments = files["enrollments.csv"].decode().split("\r\n")
        header = next(csv.reader([enrollments[0]]))
        for number, column, value in ((4, "classSourcedId", "no-such-class"), (6, "userSourcedId", "no-such-user")):
            cells = next(csv.reader([enrollments[number - 1]]))
            cells[header.index(column)] = value
            out = io.StringIO()
            csv.writer(out, lineterminator="").writerow(cells)
            enrollments[number - 1] = out.getvalue()
        files["enrollments.csv"] = "\r\n".join(enrollments).encode()
        users = files["users.csv"].decode().split("\r\n")
        users.insert(5, users[2])  # line 6 repeats line 3's user
        user_header = next(csv.reader([users[0]]))
        cells = next(csv.reader([users[8]]))
        assert cells[user_header.index("status")] == "active"
        cells[user_header.index("givenName")] = "x" * 2_001  # line 9: refused when mapped (a copy of the row's user)
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow(cells)
        users[8] = out.getvalue()
        files["users.csv"] = "\r\n".join(users).encode()

    payload = rezip(bundle_bytes(raw["data"], version), spoil)
    bundle = stage_bundle(io.BytesIO(payload), bucket, f"districts/refs{version}")
    district = connect_district(sandbox_sis)
    result = csv_sync(district, "run_csv_refs", bundle, f"districts/refs{version}", page_rows=2)  # pages split the rows
    assert result.outcome == Outcome.SUCCEEDED, result.failure
    by_code: dict[str, list[str]] = {}
    for error in result.errors:
        by_code.setdefault(error["code"], []).append(error["message"])
    assert by_code["unknown_class"] == [
        "enrollments.csv line 4: The enrollment points at class 'no-such-class', which the SIS does not list."
    ]
    assert by_code["unknown_user"] == [
        "enrollments.csv line 6: The enrollment points at user 'no-such-user', which the SIS does not list."
    ]
    assert by_code["duplicate_sourced_id"] == [
        "users.csv line 6: The SIS sent this sourcedId more than once; the first record was used."
    ]
    (too_long,) = by_code["value_too_long"]
    assert too_long.startswith("users.csv line 9: The ") and "2,001 characters" in too_long, too_long
    assert result.counts["enrollments"]["skippedBy"]["unknown_reference"] == 2
    duplicates = sum(result.counts[t].get("skippedBy", {}).get("duplicate", 0) for t in ("students", "teachers"))
    assert duplicates == 1
    assert result.counts["enrollments"]["created"] == len(raw["data"]["enrollments"]) - 2 - sum(
        result.counts["enrollments"].get("skippedBy", {}).get(r, 0)
        for r in ("filter", "role", "inactive", "class_left_out", "user_left_out", "term_ended", "invalid_reference")
    )
