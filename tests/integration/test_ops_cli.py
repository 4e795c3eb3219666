"""What on-call sees from `rostersync ops`: tables and --json for every command, a redrive that
shows its plan, asks first, reports per district and follows each replay; runs and one run."""

import io
import json
from types import SimpleNamespace

import pytest

from tests.integration.test_ops import dead_letter, dlq_size, failed_run
from tests.unit.sync.test_dispatch import drain
from tests.unit.sync.test_locks import make_district


def ops(stack, capsys, *argv, stdin=None, monkeypatch=None):
    from rostersync_tools.ops.cli import main

    if monkeypatch is not None:
        monkeypatch.setattr("sys.stdin", stdin)
    code = main([*argv, "--local", "--state-dir", stack.state_dir])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def two_failed_districts(stack):
    first, second = make_district().district_id, make_district().district_id
    runs = {}
    for district in (first, second):
        runs[district] = failed_run(stack, district)
        dead_letter(stack, district, runs[district].run_id)
    return runs


def test_redrive_with_nobody_to_ask_refuses_and_changes_nothing(stack, capsys, monkeypatch):
    two_failed_districts(stack)
    for stdin in (io.StringIO(""), None):  # at its end, or no standard input at all
        code, _out, err = ops(stack, capsys, "redrive", stdin=stdin, monkeypatch=monkeypatch)
        assert code == 2
        assert "--yes" in err and "no standard input" in err
    assert dlq_size(stack) == 2 and drain(stack) == []


def test_redrive_asks_and_a_no_changes_nothing(stack, capsys, monkeypatch):
    runs = two_failed_districts(stack)
    code, out, err = ops(stack, capsys, "redrive", stdin=io.StringIO("n\n"), monkeypatch=monkeypatch)
    assert code == 1 and "not confirmed" in err and "[y/N]" in err
    for district, run in runs.items():
        assert district in out and run.run_id in out  # the plan was shown before the question
    assert dlq_size(stack) == 2 and drain(stack) == []


def test_redrive_confirmed_on_stdin_replays_with_progress_per_district(stack, capsys, monkeypatch):
    runs = two_failed_districts(stack)
    code, out, err = ops(stack, capsys, "redrive", "--no-follow", stdin=io.StringIO("yes\n"), monkeypatch=monkeypatch)
    assert code == 0, out + err
    assert "[1/2] district" in out and "[2/2] district" in out
    assert dlq_size(stack) == 0
    assert {body["districtId"] for body in drain(stack)} == set(runs)


def test_dry_run_shows_the_plan_and_changes_nothing(stack, capsys):
    runs = two_failed_districts(stack)
    busy = make_district().district_id
    dead_letter(stack, busy, failed_run(stack, busy).run_id)
    newer = stack.lifecycle.start_run(busy, "manual", "full")
    code, out, _ = ops(stack, capsys, "redrive", "--dry-run")
    assert code == 0 and "Dry run: nothing was changed." in out
    for run in runs.values():
        assert f"failed run {run.run_id} is replayed as a new run" in out
    assert f"a newer run ({newer.run_id}, queued) exists" in out
    code, out, _ = ops(stack, capsys, "redrive", "--dry-run", "--json")
    document = json.loads(out)
    assert document["dryRun"] is True and document["report"] is None
    actions = {d["districtId"]: d["action"] for d in document["plan"]["districts"]}
    assert actions == {**{d: "replay" for d in runs}, busy: "drop"}
    assert dlq_size(stack) == 3 and drain(stack) == []
    for district, run in runs.items():
        assert stack.store.get_run(district, run.run_id).replayed_by is None


def test_redrive_json_is_one_document_on_stdout_and_progress_on_stderr(stack, capsys):
    runs = two_failed_districts(stack)
    code, out, err = ops(stack, capsys, "redrive", "--yes", "--no-follow", "--json")
    assert code == 0
    document = json.loads(out)
    replayed = {item["districtId"]: item for item in document["report"]["replayed"]}
    assert set(replayed) == set(runs) and document["report"]["ok"] is True
    for district, run in runs.items():
        assert replayed[district]["failedRunId"] == run.run_id and replayed[district]["replayStatus"] == "queued"
    assert "[1/2] district" in err


def test_redrive_follows_each_replay_to_its_end_and_reports_what_it_did(stack):
    from rostersync_tools.ops.redrive import redrive
    from rostersync_tools.ops.target import resolve

    runs = two_failed_districts(stack)
    target = resolve(SimpleNamespace(local=True, state_dir=stack.state_dir, endpoint_url=None))
    lines = []
    outcomes = iter(["succeeded", "failed"])

    def worker_runs_the_replays(_seconds):
        """Plays the worker: each queued replay runs and ends."""
        for body in drain(stack):
            replay = stack.store.get_run(body["districtId"], body["runId"])
            assert stack.lifecycle.claim(replay, "lease-1")
            status = next(outcomes)
            result = SimpleNamespace(
                counts={"students": {"created": 7, "updated": 1, "deactivated": 2}},
                errors=[],
                error_total=0,
                mode="full",
                failure="SIS down again" if status == "failed" else None,
            )
            assert stack.lifecycle.finish(
                stack.store.get_run(body["districtId"], body["runId"]), "lease-1", status, result
            )

    report = redrive(target, say=lines.append, follow=True, poll_s=0.01, sleep=worker_runs_the_replays)
    statuses = sorted(item["replayStatus"] for item in report.replayed)
    assert statuses == ["failed", "succeeded"] and report.ok is False
    assert all(item["changes"] == "+7 ~1 -2" for item in report.replayed)
    assert any("SIS down again" in (item.get("failure") or "") for item in report.replayed)
    assert any(line.endswith("succeeded (+7 ~1 -2)") for line in lines)
    assert "succeeded" in report.summary() and "SIS down again" in report.summary()
    assert set(item["districtId"] for item in report.replayed) == set(runs)


def test_following_stops_at_the_timeout_and_says_how_to_look_later(stack):
    from rostersync_tools.ops.redrive import redrive
    from rostersync_tools.ops.target import resolve

    two_failed_districts(stack)
    target = resolve(SimpleNamespace(local=True, state_dir=stack.state_dir, endpoint_url=None))
    report = redrive(target, follow=True, timeout_s=0.0, poll_s=0.01, sleep=lambda s: None)
    assert report.ok
    assert all("still queued when following stopped: rostersync ops run" in item["note"] for item in report.replayed)


def test_runs_lists_recent_runs_and_run_shows_one_with_its_errors(stack, capsys):
    district = make_district().district_id
    failed = failed_run(stack, district)
    done = stack.lifecycle.start_run(district, "manual", "full")
    assert stack.lifecycle.claim(done, "lease-1")
    result = SimpleNamespace(
        counts={"students": {"created": 3, "skipped": 4, "skippedBy": {"role": 1, "term_ended": 3}}},
        error_total=2,
        mode="full",
        failure=None,
        notices=[
            {
                "code": "no_current_term",
                "severity": "warning",
                "message": "The SIS lists 6 classes; all belong to terms that ended on 10 June 2025.",
                "counts": {"listed": 6, "termEnded": 6, "active": 0},
                "type": "classes",
                "sisSourcedId": None,
            }
        ],
        errors=[
            {
                "type": "enrollment",
                "sisSourcedId": "enr-9",
                "code": "unknown_user",
                "message": "The enrollment names user u-404, which the SIS does not list.",
            }
        ],
    )
    assert stack.lifecycle.finish(stack.store.get_run(district, done.run_id), "lease-1", "succeeded", result)

    code, out, _ = ops(stack, capsys, "runs", "--district", district)
    assert code == 0
    assert out.index(done.run_id) < out.index(failed.run_id)  # newest first
    assert "unreachable host sis.example.org" in out and "+3 ~0 -0" in out
    assert "1!" in out  # one notice, a warning
    code, out, _ = ops(stack, capsys, "runs", "--district", district, "--json")
    listed = json.loads(out)["runs"]
    assert [run["runId"] for run in listed] == [done.run_id, failed.run_id]
    assert listed[1]["status"] == "failed" and listed[1]["deadLetteredAt"]

    code, out, _ = ops(stack, capsys, "run", done.run_id, "--district", district)
    assert code == 0 and "succeeded" in out and "unknown_user" in out and "enr-9" in out and "2 in all" in out
    # Notices apart from errors, and why the skipped were left out.
    assert "Notices (not errors; 1)" in out and "no_current_term" in out and "10 June 2025" in out
    assert "role 1, term_ended 3" in out
    code, out, _ = ops(stack, capsys, "run", done.run_id, "--district", district, "--json")
    shown = json.loads(out)
    assert shown["errors"][0]["sisSourcedId"] == "enr-9" and shown["counts"]["students"]["created"] == 3
    assert shown["districtId"] == district and shown["errorTotal"] == 2
    assert [n["code"] for n in shown["notices"]] == ["no_current_term"]


@pytest.mark.parametrize(
    "argv, said",
    [
        (["runs", "--district", "dst_nope"], "no district dst_nope"),
        (["run", "run_nope", "--district", "dst_nope"], "has no run run_nope"),
    ],
)
def test_unknown_districts_and_runs_are_said_plainly(stack, capsys, argv, said):
    code, out, err = ops(stack, capsys, *argv)
    assert code == 1 and said in err and out == ""


def test_every_ops_command_takes_json(stack, capsys):
    from rostersync_tools.ops.cli import build_parser

    parser = build_parser()
    for argv in (["dlq", "list"], ["runs", "--district", "d"], ["run", "r", "--district", "d"], ["redrive"]):
        assert parser.parse_args([*argv, "--json"]).json is True
