"""The SQLite store: one database file (WAL), one serialized writer, a reader connection.

Writes go through ``transaction()``: an asyncio lock serializes them on the writer connection
(BEGIN IMMEDIATE … COMMIT). Events appended in a transaction are written to the ``events``
table in that same transaction and handed to ``on_commit`` only after COMMIT succeeds, still
under the lock, so the broker sees them in log order (datasette's execute_write_fn pattern).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import AsyncIterator, Callable

import aiosqlite
import orjson

from rtcli.core.events import expand
from rtcli.core.hub import Event, event_origin

log = logging.getLogger("rtcli.store")

SCHEMA = (Path(__file__).parent / "schema.sql").read_text()


def _dumps(v) -> str:
    return orjson.dumps(v).decode()


class SqliteTransaction:
    def __init__(self, conn: aiosqlite.Connection, store: "SqliteStore") -> None:
        self.conn = conn
        self.store = store
        self.events: list[Event] = []

    async def execute(self, sql: str, params: tuple | list = ()) -> aiosqlite.Cursor:
        return await self.conn.execute(sql, params)

    async def fetchone(self, sql: str, params: tuple | list = ()):
        async with self.conn.execute(sql, params) as cur:
            return await cur.fetchone()

    async def append_event(self, event: Event) -> Event:
        if event.origin is None:
            event.origin = event_origin.get()
        cur = await self.conn.execute(
            "INSERT INTO events (project, created, timestamp, name, channels, roles, payload, user_id,"
            " permissions_changed) VALUES (?,?,?,?,?,?,?,?,?)",
            (event.project, time.time(), event.timestamp, event.events[0], _dumps(event.channels),
             _dumps(event.roles), _dumps(event.payload), event.user_id, int(event.permissions_changed)),
        )
        event.seq = cur.lastrowid
        event.cursor = self.store.cursor(event.seq)
        self.events.append(event)
        return event


class SqliteStore:
    """Owns the SQLite connections. ``on_commit`` receives committed events in log order."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer: aiosqlite.Connection | None = None
        self.reader: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self.epoch = ""
        self.on_commit: Callable[[list[Event]], None] = lambda events: None

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.writer = await aiosqlite.connect(self.path, isolation_level=None)
        self.writer.row_factory = aiosqlite.Row
        await self.writer.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a commit survives a process crash (kill -9); only a power loss
        # may lose the last transactions. FULL would fsync every commit.
        await self.writer.execute("PRAGMA synchronous=NORMAL")
        await self.writer.execute("PRAGMA busy_timeout=5000")
        await self.writer.executescript(SCHEMA)
        async with self.writer.execute("SELECT value FROM meta WHERE key='epoch'") as cur:
            row = await cur.fetchone()
        if row is None:
            self.epoch = secrets.token_hex(4)
            await self.writer.execute("INSERT INTO meta (key, value) VALUES ('epoch', ?)", (self.epoch,))
        else:
            self.epoch = row[0]
        self.reader = await aiosqlite.connect(self.path, isolation_level=None)
        self.reader.row_factory = aiosqlite.Row
        await self.reader.execute("PRAGMA busy_timeout=5000")
        await self.reader.execute("PRAGMA query_only=1")

    async def close(self) -> None:
        async with self._lock:
            for conn in (self.reader, self.writer):
                if conn is not None:
                    await conn.close()
            self.reader = self.writer = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteTransaction]:
        async with self._lock:
            assert self.writer is not None, "store is closed"
            await self.writer.execute("BEGIN IMMEDIATE")
            tx = SqliteTransaction(self.writer, self)
            try:
                yield tx
            except BaseException:
                await self.writer.execute("ROLLBACK")
                raise
            await self.writer.execute("COMMIT")
            if tx.events:
                self.on_commit(tx.events)

    # --- reads ---------------------------------------------------------------------------

    async def fetchall(self, sql: str, params: tuple | list = ()) -> list[aiosqlite.Row]:
        assert self.reader is not None, "store is closed"
        async with self.reader.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def fetchone(self, sql: str, params: tuple | list = ()):
        assert self.reader is not None, "store is closed"
        async with self.reader.execute(sql, params) as cur:
            return await cur.fetchone()

    # --- event log -----------------------------------------------------------------------

    def cursor(self, seq: int) -> str:
        return f"c1.{self.epoch}.{seq}"

    async def head(self) -> int:
        row = await self.fetchone("SELECT COALESCE(MAX(seq), 0) FROM events")
        return int(row[0])

    async def resolve_since(self, project: str, since: str) -> tuple[int | None, str | None]:
        if since == "beginning":
            first = await self.fetchone("SELECT MIN(seq) FROM events WHERE project=?", (project,))
            if await self._max_pruned():
                return None, "the beginning of the log was pruned by retention"
            return (int(first[0]) - 1 if first and first[0] else await self.head()), None
        if since.startswith("c1."):
            parts = since.split(".")
            if len(parts) != 3 or not parts[2].isdigit():
                return None, "malformed cursor"
            if parts[1] != self.epoch:
                return None, "the cursor belongs to another database (epoch mismatch)"
            seq = int(parts[2])
            if seq > await self.head():
                return None, "the cursor is ahead of this log"
            # Every event after `seq` must still be in the log.
            if seq < await self._max_pruned():
                return None, "events after this cursor were pruned by retention"
            return seq, None
        try:
            ts = datetime.fromisoformat(since.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None, "since must be a cursor, 'beginning' or an ISO 8601 date"
        if await self._pruned_after(ts):
            return None, "events after this date were pruned by retention"
        row = await self.fetchone("SELECT MAX(seq) FROM events WHERE created < ?", (ts,))
        return (int(row[0]) if row and row[0] else 0), None

    async def _max_pruned(self) -> int:
        row = await self.fetchone("SELECT value FROM meta WHERE key='pruned_upto'")
        return int(row[0]) if row else 0

    async def _pruned_after(self, ts: float) -> bool:
        row = await self.fetchone("SELECT value FROM meta WHERE key='pruned_created'")
        return bool(row) and float(row[0]) > ts

    async def read_events(self, project: str, after: int, upto: int, limit: int) -> list[Event]:
        rows = await self.fetchall(
            "SELECT * FROM events WHERE project=? AND seq>? AND seq<=? ORDER BY seq LIMIT ?",
            (project, after, upto, limit),
        )
        return [self._event(r) for r in rows]

    def _event(self, r) -> Event:
        return Event(
            project=r["project"], events=expand(r["name"]), channels=orjson.loads(r["channels"]),
            roles=orjson.loads(r["roles"]), payload=orjson.loads(r["payload"]), timestamp=r["timestamp"],
            seq=r["seq"], cursor=self.cursor(r["seq"]), user_id=r["user_id"],
            permissions_changed=bool(r["permissions_changed"]),
        )

    async def prune(self, max_age_s: float, max_count: int) -> int:
        """Delete events older than ``max_age_s`` or beyond the newest ``max_count``."""
        cutoff = time.time() - max_age_s
        head = await self.head()
        async with self.transaction() as tx:
            row = await tx.fetchone(
                "SELECT MAX(seq), MAX(created) FROM events WHERE created < ? OR seq <= ?",
                (cutoff, head - max_count),
            )
            if not row or row[0] is None:
                return 0
            upto, created = int(row[0]), float(row[1])
            cur = await tx.execute("DELETE FROM events WHERE seq <= ?", (upto,))
            await tx.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('pruned_upto', ?)", (str(upto),))
            await tx.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('pruned_created', ?)", (str(created),))
            return cur.rowcount
