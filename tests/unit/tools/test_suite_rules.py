"""Rules the test suite keeps so that its files can run in any order and in several processes."""

from pathlib import Path

TESTS = Path(__file__).resolve().parents[2]


def test_no_test_uses_mock_aws():
    """mock_aws resets the moto backends that the session's embedded server shares with the
    test process: every later test in that process would find no table (tests/fixtures/aws.py)."""
    users = [str(path.relative_to(TESTS)) for path in TESTS.rglob("*.py")
             if path != Path(__file__) and "mock_aws" in path.read_text(encoding="utf-8").replace(
                 "No test may use moto's `mock_aws`", "")]
    assert users == []
