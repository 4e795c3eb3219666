"""The sandbox's mass withdrawal switch (POST /_admin/withdraw): what the console's browser suite
uses to make a sync stop for review."""

import requests


def test_withdraw_removes_a_share_of_a_role_and_their_enrollments(sandbox_sis):
    before = sandbox_sis.app.state()["data"]
    students = [u["sourcedId"] for u in before["users"] if u["role"] == "student"]
    answer = requests.post(
        f"{sandbox_sis.host_url}/_admin/withdraw", json={"role": "student", "share": 0.25}, timeout=10
    )
    assert answer.status_code == 200
    removed = answer.json()
    assert removed["removed"] == round(len(students) * 0.25)
    after = sandbox_sis.app.state()["data"]
    left = {u["sourcedId"] for u in after["users"] if u["role"] == "student"}
    gone = set(students) - left
    assert len(gone) == removed["removed"] and gone == set(students[: removed["removed"]])
    assert not [e for e in after["enrollments"] if e["user"]["sourcedId"] in gone]
    assert len(before["enrollments"]) - len(after["enrollments"]) == removed["enrollmentsRemoved"] > 0
    assert [u for u in after["users"] if u["role"] == "teacher"] == [
        u for u in before["users"] if u["role"] == "teacher"
    ]
    for bad in ({"role": "guardian"}, {"share": 0}, {"share": 1.5}, {"share": True}, {"role": "student", "extra": 1}):
        refused = requests.post(f"{sandbox_sis.host_url}/_admin/withdraw", json=bad, timeout=10)
        assert refused.status_code == 400, bad
