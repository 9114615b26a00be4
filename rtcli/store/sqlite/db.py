"""The SQLite store: one database file (WAL), one serialized writer, a few reader connections.

Writes go through ``transaction()``: an asyncio lock serializes them on the writer connection
(BEGIN IMMEDIATE … COMMIT). Events appended in a transaction are written to the ``events``
table in that same transaction and handed to ``on_commit`` only after COMMIT succeeds, still
under the lock, so the broker sees them in log order (datasette's execute_write_fn pattern).

The writer runs its statements on the event loop's own thread (stdlib ``sqlite3``): a keyed
INSERT or a WAL COMMIT costs 10-30 us, less than one round trip to a worker thread (~65 us of
queue, wake-up and GIL hand-offs). What could stall the loop stays off it: statements that
touch many rows (``bulk=True``), WAL checkpoints (a thread with its own connection; automatic
checkpoints are off on the writer), and every read outside a transaction (``READERS`` reader
connections, each on its own aiosqlite thread: a slow read, such as a large table sorted on a
column with no index, holds one of them, not every read of the server behind it).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import sqlite3
import time
from contextlib import asynccontextmanager
from pathlib import Path
from collections.abc import AsyncIterator, Callable

import aiosqlite

from rtcli.core.event import Event, Origin
from rtcli.errors import AppwriteError
from rtcli.store.dialect import SqliteDialect, UniqueViolation
from rtcli.store.eventlog import EventLogStore, LoggingTransaction
from rtcli.store.upgrade import sqlite_upgrade

log = logging.getLogger("rtcli.store")

SCHEMA = (Path(__file__).parent / "schema.sql").read_text()

# The writer waits for another process's write lock by sleeping on the loop, not in SQLite's
# busy handler (which would block the loop): a short busy_timeout, then BEGIN is retried.
WRITER_BUSY_MS = 20
BUSY_TIMEOUT_S = 5.0
# Checkpoints: one is due this long after the first commit it would copy (an idle server leaves
# nothing behind), or at once after this many commits (a few thousand WAL frames under load).
CHECKPOINT_DELAY_S = 0.2
CHECKPOINT_COMMITS = 256
WAL_SIZE_LIMIT = 64 * 1024 * 1024


def _is_busy(e: sqlite3.OperationalError) -> bool:
    return getattr(e, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in str(e)


class SqliteTransaction(LoggingTransaction):
    """Statements run synchronously on the writer (the store's lock is held). The methods stay
    ``async`` so that the repositories serve SQLite and PostgreSQL alike."""

    def __init__(self, conn: sqlite3.Connection, store: SqliteStore) -> None:
        self.conn = conn
        self.store = store
        self.events: list[Event] = []

    async def execute(self, sql: str, params: tuple | list = (), bulk: bool = False) -> int:
        try:
            if bulk:
                return await self.store.off_loop(lambda: self.conn.execute(sql, params).rowcount)
            return self.conn.execute(sql, params).rowcount
        except sqlite3.IntegrityError as e:
            if "UNIQUE" in str(e):
                raise UniqueViolation(str(e)) from None
            raise

    async def insert(self, sql: str, params: tuple | list = ()) -> int | None:
        # fetchall steps the statement to its end, so no statement is left open at COMMIT.
        try:
            rows = self.conn.execute(sql + " RETURNING seq", params).fetchall()
        except sqlite3.IntegrityError as e:
            if "UNIQUE" in str(e):
                raise UniqueViolation(str(e)) from None
            raise
        return rows[0][0] if rows else None  # None: ON CONFLICT DO NOTHING skipped the row

    async def fetchone(self, sql: str, params: tuple | list = ()):
        cur = self.conn.execute(sql, params)
        row = cur.fetchone()
        cur.close()
        return row

    async def fetchall(self, sql: str, params: tuple | list = ()) -> list:
        return self.conn.execute(sql, params).fetchall()


def _checkpoint_pass(conn: sqlite3.Connection) -> tuple[int, int, int]:
    """(busy, frames in the WAL, frames copied). Read to the end: a statement left open would
    hold a read snapshot, and SQLite does not start the WAL over under a reader."""
    return tuple(conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()[0])


def _connect_writer(path: Path) -> tuple[sqlite3.Connection, str]:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode: a commit survives a process crash (kill -9); only a power loss
    # may lose the last transactions. FULL would fsync every commit.
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    conn.executescript(SCHEMA)
    sqlite_upgrade(conn)
    row = conn.execute("SELECT value FROM meta WHERE key='epoch'").fetchone()
    if row is None:
        epoch = secrets.token_hex(4)
        conn.execute("INSERT INTO meta (key, value) VALUES ('epoch', ?)", (epoch,))
    else:
        epoch = row[0]
    # From here on the writer works on the loop: checkpoints are ours (see _checkpoint).
    conn.execute("PRAGMA wal_autocheckpoint=0")
    # The WAL file keeps the size of its largest burst; after one, it is cut back when it starts over.
    conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
    conn.execute(f"PRAGMA busy_timeout={WRITER_BUSY_MS}")
    return conn, epoch


# Reader connections: WAL readers never wait for each other or for the writer. Each is a thread
# (and a page cache); a few are enough for reads to go on beside a slow one.
READERS = 3


class SqliteStore(EventLogStore):
    """Owns the SQLite connections. ``on_commit`` receives committed events in log order."""

    dialect = SqliteDialect()

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer: sqlite3.Connection | None = None
        self.readers: list[aiosqlite.Connection] = []
        self._free: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self._checkpointer: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()
        self.epoch = ""
        self.on_commit: Callable[[list[Event]], None] = lambda events: None
        self._commits = 0  # transactions committed
        self._checkpointed = 0  # ... of which the last checkpoint copied
        self._checkpoint_due: asyncio.TimerHandle | None = None
        self._checkpoint_task: asyncio.Task | None = None
        self._closing = False

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._closing, self._checkpoint_due = False, None
        self.writer, self.epoch = await asyncio.to_thread(_connect_writer, self.path)
        self._checkpointer = await asyncio.to_thread(
            sqlite3.connect, self.path, isolation_level=None, check_same_thread=False)
        self._free = asyncio.Queue()
        for _ in range(READERS):
            reader = await aiosqlite.connect(self.path, isolation_level=None)
            reader.row_factory = aiosqlite.Row
            await reader.execute("PRAGMA busy_timeout=5000")
            await reader.execute("PRAGMA query_only=1")
            self.readers.append(reader)
            self._free.put_nowait(reader)

    async def close(self) -> None:
        self._closing = True
        if self._checkpoint_due is not None:
            self._checkpoint_due.cancel()
        if self._checkpoint_task is not None:  # before taking the lock: the checkpoint takes it too
            await asyncio.gather(self._checkpoint_task, return_exceptions=True)
        async with self._lock:
            readers, self.readers = self.readers, []
            for reader in readers:
                await reader.close()
            # The last connection to close checkpoints the WAL into the database: in a thread.
            for conn in (self._checkpointer, self.writer):
                if conn is not None:
                    await asyncio.to_thread(conn.close)
            self.writer = self._checkpointer = None

    async def off_loop(self, fn):
        """Run ``fn`` (which uses the writer) in a thread. If the caller is cancelled, wait for
        ``fn`` to finish all the same: the rollback that follows needs the connection."""
        task = asyncio.ensure_future(asyncio.to_thread(fn))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            while not task.done():
                try:
                    await asyncio.wait({task})
                except asyncio.CancelledError:
                    pass
            raise

    async def _begin(self, conn: sqlite3.Connection) -> None:
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        delay = 0.001
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as e:
                # Another process holds the write lock (this one has a single writer).
                if not _is_busy(e):
                    raise
                if time.monotonic() > deadline:
                    raise AppwriteError("general_service_unavailable", "Another process has held the database's "
                                        f"write lock for {BUSY_TIMEOUT_S:g} s. Try again in a moment.") from None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)

    @asynccontextmanager
    async def transaction(self, origin: Origin | None = None) -> AsyncIterator[SqliteTransaction]:
        async with self._lock:
            conn = self.writer
            assert conn is not None, "store is closed"
            await self._begin(conn)
            tx = SqliteTransaction(conn, self)
            tx.origin = origin
            try:
                yield tx
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            self._commits += 1
            if self._checkpoint_task is None:
                self._schedule_checkpoint()
            if tx.events:
                self.on_commit(tx.events)

    # --- checkpoints ---------------------------------------------------------------------

    def _schedule_checkpoint(self) -> None:
        if self._closing:
            return
        loop = asyncio.get_running_loop()
        if self._commits - self._checkpointed >= CHECKPOINT_COMMITS:
            if self._checkpoint_due is not None:
                self._checkpoint_due.cancel()
            self._checkpoint_due = None
            self._start_checkpoint()
        elif self._checkpoint_due is None:
            self._checkpoint_due = loop.call_later(CHECKPOINT_DELAY_S, self._start_checkpoint)

    def _start_checkpoint(self) -> None:
        self._checkpoint_due = None
        self._checkpoint_task = asyncio.get_running_loop().create_task(self._checkpoint())

    async def _checkpoint(self) -> None:
        """Copy the WAL into the database, in a thread with its own connection.

        SQLite starts the WAL over only when a write begins after a checkpoint copied it to
        its end; under a steady stream of writes a checkpoint never catches up on its own, and
        the WAL would grow without bound. So: a first pass while writes go on copies most of
        it, a second pass with writes held (the store's lock) copies the few frames left."""
        seen = self._commits
        try:
            if self._checkpointer is not None:
                await asyncio.to_thread(_checkpoint_pass, self._checkpointer)
                async with self._lock:
                    if self._checkpointer is not None:
                        seen = self._commits
                        await asyncio.to_thread(_checkpoint_pass, self._checkpointer)
        except Exception:  # the WAL only grows until the next one; never fail a write for it
            log.exception("WAL checkpoint failed")
        finally:
            self._checkpoint_task = None
            self._checkpointed = seen
            if self._commits != seen:
                self._schedule_checkpoint()  # commits that came in meanwhile: another round

    # --- reads (reader connection, off the loop) -----------------------------------------

    async def fetchall(self, sql: str, params: tuple | list = ()) -> list:
        assert self.readers, "store is closed"
        reader = await self._free.get()  # the first reader free: a slow read holds only its own
        try:
            return list(await reader.execute_fetchall(sql, params))
        finally:
            self._free.put_nowait(reader)

    async def fetchone(self, sql: str, params: tuple | list = ()):
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None
