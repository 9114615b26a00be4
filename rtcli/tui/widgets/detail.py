"""The detail pane: the selected event described (``rtcli.tui.describe``): its payload first,
the user's fields before the ``$`` fields, then how it was delivered, with the subscriptions by
name and the event names and channels collapsed (all of them in full screen).

It follows the cursor at once when the user moves it, and each new event starts at the top (the
scroll is reset in the same call). While the table follows a flood, the cursor moves with every
batch (20 a second at most): the pane then shows the newest event at most every
``FOLLOW_INTERVAL`` (the latest one last), which leaves the frames between to the table and to
the keys.

A Line API widget, like the table: a new event replaces the pane's lines and its scrollable
height, without a layout of the screen, and a frame draws only the lines on screen. The lines
(``detail_lines``, already fitted to the width) are painted as segments in styles resolved once
per style name, which costs a fraction of laying out the same text as ``Content``; a line too
long for the pane, and a mouse selection (which Textual highlights in ``Content``), go through
``Content``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.segment import Segment
from rich.style import Style as RichStyle
from textual.binding import Binding
from textual.content import Content
from textual.events import Resize
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.selection import Selection
from textual.strip import Strip
from textual.timer import Timer
from textual.visual import Visual

from rtcli.tui.describe import Line, detail_lines, plain
from rtcli.tui.records import EventRecord
from rtcli.tui.widgets.virtual import set_virtual_size

STYLE_OF = {"title": "bold", "action": "bold $text-accent", "key": "bold", "system": "$text-muted",
            "value": "", "muted": "$text-muted", "section": "bold $text-secondary", "warn": "$text-warning",
            "error": "$text-error"}

FOLLOW_INTERVAL = 0.25  # seconds between two events shown while the table follows a flood

EMPTY = "No event selected. Events appear as they arrive; ↑/↓ or a click selects one."


class EventDetail(ScrollView, can_focus=True):
    ALLOW_MAXIMIZE = True

    BINDINGS = [
        Binding("f", "screen.full_detail", "Full screen"),
        Binding("w", "screen.explain", "Explain"),
        Binding("c", "screen.copy_event", "Copy"),
    ]

    DEFAULT_CSS = """
    EventDetail {
        width: 1fr;
        height: 1fr;
        overflow-x: hidden;
        overflow-y: auto;
    }
    """

    def __init__(self, *, id: str | None = None, name_of: Callable[[str], str] = str,
                 excluded_by: Callable[[EventRecord], str | None] = lambda r: None,
                 why: Callable[[EventRecord], list[str] | None] = lambda r: None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(id=id)
        self.record: EventRecord | None = None
        self.name_of = name_of
        self.excluded_by = excluded_by
        self.why = why
        self.clock = clock
        self.full = False
        self.lines: list[Line] = [[(EMPTY, "")]]  # what the pane shows, a line per line of text
        self._shown: tuple | None = None
        self._strips: list[Strip] = []  # the lines, rendered at _strips_width
        self._origins: list[tuple[int, int]] = []  # per strip: (column, line) of its first cell in the text
        self._strips_width = -1
        self._styles: dict[str, RichStyle] | None = None  # rich style per style name, for this widget
        self._shown_at = float("-inf")  # clock() when an event was last shown while following
        self._next: EventRecord | None = None  # the newest event while following, shown by _timer
        self._timer: Timer | None = None

    @property
    def content(self) -> Content:
        """The pane's text, with its styles."""
        return to_content(self.lines)

    @property
    def pending(self) -> bool:
        """The table followed a flood onto an event that the pane shows at the end of the interval."""
        return self._timer is not None

    def show(self, record: EventRecord | None, *, force: bool = False) -> None:
        """Show ``record`` now; a different event than the last one starts at the top."""
        self._cancel()
        new = record is not self.record
        self.record = record
        self._redraw(force)
        if new:
            self.scroll_to(y=0, animate=False, immediate=True)

    def follow(self, record: EventRecord | None) -> None:
        """The table follows a flood onto ``record``: show it now if the pane showed no event
        while following for ``FOLLOW_INTERVAL``, else at the end of that interval (the newest by
        then)."""
        self._next = record
        if self._timer is not None:
            return
        wait = self._shown_at + FOLLOW_INTERVAL - self.clock()
        if wait <= 0:
            self._show_next()
        else:
            self._timer = self.set_timer(wait, self._show_next)

    def _show_next(self) -> None:
        self.show(self._next, force=True)
        self._shown_at = self.clock()

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

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
        if r is None:
            self.lines = [[(EMPTY, "")]]
        else:
            excluded_by = self.excluded_by(r)
            why = self.why(r) if excluded_by else None
            self.lines = detail_lines(r, width, self.name_of, full=self.full, excluded_by=excluded_by, why=why)
        self._render_strips(self.scrollable_content_region.width)
        set_virtual_size(self, Size(self.scrollable_content_region.width, len(self._strips)))
        if self.scroll_y > self.max_scroll_y:
            self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)
        self.refresh()

    def _render_strips(self, width: int) -> None:
        self._strips_width = width
        if self.text_selection is not None:
            self._strips = Visual.to_strips(self, self.content, width, None, self.visual_style)
            self._origins = []  # Content put the offsets in
            return
        self._strips, self._origins = [], []
        for y, line in enumerate(self.lines):
            if sum(len(text) for text, _ in line) <= width:
                self._strips.append(self._paint(line))
                self._origins.append((0, y))
                continue
            x = 0
            for strip in Visual.to_strips(self, to_content([line]), width, None, self.visual_style):
                self._strips.append(strip)
                self._origins.append((x, y))
                x += strip.cell_length

    def _paint(self, line: Line) -> Strip:
        """One line that fits, as Content would draw it: a segment per styled part, the unstyled
        text between them in one."""
        if self._styles is None:
            base = self.visual_style
            self._styles = {name: (base + self._get_style(spec)).rich_style for name, spec in STYLE_OF.items() if spec}
        styles = self._styles
        plain_style = self.visual_style.rich_style
        segments: list[Segment] = []
        run = ""  # unstyled text not yet added
        for text, name in line:
            style = styles.get(name)
            if style is None:
                run += text
                continue
            if run:
                segments.append(Segment(run, plain_style))
                run = ""
            segments.append(Segment(text, style))
        if run:
            segments.append(Segment(run, plain_style))
        return Strip(segments, sum(len(text) for text, _ in line))

    def notify_style_update(self) -> None:
        self._styles = None
        self._strips_width = -1  # painted again in the new styles
        super().notify_style_update()

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if width != self._strips_width:  # the scrollbar came or went
            self._render_strips(width)
        index = round(self.scroll_y) + y
        if index >= len(self._strips):
            return Strip.blank(width, self.rich_style)
        strip = self._strips[index].crop_extend(0, width, self.rich_style)
        if index < len(self._origins):  # where the mouse is in the text, for a selection
            strip = strip.apply_offsets(*self._origins[index])
        return strip

    # --- mouse selection (the text is the content's, not the lines') ---------------------------

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        return selection.extract(plain(self.lines)), "\n"

    def selection_updated(self, selection: Selection | None) -> None:
        self._strips_width = -1  # rendered again, with the selection
        self.refresh()


def to_content(lines: list[Line]) -> Content:
    parts: list = []
    for i, line in enumerate(lines):
        if i:
            parts.append("\n")
        parts += [(text, STYLE_OF.get(style, "")) if style else text for text, style in line]
    return Content.assemble(*parts)
