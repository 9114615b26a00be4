"""Explain an event: why it did or did not reach a subscriber (an API key, a guest or a user),
on a channel with queries, as the server's explain endpoint answers (``RestActions.explain``,
the same endpoint as ``rtcli explain``). The form is prefilled from the selected event and the
subscription it came through (or was left out of); the verdict shows above the fields, check by
check, and the form stays open to ask again as someone else."""

from __future__ import annotations

import json
import textwrap
from typing import Any

from textual.app import ComposeResult
from textual.content import Content
from textual.widgets import Input, Label, Static, TextArea

from rtcli.client.events import explain_checks
from rtcli.tui.parse import parse_channels, parse_query, query_label
from rtcli.tui.screens.forms import FormScreen, Send


def subject(text: str) -> dict[str, Any]:
    """What people type in "as": ``key``, ``guest`` (or nothing) or a user ID (``user:ID`` too)."""
    t = text.strip()
    if t.lower() == "key":
        return {"key": True}
    if t.lower() in ("", "guest"):
        return {}
    return {"user": t.removeprefix("user:")}


def typed(query: str) -> str:
    """A query as people type it (``n>=2``) when that reads back the same, else its JSON."""
    label = query_label(query)
    try:
        same = json.loads(parse_query(label)) == json.loads(query)
    except ValueError:
        same = False
    return label if same else query


def verdict_content(result: dict[str, Any], width: int = 66) -> Content:
    """The checks as ``label ✓/✗ text`` lines, the text wrapped under itself, the verdict last."""
    parts: list = []
    indent = 13
    queries = [str(q.get("query")) for q in result.get("queries") or []]
    for label, passed, text in explain_checks(result):
        if label.startswith("query ") and queries:
            q = queries.pop(0)
            text = text.replace(q, f"({query_label(q)})")  # as typed in the form, not its JSON
        mark, style = ("  ", "") if passed is None else (("✓ ", "$text-success") if passed else ("✗ ", "$text-error"))
        if label == "verdict":
            parts += [("verdict".ljust(11), "bold"), (mark, style), (text, f"bold {style}")]
            continue
        lines = textwrap.wrap(text, max(20, width - indent), break_long_words=False, break_on_hyphens=False) or [""]
        parts += [(label.ljust(11), "bold"), (mark, style), lines[0], "\n"]
        parts += [" " * indent + line + "\n" for line in lines[1:]]
    return Content.assemble(*parts)


class ExplainScreen(FormScreen):
    TITLE = "Explain: did this event reach…"
    SUBMIT = "Explain"

    def __init__(self, cursor: str, event: str, send: Send, *, who: str = "key", channel: str = "",
                 queries: list[str] | None = None) -> None:
        super().__init__()
        self.cursor, self.event, self.who, self.channel = cursor, event, who, channel
        self.queries = list(queries or [])
        self.send = send

    def fields(self) -> ComposeResult:
        yield Static(Content.assemble(("event  ", "bold"), self.event, ("  cursor ", "$text-muted"), self.cursor))
        yield Static("", id="verdict", markup=False)  # first: at 80x24 the fields come after it
        yield Label("As: key, guest, or a user ID")
        yield Input(self.who, placeholder="key, guest, or a user ID", id="as", compact=True)
        yield Label("Channel subscribed to (empty: any of the event's)")
        yield Input(self.channel, placeholder="(any of the event's channels)", id="channel", compact=True)
        yield Label("Queries, one per line (n>=2, status=open, or Query JSON)")
        yield TextArea("\n".join(typed(q) for q in self.queries), id="queries", classes="short", compact=True)

    def on_mount(self) -> None:
        self.action_submit()  # the verdict for the prefilled subscriber at once

    def values(self) -> dict[str, Any]:
        channels = parse_channels(self.text("channel"))
        if len(channels) > 1:
            raise ValueError("one channel (or pattern) at a time")
        queries = [parse_query(line) for line in self.text("queries").splitlines() if line.strip()]
        return {"cursor": self.cursor, **subject(self.text("as")), "channel": channels[0] if channels else None,
                "queries": queries}

    def succeeded(self, values: dict[str, Any], result: Any) -> None:
        self.set_busy(False)
        width = self.query_one(".dialog").scrollable_content_region.width - 2  # a scrollbar may come
        self.query_one("#verdict", Static).update(verdict_content(result, width if width > 20 else 62))
        self.result = result

    def failed(self, message: str) -> None:
        super().failed(message)
        self.query_one("#verdict", Static).update("")

