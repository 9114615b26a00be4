"""What the monitor's table holds: event records (and the marker rows it shows between them),
how their cells read (the summary cell is rtcli.client.summary's). Pure Python, no Textual.

A record's cells (time, action, resource, ID, summary) are computed on first use: at 1,000
events a second most records are never drawn (only the rows on screen are), so creating a
record must cost next to nothing.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from rtcli.client.stream import ACTIONS, Event, local_time
from rtcli.client.summary import shown_value, summarize

SUMMARY_WIDTH = 400


class RecordKind(enum.Enum):
    EVENT = "event"
    MARKER = "marker"  # a row of the table's own: a gap, a reconnect (``data["text"]``)


class EventRecord:
    """One received event, or a marker row (``kind``). ``seq`` orders records locally."""

    __slots__ = ("seq", "received", "data", "kind", "_cells", "_hay", "_fields", "_group")

    def __init__(self, seq: int, received: float, data: dict[str, Any], kind: RecordKind = RecordKind.EVENT) -> None:
        self.seq = seq
        self.received = received
        self.data = data
        self.kind = kind
        self._cells: tuple[str, str, str, str, str, str] | None = None
        self._hay: str | None = None
        self._fields: dict[str, str] | None = None
        self._group: str | None = None

    @classmethod
    def marker(cls, seq: int, received: float, text: str) -> EventRecord:
        return cls(seq, received, {"text": text}, RecordKind.MARKER)

    @property
    def is_marker(self) -> bool:
        return self.kind is RecordKind.MARKER

    def _compute(self) -> tuple[str, str, str, str, str, str]:
        if self.kind is RecordKind.MARKER:
            self._cells = ("", "", "", "", "", str(self.data.get("text", "")))
            return self._cells
        event = Event(self.data)
        action = event.action or "event"
        resource = event.resource or ",".join(event.channels)
        payload = event.payload
        rid = payload.get("$id")
        rid = rid if isinstance(rid, str) else ""
        if rid and resource.endswith("." + rid):
            resource = resource[: -len(rid) - 1]
        self._cells = (local_time(event.timestamp, 12), action, resource, compact_channel(resource), rid,
                       summarize(payload, resource, width=SUMMARY_WIDTH))
        return self._cells

    @property
    def time(self) -> str:
        return (self._cells or self._compute())[0]

    @property
    def action(self) -> str:
        return (self._cells or self._compute())[1]

    @property
    def channel(self) -> str:
        """The resource's channel without its ID, e.g. ``tablesdb.main.tables.messages.rows``."""
        return (self._cells or self._compute())[2]

    @property
    def short(self) -> str:
        """``channel`` for narrow tables (see ``compact_channel``)."""
        return (self._cells or self._compute())[3]

    @property
    def rid(self) -> str:
        return (self._cells or self._compute())[4]

    @property
    def summary(self) -> str:
        return (self._cells or self._compute())[5]

    @property
    def group(self) -> str:
        """``short``, for counting what varies in a view: from the first event name when it names
        the resource plainly (a few microseconds), else from all the cells. Every event of a
        flood is counted; most are never drawn, so this must not cost a full ``_compute``."""
        if self._group is None:
            self._group = self._fast_group() or self.short
        return self._group

    def _fast_group(self) -> str | None:
        names = self.data.get("events")
        if not names or not isinstance(names[0], str):
            return None
        parts = names[0].split(".")
        if "*" in parts:
            return None
        if parts[-1] in ACTIONS:
            parts = parts[:-1]
        elif len(parts) > 1 and parts[-2] in ACTIONS:  # e.g. users.U.update.name
            parts = parts[:-2]
        payload = self.data.get("payload")
        if parts and isinstance(payload, dict) and parts[-1] == payload.get("$id"):
            parts = parts[:-1]
        return compact_channel(".".join(parts)) if parts else None

    # The frame's own fields, read as the client library reads them.
    events = property(lambda self: Event(self.data).events)
    channels = property(lambda self: Event(self.data).channels)
    subscriptions = property(lambda self: Event(self.data).subscriptions)
    payload = property(lambda self: Event(self.data).payload)
    cursor = property(lambda self: Event(self.data).cursor)

    @property
    def fields(self) -> dict[str, str]:
        """The payload's fields as the screen shows them (``shown_value``), lower-case keys."""
        if self._fields is None:
            self._fields = {k.lower(): shown_value(v) for k, v in self.payload.items()}
        return self._fields

    @property
    def hay(self) -> str:
        """Lower-case text that a filter's words search: what the row shows (action, resource,
        ID, the user's fields as ``key=value``), not the ``$`` fields nor the event names."""
        if self._hay is None:
            summary = summarize(self.payload, self.channel, width=10_000) if not self.is_marker else self.summary
            self._hay = " ".join((self.action, self.channel, self.short, self.rid, summary)).lower()
        return self._hay

    def json(self, indent: int | None = 2) -> str:
        """The event frame's ``data`` as JSON (what export and copy produce)."""
        if indent is None:
            return json.dumps(self.data, ensure_ascii=False, separators=(",", ":"))
        return json.dumps(self.data, ensure_ascii=False, indent=indent)


_COMPACT: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"^(?:tablesdb\.([^.]+)\.tables|databases\.([^.]+)\.collections)\.([^.]+)\.(?:rows|documents)$"),
     lambda m: f"{m.group(1) or m.group(2)}/{m.group(3)}"),
    (re.compile(r"^buckets\.([^.]+)\.files$"), lambda m: f"files:{m.group(1)}"),
    (re.compile(r"^functions\.([^.]+)\.executions$"), lambda m: f"exec:{m.group(1)}"),
    (re.compile(r"^teams\.([^.]+)\.memberships$"), lambda m: f"team:{m.group(1)}"),
)


def compact_channel(channel: str) -> str:
    """A short name for a resource channel, for narrow tables: ``tablesdb.main.tables.t.rows`` -> ``main/t``,
    ``buckets.b.files`` -> ``files:b``, ``functions.f.executions`` -> ``exec:f``; else unchanged."""
    for pattern, short in _COMPACT:
        m = pattern.match(channel)
        if m:
            return short(m)
    return channel


def export_lines(records: Iterable[EventRecord]) -> Iterator[str]:
    """One compact JSON object per event (the event's ``data``), newline-terminated; markers are skipped."""
    for r in records:
        if not r.is_marker:
            yield r.json(indent=None) + "\n"
