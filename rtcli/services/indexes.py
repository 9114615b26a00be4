"""Index use cases of TablesDB tables: key, unique and fulltext indexes over a table's columns.

An index is made at once, in the request's transaction, over the rows already there (so it is
``available`` when the 202 answers). A unique index makes a write that repeats its values fail
with 409 ``row_unique_constraint_violation``; a fulltext index is what ``Query.search`` needs.
Only API keys (``databases.write``/``databases.read``) manage indexes, as Appwrite's console.
"""

from __future__ import annotations

import re
from typing import Any

from rtcli import ids
from rtcli.core.queries import parse_many
from rtcli.core.queries import plan as list_plan
from rtcli.core.records import Index, IndexType, Table
from rtcli.core.schema import column_type
from rtcli.errors import AppwriteError, invalid
from rtcli.services.context import Ctx
from rtcli.services.tablesdb import Body, Model, TablesDB, index_model

TYPES = tuple(t.value for t in IndexType)
MAX_INDEXES = 64
MAX_COLUMNS = 8
TEXT_TYPES = ("string", "varchar", "text", "mediumtext", "longtext")  # email, url, ip, enum are strings too
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,35}$")


def _not_found(key: str) -> AppwriteError:
    return AppwriteError("column_index_not_found", f"Index with the requested key '{key}' could not be found.")


class Indexes:
    def __init__(self, tables: TablesDB) -> None:
        self.tables = tables
        self.store = tables.store
        self.repo = tables.repo.indexes

    @staticmethod
    def _index(table: Table, body: Body) -> Index:
        """The index a create request asks for, checked against the table's columns."""
        key, kind = body.get("key"), body.get("type")
        if not isinstance(key, str) or not _KEY.match(key):
            raise invalid("Invalid `key` param: must be 1-36 chars of a-z, A-Z, 0-9, period, hyphen and underscore.")
        if kind not in TYPES:
            raise AppwriteError("column_index_invalid",
                                f"Index type '{kind}' is not supported here; use one of: {', '.join(TYPES)}.")
        cols = body.get("columns")
        if not isinstance(cols, list) or not 1 <= len(cols) <= MAX_COLUMNS or not all(isinstance(c, str) for c in cols):
            raise invalid(f"Invalid `columns` param: an array of 1 to {MAX_COLUMNS} column keys.")
        if kind == "fulltext" and len(cols) != 1:
            raise AppwriteError("column_index_invalid", "A fulltext index covers one column here; make one per column.")
        if len(set(cols)) != len(cols):
            raise AppwriteError("column_index_invalid", "An index names each column once: remove the repeated ones.")
        known = {c.key: c for c in table.columns}
        for c in cols:
            if known and c not in known:
                raise AppwriteError("column_not_found", f"Column with the requested key '{c}' could not be found.")
            if not _KEY.match(c):  # the table's own column keys (also what a schemaless row may hold)
                raise AppwriteError("column_index_invalid", f"'{c}' cannot be indexed: index the table's own columns.")
            if kind == "fulltext" and known and column_type(known[c].kind) not in TEXT_TYPES:
                raise AppwriteError("column_index_invalid",
                                    f"A fulltext index covers a string column; '{c}' is {column_type(known[c].kind)}.")
            if kind != "key" and c in known and known[c].array:
                raise AppwriteError("column_index_invalid", f"A {kind} index cannot cover the array column '{c}'.")
        orders = body.get("orders") or []
        if not isinstance(orders, list) or (orders and len(orders) != len(cols)) or \
                not all(o in ("ASC", "DESC") for o in orders):
            raise invalid("Invalid `orders` param: ASC or DESC for each column (or none).")
        lengths = body.get("lengths") or []
        if not isinstance(lengths, list) or not all(isinstance(n, int) and not isinstance(n, bool) for n in lengths):
            raise invalid("Invalid `lengths` param: an array of integers.")
        now = ids.format_datetime()
        return Index(key=key, type=IndexType(kind), columns=tuple(cols), orders=tuple(orders or ["ASC"] * len(cols)),
                     lengths=tuple(lengths), created_at=now, updated_at=now)

    async def create(self, ctx: Ctx, db: str, table: str, body: Body) -> Model:
        ctx.require_key()
        index = self._index(await self.tables.table(ctx, db, table), body)
        async with self.tables.schema_change(ctx, db, f".tables.{table}.indexes.{index.key}", "create") as tx:
            # The table's row first: on PostgreSQL that locks it until the transaction ends, so
            # indexes made on one table at the same moment are made one after another (the key
            # check, the limit and the next position hold), as SQLite's single writer makes them.
            await self.tables.repo.lock_table(tx, ctx.project, db, table)
            if len(await self.repo.list(ctx.project, db, table, tx)) >= MAX_INDEXES:
                raise AppwriteError("column_index_limit_exceeded",
                                    f"The maximum number of indexes for table '{table}' ({MAX_INDEXES}) has been reached.")
            await self.repo.insert(tx, ctx.project, db, table, index)
        return index_model(index)

    async def list(self, ctx: Ctx, db: str, table: str, queries: list[Any]) -> Model:
        ctx.require_key("databases.read")
        indexes = (await self.tables.table(ctx, db, table)).indexes
        p = list_plan(parse_many(queries))
        return {"total": len(indexes), "indexes": [index_model(i) for i in indexes[p.offset:p.offset + p.limit]]}

    async def get(self, ctx: Ctx, db: str, table: str, key: str) -> Model:
        ctx.require_key("databases.read")
        for index in (await self.tables.table(ctx, db, table)).indexes:
            if index.key == key:
                return index_model(index)
        raise _not_found(key)

    async def delete(self, ctx: Ctx, db: str, table: str, key: str) -> None:
        ctx.require_key()
        await self.tables.table(ctx, db, table)
        async with self.tables.schema_change(ctx, db, f".tables.{table}.indexes.{key}", "delete") as tx:
            if not await self.repo.delete(tx, ctx.project, db, table, key):
                raise _not_found(key)
