"""A sync raises the young-generation threshold while it runs and puts the process's back."""

import gc

import pytest

from rostersync.sync.collections_tuning import YOUNG_THRESHOLD, fewer_collections


def test_the_threshold_is_raised_inside_and_restored_after_even_on_errors():
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), fewer_collections():
        assert gc.get_threshold() == (max(before[0], YOUNG_THRESHOLD), *before[1:])
        raise RuntimeError("the sync failed")
    assert gc.get_threshold() == before
