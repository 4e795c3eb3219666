"""Fewer garbage collections while a sync runs.

A sync allocates millions of short-lived containers (parsed records, mapped items, their
attribute text), nearly all freed by reference counting, and makes almost no reference cycles.
Python's default starts a young-generation collection every 2,000 net container allocations,
which at a sync's rate is a collection every ~0.4 ms of work, each walking every young record and
item still alive (a page, the write buffer): ~5% of a full sync's CPU (bench/README.md, "What
took the CPU"). With the threshold at 50,000 the same objects are mostly gone before a collection
sees them; cycles are still collected, later, and the process's own setting is restored after.
"""

import gc
from contextlib import contextmanager

YOUNG_THRESHOLD = 50_000


@contextmanager
def fewer_collections():
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], YOUNG_THRESHOLD), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
