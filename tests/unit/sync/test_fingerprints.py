from hypothesis import given, settings
from hypothesis import strategies as st

from rostersync.sync.fingerprints import FingerprintSet


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.text(min_size=1, max_size=12), max_size=300), st.lists(st.text(min_size=1, max_size=12), max_size=50)
)
def test_membership_matches_a_python_set_and_survives_serialization(added, probes):
    fps = FingerprintSet()
    for value in added:
        fps.add(value)
    restored = FingerprintSet.from_bytes(fps.to_bytes())
    for value in set(added) | set(probes):
        assert (value in fps) == (value in set(added))
        assert (value in restored) == (value in set(added))
    assert len(restored) == len(set(added))


def test_large_sets_merge_in_chunks():
    fps = FingerprintSet()
    for i in range(200_000):
        fps.add(f"enrollment-{i}")
    assert len(fps) == 200_000
    assert "enrollment-199999" in fps and "enrollment-200000" not in fps


def test_a_reference_memo_answers_as_the_sets_do_within_its_bound():
    from rostersync.sync.fingerprints import ReferenceMemo, fingerprint

    listed, chosen = FingerprintSet(), FingerprintSet()
    for i in range(100):
        listed.add(f"c{i}")
        if i % 3 == 0:
            chosen.add(f"c{i}")
    memo = ReferenceMemo(listed, chosen, size=8)
    for _ in range(3):
        for i in range(120):
            sid = f"c{i}"
            assert memo.of(sid) == (fingerprint(sid), sid in listed, sid in chosen)
            assert len(memo._known) <= 8
