"""Contracts between the use cases (services) and the adapters (store, broker).

Each port is a ``typing.Protocol``; SQLite and the in-process broker are the defaults, and
PostgreSQL and Redis implement the same contracts for several nodes.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager as AsyncContextManager
from typing import Any, Protocol

from rtcli.core.event import Event, Origin
from rtcli.core.records import RunResult


class Transaction(Protocol):
    """One write transaction. SQL uses ``?`` placeholders and the store's ``dialect``.

    On SQLite writes are serialized (one writer), so a transaction sees no concurrent write. On
    PostgreSQL transactions run in parallel, on every node: a row read inside a transaction is
    locked until it ends (``FOR UPDATE``), so a read-modify-write of one row cannot lose a
    concurrent change; a concurrent insert of the same key fails with 409 instead of waiting."""

    async def execute(self, sql: str, params: tuple[Any, ...] | list[Any] = (), bulk: bool = False) -> int:
        """Run a statement; returns the number of rows it changed. ``bulk``: it may touch many
        rows (a whole table's), so a store that runs statements on the event loop runs this
        one elsewhere."""

    async def insert(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> int | None:
        """Run an INSERT into a table keyed by ``seq``; returns the new ``seq`` (None when an
        ``ON CONFLICT DO NOTHING`` skipped it)."""

    async def fetchone(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> Any: ...

    async def fetchall(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[Any]: ...

    async def append_event(self, event: Event) -> Event:
        """Write ``event`` to the event log inside this transaction; sets ``seq`` and ``cursor``.

        Contract: the event is durable exactly when the transaction commits, and is handed to
        the broker only after that commit, in log order. A rolled-back transaction publishes
        nothing.
        """


class Store(Protocol):
    """Owns the connections. Reads (``fetchone``/``fetchall``) see committed data only;
    ``on_commit`` receives each transaction's events after COMMIT, in log order."""

    epoch: str
    on_commit: Callable[[list[Event]], None]

    @property
    def dialect(self) -> object:
        """The SQL dialect's helpers; read-only here, so that each store declares its own class."""
        ...

    def transaction(self, origin: Origin | None = None) -> AsyncContextManager[Transaction]:
        """A write transaction; ``origin``, when a function execution writes, is stamped on its events."""
        ...

    async def fetchone(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> Any: ...

    async def fetchall(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[Any]: ...

    async def head(self) -> int:
        """The last settled position: every event at or below it is committed or never will be."""

    async def span(self, after: int, upto: int, cap: int) -> int:
        """How many events lie in (after, upto], counted up to ``cap`` (an upper bound will do)."""

    async def nth_after(self, after: int, n: int, upto: int) -> int:
        """The position of the ``n``-th event after ``after``, or ``upto`` when fewer lie below it."""

    async def before_last(self, project: str, upto: int, count: int) -> int:
        """The position after which the last ``count`` events of ``project`` up to ``upto`` lie."""

    async def read_events(self, project: str | None, after: int, upto: int, limit: int) -> list[Event]:
        """Settled events with ``after < seq <= upto``, in log order."""

    def cursor(self, seq: int) -> str:
        """The cursor a client resumes from after ``seq`` (it names this database's log)."""
        ...

    async def resolve_since(self, project: str, since: str) -> tuple[int | None, str | None]:
        """Turn a ``since`` (cursor, 'beginning' or ISO date) into a position to replay after.

        Returns ``(position, None)``, or ``(None, reason)`` when the position cannot be honoured
        (pruned, another database's cursor, malformed): no partial replay passes for a full one.
        """

    async def prune(self, max_age_s: float, max_count: int) -> int: ...

    async def open(self) -> None: ...

    async def close(self) -> None: ...


class Broker(Protocol):
    """Carries committed events to every node's hub, in log order (the order of positions).

    Delivery is at most once per node; a subscriber that misses events resumes from the log.
    The in-process broker loops back to the local hub.
    """

    name: str  # what the health API calls it: "in-process", "redis"

    async def start(self, deliver: Callable[[Event], None]) -> None: ...

    def publish(self, events: list[Event]) -> None:
        """Called right after commit with that transaction's events. On SQLite (one writer)
        calls arrive in log order; on PostgreSQL they may not, and the broker delivers from the
        settled log instead."""

    def publish_live(self, event: Event) -> None:
        """Carry an event that is in no log (an ephemeral topic's message) to every node's hub.

        Delivery is at most once per node, with no order relative to logged events and no
        resume: a node that is away, or a broker that is down, loses it."""

    async def ping(self) -> None:
        """Returns when the broker answers; raises when it cannot be reached."""

    async def close(self) -> None: ...


class CommandRunner(Protocol):
    """Runs a function's command (server/runner.py)."""

    queued: int  # runs waiting for their turn

    async def run(self, command: str, cwd: str | None, stdin: bytes, env: dict[str, str],
                  timeout: float) -> RunResult: ...
