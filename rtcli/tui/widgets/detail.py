"""The detail pane: the selected event's payload as highlighted JSON, then its events,
channels, subscriptions and cursor.

Redraws are throttled (at most every ``interval`` seconds) because while the table follows the
tail the selection changes with every batch; an explicit selection redraws at once.
"""

from __future__ import annotations

import json

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

    def __init__(self, *, id: str | None = None, interval: float = 0.25) -> None:
        super().__init__(id=id)
        self.record: EventRecord | None = None
        self.interval = interval
        self._timer: Timer | None = None
        self._shown: int | None = None

    def compose(self):
        yield Static("No event selected. Events appear as they arrive; ↑/↓ or a click selects one.",
                     id="detail-title", markup=False)
        yield Static(id="detail-json")
        yield Static(id="detail-meta", classes="detail-meta")

    def show(self, record: EventRecord | None, immediate: bool = False) -> None:
        self.record = record
        if immediate:
            self._render_now()
        elif self._timer is None:
            self._timer = self.set_timer(self.interval, self._render_now)

    def _render_now(self, force: bool = False) -> None:
        self._timer = None
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
            ("events", "bold"), f" ({len(r.events)})\n", "\n".join(f"  {e}" for e in r.events),
            "\n", ("channels", "bold"), f" ({len(r.channels)})\n", "\n".join(f"  {c}" for c in r.channels),
            "\n", ("subscriptions", "bold"), "  " + ", ".join(r.subscriptions),
            "\n", ("cursor", "bold"), "  " + str(r.data.get("cursor") or "—"),
        ))
