"""How the event table draws its lines: the column header, an event row (greyed when a
subscription's queries excluded it), a marker row (a gap, a reconnect), the lines of an expanded
row and the buffer's marker. The table holds one ``RowPainter`` and gives it the styles it
resolved from its CSS; the painter holds no state besides them."""

from __future__ import annotations

from collections.abc import Callable

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from rtcli.tui.layout import Columns, fit, short_time
from rtcli.tui.records import EventRecord


class RowPainter:
    def __init__(self, style: Callable[[str], Style]) -> None:
        self.style = style

    def _line(self, segments: list[Segment], used: int, width: int, cursor: bool = False) -> Strip:
        if used < width:
            segments.append(Segment(" " * (width - used), self.style("")))
        if cursor:
            segments = list(Segment.apply_style(segments, post_style=self.style("cursor")))
        strip = Strip(segments, max(used, width))
        return strip.crop(0, width) if used > width else strip

    def header(self, cols: Columns, width: int) -> Strip:
        names = [("time", cols.time), ("action", cols.action), ("resource", cols.resource), ("id", cols.id),
                 ("summary", cols.summary)]
        text = " ".join(fit(n, w) for n, w in names if w)
        return Strip([Segment(fit(text, width), self.style("header"))], width)

    def text(self, text: str, width: int, style: str, cursor: bool = False) -> Strip:
        return self._line([Segment(fit(text, width), self.style(style))], width, width, cursor)

    def row(self, r: EventRecord, cols: Columns, width: int, cursor: bool, excluded: bool) -> Strip:
        if r.is_marker:
            return self.text(f"── {r.summary} ──", width, "marker", cursor)
        style = self.style
        grey = style("excluded") if excluded else None
        gap = Segment(" ", style(""))
        cells = [(short_time(r.time, cols.time), cols.time, "time", False),
                 (r.action, cols.action, r.action, False),
                 (r.short, cols.resource, "", True),
                 (r.rid, cols.id, "id", True),
                 (("✗ " if excluded else "") + r.summary, cols.summary, "summary", False)]
        segments: list[Segment] = []
        used = 0
        for text, w, name, left in cells:
            if not w:
                continue
            if segments:
                segments.append(gap)
                used += 1
            segments.append(Segment(fit(text, w, left=left), grey or style(name)))
            used += w
        return self._line(segments, used, width, cursor)

    def expansion(self, text: str, cols: Columns, width: int) -> Strip:
        indent = cols.time + 1
        return self._line([Segment(" " * indent, self.style("")), Segment(fit(text, width - indent),
                                                                          self.style("expanded"))], width, width)
