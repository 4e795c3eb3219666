"""Record ids: the fast record_id is uuid5 to the letter (stored ids must never change)."""

import random
import uuid

from rostersync.ids import _NAMESPACE, new_id, record_id


def test_record_id_is_uuid5_of_district_kind_and_sourced_id():
    rng = random.Random(7)
    alphabet = "abcXYZ019-_:/ é漢字\U0001f600\x1f"
    for _ in range(2_000):
        district, kind = f"dst_{rng.getrandbits(40):x}", rng.choice(["user", "class", "enrollment", "school"])
        sourced_id = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        expected = str(uuid.uuid5(_NAMESPACE, f"{district}\x1f{kind}\x1f{sourced_id}"))
        assert record_id(district, kind, sourced_id) == expected


def test_a_record_keeps_its_id_and_kinds_do_not_collide():
    assert record_id("dst_1", "user", "u-1") == record_id("dst_1", "user", "u-1")
    assert len({record_id("dst_1", k, "x") for k in ("user", "class", "enrollment", "school")}) == 4
    assert record_id("dst_1", "user", "x") != record_id("dst_2", "user", "x")


def test_new_ids_sort_by_creation_time():
    first, second = new_id("run"), new_id("run")
    assert first.startswith("run_") and len(first) == len("run_") + 22
    assert first[:16] <= second[:16]
