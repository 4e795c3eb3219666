"""bench/fleet_night.py held to small nights worked out by hand (issue 29).

Every case: one SIS host answering each page in exactly 1 s (no jitter), districts due at 0 s,
start-up 1 s (fleet_night.START_UP_S), nothing to write unless said.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

import fleet_night as fleet


def night(limit: int, workers: int, *districts: fleet.District):
    args = fleet.parse_args(["--page-jitter", "0", "--busy-delay", "60", "--sis-in-flight", "4"])
    hosts = [fleet.Host(latency_s=1.0, limit=limit)]
    fleet.simulate(list(districts), hosts, workers, args)
    return hosts[0]


def district(index: int, pages: int, cpu_s: float = 0.0) -> fleet.District:
    return fleet.District(
        index=index, students=100, utc_offset_h=-5, host=0, kind="delta", sis_requests=pages, cpu_s=cpu_s
    )


def test_one_worker_runs_districts_one_after_the_other():
    # limit 1: A's 7 pages one at a time (1..7 s), done at 7 + 1 = 8 s; B starts at 8 s, done at 16 s.
    a, b = district(0, 7), district(1, 7)
    host = night(1, 1, a, b)
    assert (a.started_s, a.finished_s, b.started_s, b.finished_s) == (0, 8, 8, 16)
    assert host.peak_in_flight == 1 and host.requests == 14
    assert a.held_s == 8 and b.held_s == 8 and a.deferrals == b.deferrals == 0


def test_a_busy_host_gives_the_message_back_without_holding_a_worker():
    # limit 1 admits one district at a time: B comes back after the 60 s busy delay, runs 60..68 s.
    a, b = district(0, 7), district(1, 7)
    night(1, 2, a, b)
    assert (a.finished_s, b.started_s, b.finished_s, b.deferrals) == (8, 60, 68, 1)
    assert b.held_s == pytest.approx(8 + fleet.DEFERRAL_CHARGE_S)


def test_two_districts_share_the_host_slots_first_come_first_served():
    # limit 4: at 0 s A sends 4 pages and B's 4 wait; at 1 s each A page frees its slot for B's
    # next and A's next 4 queue behind; at 2 s B's free them for A's; at 3 s A is done (done 4 s)
    # and B sends its last 3, done at 4 s (done 5 s). Never more than 4 in flight.
    a, b = district(0, 8), district(1, 7)
    host = night(4, 2, a, b)
    assert (a.fetch_done_s, a.finished_s, b.fetch_done_s, b.finished_s) == (3, 4, 4, 5)
    assert host.peak_in_flight == 4


def test_a_cpu_bound_run_ends_with_its_cpu_not_its_fetch():
    # 7 pages, 4 in flight: fetched by 2 s; 100 s of CPU on one vCPU overlaps it: done at 101 s.
    a = district(0, 7, cpu_s=100)
    night(4, 1, a)
    assert (a.fetch_done_s, a.finished_s) == (2, 101)
    assert fleet.night_cost(a)["lambda"] == pytest.approx(
        101 * fleet.WORKER_MEMORY_MB / 1024 * fleet.prices.LAMBDA_PER_GB_SECOND + fleet.prices.LAMBDA_PER_REQUEST
    )


def test_a_run_longer_than_an_invocation_pays_one_second_per_continuation():
    # 2,000 s of CPU: 870 s invocations, so 2 continuations: done at 2,000 + 1 + 2 = 2,003 s.
    a = district(0, 7, cpu_s=2000)
    night(4, 1, a)
    assert a.finished_s == 2003


def test_the_default_fleet_finishes_by_five_with_no_host_over_its_limit(tmp_path):
    out = tmp_path / "fleet.json"
    assert fleet.main(["--districts", "400", "--hosts", "8", "--workers", "20", "--output", str(out)]) == 0
    import json

    result = json.loads(out.read_text())
    assert result["done_by_0500_local"] == 1.0 and result["hosts_over_limit"] == []
    assert result["host_peak_in_flight"] <= 4 and result["districts"] == 400
