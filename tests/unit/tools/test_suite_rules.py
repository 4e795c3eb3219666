"""Rules the test suite keeps so that its files can run in any order and in several processes."""

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[2]
MOCK_AWS_USE = re.compile(r"import\s+mock_aws|@mock_aws|mock_aws\(")


def test_no_test_uses_mock_aws():
    """mock_aws resets the moto backends that the session's embedded server shares with the
    test process: every later test in that process would find no table (tests/fixtures/aws.py)."""
    users = [
        str(path.relative_to(TESTS))
        for path in TESTS.rglob("*.py")
        if path != Path(__file__) and MOCK_AWS_USE.search(path.read_text(encoding="utf-8"))
    ]
    assert users == []
