"""A worker killed (SIGKILL) at random points of a sync, then the message redelivered: the end
state always equals an uninterrupted sync's, with no duplicate records.

`make test` kills a few runs; `make soak` kills many more (ROSTERSYNC_CRASH_SEEDS).
"""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rostersync.store.roster import ClassModel, EnrollmentModel, UserModel
from tests.fixtures.roster_oracle import expected_roster
from tests.integration.test_sync_engine import assert_matches, sync

ROOT = Path(__file__).resolve().parents[2]
SEEDS = int(os.environ.get("ROSTERSYNC_CRASH_SEEDS", "1"))  # more seeds: tests/reliability/test_crash_soak.py
# Small enough to keep `make test` quick, large enough for several pages per collection.
DISTRICT = {"schools": 2, "students": 120, "teachers": 8, "classes": 24, "enrollments": 600, "page_cap": 50}


def kill_mid_run(district_id: str, run_id: str, after_s: float) -> bool:
    """Start the sync in a child process and SIGKILL it after `after_s`; True if it died mid-run."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.fixtures.sync_child", district_id, run_id],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert child.stdout.readline().strip() == "started"
    time.sleep(after_s)
    finished = child.poll() is not None
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    return not finished


def assert_no_duplicates(district_id: str) -> None:
    for model in (UserModel, ClassModel, EnrollmentModel):
        items = list(model.query(district_id))
        assert len(items) == len({i.sis_sourced_id for i in items}), f"duplicate {model.__name__} items"


def crash_and_redeliver(district_id: str, run_id: str, duration_s: float, rng: random.Random) -> int:
    kills = 0
    for _ in range(rng.randint(1, 3)):  # sometimes killed again during the redelivery
        kills += kill_mid_run(district_id, run_id, rng.uniform(0.3, max(0.4, duration_s * 0.9)))
    result = sync(district_id, run_id=run_id)  # the message comes back once more and completes
    assert result.outcome.value == "succeeded", result.failure
    return kills


@pytest.mark.parametrize("seed", range(SEEDS))
def test_first_sync_killed_at_random_points_ends_like_an_uninterrupted_one(seed, make_sandbox_sis, connected_district):
    rng = random.Random(seed)
    sis = make_sandbox_sis(seed=seed + 100, **DISTRICT)
    district = connected_district(sis)
    started = time.monotonic()
    reference = connected_district(sis)
    assert sync(reference).outcome.value == "succeeded"
    duration = time.monotonic() - started
    kills = crash_and_redeliver(district, f"run_crash_{seed}", duration, rng)
    assert kills >= 1
    assert_matches(district, expected_roster(sis.state()))
    assert_no_duplicates(district)


@pytest.mark.parametrize("seed", range(SEEDS))
def test_second_night_killed_during_changes_and_deactivations_ends_right(seed, make_sandbox_sis, connected_district):
    rng = random.Random(1000 + seed)
    sis = make_sandbox_sis(seed=seed + 200, **DISTRICT)
    district = connected_district(sis)
    assert sync(district).outcome.value == "succeeded"
    sis.advance_day()
    started = time.monotonic()
    reference = connected_district(sis)
    assert sync(reference).outcome.value == "succeeded"
    duration = time.monotonic() - started
    crash_and_redeliver(district, f"run_night2_{seed}", duration, rng)
    assert_matches(district, expected_roster(sis.state()))
    assert_no_duplicates(district)
