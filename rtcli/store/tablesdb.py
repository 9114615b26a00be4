"""TablesDB data access (SQLite and PostgreSQL): databases, tables, columns and rows as typed records.

Authorization and validation happen in services.tablesdb; this module only reads and writes.
Row reads that a non-key caller makes are filtered by read roles inside the SQL query.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import orjson

from rtcli.core.event import Event, Origin
from rtcli.core.ports import Store, Transaction
from rtcli.core.queries import ListPlan
from rtcli.core.records import Column, Database, DatabaseType, Row, Table
from rtcli.core.schema import column_from_spec, column_spec
from rtcli.errors import AppwriteError
from rtcli.store.dialect import PostgresDialect, SqliteDialect, UniqueViolation, scope_sql
from rtcli.store.eventlog import EventLogStore, LoggedInsert
from rtcli.store.indexes import IndexStore, fulltext_names
from rtcli.store.schemacache import SchemaCache
from rtcli.store.sqlquery import Attr, where_clause


def _j(v: object) -> str:
    return orjson.dumps(v).decode()


def _db(r: Any) -> Database:
    return Database(id=r["id"], name=r["name"], enabled=bool(r["enabled"]), type=DatabaseType(r["type"]),
                    created_at=r["created_at"], updated_at=r["updated_at"])


def _table(r: Any, columns: list[Column], indexes: list[Any]) -> Table:
    return Table(id=r["id"], database_id=r["db"], database_type=DatabaseType(r["db_type"]), name=r["name"],
                 enabled=bool(r["enabled"]), row_security=bool(r["row_security"]),
                 permissions=orjson.loads(r["permissions"]), created_at=r["created_at"], updated_at=r["updated_at"],
                 columns=tuple(columns), indexes=tuple(indexes))


@functools.lru_cache(maxsize=4096)
def _column(spec: str | bytes) -> Column:
    """A stored column spec as a record. A write reads its table's columns in its transaction
    each time; the records are immutable, so one parse per distinct spec serves them all."""
    return column_from_spec(orjson.loads(spec))


def _row(r: Any) -> Row:
    return Row(id=r["id"], table_id=r["tbl"], database_id=r["db"], data=orjson.loads(r["data"]),
               permissions=orjson.loads(r["permissions"]), created_at=r["created_at"], updated_at=r["updated_at"],
               sequence=r["seq"])


# A table with its database's type (which names its row events).
_TABLES = ("SELECT tables.*, databases.type AS db_type FROM tables"
           " JOIN databases ON databases.project=tables.project AND databases.id=tables.db")


# A row written with its event in one statement (``insert_logged``), if its table still has
# the columns it was validated against (``cols``): read as ``schema_in`` reads them, the table's
# row locked as it locks it.
ROW_INSERT = LoggedInsert(
    table="rows",
    columns=(("project", "text"), ("db", "text"), ("tbl", "text"), ("id", "text"), ("created_at", "text"),
             ("updated_at", "text"), ("permissions", "jsonb"), ("read_roles", "jsonb"), ("data", "jsonb")),
    key=("project", "db", "tbl", "id"),
    extra=(("cols", "jsonb"),),
    guard="EXISTS (SELECT 1 FROM tables t WHERE t.project = i.project AND t.db = i.db AND t.id = i.tbl"
          " FOR KEY SHARE) AND"
          " (SELECT COALESCE(jsonb_agg(c.spec ORDER BY c.position), '[]'::jsonb) FROM columns c"
          " WHERE c.project = i.project AND c.db = i.db AND c.tbl = i.tbl) = i.cols")


class TablesDBStore:
    """Implements core.repositories.TableRepository."""

    def __init__(self, store: Store, cache: SchemaCache | None = None) -> None:
        self.s = store
        # The store, when it writes a row and its event in one statement (PostgreSQL).
        self.logged = store if isinstance(store, EventLogStore) and store.one_statement_inserts else None
        self.d: SqliteDialect | PostgresDialect = store.dialect  # type: ignore[assignment]
        # Databases, tables, columns and indexes are read on every row request and rarely change:
        # kept in memory (store.schemacache says when they are forgotten). Reads through a
        # transaction go to the database and are never kept.
        self.cache = cache or SchemaCache()
        self.indexes = IndexStore(store)

    # --- databases -----------------------------------------------------------------------

    def forget(self, project: str, db: str) -> None:
        self.cache.forget(project, db)

    @property
    def one_statement_inserts(self) -> bool:
        return self.logged is not None

    async def get_database(self, project: str, db: str) -> Database | None:
        hit = self.cache.database(project, db)
        if hit is not None:
            return hit
        generation = self.cache.generation
        r = await self.s.fetchone("SELECT * FROM databases WHERE project=? AND id=?", (project, db))
        rec = _db(r) if r else None
        self.cache.put(project, db, rec, generation)
        return rec

    async def list_databases(self, project: str, limit: int, offset: int) -> tuple[int, list[Database]]:
        total = (await self.s.fetchone("SELECT COUNT(*) FROM databases WHERE project=?", (project,)))[0]
        rows = await self.s.fetchall(
            "SELECT * FROM databases WHERE project=? ORDER BY created_at, id LIMIT ? OFFSET ?", (project, limit, offset))
        return int(total), [_db(r) for r in rows]

    async def insert_database(self, tx: Transaction, project: str, rec: Database) -> None:
        if await tx.fetchone("SELECT 1 FROM databases WHERE project=? AND id=?", (project, rec.id)):
            raise AppwriteError("database_already_exists")
        try:
            await tx.execute(
                "INSERT INTO databases (project, id, name, enabled, type, created_at, updated_at) VALUES (?,?,?,?,?,?,?)",
                (project, rec.id, rec.name, int(rec.enabled), rec.type.value, rec.created_at, rec.updated_at))
        except UniqueViolation:  # taken since the check, by a request at the same moment
            raise AppwriteError("database_already_exists") from None

    async def update_database(self, tx: Transaction, project: str, rec: Database) -> None:
        await tx.execute("UPDATE databases SET name=?, enabled=?, updated_at=? WHERE project=? AND id=?",
                         (rec.name, int(rec.enabled), rec.updated_at, project, rec.id))

    async def delete_database(self, tx: Transaction, project: str, db: str) -> None:
        # The tables' rows first, as delete_table does (see there).
        await tx.execute("DELETE FROM tables WHERE project=? AND db=?", (project, db))
        await self.indexes.drop_all(tx, project, db)
        for table in ("rows", "columns"):
            await tx.execute(f"DELETE FROM {table} WHERE project=? AND db=?", (project, db), bulk=True)
        await tx.execute("DELETE FROM databases WHERE project=? AND id=?", (project, db))

    # --- tables --------------------------------------------------------------------------

    async def get_table(self, project: str, db: str, table: str) -> Table | None:
        """The table with its columns and indexes."""
        hit = self.cache.table(project, db, table)
        if hit is not None:
            return hit
        generation = self.cache.generation
        r = await self.s.fetchone(f"{_TABLES} WHERE tables.project=? AND tables.db=? AND tables.id=?",
                                  (project, db, table))
        rec = await self._with_schema(project, r) if r else None
        self.cache.put(project, db, rec, generation)
        return rec

    async def _with_schema(self, project: str, r: Any) -> Table:
        rows = await self.s.fetchall(
            "SELECT spec FROM columns WHERE project=? AND db=? AND tbl=? ORDER BY position", (project, r["db"], r["id"]))
        return _table(r, [_column(c[0]) for c in rows],
                      await self.indexes.list(project, r["db"], r["id"]))

    async def table_exists(self, project: str, db: str, table: str) -> bool:
        """Whether the table is there now, whatever this node keeps in memory."""
        return await self.s.fetchone("SELECT 1 FROM tables WHERE project=? AND db=? AND id=?",
                                     (project, db, table)) is not None

    async def list_tables(self, project: str, db: str, limit: int, offset: int) -> tuple[int, list[Table]]:
        total = (await self.s.fetchone("SELECT COUNT(*) FROM tables WHERE project=? AND db=?", (project, db)))[0]
        rows = await self.s.fetchall(f"{_TABLES} WHERE tables.project=? AND tables.db=?"
                                     " ORDER BY tables.created_at, tables.id LIMIT ? OFFSET ?", (project, db, limit, offset))
        return int(total), [await self._with_schema(project, r) for r in rows]

    async def insert_table(self, tx: Transaction, project: str, rec: Table) -> None:
        """The table and its columns."""
        if await tx.fetchone("SELECT 1 FROM tables WHERE project=? AND db=? AND id=?",
                             (project, rec.database_id, rec.id)):
            raise AppwriteError("table_already_exists")
        try:
            await tx.execute(
                "INSERT INTO tables (project, db, id, name, enabled, row_security, permissions, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                (project, rec.database_id, rec.id, rec.name, int(rec.enabled), int(rec.row_security),
                 _j(rec.permissions), rec.created_at, rec.updated_at))
        except UniqueViolation:  # taken since the check, by a request at the same moment
            raise AppwriteError("table_already_exists") from None
        for col in rec.columns:
            await self.insert_column(tx, project, rec.database_id, rec.id, col)

    async def update_table(self, tx: Transaction, project: str, rec: Table) -> None:
        """Its name, permissions, flags and ``updated_at`` (not its columns or indexes)."""
        await tx.execute(
            "UPDATE tables SET name=?, enabled=?, row_security=?, permissions=?, updated_at=?"
            " WHERE project=? AND db=? AND id=?",
            (rec.name, int(rec.enabled), int(rec.row_security), _j(rec.permissions), rec.updated_at,
             project, rec.database_id, rec.id))

    async def delete_table(self, tx: Transaction, project: str, db: str, table: str) -> None:
        # The table's row first. On PostgreSQL a row create locks it (``schema_in``, ROW_INSERT's
        # guard) until it commits: this waits for the creates under way, so the rows deleted
        # next include theirs, and a create that comes later waits for this delete, then finds
        # the table gone. (Rows deleted first, a create committing meanwhile left a row behind.)
        await tx.execute("DELETE FROM tables WHERE project=? AND db=? AND id=?", (project, db, table))
        await self.indexes.drop_all(tx, project, db, table)
        await tx.execute("DELETE FROM rows WHERE project=? AND db=? AND tbl=?", (project, db, table), bulk=True)
        await tx.execute("DELETE FROM columns WHERE project=? AND db=? AND tbl=?", (project, db, table))

    # --- columns -------------------------------------------------------------------------

    async def schema_in(self, tx: Transaction, project: str, db: str, table: str) -> list[Column] | None:
        """The table's columns as its transaction sees them, or None if the table is gone: a
        write checks its values against these, not against what a node keeps in memory. One
        query (a marker row for the table, then its columns). The table's row is locked only
        against its delete (FOR KEY SHARE on PostgreSQL, a lock the writers of one table share:
        they must not queue behind each other on its schema), so that the table cannot go
        while a row is being written to it (see delete_table)."""
        rows = await tx.fetchall(
            f"WITH t AS (SELECT 1 FROM tables WHERE project=? AND db=? AND id=?{self.d.key_share})"
            " SELECT NULL AS spec, -1 AS position FROM t"
            " UNION ALL SELECT spec, position FROM columns WHERE project=? AND db=? AND tbl=? ORDER BY position",
            (project, db, table, project, db, table))
        if not rows or rows[0][0] is not None:
            return None
        return [_column(r[0]) for r in rows[1:]]

    async def lock_table(self, tx: Transaction, project: str, db: str, table: str) -> None:
        # A read in a transaction locks the rows it returns on PostgreSQL (nothing on SQLite,
        # whose single writer already serializes them).
        await tx.fetchone("SELECT 1 FROM tables WHERE project=? AND db=? AND id=?", (project, db, table))

    async def insert_column(self, tx: Transaction, project: str, db: str, table: str, col: Column) -> None:
        # The table's row first: on PostgreSQL that locks it until the transaction ends, so the
        # columns a table gets at the same moment are added one after another (the key check
        # and the next position hold), as SQLite's single writer adds them.
        await self.lock_table(tx, project, db, table)
        if await tx.fetchone("SELECT 1 FROM columns WHERE project=? AND db=? AND tbl=? AND key=?",
                             (project, db, table, col.key)):
            raise AppwriteError("column_already_exists")
        pos = (await tx.fetchone("SELECT COUNT(*) FROM columns WHERE project=? AND db=? AND tbl=?",
                                 (project, db, table)))[0]
        await tx.execute("INSERT INTO columns (project, db, tbl, key, spec, position) VALUES (?,?,?,?,?,?)",
                         (project, db, table, col.key, _j(column_spec(col)), pos))

    async def update_column(self, tx: Transaction, project: str, db: str, table: str, col: Column) -> None:
        await tx.execute("UPDATE columns SET spec=? WHERE project=? AND db=? AND tbl=? AND key=?",
                         (_j(column_spec(col)), project, db, table, col.key))

    async def delete_column(self, tx: Transaction, project: str, db: str, table: str, key: str) -> bool:
        await self.indexes.drop_all(tx, project, db, table, column=key)
        return await tx.execute("DELETE FROM columns WHERE project=? AND db=? AND tbl=? AND key=?",
                                (project, db, table, key)) > 0

    # --- rows ----------------------------------------------------------------------------

    async def get_row(self, project: str, db: str, table: str, row_id: str,
                      tx: Transaction | None = None) -> Row | None:
        sql = "SELECT * FROM rows WHERE project=? AND db=? AND tbl=? AND id=?"
        params = (project, db, table, row_id)
        r = await (tx.fetchone(sql, params) if tx else self.s.fetchone(sql, params))
        return _row(r) if r else None

    async def insert_row(self, tx: Transaction, project: str, rec: Row, read_roles: list[str]) -> int:
        """Returns the row's ``sequence``."""
        # The unique key answers "does it exist?" in the same statement (one round trip less).
        seq = await tx.insert(
            "INSERT INTO rows (project, db, tbl, id, created_at, updated_at, permissions, read_roles, data)"
            " VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
            (project, rec.database_id, rec.table_id, rec.id, rec.created_at, rec.updated_at,
             _j(rec.permissions), _j(read_roles), _j(rec.data)))
        if seq is None:  # the id is taken, or a unique index refused the values
            if await tx.fetchone("SELECT 1 FROM rows WHERE project=? AND db=? AND tbl=? AND id=?",
                                 (project, rec.database_id, rec.table_id, rec.id)):
                raise AppwriteError("row_already_exists")
            raise AppwriteError("row_unique_constraint_violation")
        return seq

    async def insert_row_logged(self, project: str, rec: Row, read_roles: list[str], columns: Sequence[Column],
                                event: Event, seq_key: str, origin: Origin | None) -> int | None:
        """The row and its event in one statement, on a store that writes so
        (``one_statement_inserts``), if the table still has exactly ``columns`` (what ``rec`` was
        validated against; checked in the same statement, which takes no row locks, as
        ``schema_in``). Returns the row's seq; None when the table or its columns changed (the
        caller then writes in a transaction, against the columns the database has). The event's
        payload gets the seq, as text, under ``seq_key``."""
        if self.logged is None:
            raise NotImplementedError("this store writes rows in transactions only")
        scope = (project, rec.database_id, rec.table_id)
        done = await self.logged.insert_logged(ROW_INSERT, (
            *scope, rec.id, rec.created_at, rec.updated_at, _j(rec.permissions), _j(read_roles), _j(rec.data),
            _j([column_spec(c) for c in columns])), event, seq_key, origin)
        if not done.guard:
            return None
        if done.seq is None:  # the id is taken, or a unique index refused the values
            if await self.s.fetchone("SELECT 1 FROM rows WHERE project=? AND db=? AND tbl=? AND id=?",
                                     (*scope, rec.id)):
                raise AppwriteError("row_already_exists")
            raise AppwriteError("row_unique_constraint_violation")
        return done.seq

    async def update_row(self, tx: Transaction, project: str, rec: Row, read_roles: list[str]) -> None:
        try:
            await tx.execute(
                "UPDATE rows SET updated_at=?, permissions=?, read_roles=?, data=? WHERE seq=?",
                (rec.updated_at, _j(rec.permissions), _j(read_roles), _j(rec.data), rec.sequence))
        except UniqueViolation:
            raise AppwriteError("row_unique_constraint_violation") from None

    async def delete_row(self, tx: Transaction, seq: int) -> None:
        await tx.execute("DELETE FROM rows WHERE seq=?", (seq,))

    async def list_rows(self, project: str, tbl: Table, plan: ListPlan, read_filter: list[str] | None,
                        search: bool = False, by_index: bool = False) -> tuple[int, list[Row]]:
        """List rows. ``read_filter``: the caller's roles when rows must be filtered by their
        read roles (rowSecurity without table-level read); None means no row filter.
        ``search``: a ``search`` query may use the table's fulltext indexes.
        ``by_index``: a filter is answered by an index; the page is then sorted from what it
        finds rather than read in ``seq`` order (walking the whole table's key in order until a
        page is full, as a planner guessing the matches dense would, is the slow way)."""
        # The table as literals (ids are [A-Za-z0-9._-]), not parameters: an index partial to the
        # table is then provably usable, also in a plan PostgreSQL prepares once for any values.
        db, table = tbl.database_id, tbl.id
        arrays = {c.key for c in tbl.columns if c.array}
        fulltext = fulltext_names(project, tbl) if search else {}
        where = [scope_sql((project, db, table))]
        params: list[Any] = []
        if read_filter is not None:
            where.append(self.d.any_role("read_roles", read_filter, params))
        for q in plan.filters:
            where.append(where_clause(self.d, q, params, arrays, fulltext=fulltext))
        count_sql = f"SELECT COUNT(*) FROM rows WHERE {' AND '.join(where)}"

        orders = list(plan.orders) + [("$sequence", plan.orders[-1][1] if plan.orders else "ASC")]
        reverse = plan.cursor is not None and plan.cursor[0] == "before"
        if reverse:
            orders = [(a, "DESC" if d == "ASC" else "ASC") for a, d in orders]
        order_params: list[Any] = []
        order_exprs = [(Attr(self.d, a, None).emit(order_params), d) for a, d in orders]
        if by_index:
            order_exprs = [("(seq + 0)" if e == "seq" else e, d) for e, d in order_exprs]
        page_where, page_params = list(where), list(params)
        if plan.cursor is not None:
            # The anchor passes the same read filter as the rows listed: a row the caller may
            # not read is "not found" here too, or its position (and, by bisection over
            # orders, its values) would leak.
            anchor_params: list[Any] = [project, db, table, plan.cursor[1]]
            visible = f" AND {self.d.any_role('read_roles', read_filter, anchor_params)}" if read_filter is not None else ""
            found = await self.s.fetchone(
                f"SELECT * FROM rows WHERE project=? AND db=? AND tbl=? AND id=?{visible}", anchor_params)
            anchor = _row(found) if found else None
            if anchor is None:
                raise AppwriteError("general_cursor_not_found",
                                    f"Invalid query: Cursor row with ID '{plan.cursor[1]}' could not be found.")
            page_where.append(self._after(anchor, orders, page_params))
        order_sql = "random()" if plan.random else ", ".join(f"{e} {d}" for e, d in order_exprs)
        if plan.random:
            order_params = []
        # The total rides on the page as a subquery the database runs once: one round trip, not
        # two (with several nodes the database is across the network), and one snapshot for both.
        sql = (f"SELECT *, ({count_sql}) AS total FROM rows WHERE {' AND '.join(page_where)}"
               f" ORDER BY {order_sql} LIMIT ? OFFSET ?")
        rows = await self.s.fetchall(sql, params + page_params + order_params + [plan.limit, plan.offset])
        if rows:
            total = rows[0]["total"]
        elif plan.offset == 0 and plan.cursor is None:
            total = 0  # an empty first page: nothing matches
        else:
            total = (await self.s.fetchone(count_sql, params))[0]
        total = int(total)
        out = [_row(r) for r in rows]
        if reverse:
            out.reverse()
        return total, out

    def _after(self, anchor: Row, orders: list[tuple[str, str]], params: list[Any]) -> str:
        """Keyset condition: rows strictly after ``anchor`` in the given order."""
        values: list[Any] = []
        for attr, _ in orders:
            if attr == "$sequence":
                values.append(anchor.sequence)
            elif attr == "$id":
                values.append(anchor.id)
            elif attr == "$createdAt":
                values.append(anchor.created_at)
            elif attr == "$updatedAt":
                values.append(anchor.updated_at)
            else:
                values.append(anchor.data.get(attr))
        ors = []
        for i, (attr, direction) in enumerate(orders):
            parts = []
            for j in range(i):
                a = Attr(self.d, orders[j][0], None)
                parts.append(f"{a.emit(params)} {self.d.same} {a.value(values[j], params)}")
            a = Attr(self.d, attr, None)
            parts.append(f"{a.emit(params)} {'>' if direction == 'ASC' else '<'} {a.value(values[i], params)}")
            ors.append("(" + " AND ".join(parts) + ")")
        return "(" + " OR ".join(ors) + ")"
