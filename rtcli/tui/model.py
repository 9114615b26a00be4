"""The monitor's state, without Textual: the ring buffer, the filtered view and rates. Pure
Python; every function that needs the time takes ``now``. (Records are in ``records``, the filter
in ``filter``, subscriptions in ``subs``.)

Contracts:

- ``EventBuffer`` keeps at most ``capacity`` records, oldest first; ``dropped`` counts every record
  that ever left it (evicted, or skipped before it arrived because the UI fell behind). Marker
  rows (``mark``) take a place like an event but are not counted in ``total``.
- ``EventView`` is the buffer seen through an ``EventFilter``: records in arrival order, never more
  than the buffer holds. While frozen (paused) it still takes new records but hides them:
  ``visible`` stops at the freeze point and ``hidden`` counts what arrived since. ``resources``
  counts the rows per resource (``EventRecord.group``), so the table can tell which columns vary.
- ``RateMeter`` counts events in one-second buckets; ``rate()`` is events per second over the
  last few seconds, ``history()`` the per-second counts for a sparkline.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Sequence

from rtcli.tui.filter import EventFilter
from rtcli.tui.records import EventRecord

DEFAULT_BUFFER = 10_000
SPARK = "▁▂▃▄▅▆▇█"


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

    def mark(self, record: EventRecord) -> int:
        """Append a marker row (not an event: ``total`` does not count it); returns how many left."""
        before = len(self.records)
        self.records.append(record)
        left = before + 1 - len(self.records)
        self.dropped += left
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
        self.resources: Counter[str] = Counter()
        self.rebuild()

    def rebuild(self) -> None:
        f = self.filter
        self.rows = deque(r for r in self.buffer.records if f.matches(r))
        self.resources = Counter(r.group for r in self.rows if not r.is_marker)
        self._count_hidden()

    def set_filter(self, filter: EventFilter) -> None:
        self.filter = filter
        self.rebuild()

    def add(self, records: Iterable[EventRecord]) -> tuple[int, int]:
        """Take new records (already in the buffer); returns (added, trimmed from the front)."""
        f = self.filter
        new = list(records) if f.empty else [r for r in records if f.matches(r)]
        self.rows.extend(new)
        added = len(new)
        resources = self.resources
        for r in new:
            if not r.is_marker:
                resources[r.group] += 1
        if self.frozen_at is not None:
            self.hidden += added
        first = self.buffer.first_seq
        trimmed = 0
        rows = self.rows
        while rows and rows[0].seq < first:
            r = rows.popleft()
            trimmed += 1
            if not r.is_marker:
                left = resources[r.group] - 1
                if left:
                    resources[r.group] = left
                else:
                    del resources[r.group]
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
