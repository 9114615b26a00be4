"""The subscriptions panel: one entry per subscription with its state, count, rate and sparkline."""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from rtcli.tui.model import SubscriptionState, compact_channel, human_rate, sparkline
from rtcli.tui.parse import query_label


class SubscriptionList(OptionList):
    """Highlight an entry to act on it (pause, remove). The app calls ``show()`` to redraw."""

    DEFAULT_CSS = """
    SubscriptionList { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._ids: list[str] = []

    @property
    def selected_id(self) -> str | None:
        if self.highlighted is None or not 0 <= self.highlighted < len(self._ids):
            return None
        return self._ids[self.highlighted]

    def show(self, subs: Sequence[SubscriptionState], now: float) -> None:
        width = max(10, self.scrollable_content_region.width - 2)
        prompts = [self._prompt(s, now, width) for s in subs]
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
    def _prompt(s: SubscriptionState, now: float, width: int) -> Content:
        if s.paused:
            mark, style, state = "‖", "$text-warning", "paused"
        elif s.confirmed:
            mark, style, state = "●", "$text-success", ""
        else:
            mark, style, state = "○", "$text-muted", "pending"
        label = s.label
        if len(label) > width - 2:
            label = ", ".join(compact_channel(c) for c in s.channels)
        if len(label) > width - 2:
            label = "…" + label[len(label) - width + 3:]
        line1 = Content.assemble((mark, style), " ", (label, "bold"))
        stats = f"  {s.count:,} · {human_rate(s.meter.rate(now))}"
        if state:
            stats = f"{stats} {state}"
        spark_w = max(0, width - len(stats) - 1)
        line2 = Content.assemble(stats, " ", (sparkline(s.meter.history(now, spark_w)), "$text-accent"))
        lines = [line1, line2]
        if s.queries:
            q = " ".join(query_label(x) for x in s.queries)
            lines.append(Content.assemble(("  " + (q if len(q) <= width - 2 else q[: width - 3] + "…"),
                                           "$text-muted italic")))
        return Content("\n").join(lines)
