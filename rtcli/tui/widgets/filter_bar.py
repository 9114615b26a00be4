"""The line above the footer: the filter as people type it, and the stats (rate, rows shown of
those kept, following / scrolled / paused). The filter is applied as it is typed (0.15 s after
the last key) and at once on enter; the bar posts ``FilterBar.Changed`` with the text."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Static

PLACEHOLDER = '/ to filter: words  action:delete  n=5  "a phrase"  sub:rows  -exclude'


class FilterBar(Horizontal):
    class Changed(Message):
        """The filter text to apply; ``submitted``: enter was pressed (back to the table)."""

        def __init__(self, text: str, submitted: bool) -> None:
            super().__init__()
            self.text = text
            self.submitted = submitted

    def __init__(self, *, id: str | None = None, delay: float = 0.15) -> None:
        super().__init__(id=id)
        self.delay = delay
        self._timer: Timer | None = None
        self._stats = ""

    def compose(self) -> ComposeResult:
        yield Input(placeholder=PLACEHOLDER, id="filter")
        yield Static("", id="stats", markup=False)

    @property
    def input(self) -> Input:
        return self.query_one("#filter", Input)

    @property
    def value(self) -> str:
        return self.input.value

    def set_value(self, text: str) -> None:
        """Put ``text`` in the filter line and post it at once."""
        self.input.value = text
        self._post(submitted=False)

    @on(Input.Changed, "#filter")
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(self.delay, self._post)

    @on(Input.Submitted, "#filter")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._post(submitted=True)

    def _post(self, submitted: bool = False) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = None
        self.post_message(self.Changed(self.input.value, submitted))

    def show_stats(self, text: str, paused: bool, width: int = 0) -> None:
        """Show ``text`` right-aligned in at least ``width`` cells."""
        stats = self.query_one("#stats", Static)
        # Its width is automatic, and a new width lays out the screen again: pad to steps of 8
        # cells so that it changes only when the text's length crosses one.
        text = text.rjust((max(len(text), width) + 7) // 8 * 8)
        if text != self._stats:
            stats.update(text, layout=len(text) != len(self._stats))
            self._stats = text
        stats.set_class(paused, "paused")
