"""The detail pane: the selected event described (``rtcli.tui.describe``): its payload first,
the user's fields before the ``$`` fields, then how it was delivered, with the subscriptions by
name and the event names and channels collapsed (all of them in full screen).

It follows the cursor at once, and each new event starts at the top (the scroll is reset). While
the table follows a flood, the selection changes with every batch (20 a second at most): the
pane then redraws once per batch, not once per event.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.events import Resize
from textual.widgets import Static

from rtcli.tui.describe import Line, detail_lines
from rtcli.tui.records import EventRecord

STYLE_OF = {"title": "bold", "action": "bold $text-accent", "key": "bold", "system": "$text-muted",
            "value": "", "muted": "$text-muted", "section": "bold $text-secondary", "warn": "$text-warning",
            "error": "$text-error"}

EMPTY = "No event selected. Events appear as they arrive; ↑/↓ or a click selects one."


class EventDetail(VerticalScroll, can_focus=True):
    ALLOW_MAXIMIZE = True

    BINDINGS = [
        Binding("f", "screen.full_detail", "Full screen"),
        Binding("w", "screen.explain", "Explain"),
        Binding("c", "screen.copy_event", "Copy"),
    ]

    DEFAULT_CSS = """
    EventDetail {
        & > #detail-body { width: 1fr; }
    }
    """

    def __init__(self, *, id: str | None = None, name_of: Callable[[str], str] = str,
                 excluded_by: Callable[[EventRecord], str | None] = lambda r: None,
                 why: Callable[[EventRecord], list[str] | None] = lambda r: None) -> None:
        super().__init__(id=id)
        self.record: EventRecord | None = None
        self.name_of = name_of
        self.excluded_by = excluded_by
        self.why = why
        self.full = False
        self._shown: tuple | None = None

    def compose(self):
        yield Static(EMPTY, id="detail-body", markup=False)

    def show(self, record: EventRecord | None, *, force: bool = False) -> None:
        """Show ``record`` now; a different event than the last one starts at the top."""
        new = record is not self.record
        self.record = record
        self._redraw(force)
        if new:
            self.scroll_home(animate=False, immediate=True)

    def set_full(self, full: bool) -> None:
        """Full screen lists every event name and channel."""
        self.full = full
        self._redraw(force=True)

    def on_resize(self, event: Resize) -> None:
        self._redraw()

    def _redraw(self, force: bool = False) -> None:
        r = self.record
        width = self.scrollable_content_region.width - 2  # room for a scrollbar that may come
        key = (r.seq if r is not None else None, width, self.full)
        if key == self._shown and not force:
            return
        self._shown = key
        body = self.query_one("#detail-body", Static)
        if r is None:
            body.update(EMPTY)
            return
        excluded_by = self.excluded_by(r)
        why = self.why(r) if excluded_by else None
        lines = detail_lines(r, width, self.name_of, full=self.full, excluded_by=excluded_by, why=why)
        body.update(to_content(lines))


def to_content(lines: list[Line]) -> Content:
    parts: list = []
    for i, line in enumerate(lines):
        if i:
            parts.append("\n")
        parts += [(text, STYLE_OF.get(style, "")) if style else text for text, style in line]
    return Content.assemble(*parts)
