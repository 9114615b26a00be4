"""The monitor's state, without Textual: event records, the ring buffer, the filtered view,
filters, rates and subscriptions. Pure Python; every function that needs the time takes ``now``.

Contracts:

- ``EventBuffer`` keeps at most ``capacity`` records, oldest first; ``dropped`` counts every record
  that ever left it (evicted, or skipped before it arrived because the UI fell behind).
- ``EventView`` is the buffer seen through an ``EventFilter``: records in arrival order, never more
  than the buffer holds. While frozen (paused) it still takes new records but hides them:
  ``visible`` stops at the freeze point and ``hidden`` counts what arrived since.
- ``RateMeter`` counts events in one-second buckets; ``rate()`` is events per second over the
  last few seconds, ``history()`` the per-second counts for a sparkline.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from rtcli.client.realtime import Event
from rtcli.client.stream import local_time

DEFAULT_BUFFER = 10_000
SUMMARY_WIDTH = 120
SPARK = "▁▂▃▄▅▆▇█"

# Fields worth showing first in a summary, per kind of resource (the rest follow).
_SUMMARY_KEYS = {
    "files": ("name", "mimeType", "sizeOriginal"),
    "executions": ("status", "responseStatusCode", "duration", "trigger"),
}


# --- records ---------------------------------------------------------------------------------


class EventRecord:
    """One received event. ``seq`` orders records locally.

    The table cells (time, action, channel, id, summary) are computed on first use: at 1,000
    events a second most records are never drawn (only the rows on screen are), so creating a
    record must cost next to nothing.
    """

    __slots__ = ("seq", "received", "data", "_cells", "_hay")

    def __init__(self, seq: int, received: float, data: dict[str, Any]) -> None:
        self.seq = seq
        self.received = received
        self.data = data
        self._cells: tuple[str, str, str, str, str, str] | None = None
        self._hay: str | None = None

    def _compute(self) -> tuple[str, str, str, str, str, str]:
        event = Event(self.data)
        action = event.action or "event"
        resource = event.resource or ",".join(event.channels)
        payload = event.payload
        rid = payload.get("$id")
        rid = rid if isinstance(rid, str) else ""
        if rid and resource.endswith("." + rid):
            resource = resource[: -len(rid) - 1]
        self._cells = (local_time(event.timestamp, 12), action, resource, compact_channel(resource), rid,
                       summarize(payload, resource))
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

    # The frame's own fields, read as the client library reads them.
    events = property(lambda self: Event(self.data).events)
    channels = property(lambda self: Event(self.data).channels)
    subscriptions = property(lambda self: Event(self.data).subscriptions)

    @property
    def hay(self) -> str:
        """Lower-case text the text filter searches: cells, event names and the payload's JSON."""
        if self._hay is None:
            payload = json.dumps(self.data.get("payload"), ensure_ascii=False, separators=(",", ":"))
            self._hay = " ".join((self.action, self.channel, self.rid, *self.events, payload)).lower()
        return self._hay

    def json(self, indent: int | None = 2) -> str:
        """The event frame's ``data`` as JSON (what export and copy produce)."""
        if indent is None:
            return json.dumps(self.data, ensure_ascii=False, separators=(",", ":"))
        return json.dumps(self.data, ensure_ascii=False, indent=indent)


_COMPACT = (
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


def summarize(payload: dict[str, Any], resource: str = "", width: int = SUMMARY_WIDTH) -> str:
    """The payload's own fields as ``key=value`` pairs (system ``$`` fields left out), cut to ``width``."""
    kind = next((k for k in _SUMMARY_KEYS if f".{k}" in f".{resource}"), None)
    keys = [k for k in _SUMMARY_KEYS.get(kind, ()) if k in payload]
    keys += [k for k in payload if not k.startswith("$") and k not in keys]
    parts = []
    used = 0
    for key in keys:
        value = payload[key]
        if isinstance(value, str):
            shown = value if value and " " not in value else json.dumps(value, ensure_ascii=False)
        elif value is None or isinstance(value, bool):
            shown = "null" if value is None else ("true" if value else "false")
        elif isinstance(value, (int, float)):
            shown = repr(value)
        else:
            shown = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        parts.append(f"{key}={shown}")
        used += len(parts[-1]) + 1
        if used > width:
            break
    text = " ".join(parts)
    return text if len(text) <= width else text[: width - 1] + "…"


# --- filter ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventFilter:
    """A live filter, parsed from what the user types (whitespace-separated terms).

    - a term with ``*``, ``?`` or ``[`` is an event-name glob (``*.rows.*.delete``, ``buckets.*``):
      ``*`` matches any run of characters, dots included; an event passes when **any** glob
      matches **any** of its event names;
    - any other term is text, matched case-insensitively against the row and the payload's JSON;
      **every** text term must match;
    - a leading ``-`` negates a term: the event must not match it.
    """

    text: str = ""
    words: tuple[str, ...] = ()
    globs: tuple[str, ...] = ()
    not_words: tuple[str, ...] = ()
    not_globs: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> EventFilter:
        words: list[str] = []
        globs: list[str] = []
        not_words: list[str] = []
        not_globs: list[str] = []
        for term in text.split():
            negate = term.startswith("-") and len(term) > 1
            if negate:
                term = term[1:]
            is_glob = any(c in term for c in "*?[")
            target = (not_globs if is_glob else not_words) if negate else (globs if is_glob else words)
            target.append(term if is_glob else term.lower())
        return cls(text.strip(), tuple(words), tuple(globs), tuple(not_words), tuple(not_globs))

    @property
    def empty(self) -> bool:
        return not (self.words or self.globs or self.not_words or self.not_globs)

    def matches(self, record: EventRecord) -> bool:
        if self.empty:
            return True
        if self.globs or self.not_globs:
            names = record.events
            if self.globs and not any(fnmatchcase(n, g) for g in self.globs for n in names):
                return False
            if any(fnmatchcase(n, g) for g in self.not_globs for n in names):
                return False
        if self.words or self.not_words:
            hay = record.hay
            if not all(w in hay for w in self.words):
                return False
            if any(w in hay for w in self.not_words):
                return False
        return True


# --- buffer and view -------------------------------------------------------------------------


class EventBuffer:
    """The last ``capacity`` records (a ring buffer); see the module docstring."""

    def __init__(self, capacity: int = DEFAULT_BUFFER) -> None:
        if capacity < 1:
            raise ValueError("the buffer must hold at least one event")
        self.capacity = capacity
        self.records: deque[EventRecord] = deque(maxlen=capacity)
        self.dropped = 0  # records that left the buffer (or never entered it)
        self.total = 0  # records ever offered

    def __len__(self) -> int:
        return len(self.records)

    def extend(self, records: Sequence[EventRecord], skipped: int = 0) -> int:
        """Append ``records`` (plus ``skipped`` that the feed had to drop); returns how many left."""
        before = len(self.records)
        self.records.extend(records)
        left = before + len(records) - len(self.records) + skipped
        self.dropped += left
        self.total += len(records) + skipped
        return left

    @property
    def first_seq(self) -> int:
        return self.records[0].seq if self.records else 0

    def clear(self) -> None:
        self.dropped += len(self.records)
        self.records.clear()


class EventView:
    """The records of an ``EventBuffer`` that pass an ``EventFilter``, in order; see the module docstring."""

    def __init__(self, buffer: EventBuffer, filter: EventFilter | None = None) -> None:
        self.buffer = buffer
        self.filter = filter or EventFilter()
        self.rows: deque[EventRecord] = deque()
        self.frozen_at: int | None = None  # seq of the last visible record while paused
        self.hidden = 0  # matching records that arrived while frozen
        self.rebuild()

    def rebuild(self) -> None:
        f = self.filter
        self.rows = deque(r for r in self.buffer.records if f.matches(r))
        self._count_hidden()

    def set_filter(self, filter: EventFilter) -> None:
        self.filter = filter
        self.rebuild()

    def add(self, records: Iterable[EventRecord]) -> tuple[int, int]:
        """Take new records (already in the buffer); returns (added, trimmed from the front)."""
        f = self.filter
        before = len(self.rows)
        if f.empty:
            self.rows.extend(records)
        else:
            self.rows.extend(r for r in records if f.matches(r))
        added = len(self.rows) - before
        if self.frozen_at is not None:
            self.hidden += added
        first = self.buffer.first_seq
        trimmed = 0
        rows = self.rows
        while rows and rows[0].seq < first:
            rows.popleft()
            trimmed += 1
        if self.frozen_at is not None and len(rows) < self.hidden:
            self.hidden = len(rows)
        return added, trimmed

    def freeze(self) -> None:
        self.frozen_at = self.rows[-1].seq if self.rows else self.buffer.first_seq - 1
        self.hidden = 0

    def thaw(self) -> None:
        self.frozen_at = None
        self.hidden = 0

    def _count_hidden(self) -> None:
        if self.frozen_at is None:
            self.hidden = 0
        else:
            self.hidden = len(self.rows) - bisect_left(_Seqs(self.rows), self.frozen_at + 1)

    @property
    def visible(self) -> int:
        """How many rows are shown (all of them, unless frozen)."""
        return len(self.rows) - self.hidden

    def __getitem__(self, index: int) -> EventRecord:
        return self.rows[index]

    def index_of(self, seq: int) -> int | None:
        """The row index of the record ``seq``, if it is still in the view."""
        i = bisect_left(_Seqs(self.rows), seq)
        return i if i < len(self.rows) and self.rows[i].seq == seq else None

    def shown(self) -> Iterator[EventRecord]:
        """The visible rows, oldest first."""
        for i, r in enumerate(self.rows):
            if i >= self.visible:
                break
            yield r


class _Seqs:
    """A read-only sequence of the rows' seqs, for bisect (rows are in seq order)."""

    def __init__(self, rows: deque[EventRecord]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> int:
        return self.rows[i].seq


# --- rates -----------------------------------------------------------------------------------


class RateMeter:
    """Events per one-second bucket, for the last ``keep`` seconds; see the module docstring."""

    def __init__(self, keep: int = 60) -> None:
        self.keep = keep
        self.buckets: deque[tuple[int, int]] = deque()  # (second, count), oldest first
        self.total = 0

    def add(self, n: int, now: float) -> None:
        if n <= 0:
            return
        self.total += n
        second = int(now)
        if self.buckets and self.buckets[-1][0] == second:
            self.buckets[-1] = (second, self.buckets[-1][1] + n)
        else:
            self.buckets.append((second, n))
        while self.buckets and self.buckets[0][0] <= second - self.keep:
            self.buckets.popleft()

    def rate(self, now: float, window: float = 3.0) -> float:
        """Events per second over the last ``window`` seconds (the current second counted pro rata)."""
        second = int(now)
        full = int(window)
        counted = sum(c for s, c in self.buckets if second - full <= s <= second)
        span = full + (now - second)
        return counted / span if span > 0 else 0.0

    def history(self, now: float, seconds: int) -> list[int]:
        """Counts of the last ``seconds`` complete seconds, oldest first."""
        second = int(now)
        counts = dict(self.buckets)
        return [counts.get(s, 0) for s in range(second - seconds, second)]


def sparkline(values: Sequence[float]) -> str:
    """Block characters scaled to the largest value; zeros are the lowest block."""
    top = max(values, default=0)
    if top <= 0:
        return SPARK[0] * len(values)
    last = len(SPARK) - 1
    return "".join(SPARK[min(last, int(round(v / top * last)))] for v in values)


def human_rate(rate: float) -> str:
    if rate >= 10_000:
        return f"{rate / 1000:.0f}k/s"
    if rate >= 10:
        return f"{rate:,.0f}/s"
    return f"{rate:.1f}/s"


# --- subscriptions ---------------------------------------------------------------------------


@dataclass
class SubscriptionState:
    """One subscription as the monitor shows it. ``paused`` ones are unsubscribed on the server."""

    id: str
    channels: list[str]
    queries: list[str] = field(default_factory=list)
    paused: bool = False
    confirmed: bool = False
    count: int = 0
    meter: RateMeter = field(default_factory=RateMeter)

    @property
    def label(self) -> str:
        return ", ".join(self.channels)


def count_by_subscription(records: Iterable[EventRecord]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in records:
        for sid in r.data.get("subscriptions") or ():
            out[sid] = out.get(sid, 0) + 1
    return out


def export_lines(records: Iterable[EventRecord]) -> Iterator[str]:
    """One compact JSON object per record (the event's ``data``), newline-terminated."""
    for r in records:
        yield r.json(indent=None) + "\n"

