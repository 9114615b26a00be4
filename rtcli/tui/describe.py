"""One event, described for people: the lines of the detail pane and of a row expanded in the
table. Pure Python, no Textual: each line is a list of ``(text, style)`` parts, where the style is
a name the widgets map to theme colours (``STYLES``).

The payload comes first, the user's fields before the ``$`` fields; each field is ``key  value``
with the value as JSON, moved whole to the next line when it does not fit beside its key (so a
date is never cut in the middle). Then how it was delivered: the subscriptions by name, and the
event names and channels collapsed to the most telling ones (``full`` lists them all).
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable
from typing import Any

from rtcli.client.summary import user_first
from rtcli.tui.records import EventRecord

Part = tuple[str, str]
Line = list[Part]
STYLES = ("title", "action", "key", "system", "value", "muted", "section", "warn", "error")
KEY_MAX = 16
SHOWN = 3  # event names / channels shown while collapsed
_DATETIME = re.compile(r'^"?\d{4}-\d\d-\d\dT')


def value_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def field_lines(key: str, value: str, key_w: int, width: int, style: str = "key") -> list[Line]:
    """``key  value`` in ``width`` cells: on one line if it fits, else the key alone and the value
    under it (indented 2), wrapped at spaces only when it is longer than a line."""
    if key_w + 2 + len(value) <= width:
        return [[(key.ljust(key_w) + "  ", style), (value, "value")]]
    inner = max(8, width - 2)
    if len(value) <= inner:
        chunks = [value]
    elif _DATETIME.match(value):  # too narrow for a whole date: break between the day and the time
        chunks = value.split("T", 1)
        chunks[1] = "T" + chunks[1]
    else:
        chunks = textwrap.wrap(value, inner, break_on_hyphens=False) or [value]
    return [[(key, style)]] + [[("  ", ""), (c, "value")] for c in chunks]


def payload_lines(payload: dict[str, Any], width: int, resource: str = "", *, limit: int | None = None) -> list[Line]:
    """The payload's fields, the user's first, then a ``system`` heading and the ``$`` fields."""
    keys = user_first(payload, resource)
    key_w = min(KEY_MAX, max((len(k) for k in keys), default=0))
    lines: list[Line] = []
    system = False
    for key in keys:
        if key.startswith("$") and not system:
            system = True
            lines.append([("system fields", "section")])
        lines += field_lines(key, value_text(payload[key]), key_w, width, "system" if system else "key")
        if limit is not None and len(lines) >= limit:
            break
    return lines


def _collapse(items: list[str], full: bool, width: int) -> list[str]:
    if full or len(items) <= SHOWN:
        return items
    return items[:SHOWN] + [f"… {len(items) - SHOWN} more (f: full screen)"]


def wrap_dotted(name: str, width: int) -> list[str]:
    """A dotted name (an event name, a channel) in lines of ``width``, broken after dots only
    (within a part only when the part alone is too long)."""
    if len(name) <= width or width < 4:
        return [name]
    parts = [p + "." for p in name.split(".")]
    parts[-1] = parts[-1][:-1]
    lines, line = [], ""
    for part in parts:
        if line and len(line) + len(part) > width:
            lines.append(line)
            line = ""
        while len(part) > width:
            lines.append(part[:width])
            part = part[width:]
        line += part
    return lines + [line] if line else lines


def telling_events(names: list[str]) -> list[str]:
    """Event names, the most specific first: no wildcards, ``tablesdb`` before its mirrors."""
    return sorted(names, key=lambda n: ("*" in n, not n.startswith("tablesdb."), -n.count("."), n))


def telling_channels(channels: list[str]) -> list[str]:
    """Channels, those without an action suffix first, shortest (widest audience) first."""
    actions = ("create", "update", "upsert", "delete")
    return sorted(channels, key=lambda c: (c.rsplit(".", 1)[-1] in actions, len(c), c))


def detail_lines(r: EventRecord, width: int, name_of: Callable[[str], str], *, full: bool = False,
                 excluded_by: str | None = None, why: list[str] | None = None) -> list[Line]:
    """The detail pane for ``r``, ``width`` cells wide; ``excluded_by`` names the subscription
    whose queries kept it out (the row is greyed in the table), ``why`` is what the server says
    failed (its explain checks), when it was asked."""
    width = max(16, width)
    if r.is_marker:
        return [[(r.summary, "warn")]]
    lines: list[Line] = [[(r.action, "action"), (" ", ""), (r.rid or r.channel, "title")]]
    where = r.short if r.rid else ""
    if len(r.time) + 2 + len(where) <= width:
        lines.append([(r.time, "muted"), ("  " + where, "muted")])
    else:
        lines += [[(r.time, "muted")], [(where, "muted")]]
    if excluded_by and why:
        lines.append([(f"✗ not delivered to {excluded_by}; the server says:", "warn")])
        lines += [[("  " + text, "warn")] for reason in why for text in textwrap.wrap(reason, width - 2)]
    elif excluded_by:
        lines.append([(f"✗ not delivered to {excluded_by}: its queries left it out (w: ask the server why)", "warn")])
    lines.append([])
    lines += payload_lines(r.payload, width, r.channel)
    lines += [[], [("delivery", "section")]]
    subs = [name_of(s) for s in r.subscriptions]
    meta_w = len("subscriptions")
    lines += field_lines("subscriptions", ", ".join(subs) or "none", meta_w, width)
    for label, items in (("events", telling_events(r.events)), ("channels", telling_channels(r.channels))):
        lines.append([(f"{label} ({len(items)})", "key")])
        for item in _collapse(items, full, width):
            style = "muted" if item.startswith("… ") else "value"
            lines += [[("  ", ""), (chunk, style)] for chunk in wrap_dotted(item, width - 2)]
    lines += field_lines("timestamp", str(r.data.get("timestamp") or "—"), meta_w, width)
    lines += field_lines("cursor", r.cursor or "—", meta_w, width)
    return lines


def expansion_lines(r: EventRecord, width: int, limit: int = 12) -> list[str]:
    """A row expanded in the table: its fields, one per line (at most ``limit`` lines)."""
    if r.is_marker:
        return []
    lines = ["".join(t for t, _ in line) for line in payload_lines(r.payload, width, r.channel, limit=limit + 1)]
    if len(lines) > limit:
        lines = lines[: limit - 1] + ["… more in the detail pane (f: full screen)"]
    return lines


def failed_checks(result: dict[str, Any]) -> list[str]:
    """The checks an explain response failed, as ``label: reason`` (e.g. ``query 1: n = 1 does not
    satisfy greaterThan [5]``)."""
    from rtcli.client.events import explain_checks
    from rtcli.tui.parse import query_label

    queries = [str(q.get("query")) for q in result.get("queries") or []]
    out = []
    for label, passed, text in explain_checks(result):
        if label.startswith("query ") and queries:
            q = queries.pop(0)
            text = text.replace(q, f"({query_label(q)})")  # as people type it, not its JSON
        if passed is False and label != "verdict":
            out.append(f"{label}: {text}")
    return out


def plain(lines: list[Line]) -> str:
    return "\n".join("".join(t for t, _ in line) for line in lines)
