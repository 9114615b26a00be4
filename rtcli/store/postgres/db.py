"""The PostgreSQL store (asyncpg): the same contract as the SQLite store, for several nodes.

Write transactions run in parallel, on one node and across nodes; there is no cluster-wide
lock. What keeps the event log's promise ("everything after position N" is the exact rest of
the log, for any reader on any node) is how positions are made and read:

- An event's position is its transaction's id, shifted left by ``TX_BITS``, plus the event's
  index in that transaction (``pg_current_xact_id()``, taken in the INSERT itself).
- Readers see only the *settled* log: positions below a transaction id under which every
  transaction of this database has ended (``SETTLED``). Any
  transaction still to commit has an id at or above it, so no event can ever appear below a
  position a reader has passed.

An event settles as soon as every transaction of this database that started writing before its
own has ended: under load, within a transaction's duration. A transaction left open holds back
delivery until it ends; ``idle_in_transaction_session_timeout`` bounds that. Positions grow but
are not dense. A read inside a write
transaction locks the rows it returns (``FOR UPDATE``): a read-modify-write of a row (an
update, a chunk count) waits for a concurrent one on the same row instead of losing it.

When PostgreSQL cannot be reached, reads and writes fail with 503 ``general_service_unavailable``
and nothing else breaks: realtime connections stay up and recover when it returns.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import secrets
import time
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from collections.abc import AsyncIterator, Callable, Iterator, Sequence

import asyncpg

from rtcli.core.event import Event, Origin
from rtcli.errors import AppwriteError
from rtcli.store.dialect import PostgresDialect, UniqueViolation
from rtcli.store.eventlog import (EVENT_COLUMNS, EventLogStore, InsertLogged, LoggedInsert, LoggingTransaction,
                                  event_values)
from rtcli.store.postgres.groupcommit import IN_FLIGHT, GroupCommit
from rtcli.store.upgrade import pg_upgrade_sql

log = logging.getLogger("rtcli.store.postgres")

# Columns that hold JSON (jsonb here, JSON text on SQLite).
JSON_COLUMNS = ("permissions", "read_roles", "data", "channels", "roles", "payload", "controls", "spec", "scopes",
                "labels", "prefs", "model", "metadata", "hash_options", "op")


def pg_schema(sqlite_schema: str) -> str:
    """The SQLite schema, in PostgreSQL's types: one schema to maintain for both backends."""
    sql = sqlite_schema.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY")
    sql = re.sub(r"\bREAL\b", "DOUBLE PRECISION", sql)
    sql = re.sub(r"\bfile_seq INTEGER\b", "file_seq BIGINT", sql)
    return re.sub(rf"\b({'|'.join(JSON_COLUMNS)}) TEXT\b", r"\1 JSONB", sql)


SCHEMA = pg_schema((Path(__file__).parent.parent / "sqlite" / "schema.sql").read_text()) + pg_upgrade_sql(pg_schema)
SCHEMA_LOCK = 0x72746C69  # "rtli": nodes starting together create the schema one at a time

# An event's position: its transaction id << TX_BITS | its index in the transaction. 2**20 events
# per transaction; 2**43 transaction ids before a position passes 2**63.
TX_BITS = 20
MAX_EVENTS_PER_TX = 1 << TX_BITS
POSITION = f"(pg_current_xact_id()::text::bigint << {TX_BITS})"
# The transaction id under which every transaction of this database has ended, at the calling
# statement's snapshot. Two bounds, the higher wins:
# - the snapshot's xmin: every transaction of the whole server below it has ended;
# - from an earlier statement's view (its snapshot's xmax, and the xids that this database's
#   backends held just after it, from pg_stat_activity): a transaction of this database below
#   that xmax was either in that list or had ended; if it is in the list and still in this
#   snapshot's in-progress list it bounds us, otherwise it has ended. So a long transaction in
#   another database of the same server, which holds back xmin, does not hold back our log.
# pg_stat_activity shows 32-bit xids: compare the low 32 bits (two running transactions never share them).
# Written into the statements that read the log rather than called as a SQL function: a
# function with a FROM is not inlined, and planning its body on every call cost a log read
# three times what the expression does.
SETTLED = ("(SELECT GREATEST(pg_snapshot_xmin(s)::text::bigint, LEAST({xmax}::bigint, COALESCE((SELECT"
           " min(x::text::bigint) FROM pg_snapshot_xip(s) AS x WHERE (x::text::bigint & 4294967295) ="
           " ANY({ours}::bigint[])), {xmax}::bigint))) FROM pg_current_snapshot() AS s)")
# What a statement sees for the next one's bound (must be read after its snapshot: in the same statement).
# Prepared (two-phase) transactions have no backend: pg_prepared_xacts lists them.
VIEW = ("pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS seen_xmax, ARRAY(SELECT backend_xid::text::bigint"
        " FROM pg_stat_activity WHERE datname = current_database() AND backend_xid IS NOT NULL UNION ALL"
        " SELECT transaction::text::bigint FROM pg_prepared_xacts WHERE database = current_database()) AS seen_ours")
# The log follower's reads without a fresh view: the same columns, nothing seen.
NO_VIEW = "NULL::bigint AS seen_xmax, NULL::bigint[] AS seen_ours"
# Reads in a row that found committed events held back before the follower takes a fresh view.
VIEW_AFTER = 2
# A read in a write transaction locks its rows, unless its shape cannot lock (an aggregate).
UNLOCKABLE = re.compile(r"\b(COUNT|MAX|MIN|SUM|AVG)\s*\(|\bDISTINCT\b|\bGROUP BY\b|\bUNION\b", re.IGNORECASE)

# Connection-level failures: the database is unreachable, not the request wrong.
UNAVAILABLE = (OSError, asyncio.TimeoutError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
               asyncpg.CannotConnectNowError)
# A string PostgreSQL cannot hold (a NUL character, in an id, a name or a path): the request is wrong.
BAD_TEXT = (asyncpg.CharacterNotInRepertoireError, asyncpg.UntranslatableCharacterError)
# A value of the wrong type for its column (refused by asyncpg before it reaches the server, or
# by PostgreSQL): the request is wrong, whatever check above missed it.
BAD_VALUE = asyncpg.DataError


@functools.lru_cache(maxsize=4096)  # the repositories' statements are a small, fixed set
def to_pg(sql: str) -> str:
    """``?`` placeholders to ``$1, $2, …`` (outside string literals)."""
    out, n, quoted = [], 0, False
    for ch in sql:
        if ch == "'":
            quoted = not quoted
        if ch == "?" and not quoted:
            n += 1
            out.append(f"${n}")
        else:
            out.append(ch)
    return "".join(out)


def _unavailable(e: BaseException) -> AppwriteError:
    if isinstance(e, asyncio.TimeoutError):
        # No connection free within 5 s, or a statement past 30 s: most often the database is
        # reachable but busy (a lock another client holds, every connection of this node in use).
        return AppwriteError("general_service_unavailable", "The database did not answer in time: it is busy "
                             "(a lock held by another client, or every connection in use) or unreachable. "
                             "Try again in a moment.")
    return AppwriteError("general_service_unavailable", f"The database is unreachable ({type(e).__name__}). "
                         "Try again in a moment.")


def _bad_text() -> AppwriteError:
    return AppwriteError("general_argument_invalid", "Strings must not contain NUL characters.")


def _bad_value(e: BaseException) -> AppwriteError:
    return AppwriteError("general_argument_invalid", f"A value does not fit its column: {str(e)[:200]}")


@contextmanager
def _read_errors() -> Iterator[None]:
    """A read's failures in the API's terms: the caller's bad string or value (400), or the
    database out of reach (503)."""
    try:
        yield
    except BAD_TEXT:
        raise _bad_text() from None
    except BAD_VALUE as e:
        raise _bad_value(e) from None
    except UNAVAILABLE as e:
        raise _unavailable(e) from None


# A write that met a concurrent one: the client retries.
CONFLICTS = (asyncpg.UniqueViolationError, asyncpg.DeadlockDetectedError, asyncpg.SerializationError)


def _write_error(e: asyncpg.PostgresError) -> BaseException:
    """A write's failure in the API's terms (a conflict with a concurrent write: 409), or ``e`` itself."""
    if isinstance(e, asyncpg.UniqueViolationError):
        return AppwriteError("general_argument_invalid", "A resource with the same id was created concurrently; "
                             "retry the request.", code=409)
    if isinstance(e, CONFLICTS):
        return AppwriteError("general_argument_invalid", "A concurrent request changed the same resources; "
                             "retry the request.", code=409)
    if isinstance(e, BAD_TEXT):
        return _bad_text()
    return e


def _failure(e: BaseException) -> BaseException:
    """Any write's failure in the API's terms: a bad value (400), a conflict (409), the database
    out of reach (503), or ``e`` itself."""
    if isinstance(e, BAD_VALUE) and not isinstance(e, BAD_TEXT):
        return _bad_value(e)
    if isinstance(e, asyncpg.PostgresError) and not isinstance(e, UNAVAILABLE):
        return _write_error(e)
    if isinstance(e, UNAVAILABLE):
        return _unavailable(e)
    return e


def _rowcount(status: str) -> int:
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


@functools.lru_cache(maxsize=1024)
def _locking(sql: str) -> str:
    """A read inside a write transaction, in PostgreSQL's terms, locking the rows it returns."""
    return to_pg(sql if UNLOCKABLE.search(sql) else sql + " FOR UPDATE")


@dataclass
class LogPage:
    """What a node following the log reads in one query (see ``PostgresStore.follow``)."""

    events: list[Event]  # settled events after the position asked for, except the known ones
    bound: int  # every position below this is settled
    top: int  # the highest committed position, settled or not


class PostgresTransaction(LoggingTransaction):
    def __init__(self, conn: asyncpg.Connection, store: PostgresStore) -> None:
        self.conn = conn
        self.store = store
        self.events: list[Event] = []

    async def log(self, event: Event) -> int:
        n = len(self.events)
        if n >= MAX_EVENTS_PER_TX:
            raise AppwriteError("general_argument_invalid", f"One request may change at most {MAX_EVENTS_PER_TX:,} "
                                "resources; split it.")
        return await self.conn.fetchval(
            f"INSERT INTO events (seq, {EVENT_COLUMNS}) VALUES ({POSITION} + $1, $2,$3,$4,$5,$6,$7,$8,$9,$10,$11)"
            " RETURNING seq", n, *event_values(event))

    async def execute(self, sql: str, params: tuple | list = (), bulk: bool = False) -> int:
        try:
            return _rowcount(await self.conn.execute(to_pg(sql), *params))
        except asyncpg.UniqueViolationError as e:
            raise UniqueViolation(str(e)) from None

    async def insert(self, sql: str, params: tuple | list = ()) -> int | None:
        try:
            return await self.conn.fetchval(to_pg(sql + " RETURNING seq"), *params)  # None: skipped on conflict
        except asyncpg.UniqueViolationError as e:
            raise UniqueViolation(str(e)) from None

    async def fetchone(self, sql: str, params: tuple | list = ()):
        return await self.conn.fetchrow(_locking(sql), *params)

    async def fetchall(self, sql: str, params: tuple | list = ()) -> list:
        return await self.conn.fetch(_locking(sql), *params)


async def _no_reset(conn: asyncpg.Connection) -> None:
    """Connections go back to the pool as they are: the store never changes session state
    (settings, LISTEN, cursors, session locks), so asyncpg's reset query would be a round trip
    per transaction for nothing."""


# Connections of a node's pool, beyond the ``max_size`` that writes may hold, that only reads
# take: writes that wait for locks (another client's, or one another's on a row) could
# otherwise hold all of them, and every read, with the log that realtime delivery follows,
# would wait as long as they do. (Taken from the writes' ten instead, they slowed concurrent
# updates: fewer transactions in flight.)
READ_RESERVE = 3
# Connections for the group-commit statements (at most IN_FLIGHT of one kind at once: room for
# two kinds), kept apart because they plan differently: PostgreSQL re-planned the statement on
# every execution (its arrays' lengths change its estimates, so the generic plan never looked
# cheaper), which was half its CPU. These connections always use the one generic plan.
BATCH_CONNECTIONS = 2 * IN_FLIGHT


async def _generic_plans(conn: asyncpg.Connection) -> None:
    """Set on each new group-commit connection with a statement, not as a startup parameter:
    a connection pooler in front of PostgreSQL may refuse startup parameters it does not know."""
    await conn.execute("SET plan_cache_mode = force_generic_plan")


class PostgresStore(EventLogStore):
    dialect = PostgresDialect()
    one_statement_inserts = True

    def __init__(self, dsn: str, min_size: int = 2, max_size: int = 10) -> None:
        self.dsn = dsn
        self.pool: asyncpg.Pool | None = None
        self.batches: asyncpg.Pool | None = None  # for the group-commit statements (BATCH_CONNECTIONS)
        self.min_size, self.max_size = min_size, max_size
        self._writers = asyncio.Semaphore(max_size)
        self.epoch = ""
        self.on_commit: Callable[[list[Event]], None] = lambda events: None
        # The latest view for SETTLED, from the last log read that returned one.
        self.seen: tuple[int, list[int]] = (0, [])
        self._stuck = 0  # the log follower's reads in a row that found committed events held back
        self._view_helps = True  # the last view moved the follower's bound past the oldest transaction
        self.views = 0  # log reads that took a fresh view (for tests and metrics)
        self.group = GroupCommit(self._run_batch, self._committed, _failure, UNAVAILABLE, POSITION, TX_BITS)

    def settled(self, params: list) -> str:
        xmax, ours = self.seen
        params.extend((xmax, ours, xmax))  # in the order SETTLED names them
        return f"seq < ({SETTLED.format(xmax='?', ours='?')} << {TX_BITS})"

    def _saw(self, row) -> None:
        if row["seen_xmax"] >= self.seen[0]:  # any completed view is valid; the latest bounds best
            self.seen = (row["seen_xmax"], list(row["seen_ours"]))

    async def span(self, after: int, upto: int, cap: int) -> int:
        # Positions are not consecutive here: count (an index range, at most ``cap`` entries).
        row = await self.fetchone("SELECT count(*) FROM (SELECT 1 FROM events WHERE seq > ? AND seq <= ? LIMIT ?) x",
                                  (after, upto, cap))
        return int(row[0])

    async def nth_after(self, after: int, n: int, upto: int) -> int:
        row = await self.fetchone("SELECT seq FROM events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT 1 OFFSET ?",
                                  (after, upto, max(0, n - 1)))
        return int(row[0]) if row else upto

    async def head(self) -> int:
        """The last settled position, with a fresh view first: a write that committed before
        this call counts as settled unless an older transaction of this database still runs
        (one round trip more; the log follower does not need it)."""
        self._saw(await self.fetchone(f"SELECT {VIEW}"))
        return await super().head()

    async def read_events(self, project: str | None, after: int, upto: int, limit: int) -> list[Event]:
        self._saw(await self.fetchone(f"SELECT {VIEW}"))  # as head(): what committed before counts
        return await super().read_events(project, after, upto, limit)

    async def open(self) -> None:
        self.pool = await asyncpg.create_pool(self.dsn, min_size=self.min_size, max_size=self.max_size + READ_RESERVE,
                                              timeout=5, command_timeout=30, reset=_no_reset)
        self.batches = await asyncpg.create_pool(self.dsn, min_size=1, max_size=BATCH_CONNECTIONS, timeout=5,
                                                 command_timeout=30, reset=_no_reset, init=_generic_plans)
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                # Nodes starting together must not race on creating the schema.
                await conn.execute(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
                await conn.execute(SCHEMA)
                epoch = await conn.fetchval("SELECT value FROM meta WHERE key='epoch'")
                if epoch is None:
                    epoch = secrets.token_hex(4)
                    await conn.execute("INSERT INTO meta (key, value) VALUES ('epoch', $1)", epoch)
        self.epoch = epoch

    async def close(self) -> None:
        if self.batches is not None:
            await self.batches.close()
            self.batches = None
        if self.pool is not None:
            await self.pool.close()
            self.pool = None

    async def _write_slot(self) -> None:
        """Take one of the connections writes may hold (see READ_RESERVE); TimeoutError after
        5 s, as for a connection from the pool. The caller releases ``_writers``."""
        async with asyncio.timeout(5):
            await self._writers.acquire()

    @asynccontextmanager
    async def transaction(self, origin: Origin | None = None) -> AsyncIterator[PostgresTransaction]:
        assert self.pool is not None, "store is closed"
        try:
            await self._write_slot()
        except UNAVAILABLE as e:
            raise _unavailable(e) from None
        try:
            conn = await self.pool.acquire(timeout=5)
        except UNAVAILABLE as e:
            self._writers.release()
            raise _unavailable(e) from None
        try:
            tr = conn.transaction()
            try:
                await tr.start()
            except UNAVAILABLE as e:
                raise _unavailable(e) from None
            tx = PostgresTransaction(conn, self)
            tx.origin = origin
            try:
                yield tx
            except BaseException:
                try:
                    await tr.rollback()
                except UNAVAILABLE:
                    pass
                raise
            try:
                await tr.commit()
            except UNAVAILABLE as e:
                # The commit's outcome is unknown; the client gets a 503 and may retry.
                raise _unavailable(e) from None
            if tx.events:
                self.on_commit(tx.events)
        except (*CONFLICTS, *BAD_TEXT) as e:
            raise _write_error(e) from None
        except UNAVAILABLE as e:
            raise _unavailable(e) from None
        finally:
            await self.pool.release(conn)
            self._writers.release()

    async def insert_logged(self, shape: LoggedInsert, values: Sequence, event: Event, seq_key: str,
                            origin: Origin | None = None) -> InsertLogged:
        """One statement instead of BEGIN, the INSERT, the event's INSERT and COMMIT, shared
        with the concurrent creates of this node (store/postgres/groupcommit.py)."""
        assert self.pool is not None, "store is closed"
        if event.origin is None:
            event.origin = origin
        event.created = time.time()
        return await self.group.insert(shape, values, event, seq_key)

    async def _run_batch(self, sql: str, args: list) -> list:
        assert self.batches is not None, "store is closed"
        async with self.batches.acquire(timeout=5) as conn:
            return await conn.fetch(sql, *args, timeout=30)

    def writing(self) -> bool:
        """Whether a create statement of this node is on its way: its commit will be followed
        by a read of the log (the log follower waits for that read rather than make another)."""
        return self.group.sending()

    def _committed(self, events: list[Event]) -> None:
        for event in events:
            event.cursor = self.cursor(event.seq)
        self.on_commit(events)

    async def fetchall(self, sql: str, params: tuple | list = ()) -> list:
        assert self.pool is not None, "store is closed"
        with _read_errors():
            return await self.pool.fetch(to_pg(sql), *params, timeout=30)

    async def fetchone(self, sql: str, params: tuple | list = ()):
        assert self.pool is not None, "store is closed"
        with _read_errors():
            return await self.pool.fetchrow(to_pg(sql), *params, timeout=30)

    async def follow(self, after: int, limit: int, known: Sequence[int]) -> LogPage:
        """One read of a node following the log: the settled events after ``after`` (at most
        ``limit``), without those in ``known`` (events this node committed: it has them), with
        the settled bound and the highest committed position, in one round trip."""
        assert self.pool is not None, "store is closed"
        # A fresh view (pg_stat_activity, a third of the read's cost in PostgreSQL) helps only
        # when the server's oldest running transaction holds the bound back: taken after reads
        # that found the log held back twice running, and as long as it moves the bound past
        # that oldest transaction. Otherwise the last view stands (any completed view is valid).
        view = self._stuck >= VIEW_AFTER or self._view_helps
        rows = await self.pool.fetch(
            f"SELECT b.*, e.* FROM (SELECT {SETTLED.format(xmax='$4', ours='$5')} << {TX_BITS} AS bound,"
            f" pg_snapshot_xmin(pg_current_snapshot())::text::bigint << {TX_BITS} AS oldest,"
            f" (SELECT COALESCE(MAX(seq), 0) FROM events) AS top, {VIEW if view else NO_VIEW}) b"
            " LEFT JOIN LATERAL (SELECT * FROM events WHERE seq > $1 AND seq < b.bound AND seq <> ALL($2::bigint[])"
            " ORDER BY seq LIMIT $3) e ON true", after, list(known), limit, *self.seen, timeout=30)
        head = rows[0]
        if view:
            self._saw(head)
        self._stuck = self._stuck + 1 if head["top"] >= head["bound"] else 0
        self._view_helps = head["bound"] > head["oldest"]
        self.views += view
        return LogPage([self.event_from_row(r) for r in rows if r["seq"] is not None], head["bound"], head["top"])
