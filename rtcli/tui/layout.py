"""Where the monitor's panes go, and the event table's columns, fitted to the width and to what
varies. Pure Python, no Textual.

``pane_shape(wide, detail, presences)`` names the arrangement of the table, the detail pane and
the presence pane: ``side`` (wide: the detail to the right of the table, presences under both),
``split`` (narrow with both: the table across the top, the detail and the presences side by side
under it, so that 80x24 keeps a useful table) or ``stack`` (one column).

``table_columns(width, resources)`` gives each column its cells, 1-cell gaps between the shown
ones: a resource that is the same on every row is not repeated on each line (its column is
dropped and the table's title names it); a narrow table keeps seconds only and a shorter ID; the
summary gets the rest, since that is where rows differ.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass

ACTION_W = 6
TIME_W = 12  # 12:34:56.789
TIME_SHORT_W = 8  # 12:34:56


class Shape(enum.Enum):
    SIDE = "side"
    SPLIT = "split"
    STACK = "stack"


def pane_shape(wide: bool, detail: bool, presences: bool) -> Shape:
    if wide and detail:
        return Shape.SIDE
    if detail and presences:
        return Shape.SPLIT
    return Shape.STACK


@dataclass(frozen=True)
class Columns:
    time: int
    action: int
    resource: int  # 0: hidden (one resource only: the title names it)
    id: int
    summary: int

    def widths(self) -> tuple[int, ...]:
        return tuple(w for w in (self.time, self.action, self.resource, self.id, self.summary) if w)


def table_columns(width: int, resources: Collection[str]) -> Columns:
    """Columns for a table ``width`` cells wide whose rows are on ``resources`` (distinct ones)."""
    time = TIME_W if width >= 72 else TIME_SHORT_W
    rid = 20 if width >= 130 else (10 if width >= 60 else 8)
    rest = width - time - ACTION_W - rid - 3
    resource = 0
    if len(resources) > 1:
        longest = max(len(r) for r in resources)
        resource = max(8, min(longest, 28, rest // 2))
        rest -= resource + 1
    if rest < 12 and rid > 8:  # the summary before a long ID
        rest += rid - 8
        rid = 8
    return Columns(time, ACTION_W, resource, rid, max(0, rest))


def fit(text: str, width: int, *, left: bool = False) -> str:
    """Pad or cut ``text`` to ``width`` cells; ``left`` keeps the end (``…tables.t.rows``)."""
    if width <= 0:
        return ""
    if len(text) <= width:
        return text.ljust(width)
    if left:
        return "…" + text[len(text) - width + 1:]
    return text[: width - 1] + "…"


def short_time(time: str, width: int) -> str:
    """``12:34:56.789`` as wide as the column: without the milliseconds in 8 cells."""
    return time[:width] if width < len(time) else time
