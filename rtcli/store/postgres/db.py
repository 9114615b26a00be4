"""The PostgreSQL store (asyncpg): the same contract as the SQLite store, for several nodes.

Writes are serialized across every node by one transaction-scoped advisory lock, taken at the
start of each write transaction: a transaction sees no concurrent write (the same semantics as
SQLite's single writer), and the event log's ``seq`` follows commit order cluster-wide, which is
what resume and the broker's gap detection rely on.

When PostgreSQL cannot be reached, reads and writes fail with 503 ``general_service_unavailable``
and nothing else breaks: realtime connections stay up and recover when it returns.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from collections.abc import AsyncIterator, Callable, Iterator

import asyncpg

from rtcli.core.hub import Event
from rtcli.errors import AppwriteError
from rtcli.store.dialect import PostgresDialect, UniqueViolation
from rtcli.store.eventlog import EventLogStore, LoggingTransaction
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
WRITE_LOCK = 0x72746C69  # "rtli": the advisory lock that serializes writes across nodes

# Connection-level failures: the database is unreachable, not the request wrong.
UNAVAILABLE = (OSError, asyncio.TimeoutError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
               asyncpg.CannotConnectNowError)
# A string PostgreSQL cannot hold (a NUL character, in an id, a name or a path): the request is wrong.
BAD_TEXT = (asyncpg.CharacterNotInRepertoireError, asyncpg.UntranslatableCharacterError)
# A value of the wrong type for its column (refused by asyncpg before it reaches the server, or
# by PostgreSQL): the request is wrong, whatever check above missed it.
BAD_VALUE = asyncpg.DataError


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


def _rowcount(status: str) -> int:
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class PostgresTransaction(LoggingTransaction):
    def __init__(self, conn: asyncpg.Connection, store: PostgresStore) -> None:
        self.conn = conn
        self.store = store
        self.events: list[Event] = []

    async def execute(self, sql: str, params: tuple | list = (), bulk: bool = False) -> int:
        try:
            return _rowcount(await self.conn.execute(to_pg(sql), *params))
        except asyncpg.UniqueViolationError as e:
            raise UniqueViolation(str(e)) from None

    async def insert(self, sql: str, params: tuple | list = ()) -> int | None:
        return await self.conn.fetchval(to_pg(sql + " RETURNING seq"), *params)  # None: skipped on conflict

    async def fetchone(self, sql: str, params: tuple | list = ()):
        return await self.conn.fetchrow(to_pg(sql), *params)

    async def fetchall(self, sql: str, params: tuple | list = ()) -> list:
        return await self.conn.fetch(to_pg(sql), *params)


class PostgresStore(EventLogStore):
    dialect = PostgresDialect()

    def __init__(self, dsn: str, min_size: int = 2, max_size: int = 10) -> None:
        self.dsn = dsn
        self.pool: asyncpg.Pool | None = None
        self.min_size, self.max_size = min_size, max_size
        self.epoch = ""
        self.on_commit: Callable[[list[Event]], None] = lambda events: None

    async def open(self) -> None:
        self.pool = await asyncpg.create_pool(self.dsn, min_size=self.min_size, max_size=self.max_size,
                                              timeout=5, command_timeout=30)
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                # Nodes starting together must not race on creating the schema.
                await conn.execute(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")
                await conn.execute(SCHEMA)
                epoch = await conn.fetchval("SELECT value FROM meta WHERE key='epoch'")
                if epoch is None:
                    epoch = secrets.token_hex(4)
                    await conn.execute("INSERT INTO meta (key, value) VALUES ('epoch', $1)", epoch)
        self.epoch = epoch

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
            self.pool = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresTransaction]:
        assert self.pool is not None, "store is closed"
        try:
            conn = await self.pool.acquire(timeout=5)
        except UNAVAILABLE as e:
            raise _unavailable(e) from None
        try:
            tr = conn.transaction()
            try:
                await tr.start()
                await conn.execute(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")
            except UNAVAILABLE as e:
                raise _unavailable(e) from None
            tx = PostgresTransaction(conn, self)
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
        except asyncpg.UniqueViolationError:
            raise AppwriteError("general_argument_invalid", "A resource with the same id was created concurrently; "
                                "retry the request.", code=409) from None
        except BAD_TEXT:
            raise _bad_text() from None
        except UNAVAILABLE as e:
            raise _unavailable(e) from None
        finally:
            await self.pool.release(conn)

    async def fetchall(self, sql: str, params: tuple | list = ()) -> list:
        assert self.pool is not None, "store is closed"
        with _read_errors():
            return await self.pool.fetch(to_pg(sql), *params, timeout=30)

    async def fetchone(self, sql: str, params: tuple | list = ()):
        assert self.pool is not None, "store is closed"
        with _read_errors():
            return await self.pool.fetchrow(to_pg(sql), *params, timeout=30)
