"""The detail pane: the selected event's payload as highlighted JSON, then its events,
channels, subscriptions and cursor.

Redraws are throttled (at most one per ``interval``, 1 s: the first at once, the latest
selection at the end of the interval) because while the table follows the tail the selection
changes with every batch; an explicit selection redraws at once.
"""

from __future__ import annotations

import json
import time

from textual.containers import VerticalScroll
from textual.content import Content
from textual.highlight import highlight
from textual.timer import Timer
from textual.widgets import Static

from rtcli.tui.model import EventRecord


class EventDetail(VerticalScroll, can_focus=True):
    DEFAULT_CSS = """
    EventDetail {
        & > #detail-title { text-style: bold; }
        & > #detail-json { margin: 1 0; }
        & > .detail-meta { color: $text-muted; }
    }
    """

    def __init__(self, *, id: str | None = None, interval: float = 1.0) -> None:
        super().__init__(id=id)
        self.record: EventRecord | None = None
        self.interval = interval
        self._timer: Timer | None = None
        self._shown: int | None = None
        self._last = 0.0  # monotonic time of the last redraw

    def compose(self):
        yield Static("No event selected. Events appear as they arrive; ↑/↓ or a click selects one.",
                     id="detail-title", markup=False)
        yield Static(id="detail-json")
        yield Static(id="detail-meta", classes="detail-meta")

    def show(self, record: EventRecord | None, immediate: bool = False) -> None:
        self.record = record
        if self._timer is not None:
            return  # a redraw is due; it will show this record
        wait = self._last + self.interval - time.monotonic()
        if immediate or wait <= 0:
            self._render_now()
        else:
            self._timer = self.set_timer(wait, self._render_now)

    @property
    def pending(self) -> bool:
        """A throttled redraw is still to come."""
        return self._timer is not None

    def _render_now(self, force: bool = False) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = None
        self._last = time.monotonic()
        r = self.record
        seq = r.seq if r is not None else None
        if seq == self._shown and not force:
            return
        self._shown = seq
        title, body, meta = self.query_one("#detail-title", Static), self.query_one("#detail-json", Static), \
            self.query_one("#detail-meta", Static)
        if r is None:
            title.update("No event selected.")
            body.update("")
            meta.update("")
            return
        title.update(Content.assemble((r.action, "$text-accent"), " ", r.rid or r.channel, "  ", (r.time, "$text-muted")))
        text = json.dumps(r.data.get("payload"), ensure_ascii=False, indent=2)
        body.update(highlight(text, language="json"))
        meta.update(Content.assemble(
            ("channel", "bold"), "  " + r.channel, "\n", ("timestamp", "bold"), "  " + str(r.data.get("timestamp")), "\n",
            ("events", "bold"), f" ({len(r.events)})\n", "\n".join(r.events),
            "\n", ("channels", "bold"), f" ({len(r.channels)})\n", "\n".join(r.channels),
            "\n", ("subscriptions", "bold"), "  " + ", ".join(r.subscriptions),
            "\n", ("cursor", "bold"), "  " + str(r.data.get("cursor") or "—"),
        ))
