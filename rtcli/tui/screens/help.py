"""The help screen: keys, the filter's syntax, and what the states mean."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# rtcli monitor

Live events from an Appwrite-compatible realtime endpoint. Everything is also in the
command palette (**ctrl+p**).

| key | what it does |
| --- | --- |
| **/** | filter (applied as you type; **escape** goes back to the table) |
| **p** or **space** | pause / resume the table (new events are counted, not shown) |
| **↑ ↓ pgup pgdn home** | scroll back; the detail pane shows the selected event |
| **end** | follow the newest events again |
| **a** | add a subscription (channels and optional queries) |
| **x** | remove the highlighted subscription |
| **m** | pause / resume the highlighted subscription |
| **tab** | move between filter, table, subscriptions, detail |
| **n** | create a row (database, table, JSON data) |
| **u** | upload a file to a bucket |
| **r** | run a function |
| **c** | copy the selected event's JSON to the clipboard |
| **e** | export the events shown (filtered) to a JSON lines file |
| **d** | show / hide the detail pane |
| **b** | show / hide the subscriptions panel |
| **?** | this help |
| **q** | quit |

## Filter

Terms are separated by spaces.

- A term with `*`, `?` or `[…]` is an **event-name glob**: `*.rows.*.delete`,
  `buckets.*.files.*`. `*` matches anything, dots included. An event passes when any
  glob matches any of its event names.
- Any other term is **text**, matched case-insensitively against the action, channel, ID
  and the payload's JSON. Every text term must match.
- `-term` excludes what matches: `-delete`, `-*.update`.

## Buffer

The table keeps the last N events (`--buffer`, default 10,000). When older events leave it,
the first line of the table says how many. Pausing keeps receiving events: the count of new
ones shows in the status line, and the paused rows may still leave the buffer if it fills.

## Connection

The header shows the state: **connected**, **reconnecting in N s** (with the last error), or
**failed** (the server refused the connection for good). After a reconnect, missed events are
replayed from the last cursor when the server supports it (rtcli serve does).

Press **escape** or **?** to close this help.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q,f1", "dismiss(None)", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help"):
            yield Markdown(HELP)
