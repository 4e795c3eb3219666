"""The sandbox's SIS-migration switch (POST /_admin/rekey, issue 13): new sourcedIds for a share
of the users (and classes), every enrollment that names them re-keyed and pointing at the new ids,
every other field unchanged."""

import requests


def test_rekey_gives_a_share_new_ids_and_keeps_references_whole(sandbox_sis):
    before = sandbox_sis.app.state()["data"]
    students = [u for u in before["users"] if u["role"] == "student"]
    answer = requests.post(f"{sandbox_sis.host_url}/_admin/rekey", json={"role": "student", "share": 0.5}, timeout=10)
    assert answer.status_code == 200, answer.text
    moved = answer.json()
    assert moved["users"] == round(len(students) * 0.5) and moved["classes"] == 0 and moved["enrollments"] > 0
    after = sandbox_sis.app.state()["data"]
    old_ids = {u["sourcedId"] for u in students[: moved["users"]]}
    users_after = {u["sourcedId"]: u for u in after["users"]}
    assert not old_ids & set(users_after)
    for old in students[: moved["users"]]:
        new = users_after["rk-" + old["sourcedId"]]
        assert {k: v for k, v in new.items() if k not in ("sourcedId", "dateLastModified")} == {
            k: v for k, v in old.items() if k not in ("sourcedId", "dateLastModified")
        }
    assert len(after["users"]) == len(before["users"]) and len(after["enrollments"]) == len(before["enrollments"])
    for enrollment in after["enrollments"]:
        assert enrollment["user"]["sourcedId"] in users_after  # no reference left dangling
        assert enrollment["user"]["href"].endswith(enrollment["user"]["sourcedId"])
    whole = requests.post(f"{sandbox_sis.host_url}/_admin/rekey", json={"prefix": "v2-"}, timeout=10).json()
    assert whole["users"] == len(after["users"]) and whole["classes"] == len(after["classes"])
    final = sandbox_sis.app.state()["data"]
    assert all(r["sourcedId"].startswith("v2-") for name in ("users", "classes", "enrollments") for r in final[name])
    classes = {c["sourcedId"] for c in final["classes"]}
    assert all(e["class"]["sourcedId"] in classes for e in final["enrollments"])
    for bad in ({"role": "guardian"}, {"share": 0}, {"share": 1.5}, {"classes": "yes"}, {"extra": 1}):
        assert requests.post(f"{sandbox_sis.host_url}/_admin/rekey", json=bad, timeout=10).status_code == 400, bad
