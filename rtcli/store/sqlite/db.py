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
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator, Callable

import aiosqlite

from rtcli.core.hub import Event
from rtcli.store.dialect import SqliteDialect
from rtcli.store.eventlog import EventLogStore, LoggingTransaction

log = logging.getLogger("rtcli.store")

SCHEMA = (Path(__file__).parent / "schema.sql").read_text()


class SqliteTransaction(LoggingTransaction):
    def __init__(self, conn: aiosqlite.Connection, store: "SqliteStore") -> None:
        self.conn = conn
        self.store = store
        self.events: list[Event] = []

    # One thread hop per statement: aiosqlite's execute_fetchall runs the statement and reads
    # its rows in one call (a cursor's execute, fetch and close would be three hops of ~65 us).
    async def execute(self, sql: str, params: tuple | list = ()) -> int:
        cur = await self.conn.execute(sql, params)
        return cur.rowcount

    async def insert(self, sql: str, params: tuple | list = ()) -> int | None:
        rows = await self.conn.execute_fetchall(sql + " RETURNING seq", params)
        return rows[0][0] if rows else None  # None: ON CONFLICT DO NOTHING skipped the row

    async def fetchone(self, sql: str, params: tuple | list = ()):
        rows = await self.conn.execute_fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchall(self, sql: str, params: tuple | list = ()) -> list:
        return list(await self.conn.execute_fetchall(sql, params))


class SqliteStore(EventLogStore):
    """Owns the SQLite connections. ``on_commit`` receives committed events in log order."""

    dialect = SqliteDialect()

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

    async def fetchall(self, sql: str, params: tuple | list = ()) -> list:
        assert self.reader is not None, "store is closed"
        return list(await self.reader.execute_fetchall(sql, params))

    async def fetchone(self, sql: str, params: tuple | list = ()):
        assert self.reader is not None, "store is closed"
        rows = await self.reader.execute_fetchall(sql, params)
        return rows[0] if rows else None
