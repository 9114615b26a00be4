"""Indexes of TablesDB tables (SQLite and PostgreSQL): their definitions and the database indexes
that make them real. A unique index is a unique expression index over the column's JSON value,
partial to its table; a key index the same, not unique; a fulltext index an FTS5 table kept by
triggers (SQLite) or a GIN index over a tsvector (PostgreSQL). No policy here.
"""

from __future__ import annotations

import hashlib

import orjson

from rtcli.core.ports import Transaction
from rtcli.errors import AppwriteError
from rtcli.store.dialect import UniqueViolation
from rtcli.store.schemacache import SchemaCache


def physical_name(project: str, db: str, table: str, key: str) -> str:
    """The database object's name: derived, never a user string."""
    digest = hashlib.sha1(f"{project}\0{db}\0{table}\0{key}".encode()).hexdigest()[:24]
    return f"ix_{digest}"


class IndexStore:
    """``cache``: the schema cache of the TablesDB store: a row list with a filter reads the
    table's indexes, which change rarely."""

    def __init__(self, store, cache: SchemaCache) -> None:
        self.s = store
        self.d = store.dialect
        self.cache = cache

    async def list(self, project: str, db: str, table: str, tx: Transaction | None = None) -> list[dict]:
        key = ("indexes", table)
        hit = None if tx else self.cache.get(project, db, key)
        if hit is not None:
            return hit
        generation = self.cache.generation
        rows = await (tx or self.s).fetchall(
            "SELECT spec FROM indexes WHERE project=? AND db=? AND tbl=? ORDER BY position", (project, db, table))
        specs = [orjson.loads(r[0]) for r in rows]
        if tx is None:
            self.cache.put(project, db, key, specs, generation)
        return specs

    async def usable(self, project: str, db: str, table: str) -> tuple[set[str], dict[str, str]]:
        """The columns an ``equal`` finds through an index (the first of a key or unique index),
        and column key -> the database object of its fulltext index (for ``search``)."""
        leading, fulltext = set(), {}
        for spec in await self.list(project, db, table):
            if spec["type"] == "fulltext":
                fulltext[spec["columns"][0]] = physical_name(project, db, table, spec["key"])
            else:
                leading.add(spec["columns"][0])
        return leading, fulltext

    async def insert(self, tx: Transaction, project: str, db: str, table: str, spec: dict) -> None:
        """Record the index and build it over the rows already there (raises 409
        ``column_index_already_exists``; 400 ``column_index_invalid`` when a unique index meets
        duplicate values)."""
        if await tx.fetchone("SELECT 1 FROM indexes WHERE project=? AND db=? AND tbl=? AND key=?",
                             (project, db, table, spec["key"])):
            raise AppwriteError("column_index_already_exists",
                                f"Index with the requested key '{spec['key']}' already exists.")
        pos = (await tx.fetchone("SELECT COUNT(*) FROM indexes WHERE project=? AND db=? AND tbl=?",
                                 (project, db, table)))[0]
        await tx.execute("INSERT INTO indexes (project, db, tbl, key, spec, position) VALUES (?,?,?,?,?,?)",
                         (project, db, table, spec["key"], orjson.dumps(spec).decode(), pos))
        name, scope = physical_name(project, db, table, spec["key"]), (project, db, table)
        if spec["type"] == "fulltext":
            ddl = self.d.fulltext_ddl(name, spec["columns"][0], scope)
        else:
            ddl = self.d.index_ddl(name, spec["type"] == "unique", spec["columns"], spec["orders"], scope)
        try:
            for sql in ddl + self.d.analyze():
                await tx.execute(sql, bulk=True)
        except UniqueViolation:
            raise AppwriteError("column_index_invalid", "Rows of the table already hold the same values in "
                                f"{', '.join(spec['columns'])}: a unique index cannot be made.") from None

    async def delete(self, tx: Transaction, project: str, db: str, table: str, key: str) -> bool:
        row = await tx.fetchone("SELECT spec FROM indexes WHERE project=? AND db=? AND tbl=? AND key=?",
                                (project, db, table, key))
        if row is None:
            return False
        await self._drop(tx, project, db, table, orjson.loads(row[0]))
        return True

    async def _drop(self, tx: Transaction, project: str, db: str, table: str, spec: dict) -> None:
        for sql in self.d.drop_ddl(physical_name(project, db, table, spec["key"]), spec["type"] == "fulltext"):
            await tx.execute(sql)
        await tx.execute("DELETE FROM indexes WHERE project=? AND db=? AND tbl=? AND key=?",
                         (project, db, table, spec["key"]))

    async def drop_all(self, tx: Transaction, project: str, db: str, table: str | None = None,
                       column: str | None = None) -> None:
        """Drop the indexes of a table (of every table of ``db`` when ``table`` is None), or only
        those over ``column``."""
        sql, params = "SELECT tbl, spec FROM indexes WHERE project=? AND db=?", [project, db]
        if table is not None:
            sql, params = sql + " AND tbl=?", params + [table]
        for r in await tx.fetchall(sql, params):
            spec = orjson.loads(r[1])
            if column is None or column in spec["columns"]:
                await self._drop(tx, project, db, r[0], spec)
