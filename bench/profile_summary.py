"""Summarise a py-spy raw (collapsed stacks) profile: where each group of threads spends its time.

    .venv/bin/python bench/profile_summary.py bench/results/profile_full_sync.pyspy.txt [--top 25]

Threads are grouped by name without their number (MainThread, store, oneroster-page, the moto
server's request threads...). Samples whose innermost frame is a wait (a lock, a condition, a
socket read, a select) count as waiting; the rest as running. For each group: running vs
waiting, then the functions running samples were in (self) and under (inclusive), as a share of
the group's running samples. The bench records the worker with `--gil` (only the thread holding
the GIL is sampled: running is CPU, not a wait for the GIL, and C code that releases the GIL,
such as a socket call, is not seen); the host without it (every thread, waits for the GIL
counted as running).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter, defaultdict

WAITS = (
    "lock.acquire",
    "Condition.wait",
    "SocketIO.readinto",
    "select (",
    "Selector.select",
    "_worker (concurrent",
    "sleep (",
    "recv_into",
    "accept (",
    "Event.wait",
    "serve_forever (socketserver.py",
)


def _group(frame: str) -> str:
    name = frame.split("): ", 1)[1] if "): " in frame else "?"
    name = re.sub(r"^Thread-\d+ \((\w+)\)$", r"\1", name)  # "Thread-12 (process_request_thread)"
    return re.sub(r"[_-]?\d+$", "", name) or name


def summarise(path: str, top: int = 25) -> str:
    running: dict[str, Counter] = defaultdict(Counter)
    inclusive: dict[str, Counter] = defaultdict(Counter)
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    with open(path) as lines:
        for line in lines:
            stack, _, count = line.rstrip().rpartition(" ")
            if not count.isdigit():
                continue
            frames, n = stack.split(";"), int(count)
            group = _group(frames[0]) if frames[0].startswith("thread") else "?"
            leaf = frames[-1]
            if any(w in leaf for w in WAITS):
                totals[group][1] += n
                continue
            totals[group][0] += n
            running[group][re.sub(r":\d+\)", ")", leaf)] += n
            for frame in {re.sub(r":\d+\)", ")", f) for f in frames[1:]}:
                inclusive[group][frame] += n
    out = []
    for group, (run, wait) in sorted(totals.items(), key=lambda kv: -kv[1][0]):
        if run + wait == 0:
            continue
        out.append(f"== {group}: {run} running samples, {wait} waiting")
        if not run:
            continue
        out.append("   self:")
        out += [f"   {c / run * 100:5.1f}%  {f}" for f, c in running[group].most_common(top)]
        out.append("   inclusive:")
        shared = [(f, c) for f, c in inclusive[group].most_common() if c < 0.98 * run]  # not the thread's base
        out += [f"   {c / run * 100:5.1f}%  {f}" for f, c in shared[:top]]
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    print(summarise(args.path, args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
