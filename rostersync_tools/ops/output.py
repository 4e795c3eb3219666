"""How the ops commands print: a table for people, JSON (--json) for programs.

With --json, stdout carries exactly one JSON document; progress and questions go to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence


def table(header: Sequence[str], rows: Sequence[Sequence[object]], *, last_free: bool = True) -> str:
    """Columns padded to their widest cell; the last one left ragged (it is the long text)."""
    rows = [[("-" if cell is None or cell == "" else str(cell)).replace("\n", " ") for cell in row] for row in rows]
    fixed = len(header) - 1 if last_free else len(header)
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(fixed)]
    lines = []
    for row in [list(header), *rows]:
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)]  # last_free: no width
        if last_free:
            cells.append(str(row[-1]))
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def print_json(document) -> None:
    print(json.dumps(document, indent=2, default=str), flush=True)


class Progress:
    """One line per step, as it happens: stdout for people, stderr under --json."""

    def __init__(self, as_json: bool, stream=None):
        self.stream = stream or (sys.stderr if as_json else sys.stdout)

    def __call__(self, line: str) -> None:
        print(line, file=self.stream, flush=True)


def shorten(text: str | None, limit: int = 120) -> str:
    if not text:
        return "-"
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
