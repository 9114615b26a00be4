"""The subscriptions panel: one entry per subscription with its name, state, count, rate and
sparkline, its queries, and a note when nothing can arrive on it. Its keys (filter to it, pause,
remove) act on the highlighted entry and only while the panel has the focus; it posts what was
asked (``Chosen``, ``PauseAsked``, ``RemoveAsked``) and the screen does it."""

from __future__ import annotations

from collections.abc import Sequence

from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from rtcli.tui.model import human_rate, sparkline
from rtcli.tui.parse import query_label
from rtcli.tui.subs import SubscriptionState


class SubscriptionList(OptionList):
    """The app calls ``show()`` to redraw; ``live`` is false while the connection is down."""

    BINDINGS = [
        Binding("m", "pause", "Pause/resume"),
        Binding("x,delete", "remove", "Unsubscribe"),
    ]

    DEFAULT_CSS = """
    SubscriptionList { height: 1fr; }
    """

    class Chosen(Message):
        """Enter or a click on a subscription: filter the table to it (again: all events)."""

        def __init__(self, sid: str) -> None:
            super().__init__()
            self.sid = sid

    class PauseAsked(Message):
        """``m``: pause the subscription (unsubscribe, keep it listed), or resume it."""

        def __init__(self, sid: str) -> None:
            super().__init__()
            self.sid = sid

    class RemoveAsked(Message):
        """``x``: unsubscribe (the screen asks first)."""

        def __init__(self, sid: str) -> None:
            super().__init__()
            self.sid = sid

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._ids: list[str] = []
        self.filtered: str | None = None  # the subscription the table is filtered to

    @property
    def selected_id(self) -> str | None:
        if self.highlighted is None or not 0 <= self.highlighted < len(self._ids):
            return None
        return self._ids[self.highlighted]

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if self.selected_id:
            self.post_message(self.Chosen(self.selected_id))

    def action_pause(self) -> None:
        if self.selected_id:
            self.post_message(self.PauseAsked(self.selected_id))

    def action_remove(self) -> None:
        if self.selected_id:
            self.post_message(self.RemoveAsked(self.selected_id))

    def show(self, subs: Sequence[SubscriptionState], now: float, live: bool = True) -> None:
        width = max(10, self.scrollable_content_region.width - 2)
        prompts = [self._prompt(s, now, width, live, s.id == self.filtered) for s in subs]
        ids = [s.id for s in subs]
        if ids != self._ids:
            keep = self.selected_id
            self._ids = ids
            self.set_options(Option(p, id=i) for p, i in zip(prompts, ids))
            if ids:
                self.highlighted = ids.index(keep) if keep in ids else len(ids) - 1
        else:
            for index, prompt in enumerate(prompts):
                self.replace_option_prompt_at_index(index, prompt)

    @staticmethod
    def _prompt(s: SubscriptionState, now: float, width: int, live: bool, filtered: bool) -> Content:
        if s.paused:
            mark, style, state = "‖", "$text-warning", "paused"
        elif not live:
            mark, style, state = "○", "$text-muted", "offline"
        elif s.note:
            mark, style, state = "!", "$text-warning", ""
        elif s.confirmed:
            mark, style, state = "●", "$text-success", ""
        else:
            mark, style, state = "○", "$text-muted", "pending"
        label = s.name
        room = width - (4 if filtered else 2)
        if len(label) > room:
            label = "…" + label[len(label) - room + 1:]
        # The one the table is filtered to: marked, in the accent colour.
        line1 = Content.assemble((mark, style), " ", (label, "bold $text-accent" if filtered else "bold"),
                                 (" ◂" if filtered else "", "$text-accent"))
        stats = f"  {s.count:,} · {human_rate(s.meter.rate(now))}" if live else f"  {s.count:,}"
        if state:
            stats = f"{stats} {state}"
        spark_w = max(0, width - len(stats) - 1)
        line2 = Content.assemble(stats, " ", (sparkline(s.meter.history(now, spark_w)) if live else "", "$text-accent"))
        lines = [line1, line2]
        full = ", ".join(s.channels)
        if full != s.name:
            lines.append(Content.assemble(("  " + _cut(full, width - 2), "$text-muted")))
        if s.queries:
            q = " ".join(query_label(x) for x in s.queries)
            lines.append(Content.assemble(("  " + _cut(q, width - 2), "$text-muted italic")))
        if s.note:
            lines.append(Content.assemble(("  " + s.note, "$text-warning")))
        return Content("\n").join(lines)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"
