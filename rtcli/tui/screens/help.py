"""The help screen: keys, the filter's syntax, and what the states mean."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = (
    ("/", "filter, applied as you type (enter or escape: back to the table)"),
    ("p  space", "pause / resume the table; new events are counted, not shown"),
    ("↑ ↓ pgup pgdn", "scroll back; the detail pane shows the selected event"),
    ("home  end", "oldest event / follow the newest again"),
    ("click  wheel", "select an event / scroll"),
    ("a", "add a subscription (channels, optional queries)"),
    ("m  x", "pause / remove the highlighted subscription"),
    ("tab", "move between table, detail, presences, filter and subscriptions"),
    ("n", "create a row (database, table, JSON data)"),
    ("u", "upload a file to a bucket, with progress"),
    ("r", "run a function with a body"),
    ("c", "copy the selected event's JSON to the clipboard"),
    ("e", "export the events shown (after the filter) to JSON lines"),
    ("d  b", "show / hide the detail pane, the subscriptions panel"),
    ("P", "show / hide the presence pane: who is present, live"),
    ("ctrl+p", "command palette: all of the above, and themes"),
    ("?  q", "this help / quit"),
)

SECTIONS = (
    ("Filter", (
        "Terms are separated by spaces.",
        "A term with * ? or [..] is an event-name glob, e.g. *.rows.*.delete or buckets.*; "
        "* matches anything, dots included. An event passes when any glob matches any of its event names.",
        "Any other term is text, matched case-insensitively against the action, channel, ID and the "
        "payload's JSON. Every text term must match.",
        "-term excludes what matches: -delete, -*.update.",
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
        "The header shows connected, reconnecting in N s (with the last error), or failed (the server "
        "refused for good), and the ping round trip. After a reconnect the missed events are replayed "
        "from the last cursor when the server supports it (rtcli serve does). A paused subscription is "
        "unsubscribed on the server until resumed.",
    )),
)


def help_content() -> Content:
    width = max(len(k) for k, _ in KEYS) + 2
    parts: list = [("Keys", "bold $text-accent"), "\n"]
    for keys, text in KEYS:
        parts += [(keys.ljust(width), "bold"), text, "\n"]
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
            yield Static(help_content())
