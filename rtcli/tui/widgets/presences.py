"""The presence pane: who is present, one line each (user, status, source, since, expires, ID,
metadata), under a fixed column header; a change is highlighted for a few seconds (a new
presence, the cells an update changed, a presence leaving, struck through).

It draws a ``PresenceBoard`` and holds no state of its own besides the lines it drew: the screen
calls ``show(now, wall)`` after a change and on its 0.5 s tick (ages and highlights move with
time); the lines are rebuilt then and the widget repaints only if they differ.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.events import Resize
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from rtcli.tui.presence import CREATE, DELETE, UPDATE, PresenceBoard, PresenceEntry
from rtcli.tui.layout import fit

# Status words coloured like a traffic light; any other status is shown plainly.
_ON = {"online", "available", "active", "here", "open", "present"}
_AWAY = {"away", "idle", "busy", "dnd", "do not disturb", "brb", "inactive"}
_OFF = {"offline", "invisible", "gone", "left"}


def presence_columns(width: int) -> tuple[int, int, int, int, int, int, int, int]:
    """(mark, user, status, source, since, expires, id, metadata) widths for ``width`` cells,
    1-cell gaps between shown columns; a 0 width hides the column (narrow panes keep the user,
    status, source, since and metadata)."""
    if width >= 110:
        cols = [1, 20, 12, 8, 5, 11, 16]
    elif width >= 76:
        cols = [1, 18, 10, 8, 5, 11, 0]
    elif width >= 44:
        cols = [1, 14, 9, 3, 5, 0, 0]
    else:  # beside the detail pane on a small terminal
        cols = [1, max(6, width - 19), 9, 0, 5, 0, 0]
    gaps = sum(1 for c in cols if c)
    meta = max(0, width - sum(cols) - gaps)
    return (*cols, meta)  # type: ignore[return-value]


def status_kind(status: str) -> str:
    s = status.lower()
    return "on" if s in _ON else "away" if s in _AWAY else "off" if s in _OFF else "other"


class PresencePane(ScrollView, can_focus=True):
    """See the module docstring."""

    COMPONENT_CLASSES = {
        "presence-pane--header", "presence-pane--note", "presence-pane--name", "presence-pane--me",
        "presence-pane--muted", "presence-pane--id", "presence-pane--on", "presence-pane--away",
        "presence-pane--off", "presence-pane--other", "presence-pane--create", "presence-pane--update",
        "presence-pane--delete",
    }

    DEFAULT_CSS = """
    PresencePane {
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-size-vertical: 1;
        & > .presence-pane--header { text-style: bold; background: $panel; }
        & > .presence-pane--note { color: $text-muted; text-style: italic; }
        & > .presence-pane--name { text-style: bold; }
        & > .presence-pane--me { color: $text-accent; text-style: bold; }
        & > .presence-pane--muted { color: $text-muted; }
        & > .presence-pane--id { color: $text-secondary; }
        & > .presence-pane--on { color: $text-success; }
        & > .presence-pane--away { color: $text-warning; }
        & > .presence-pane--off { color: $text-muted; }
        & > .presence-pane--other { color: $text-primary; }
        & > .presence-pane--create { background: $success 25%; }
        & > .presence-pane--update { background: $warning 30%; }
        & > .presence-pane--delete { color: $text-error; text-style: strike; }
    }
    """

    def __init__(self, board: PresenceBoard, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.board = board
        self.now = 0.0
        self.wall = 0.0
        self._lines: list[tuple] = []  # what each row shows: the cache key of its strip
        self._entries: list[PresenceEntry] = []
        self._strips: list[Strip] = []
        self._styles: dict[str, Style] | None = None
        self._title = ""
        self.live = True  # false while the connection is down: the list may be out of date

    # --- updates from the screen -------------------------------------------------------------

    def show(self, now: float, wall: float) -> None:
        """Rebuild the lines for ``now`` (screen clock) and ``wall`` (Unix time); repaint if changed."""
        self.now, self.wall = now, wall
        board = self.board
        title = f"Presences · {len(board)}" if board.loaded or board.entries else "Presences"
        if board.loading:
            title += " · loading"
        if not self.live:
            title += " · not live"  # the connection is down: the list may be out of date
        if title != self._title:
            self._title = self.border_title = title
        width = self.scrollable_content_region.width
        entries = list(board.rows())
        lines = [self._key(e, width) for e in entries] or [("note", self._note(), width)]
        if lines != self._lines:
            self._lines, self._entries = lines, entries
            self._strips = []
            self.virtual_size = Size(width, len(lines) + 1)
            self.refresh()

    def _note(self) -> str:
        board = self.board
        if board.error:
            return f"cannot list presences: {board.error} (changes still show as they happen)"
        if board.loading or not board.loaded:
            return "loading presences…"
        return "nobody is present (that you may see)"

    def _key(self, e: PresenceEntry, width: int) -> tuple:
        """Everything a row's look depends on (rows are redrawn only when it changes)."""
        return (e.id, self.board.name_of(e), e.user_id == self.board.me, e.status, e.source, e.age(self.wall),
                e.expiry(self.wall), e.flash(self.now, self.board.highlight), e.changed, repr(e.metadata), width)

    # --- rendering -------------------------------------------------------------------------

    def on_resize(self, event: Resize) -> None:
        self._styles = None
        self._lines = []
        self.show(self.now, self.wall)

    def notify_style_update(self) -> None:
        self._styles = None
        self._strips = []
        super().notify_style_update()

    def _style(self, name: str) -> Style:
        if self._styles is None:
            self._styles = {c.removeprefix("presence-pane--"): self.get_component_rich_style(c)
                            for c in self.COMPONENT_CLASSES}
            self._styles[""] = self.rich_style
            # Highlights are laid over the cells (post styles): a change's background, tinted
            # (blended over the pane's), keeps each cell's colour; a departure is red, struck through.
            for change in (CREATE, UPDATE):
                self._styles["+" + change] = Style(bgcolor=self._styles[change].bgcolor)
            self._styles["+" + DELETE] = Style(color=self._styles[DELETE].color, strike=True)
        return self._styles.get(name) or self._styles[""]

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            return self._header(width)
        index = round(self.scroll_y) + y - 1
        if not 0 <= index < len(self._lines):
            return Strip.blank(width, self._style(""))
        if len(self._strips) != len(self._lines):
            self._strips = [None] * len(self._lines)  # type: ignore[list-item]
        strip = self._strips[index]
        if strip is None or strip.cell_length != width:
            strip = self._strips[index] = self._draw(index, width)
        return strip

    def _header(self, width: int) -> Strip:
        widths = presence_columns(width)
        names = ("", "user", "status", "source" if widths[3] >= 6 else "src", "since", "expires", "id", "metadata")
        text = " ".join(fit(n, w) for n, w in zip(names, widths) if w)
        return Strip([Segment(fit(text, width), self._style("header"))], width)

    def _draw(self, index: int, width: int) -> Strip:
        line = self._lines[index]
        if line[0] == "note":
            return Strip([Segment(fit(" " + line[1], width), self._style("note"))], width)
        return self._row(self._entries[index], width)

    def _row(self, e: PresenceEntry, width: int) -> Strip:
        style = self._style
        mark_w, user_w, status_w, source_w, since_w, expires_w, id_w, meta_w = presence_columns(width)
        flash = e.flash(self.now, self.board.highlight)
        kind = status_kind(e.status)
        mark = {CREATE: "+", UPDATE: "~", DELETE: "-"}.get(flash, "●")
        me = e.user_id == self.board.me
        name = self.board.name_of(e) + (" (you)" if me else "")
        source = e.source if source_w >= 6 else {"realtime": "rt"}.get(e.source, e.source)
        cells: list[tuple[str, int, str, str]] = [  # (text, width, style, field an update may have changed)
            (mark, mark_w, kind, "mark"),
            (name, user_w, "me" if me else "name", ""),
            (e.status, status_w, kind, "status"),
            (source, source_w, "muted", "source"),
            (e.age(self.wall), since_w, "muted", ""),
            (e.expiry(self.wall), expires_w, "muted", "expires_at"),
            (e.id, id_w, "id", ""),
            (e.summary(meta_w, skip=e.name_key()), meta_w, "", "metadata"),  # the name is shown already
        ]
        gap = Segment(" ", style(""))
        segments: list[Segment] = []
        for text, w, name_, field_ in cells:
            if not w:
                continue
            seg = Segment(fit(text, w), style(name_))
            if flash == UPDATE and (field_ == "mark" or field_ in e.changed):
                seg = Segment(seg.text, seg.style + style("+update"))
            segments += [seg, gap]
        segments = segments[:-1]
        used = sum(s.cell_length for s in segments)
        if used < width:
            segments.append(Segment(" " * (width - used), style("")))
        if flash in (CREATE, DELETE):
            segments = list(Segment.apply_style(segments, post_style=style("+" + flash)))
        strip = Strip(segments, max(used, width))
        return strip.crop(0, width) if used > width else strip
