"""The help screen: keys, the filter's syntax, and what the states mean."""

from __future__ import annotations

import textwrap

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = (
    ("Anywhere", None),
    ("/", "filter, applied as you type (enter or escape: back to the table)"),
    ("p  space", "pause / resume the table; new events are counted, not shown"),
    ("a", "add a subscription (channels, optional queries)"),
    ("n  u  r", "create a row / upload a file / run a function (a form; ctrl+s sends it)"),
    ("t", "publish to a topic (subscribing to it first, so the message shows here)"),
    ("e", "export the events shown (after the filter) to JSON lines"),
    ("d  b  P", "show / hide the detail pane, the subscriptions panel, the presence pane"),
    ("S", "save a screenshot (SVG) in the current directory"),
    ("tab", "next panel: table, detail, presences, filter, subscriptions"),
    ("ctrl+p", "command palette: all of the above, with their keys, and themes"),
    ("?  q", "this help / quit"),
    ("Event table", None),
    ("↑ ↓ pgup pgdn", "scroll back; the detail pane follows the selected event"),
    ("home  end", "oldest event / follow the newest again"),
    ("enter", "expand the selected event: its fields under its row (again: fold)"),
    ("f", "the selected event full screen, every event name and channel (f or escape: back)"),
    ("w", "explain: did it reach an API key, a guest or a user, on which channel and queries"),
    ("c", "copy the selected event's JSON to the clipboard"),
    ("Subscriptions panel", None),
    ("enter", "filter the table to this subscription (again: every event)"),
    ("m", "pause / resume it (unsubscribed on the server meanwhile)"),
    ("x", "unsubscribe (asks first)"),
)

SECTIONS = (
    ("Filter", (
        "Terms are separated by spaces; every term must match, -term must not.",
        "word: in the row as shown (action, resource, ID, the fields of the summary), not in the $ fields "
        "nor the event names: create finds creates. \"a phrase\": the same, with spaces.",
        "key=value: a field as the summary shows it: n=1000, done=true, text=\"two words\", name=photo*. "
        "key= : the field is there.",
        "action:delete, action:create,update: the action. id:6b13: IDs starting so.",
        "sub:NAME: delivered to that subscription (its name in the panel, its ID or a channel). Enter on "
        "a subscription does it for you. Events on its channels that its queries left out stay in view, "
        "greyed and marked ✗; w asks the server why.",
        "A term with * ? or [..] is an event-name glob, e.g. *.rows.*.delete or buckets.*; * matches "
        "anything, dots included; several globs: any of them.",
    )),
("Buffer", (
        "The table keeps the last N events (--buffer, default 10,000). When older events leave it, the "
        "first line of the table says how many. While paused, events keep arriving (the status line "
        "counts them) and paused rows can still leave a full buffer.",
    )),
    ("Presence", (
        "The presence pane lists the presences you may read: user (name when known), status, source "
        "(realtime: lives as long as its connection; api: set over REST, until it expires), how long it has "
        "been there, its expiry, ID and metadata. New presences, changed cells and leaving presences are "
        "highlighted for a few seconds.",
        "It loads the list over REST at start and after every reconnect, then follows the presences "
        "channel on a subscription of its own: that one is not in the subscriptions panel and its events "
        "are not in the table (subscribe to presences yourself to see them there). Shown from 120 columns "
        "on; P shows or hides it at any width.",
    )),
    ("Connection", (
        "The header shows connected (with the ping round trip), reconnecting in N s (with the last "
        "error), or failed (the server refused for good). While the connection is down the panes are "
        "dimmed, the subscriptions say offline and the presence pane says it is not live. When it comes "
        "back a marker row in the table says when it was lost; the missed events follow it, replayed "
        "from the last cursor when the server supports it (rtcli serve does).",
        "A paused subscription is unsubscribed on the server until resumed. A subscription marked ! "
        "cannot receive anything as this monitor's identity (e.g. an API key on executions: only "
        "executions users start send events); its note says why.",
    )),
)


def help_content(columns: int = 90) -> Content:
    """The help, its key descriptions wrapped under themselves to fit ``columns`` cells."""
    width = max(len(k) for k, text in KEYS if text is not None) + 2
    parts: list = []
    for keys, text in KEYS:
        if text is None:
            parts += ["\n" if parts else "", (f"Keys: {keys.lower()}", "bold $text-accent"), "\n"]
            continue
        lines = textwrap.wrap(text, max(20, columns - width - 2)) or [""]  # a scrollbar may come
        parts += [(keys.ljust(width), "bold"), lines[0], "\n"]
        parts += [" " * width + line + "\n" for line in lines[1:]]
    for title, paragraphs in SECTIONS:
        parts += ["\n", (title, "bold $text-accent"), "\n"]
        for paragraph in paragraphs:
            parts += [paragraph, "\n"]
    parts += ["\n", ("escape or ? closes this help", "$text-muted")]
    return Content.assemble(*parts)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q,f1", "dismiss(None)", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help") as box:
            box.border_title = "rtcli monitor: help"
            yield Static(help_content(), id="help-text")

    def on_resize(self) -> None:
        text = self.query_one("#help-text", Static)
        text.update(help_content(text.size.width or 90))
