"""The `rostersync` command's own small promises."""

import subprocess
import sys
from pathlib import Path

from rostersync_tools import dependency_locks as locks
from rostersync_tools.cli import main

ROOT = Path(__file__).resolve().parents[3]


def test_openapi_prints_exactly_the_committed_document(capsys):
    """`make openapi` is `rostersync openapi > docs/openapi.json`: one trailing newline, not two."""
    assert main(["openapi"]) == 0
    printed = capsys.readouterr().out
    assert printed.endswith("}\n") and not printed.endswith("\n\n")
    assert printed == (ROOT / "docs" / "openapi.json").read_text(encoding="utf-8")


def test_bench_profile_finds_py_spy_where_it_looks():
    """bench/district_sync.py --profile runs the py-spy next to the interpreter: the dev extras install it."""
    assert any(r.name == "py-spy" for r in locks.dev_requirements())
    py_spy = Path(sys.executable).parent / "py-spy"
    assert py_spy.is_file(), "make venv did not install py-spy"
    answer = subprocess.run([str(py_spy), "--version"], capture_output=True, text=True, timeout=30)
    assert answer.returncode == 0 and answer.stdout.startswith("py-spy")


def test_version_is_the_installed_projects(capsys):
    from importlib.metadata import version

    try:
        main(["--version"])
    except SystemExit as done:
        assert done.code == 0
    assert capsys.readouterr().out.strip() == f"rostersync {version('rostersync')}"
