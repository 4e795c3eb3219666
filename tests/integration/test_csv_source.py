"""OneRoster CSV bundles as a source (issue 27), through the same engine: the sandbox district
synced once over REST and once from its CSV bundle (checked, split into S3 objects, read back as
streams) gives the same roster record by record; a run cut into many invocations, each with a
reader of its own (another container), ends the same; bad bundles fail before any write, with
the file and the problem named; bad rows are errors naming file and line."""

import csv
import io
import zipfile

import pytest

from rostersync import aws_clients
from rostersync.sources import SourceReader
from rostersync.sources.csv_bundle import BundleError
from rostersync.sources.csv_files import s3_lines, stage_bundle
from rostersync.sources.csv_reader import CsvBundleReader
from rostersync.sync.engine import Outcome, SyncRequest, run_sync
from rostersync_tools.sandbox_sis.csv_export import export_bundle
from tests.fixtures.districts import connect_district
from tests.fixtures.roster_oracle import expected_roster
from tests.fixtures.synced_roster import synced_roster as roster
from tests.integration.test_sync_engine import assert_matches, sync

BUCKET = "rostersync-test-bundles"


def bundle_bytes(data: dict) -> bytes:
    out = io.BytesIO()
    export_bundle(data, out)
    return out.getvalue()


@pytest.fixture
def bucket(aws):
    s3 = aws_clients.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    return BUCKET


def csv_sync(district, run_id, bundle, prefix, time_left=lambda: 1e9, page_rows=1000):
    invocations = 0
    while True:
        invocations += 1
        reader = CsvBundleReader(bundle, s3_lines(BUCKET, prefix), page_rows=page_rows)  # a fresh container
        result = run_sync(SyncRequest(district, run_id), time_left, source=reader)
        if result.outcome != Outcome.CONTINUE:
            result.invocations = invocations
            return result


def test_rest_and_csv_of_one_district_sync_to_the_same_roster(sandbox_sis, bucket):
    raw = sandbox_sis.state()
    bundle = stage_bundle(io.BytesIO(bundle_bytes(raw["data"])), bucket, "districts/d1/bundles/b1")
    assert isinstance(CsvBundleReader(bundle, s3_lines(bucket, "districts/d1/bundles/b1")), SourceReader)
    over_rest = connect_district(sandbox_sis)
    over_csv = connect_district(sandbox_sis)
    assert sync(over_rest).outcome == Outcome.SUCCEEDED
    stats = sandbox_sis.stats()
    result = csv_sync(over_csv, "run_csv_1", bundle, "districts/d1/bundles/b1")
    assert result.outcome == Outcome.SUCCEEDED, result.failure
    assert sandbox_sis.stats() == stats  # the CSV sync read only the bundle
    assert_matches(over_csv, expected_roster(raw))
    rest, csv_ = roster(over_rest), roster(over_csv)
    for kind in ("users", "classes", "enrollments"):
        assert rest[kind] and rest[kind] == csv_[kind], kind


def test_a_csv_run_cut_into_invocations_on_fresh_readers_ends_the_same(sandbox_sis, bucket):
    raw = sandbox_sis.state()
    bundle = stage_bundle(io.BytesIO(bundle_bytes(raw["data"])), bucket, "districts/d2/bundles/b1")
    district = connect_district(sandbox_sis)
    clock = iter([1e9] * 3 + [0] * 10**6)  # three looks at the clock per invocation, then out of time
    result = csv_sync(
        district, "run_csv_sliced", bundle, "districts/d2/bundles/b1", time_left=lambda: next(clock, 0), page_rows=53
    )
    assert result.outcome == Outcome.SUCCEEDED, result.failure
    assert result.invocations > 3
    assert_matches(district, expected_roster(raw))


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
    ("1.2 bundle", lambda f: _set_manifest(f, "oneroster.version", "1.2"), None, "manifest.csv", "1.2"),
    ("missing file", lambda f: f.pop("users.csv"), None, "manifest.csv", "no users.csv"),
    ("delta file", lambda f: _set_manifest(f, "file.users", "delta"), None, "manifest.csv", "delta"),
    ("users absent", lambda f: _set_manifest(f, "file.users", "absent"), None, "manifest.csv", "must be bulk"),
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
    original = bundle_bytes(sandbox_sis.state()["data"])
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


def test_bad_rows_are_errors_naming_file_and_line_and_the_rest_syncs(sandbox_sis, bucket):
    raw = sandbox_sis.state()

    def spoil(files):
        lines = files["enrollments.csv"].decode().split("\r\n")
        lines[5] = ",".join(["", *lines[5].split(",")[1:]])  # line 6: no sourcedId
        files["enrollments.csv"] = "\r\n".join(lines).encode()

    payload = rezip(bundle_bytes(raw["data"]), spoil)
    bundle = stage_bundle(io.BytesIO(payload), bucket, "districts/rows")
    district = connect_district(sandbox_sis)
    result = csv_sync(district, "run_csv_rows", bundle, "districts/rows")
    assert result.outcome == Outcome.SUCCEEDED, result.failure
    named = [e for e in result.errors if "enrollments.csv line 6" in e.get("message", "")]
    assert named, result.errors[:3]


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
