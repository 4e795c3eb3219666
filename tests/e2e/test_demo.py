"""`rostersync demo` (what `make demo` runs): the four setup steps over HTTP, one full sync
against the default sandbox district, a summary, exit 0, and no secret anywhere."""

import re
import subprocess

import pytest

from rostersync_tools.sandbox_sis.config import DEFAULT_CLIENT_SECRET
from tests.fixtures.stack import rostersync_command, subprocess_env

pytestmark = pytest.mark.e2e


def test_demo_sets_up_a_district_runs_a_full_sync_and_summarises_it(tmp_path):
    result = subprocess.run(
        [rostersync_command(), "demo"],
        capture_output=True,
        text=True,
        timeout=900,
        env=subprocess_env(tmp_path / "state"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr[-4000:]}"
    out = result.stdout

    for step in ("[1/4]", "[2/4]", "[3/4]", "[4/4]"):
        assert step in out
    assert "matched 1 to existing ones" in out
    assert re.search(r"Full sync succeeded in \d+\.\d s", out)
    synced = {m.group(1): int(m.group(2)) for m in re.finditer(r"^  (\w+)\s+(\d+)\s+\(", out, re.MULTILINE)}
    assert set(synced) == {"schools", "teachers", "students", "classes", "enrollments"}
    assert all(n > 0 for n in synced.values()), synced
    assert synced["schools"] <= 5  # the default sandbox district has 5 schools
    assert "Where to look next" in out and "make local" in out and "rostersync local token" in out

    # The sandbox's client secret went to the API but is never shown or logged.
    assert DEFAULT_CLIENT_SECRET not in out
    assert DEFAULT_CLIENT_SECRET not in result.stderr
    # The demo never touches the state directory a running `make local` uses.
    assert not (tmp_path / "state" / "local-stack.json").exists()
