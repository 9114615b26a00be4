"""Group commit: concurrent inserts of one kind, each with its event, written in one statement.

A row create costs PostgreSQL a statement, a transaction and a WAL flush, and the node a round
trip; concurrent creates on one node share all four. At most ``IN_FLIGHT`` statements of one
kind are under way at once per node: a create that finds them busy waits for the next one, which
takes every create waiting by then (up to ``MAX_BATCH``). A lone writer therefore never waits,
and under load a statement carries many creates.

A statement also waits a little (``LINGER`` at most, counted from its oldest create) for the
creates it can expect: as many as were under way at once in the last ``WINDOW``s, less those
already in a statement. Without that, a few writers fall into cohorts that take turns (two of
five in one statement, three in the next) and a node spends a statement, a log read and a
wake-up on every two or three creates. A lone writer still never waits (one create is all
it expects), nor does a burst that has all arrived.

Each create keeps its own outcome. The statement inserts every row whose guard holds and that
no unique key refuses (``ON CONFLICT DO NOTHING``: one conflict skips one row, not the others),
and logs an event for exactly the rows it inserted. When the statement itself fails (a value
PostgreSQL refuses, a deadlock), each create of it is written again on its own, so each gets the
answer it would have had alone.

The log's order holds as for any transaction: the events of one statement share its
transaction id, their index in it is their create's place in the batch.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import asyncpg

from rtcli.core.event import Event
from rtcli.store.eventlog import EVENT_COLUMNS, InsertLogged, LoggedInsert, event_values

MAX_BATCH = 64
IN_FLIGHT = 2
LINGER = 0.002  # seconds: the longest a create waits for others it can expect
WINDOW = 0.1  # seconds: how far back "under way at once" looks (two windows, the higher)

# An event's values as arrays, beside the row's: (name, PostgreSQL type), in EVENT_COLUMNS' order.
EVENT_ARRAYS = (("e_project", "text"), ("e_created", "float8"), ("e_timestamp", "text"), ("e_name", "text"),
                ("e_channels", "jsonb"), ("e_roles", "jsonb"), ("e_payload", "jsonb"), ("e_user", "text"),
                ("e_permissions_changed", "int"), ("e_controls", "jsonb"))


@functools.lru_cache(maxsize=16)
def batch_sql(shape: LoggedInsert, position: str, tx_bits: int) -> str:
    """The statement for any number of ``shape``'s inserts: one array per value (``unnest``), so
    that one prepared statement serves every batch size. Returns, per create in order, whether
    its guard held, its row's seq and its event's position (NULL when nothing was written)."""
    arrays = shape.columns + shape.extra + EVENT_ARRAYS
    unnest = ", ".join(f"${n}::{kind}[]" for n, (_, kind) in enumerate(arrays, 1))
    names = ", ".join(name for name, _ in arrays)
    columns = ", ".join(name for name, _ in shape.columns)
    key = ", ".join(shape.key)
    events = ", ".join(f"g.{name}" for name, _ in EVENT_ARRAYS).replace(
        "g.e_payload", f"g.e_payload || jsonb_build_object(${len(arrays) + 1}::text, r.seq::text)")
    return (f"WITH i AS (SELECT * FROM unnest({unnest}) WITH ORDINALITY AS i({names}, n)),"
            f" g AS (SELECT i.*, ({shape.guard}) AS ok FROM i),"
            # Rows go in in key order: two batches inserting the same keys lock them in one order.
            f" r AS (INSERT INTO {shape.table} ({columns}) SELECT {columns} FROM g WHERE ok ORDER BY {key}"
            f" ON CONFLICT DO NOTHING RETURNING seq, {key}),"
            f" e AS (INSERT INTO events (seq, {EVENT_COLUMNS}) SELECT {position} + g.n - 1, {events}"
            f" FROM g JOIN r USING ({key}) RETURNING seq)"
            f" SELECT g.ok, r.seq, e.seq AS pos FROM g LEFT JOIN r USING ({key})"
            f" LEFT JOIN e ON (e.seq & {(1 << tx_bits) - 1}) = g.n - 1 ORDER BY g.n")


@dataclass
class _Create:
    values: Sequence
    event: Event
    key: tuple
    at: float  # when it was queued (loop time)
    done: asyncio.Future[InsertLogged] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


@dataclass
class _Lane:
    """The creates of one kind: those waiting, and how many are under way (for LINGER)."""

    queue: deque[_Create] = field(default_factory=deque)
    running: int = 0  # statements of this kind being filled or sent
    open: int = 0  # creates queued or in a statement, not yet answered
    sending: int = 0  # creates in a statement on its way
    peak: int = 0  # the most creates open at once in the current window, and in the one before
    peak_before: int = 0
    window_end: float = 0.0
    more: asyncio.Future[None] | None = None  # a statement lingering until ``want`` creates wait
    want: int = 0

    def opened(self, now: float) -> None:
        self.open += 1
        if now >= self.window_end:  # a new window (after a quiet one, nothing before it counts)
            self.peak_before = self.peak if now < self.window_end + WINDOW else 0
            self.peak = self.open
            self.window_end = now + WINDOW
        else:
            self.peak = max(self.peak, self.open)
        if self.more is not None and len(self.queue) >= self.want and not self.more.done():
            self.more.set_result(None)

    def expected(self) -> int:
        """Creates the next statement can expect: the recent peak, less those in statements."""
        return max(self.peak, self.peak_before) - self.sending


Run = Callable[[str, list], Awaitable[list]]  # a statement and its arguments -> its rows
Settle = Callable[[list[Event]], None]  # hands committed events on (positions set), in log order


class GroupCommit:
    """Queues ``insert_logged`` calls by kind and writes them in as few statements as concurrency allows."""

    def __init__(self, run: Run, settle: Settle, fail: Callable[[BaseException], BaseException],
                 unavailable: tuple[type[BaseException], ...], position: str, tx_bits: int) -> None:
        self.run, self.settle, self.fail, self.unavailable = run, settle, fail, unavailable
        self.position, self.tx_bits = position, tx_bits
        self._lanes: dict[tuple[LoggedInsert, str], _Lane] = {}
        self._tasks: set[asyncio.Task] = set()
        self.statements = 0  # statements sent so far, and the creates they carried (for tests and metrics)
        self.creates = 0
        self.lingered = 0  # statements that waited for creates they could expect

    def sending(self) -> bool:
        """Whether a statement of any kind is on its way now."""
        return any(lane.sending for lane in self._lanes.values())

    async def insert(self, shape: LoggedInsert, values: Sequence, event: Event, seq_key: str) -> InsertLogged:
        loop = asyncio.get_running_loop()
        kind = (shape, seq_key)
        lane = self._lanes.get(kind) or self._lanes.setdefault(kind, _Lane())
        create = _Create(values, event, shape.key_of(values), loop.time())
        lane.queue.append(create)
        lane.opened(create.at)
        if lane.running < IN_FLIGHT:
            lane.running += 1
            task = loop.create_task(self._drain(kind, lane))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        try:
            return await create.done  # cancelled before it is sent, a create is not written
        finally:
            lane.open -= 1

    async def _linger(self, lane: _Lane) -> None:
        """Wait until the creates the next statement can expect are queued, or LINGER is up."""
        loop = asyncio.get_running_loop()
        if lane.more is not None:  # the other statement of this kind lingers: wait with it
            await asyncio.shield(lane.more)
            return
        want = lane.expected()
        wait = lane.queue[0].at + LINGER - loop.time()
        if len(lane.queue) >= want or wait <= 0:
            return
        self.lingered += 1
        lane.more, lane.want = loop.create_future(), want
        timer = loop.call_later(wait, lambda f=lane.more: f.done() or f.set_result(None))
        try:
            await asyncio.shield(lane.more)
        finally:
            timer.cancel()
            if not lane.more.done():
                lane.more.set_result(None)  # cancelled: the other one waiting goes on
            lane.more = None

    async def _drain(self, kind: tuple[LoggedInsert, str], lane: _Lane) -> None:
        queue = lane.queue
        try:
            while queue:
                await self._linger(lane)
                batch: list[_Create] = []
                keys: set[tuple] = set()
                later: list[_Create] = []
                while queue and len(batch) < MAX_BATCH:
                    create = queue.popleft()
                    if create.done.done():
                        continue
                    # Two creates of one key go in different statements: each learns its own outcome.
                    (later if create.key in keys else batch).append(create)
                    keys.add(create.key)
                queue.extendleft(reversed(later))
                if batch:
                    lane.sending += len(batch)
                    try:
                        await self._write(kind, batch)
                    finally:
                        lane.sending -= len(batch)
        except asyncio.CancelledError:  # the store is closing: what was not sent is not written
            if lane.running == 1:
                for create in queue:
                    create.done.cancel()
            raise
        finally:
            lane.running -= 1

    async def _write(self, kind: tuple[LoggedInsert, str], batch: list[_Create]) -> None:
        try:
            await self._send(kind, batch)
        except asyncio.CancelledError:  # the store is closing
            for create in batch:
                create.done.cancel()
            raise
        except BaseException as e:  # none is left without an answer, whatever failed
            for create in batch:
                _answer(create, error=self.fail(e))

    async def _send(self, kind: tuple[LoggedInsert, str], batch: list[_Create]) -> None:
        shape, seq_key = kind
        columns = [list(col) for col in zip(*(tuple(c.values) + event_values(c.event) for c in batch))]
        self.statements += 1
        self.creates += len(batch)
        try:
            rows = await self.run(batch_sql(shape, self.position, self.tx_bits), [*columns, seq_key])
        except asyncpg.PostgresError as e:
            if len(batch) == 1 or isinstance(e, self.unavailable):
                raise
            for create in batch:  # one create's values may be what failed: each alone, its own answer
                await self._write(kind, [create])
            return
        committed = []
        for create, row in zip(batch, rows):
            if row["pos"] is not None:
                create.event.payload[seq_key] = str(row["seq"])
                create.event.seq = row["pos"]
                committed.append(create.event)
        if committed:
            self.settle(committed)
        for create, row in zip(batch, rows):
            _answer(create, InsertLogged(bool(row["ok"]), row["seq"] if row["pos"] is not None else None))


def _answer(create: _Create, result: InsertLogged | None = None, error: BaseException | None = None) -> None:
    if create.done.done():  # its request went away; what was written stays written
        return
    if error is not None:
        create.done.set_exception(error)
    else:
        create.done.set_result(result)
