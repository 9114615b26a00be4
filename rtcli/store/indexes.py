"""Indexes of TablesDB tables (SQLite and PostgreSQL): their definitions and the database indexes
that make them real. A unique index is a unique expression index over the column's JSON value,
partial to its table; a key index the same, not unique; a fulltext index an FTS5 table kept by
triggers (SQLite) or a GIN index over a tsvector (PostgreSQL). No policy here.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from rtcli.core.ports import Store, Transaction
from rtcli.core.records import Index, IndexType, Table
from rtcli.errors import AppwriteError
from rtcli.store.dialect import PostgresDialect, SqliteDialect, UniqueViolation


def physical_name(project: str, db: str, table: str, key: str) -> str:
    """The database object's name: derived, never a user string."""
    digest = hashlib.sha1(f"{project}\0{db}\0{table}\0{key}".encode()).hexdigest()[:24]
    return f"ix_{digest}"


def fulltext_names(project: str, table: Table) -> dict[str, str]:
    """Column key -> the database object of its fulltext index (what a ``search`` reads)."""
    return {i.columns[0]: physical_name(project, table.database_id, table.id, i.key)
            for i in table.indexes if i.type is IndexType.FULLTEXT}


def _spec(index: Index) -> dict[str, Any]:
    """The index as it is stored (the keys of Appwrite's Index model)."""
    return {"key": index.key, "type": index.type.value, "columns": list(index.columns), "orders": list(index.orders),
            "lengths": list(index.lengths), "$createdAt": index.created_at, "$updatedAt": index.updated_at}


def _index(spec: dict[str, Any]) -> Index:
    return Index(key=spec["key"], type=IndexType(spec["type"]), columns=tuple(spec["columns"]),
                 orders=tuple(spec["orders"]), lengths=tuple(spec["lengths"]), created_at=spec["$createdAt"],
                 updated_at=spec["$updatedAt"])


class IndexStore:
    """Implements core.repositories.IndexRepository. Read without a transaction as part of a table
    (``TablesDBStore.get_table``), whose copy in memory they share."""

    def __init__(self, store: Store) -> None:
        self.s = store
        self.d: SqliteDialect | PostgresDialect = store.dialect  # type: ignore[assignment]

    async def list(self, project: str, db: str, table: str, tx: Transaction | None = None) -> list[Index]:
        rows = await (tx or self.s).fetchall(
            "SELECT spec FROM indexes WHERE project=? AND db=? AND tbl=? ORDER BY position", (project, db, table))
        return [_index(orjson.loads(r[0])) for r in rows]

    async def insert(self, tx: Transaction, project: str, db: str, table: str, index: Index) -> None:
        """Record the index and build it over the rows already there (raises 409
        ``column_index_already_exists``; 400 ``column_index_invalid`` when a unique index meets
        duplicate values)."""
        if await tx.fetchone("SELECT 1 FROM indexes WHERE project=? AND db=? AND tbl=? AND key=?",
                             (project, db, table, index.key)):
            raise AppwriteError("column_index_already_exists",
                                f"Index with the requested key '{index.key}' already exists.")
        pos = (await tx.fetchone("SELECT COUNT(*) FROM indexes WHERE project=? AND db=? AND tbl=?",
                                 (project, db, table)))[0]
        await tx.execute("INSERT INTO indexes (project, db, tbl, key, spec, position) VALUES (?,?,?,?,?,?)",
                         (project, db, table, index.key, orjson.dumps(_spec(index)).decode(), pos))
        name, scope = physical_name(project, db, table, index.key), (project, db, table)
        if index.type is IndexType.FULLTEXT:
            ddl = self.d.fulltext_ddl(name, index.columns[0], scope)
        else:
            ddl = self.d.index_ddl(name, index.type is IndexType.UNIQUE, list(index.columns), list(index.orders),
                                   scope)
        try:
            for sql in ddl + self.d.analyze():
                await tx.execute(sql, bulk=True)
        except UniqueViolation:
            raise AppwriteError("column_index_invalid", "Rows of the table already hold the same values in "
                                f"{', '.join(index.columns)}: a unique index cannot be made.") from None

    async def delete(self, tx: Transaction, project: str, db: str, table: str, key: str) -> bool:
        row = await tx.fetchone("SELECT spec FROM indexes WHERE project=? AND db=? AND tbl=? AND key=?",
                                (project, db, table, key))
        if row is None:
            return False
        await self._drop(tx, project, db, table, _index(orjson.loads(row[0])))
        return True

    async def _drop(self, tx: Transaction, project: str, db: str, table: str, index: Index) -> None:
        for sql in self.d.drop_ddl(physical_name(project, db, table, index.key), index.type is IndexType.FULLTEXT):
            await tx.execute(sql)
        await tx.execute("DELETE FROM indexes WHERE project=? AND db=? AND tbl=? AND key=?",
                         (project, db, table, index.key))

    async def drop_all(self, tx: Transaction, project: str, db: str, table: str | None = None,
                       column: str | None = None) -> None:
        """Drop the indexes of a table (of every table of ``db`` when ``table`` is None), or only
        those over ``column``."""
        sql, params = "SELECT tbl, spec FROM indexes WHERE project=? AND db=?", [project, db]
        if table is not None:
            sql, params = sql + " AND tbl=?", params + [table]
        for r in await tx.fetchall(sql, params):
            index = _index(orjson.loads(r[1]))
            if column is None or column in index.columns:
                await self._drop(tx, project, db, r[0], index)
