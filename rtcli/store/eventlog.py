"""The event log, shared by the SQLite and PostgreSQL stores (generic SQL over ``events``).

Positions (``seq``) only grow. Readers see the log only up to its *settled* part: every event
below a settled position is committed (or never will be), so "everything after position N" is
always the exact rest of the log. On SQLite writes are serialized and every committed event is
settled; PostgreSQL writes run in parallel and settle by transaction id (see store/postgres).
Positions are not dense: nothing here counts events by subtracting positions. The database's
random ``epoch`` is part of every cursor, so a cursor from another database is recognised.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from collections.abc import Sequence

import orjson

from rtcli.core.events import expand
from rtcli.core.event import Controls, Event, Origin


def _dumps(v) -> str:
    return orjson.dumps(v).decode()


def _controls(event: Event) -> str | None:
    """The ``controls`` column: the event's controls, origin and what it supersedes, as one JSON
    object of the keys that are set (the same keys, in the same order, since the log began)."""
    c: dict = {}
    controls = event.controls
    if controls.refresh_roles is not None:
        c["refresh_roles"] = [controls.refresh_roles[0], sorted(controls.refresh_roles[1])]
    if controls.revoke_session is not None:
        c["revoke_session"] = controls.revoke_session
    if controls.reload_keys:
        c["reload_keys"] = True
    if controls.reload_functions:
        c["reload_functions"] = True
    if event.origin is not None:
        c["origin"] = [event.origin.function, event.origin.depth]
    if controls.exclude is not None:
        c["exclude"] = controls.exclude
    if event.supersedes is not None:
        c["supersedes"] = event.supersedes
    return _dumps(c) if c else None


EVENT_COLUMNS = ("project, created, timestamp, name, channels, roles, payload, user_id, permissions_changed,"
                 " controls")


def event_values(event: Event) -> tuple:
    """The values of ``EVENT_COLUMNS`` for one event."""
    return (event.project, event.created, event.timestamp, event.events[0], _dumps(event.channels),
            _dumps(event.roles), _dumps(event.payload), event.user_id, int(event.permissions_changed),
            _controls(event))


class LoggingTransaction:
    """Base of both stores' transactions: ``append_event`` on top of ``insert``."""

    store: EventLogStore
    events: list[Event]
    origin: Origin | None = None  # the function execution writing, stamped on its events

    async def insert(self, sql: str, params: tuple | list = ()) -> int:
        raise NotImplementedError

    async def append_event(self, event: Event) -> Event:
        if event.origin is None:
            event.origin = self.origin
        event.created = time.time()
        event.seq = await self.log(event)
        event.cursor = self.store.cursor(event.seq)
        self.events.append(event)
        return event

    async def log(self, event: Event) -> int:
        """Insert the event's row; returns its position."""
        return await self.insert(f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
                                 event_values(event))


@dataclass(frozen=True)
class LoggedInsert:
    """A kind of row that a store may write with its event in one statement (``insert_logged``):
    the columns given, with their PostgreSQL types; the unique key among them that finds each
    new row again; values the guard reads besides the columns (``extra``), and the guard, a SQL
    condition over the columns of ``i`` (one row's values) that must hold for the row to be written."""

    table: str
    columns: tuple[tuple[str, str], ...]
    key: tuple[str, ...]
    extra: tuple[tuple[str, str], ...]
    guard: str

    def key_of(self, values: Sequence) -> tuple:
        names = [name for name, _ in self.columns]
        return tuple(values[names.index(k)] for k in self.key)


@dataclass(frozen=True)
class InsertLogged:
    """What ``insert_logged`` did: whether its guard held, and the new row's seq (None when
    nothing was written: the guard failed or a unique key refused the row)."""

    guard: bool
    seq: int | None


class EventLogStore:
    """Event-log reads, resume positions and retention. Needs ``fetchone``, ``fetchall``,
    ``transaction`` and ``epoch`` from the concrete store."""

    epoch: str
    # Whether ``insert_logged`` writes a row and its event in one statement (PostgreSQL, where
    # a round trip is what a write costs most). SQLite's writer is in process: a transaction
    # costs no round trip there.
    one_statement_inserts = False

    async def insert_logged(self, shape: LoggedInsert, values: Sequence, event: Event, seq_key: str,
                            origin: Origin | None = None) -> InsertLogged:
        """Insert one row of ``shape`` (``values``: its columns, then its extra values) and log
        ``event`` with it, committed on their own, if the guard holds and no unique key refuses
        the row; the new seq goes, as text, into the event's payload at ``seq_key``. The event
        goes to ``on_commit`` as a transaction's events do."""
        raise NotImplementedError

    def settled(self, params: list) -> str:
        """SQL condition on ``seq`` for the settled part of the log, its parameters appended to
        ``params`` ("" where every committed event is settled)."""
        return ""

    def cursor(self, seq: int) -> str:
        return f"c1.{self.epoch}.{seq}"

    async def head(self) -> int:
        """The last settled position (0 for an empty log)."""
        params: list = []
        settled = self.settled(params)
        where = f" WHERE {settled}" if settled else ""
        row = await self.fetchone(f"SELECT COALESCE(MAX(seq), 0) FROM events{where}", params)
        return int(row[0])

    async def span(self, after: int, upto: int, cap: int) -> int:
        """How many events lie in (after, upto], counted up to ``cap``; an upper bound will do.
        Here positions are consecutive, so the difference is one."""
        return upto - after

    async def nth_after(self, after: int, n: int, upto: int) -> int:
        """The position of the ``n``-th event after ``after`` (of any project), or ``upto`` when
        fewer lie below it."""
        return min(upto, after + n)

    async def before_last(self, project: str, upto: int, count: int) -> int:
        """The position after which the last ``count`` events of ``project`` up to ``upto`` lie."""
        row = await self.fetchone("SELECT seq FROM events WHERE project=? AND seq<=? ORDER BY seq DESC LIMIT 1 OFFSET ?",
                                  (project, upto, count))
        return int(row[0]) if row else 0

    async def _meta(self, key: str) -> str | None:
        row = await self.fetchone("SELECT value FROM meta WHERE key=?", (key,))
        return row[0] if row else None

    async def resolve_since(self, project: str, since: str) -> tuple[int | None, str | None]:
        pruned = int(await self._meta("pruned_upto") or 0)
        if since == "beginning":
            if pruned:
                return None, "the beginning of the log was pruned by retention"
            return 0, None
        if since.startswith("c1."):
            parts = since.split(".")
            if len(parts) != 3 or not parts[2].isdigit():
                return None, "malformed cursor"
            if parts[1] != self.epoch:
                return None, "the cursor belongs to another database (epoch mismatch)"
            seq = int(parts[2])
            if seq > await self.head():
                return None, "the cursor is ahead of this log"
            if seq < pruned:  # every event after `seq` must still be in the log
                return None, "events after this cursor were pruned by retention"
            return seq, None
        try:
            ts = datetime.fromisoformat(since.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None, "since must be a cursor, 'beginning' or an ISO 8601 date"
        if float(await self._meta("pruned_created") or 0) > ts:
            return None, "events after this date were pruned by retention"
        row = await self.fetchone("SELECT MAX(seq) FROM events WHERE created < ? AND seq <= ?",
                                  (ts, await self.head()))
        return (int(row[0]) if row and row[0] else 0), None

    async def read_events(self, project: str | None, after: int, upto: int, limit: int) -> list[Event]:
        """Settled events with after < seq <= upto, in order (of one project, or of all)."""
        params: list = [after, upto] if project is None else [project, after, upto]
        settled = self.settled(params)
        settled = f" AND {settled}" if settled else ""
        params.append(limit)
        if project is None:
            rows = await self.fetchall(f"SELECT * FROM events WHERE seq>? AND seq<=?{settled} ORDER BY seq LIMIT ?",
                                       params)
        else:
            rows = await self.fetchall(
                f"SELECT * FROM events WHERE project=? AND seq>? AND seq<=?{settled} ORDER BY seq LIMIT ?", params)
        return [self.event_from_row(r) for r in rows]

    def event_from_row(self, r) -> Event:
        controls = orjson.loads(r["controls"]) if r["controls"] else {}
        refresh = controls.get("refresh_roles")
        origin = controls.get("origin")
        return Event(
            project=r["project"], events=expand(r["name"]), channels=orjson.loads(r["channels"]),
            roles=orjson.loads(r["roles"]), payload=orjson.loads(r["payload"]), timestamp=r["timestamp"],
            seq=r["seq"], cursor=self.cursor(r["seq"]), user_id=r["user_id"],
            permissions_changed=bool(r["permissions_changed"]),
            controls=Controls(
                refresh_roles=(refresh[0], frozenset(refresh[1])) if refresh else None,
                revoke_session=controls.get("revoke_session"), reload_keys=bool(controls.get("reload_keys")),
                reload_functions=bool(controls.get("reload_functions")), exclude=controls.get("exclude")),
            origin=Origin(origin[0], origin[1]) if origin else None, supersedes=controls.get("supersedes"),
            created=r["created"],
        )

    async def prune(self, max_age_s: float, max_count: int) -> int:
        """Delete events older than ``max_age_s`` or beyond the newest ``max_count``."""
        cutoff = time.time() - max_age_s
        head = await self.head()  # only settled events go: nothing can still commit below them
        row = await self.fetchone("SELECT seq FROM events WHERE seq <= ? ORDER BY seq DESC LIMIT 1 OFFSET ?",
                                  (head, max_count))
        beyond = int(row[0]) if row else 0
        async with self.transaction() as tx:
            row = await tx.fetchone("SELECT MAX(seq), MAX(created) FROM events WHERE seq <= ? AND (created < ? OR seq <= ?)",
                                    (head, cutoff, beyond))
            if not row or row[0] is None:
                return 0
            upto, created = int(row[0]), float(row[1])
            removed = await tx.execute("DELETE FROM events WHERE seq <= ?", (upto,), bulk=True)
            for key, value in (("pruned_upto", str(upto)), ("pruned_created", str(created))):
                await tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)"
                                 " ON CONFLICT (key) DO UPDATE SET value=excluded.value", (key, value))
            return removed
