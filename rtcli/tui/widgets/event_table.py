"""The live event table: a Line API widget that draws only the rows on screen.

It renders an ``EventView`` (which may hold 10,000 rows) one visible line at a time, so a batch
of new events costs a size update and a redraw of the visible lines, whatever the buffer size.

Line 0 is a fixed column header; the columns follow the width and what varies (``layout``). When
events have left the ring buffer, the first content line is a marker saying how many. A cursor
selects one row; while ``following``, the cursor sits on the newest row and the view scrolls with
it. Moving up, clicking a row or scrolling the wheel up stops following; ``end`` (or moving down
past the last row) follows again. Enter expands the selected row: its fields on the lines under
it (one row at a time).
"""

from __future__ import annotations

from rich.style import Style
from textual.binding import Binding
from textual.events import Click, MouseScrollDown, MouseScrollUp, Resize
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from rtcli.tui.describe import expansion_lines
from rtcli.tui.filter import Verdict
from rtcli.tui.layout import table_columns
from rtcli.tui.model import EventBuffer, EventView
from rtcli.tui.records import EventRecord
from rtcli.tui.widgets.table_rows import RowPainter
from rtcli.tui.widgets.virtual import set_virtual_size



class EventTable(ScrollView, can_focus=True):
    """See the module docstring. The app calls ``update_rows()`` after each batch."""

    BINDINGS = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "Oldest", show=False),
        Binding("end,G", "follow", "Follow", show=False),
        Binding("enter", "expand", "Expand"),
        Binding("f", "screen.full_detail", "Full"),
        Binding("w", "screen.explain", "Explain"),
        Binding("c", "screen.copy_event", "Copy"),
    ]

    COMPONENT_CLASSES = {
        "event-table--header", "event-table--cursor", "event-table--marker", "event-table--time",
        "event-table--id", "event-table--summary", "event-table--create", "event-table--update",
        "event-table--upsert", "event-table--delete", "event-table--event", "event-table--excluded",
        "event-table--expanded",
    }

    DEFAULT_CSS = """
    EventTable {
        overflow-x: hidden;
        overflow-y: auto;
        & > .event-table--header { text-style: bold; background: $panel; }
        & > .event-table--cursor { background: $block-cursor-blurred-background; }
        &:focus > .event-table--cursor {
            background: $block-cursor-background; color: $block-cursor-foreground; text-style: bold;
        }
        & > .event-table--marker { color: $warning; text-style: italic; }
        & > .event-table--time { color: $text-muted; }
        & > .event-table--id { color: $text-secondary; }
        & > .event-table--summary { color: $foreground; }
        & > .event-table--create { color: $text-success; }
        & > .event-table--update { color: $text-warning; }
        & > .event-table--upsert { color: $text-accent; }
        & > .event-table--delete { color: $text-error; text-style: bold; }
        & > .event-table--event { color: $text-primary; }
        & > .event-table--excluded { color: $text-disabled; text-style: italic; }
        & > .event-table--expanded { color: $text-muted; background: $boost; }
    }
    """

    class Selected(Message):
        """The cursor moved to ``record`` (None: the table is empty); ``by_user``: a key, a click
        or a new filter moved it, not new rows (which move it while the table follows them)."""

        def __init__(self, record: EventRecord | None, following: bool, by_user: bool = True) -> None:
            super().__init__()
            self.record = record
            self.following = following
            self.by_user = by_user

    class FollowChanged(Message):
        def __init__(self, following: bool) -> None:
            super().__init__()
            self.following = following

    def __init__(self, view: EventView, buffer: EventBuffer, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = view
        self.buffer = buffer
        self.cursor = -1  # row index into the view, -1 when empty
        self.following = True
        self._selected_seq: int | None = None
        self._styles: dict[str, Style] | None = None
        self.painter = RowPainter(self._style)
        self.columns = table_columns(0, ())
        self._cols_width = 0
        self.expanded: int | None = None  # seq of the expanded row
        self._expansion: list[str] = []
        self._title_resource: str | None = None
        # Rendered rows by (seq, width, is cursor): a row never changes once received, and while
        # following every frame shows the rows of the previous one shifted by the new ones. (The
        # cache is cleared when the columns, the filter or the styles change.)
        self._strips: dict[tuple[int, int, bool], Strip] = {}

    def on_focus(self) -> None:
        self._styles = None  # the cursor looks different with focus
        self._strips.clear()
        self.refresh()

    def on_blur(self) -> None:
        self.on_focus()

    # --- geometry --------------------------------------------------------------------------

    @property
    def marker_lines(self) -> int:
        return 1 if self.buffer.dropped else 0

    def _expanded_row(self) -> int | None:
        """The view index of the expanded row, if it is shown."""
        if self.expanded is None:
            return None
        i = self.view.index_of(self.expanded)
        return i if i is not None and i < self.view.visible else None

    @property
    def content_lines(self) -> int:
        extra = len(self._expansion) if self._expanded_row() is not None else 0
        return self.view.visible + self.marker_lines + extra

    def line_of(self, row: int) -> int:
        """The content line (0: the first under the header) of view row ``row``."""
        e = self._expanded_row()
        return row + self.marker_lines + (len(self._expansion) if e is not None and e < row else 0)

    def locate(self, line: int) -> tuple[str, int]:
        """What content line ``line`` shows: ("marker", 0), ("row", index), ("more", index into the
        expansion) or ("none", 0)."""
        if self.marker_lines:
            if line == 0:
                return "marker", 0
            line -= 1
        e = self._expanded_row()
        if e is not None and line > e:
            if line <= e + len(self._expansion):
                return "more", line - e - 1
            line -= len(self._expansion)
        return ("row", line) if 0 <= line < self.view.visible else ("none", 0)

    @property
    def page(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _resize_virtual(self) -> None:
        """Set the scrollable size (with every batch: without a layout of the screen)."""
        self._fit_columns()
        set_virtual_size(self, Size(self.scrollable_content_region.width, self.content_lines + 1))

    def _fit_columns(self) -> None:
        """Columns for the width and the resources in view; the title names a lone resource."""
        resources = self.view.resources
        self._cols_width = self.scrollable_content_region.width
        cols = table_columns(self._cols_width, resources)
        if cols != self.columns:
            self.columns = cols
            self._strips.clear()
            self._expansion = self._expand_lines()
        lone = next(iter(resources)) if len(resources) == 1 else None
        if lone != self._title_resource:
            self._title_resource = lone
            self.border_title = f"Events · {lone}" if lone else "Events"

    def _expand_lines(self) -> list[str]:
        e = self._expanded_row()
        if e is None:
            return []
        return expansion_lines(self.view[e], max(8, self.scrollable_content_region.width - self.columns.time - 1))

    def on_resize(self, event: Resize) -> None:
        self._styles = None
        self._strips.clear()
        self._resize_virtual()
        if self.following:
            self._scroll_to_cursor(end=True)

    def notify_style_update(self) -> None:
        self._styles = None
        self._strips.clear()
        super().notify_style_update()

    # --- updates from the app --------------------------------------------------------------

    def update_rows(self, trimmed: int = 0) -> None:
        """New rows arrived (``trimmed`` rows left the front of the view): resize, keep the cursor
        on its record (or on the newest while following), redraw."""
        n = self.view.visible
        if self.following:
            self.cursor = n - 1
        elif self._selected_seq is not None:
            i = self.view.index_of(self._selected_seq)
            self.cursor = i if i is not None and i < n else min(max(self.cursor - trimmed, 0), n - 1)
            if trimmed:
                self.scroll_to(y=max(0, self.scroll_y - trimmed), animate=False, immediate=True)
        else:
            self.cursor = min(self.cursor, n - 1)
        self._resize_virtual()
        if self.following:
            self._scroll_to_cursor(end=True)
        self.refresh()
        self._announce(by_user=False)

    def reset_rows(self) -> None:
        """The view was rebuilt (new filter): keep the selected record if it is still shown."""
        self._strips.clear()  # a row's look depends on the filter (greyed when excluded)
        n = self.view.visible
        i = self.view.index_of(self._selected_seq) if self._selected_seq is not None else None
        if self.following or i is None or i >= n:
            self.cursor = n - 1 if self.following or i is None else min(self.cursor, n - 1)
        else:
            self.cursor = i
        self._resize_virtual()
        self._scroll_to_cursor(end=self.following)
        self.refresh()
        self._announce(force=True)

    @property
    def selected(self) -> EventRecord | None:
        if 0 <= self.cursor < self.view.visible:
            return self.view[self.cursor]
        return None

    def _announce(self, force: bool = False, by_user: bool = True) -> None:
        record = self.selected
        seq = record.seq if record is not None else None
        if force or seq != self._selected_seq:
            self._selected_seq = seq
            self.post_message(self.Selected(record, self.following, by_user))

    def set_following(self, following: bool) -> None:
        if following != self.following:
            self.following = following
            self.post_message(self.FollowChanged(following))
        if following:
            self._place_cursor(self.view.visible - 1, end=True)
            self._announce()

    def _scroll_to_cursor(self, end: bool = False) -> None:
        if end:
            self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)
            return
        line = self.line_of(self.cursor)
        last = line + (len(self._expansion) if self._expanded_row() == self.cursor else 0)
        top = round(self.scroll_y)
        if line < top:
            self.scroll_to(y=line, animate=False, immediate=True)
        elif last >= top + self.page:
            self.scroll_to(y=min(line, last - self.page + 1), animate=False, immediate=True)

    def move_cursor(self, row: int) -> None:
        n = self.view.visible
        if n == 0:
            return
        row = max(0, min(row, n - 1))
        if row != self.cursor or self.following:
            self.set_following(False)
            self._place_cursor(row)
            self._announce()

    def _place_cursor(self, row: int, end: bool = False) -> None:
        """Move the cursor to ``row`` and scroll to it. When nothing scrolls only the two rows
        whose look changes are drawn again: a key then costs a frame of two lines."""
        old, top = self.cursor, self.scroll_offset.y
        self.cursor = row
        self._scroll_to_cursor(end=end)
        if self.scroll_offset.y != top:
            self.refresh()
            return
        for r in (old, row):
            if 0 <= r < self.view.visible:
                self.refresh_line(self.line_of(r) + 1)  # + 1: the column header

    # --- keys and mouse --------------------------------------------------------------------

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor - 1)

    def action_cursor_down(self) -> None:
        if self.cursor >= self.view.visible - 1 and self.view.hidden == 0:
            self.set_following(True)
        else:
            self.move_cursor(self.cursor + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self.cursor - self.page)

    def action_page_down(self) -> None:
        self.move_cursor(self.cursor + self.page)

    def action_first(self) -> None:
        self.move_cursor(0)
        self.scroll_to(y=0, animate=False, immediate=True)

    def action_follow(self) -> None:
        self.set_following(True)

    def action_expand(self) -> None:
        """Expand the selected row (its fields under it), or fold it back."""
        record = self.selected
        if record is None or record.is_marker:
            return
        self.expanded = None if self.expanded == record.seq else record.seq
        self._expansion = self._expand_lines()
        self._strips.clear()
        self._resize_virtual()
        if self.expanded is not None and self.following:
            self.set_following(False)  # stay on it while new rows arrive
        self._scroll_to_cursor(end=self.following)
        self.refresh()

    def on_click(self, event: Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y <= 0:  # outside the rows, or the column header
            return
        kind, row = self.locate(round(self.scroll_y) + offset.y - 1)
        if kind == "row":
            self.move_cursor(row)

    def on_mouse_scroll_up(self, event: MouseScrollUp) -> None:
        if self.following and self.max_scroll_y > 0:
            self.following = False
            self.post_message(self.FollowChanged(False))

    def on_mouse_scroll_down(self, event: MouseScrollDown) -> None:
        if not self.following and self.view.hidden == 0 and self.scroll_y >= self.max_scroll_y - 1:
            self.set_following(True)

    # --- rendering -------------------------------------------------------------------------

    def _style(self, name: str) -> Style:
        if self._styles is None:
            # Full styles: colours with alpha (e.g. $text-muted) are blended over the real background.
            self._styles = {c.removeprefix("event-table--"): self.get_component_rich_style(c)
                            for c in self.COMPONENT_CLASSES}
            self._styles[""] = self.rich_style
            # The cursor is laid over the cells (post style): only what its CSS sets.
            self._styles["cursor"] = self.get_component_rich_style("event-table--cursor", partial=True)
        return self._styles.get(name) or self._styles["event"]

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if width != self._cols_width:  # the scrollbar came or went
            self._fit_columns()
        cols = self.columns
        if y == 0:
            return self.painter.header(cols, width)
        kind, index = self.locate(round(self.scroll_y) + y - 1)
        if kind == "marker":
            n = self.buffer.dropped
            return self.painter.text(f"▲ {n:,} older event{'s' if n != 1 else ''} left the buffer "
                                     f"(it keeps the last {self.buffer.capacity:,})", width, "marker")
        if kind == "more":
            return self.painter.expansion(self._expansion[index], cols, width)
        if kind == "none":
            return Strip.blank(width, self._style(""))
        record = self.view[index]
        key = (record.seq, width, index == self.cursor)
        strip = self._strips.get(key)
        if strip is None:
            if len(self._strips) > 4 * max(self.size.height, 10):
                self._strips.clear()
            excluded = not self.view.filter.empty and self.view.filter.verdict(record) is Verdict.EXCLUDED
            strip = self._strips[key] = self.painter.row(record, cols, width, index == self.cursor, excluded)
        return strip
