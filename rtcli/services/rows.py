"""Row use cases: every write appends its realtime event in the same transaction.

Authorization (Appwrite's model): the table's permissions apply to every row; with
``rowSecurity`` on, a row's own permissions grant too. A caller that may not read a row gets
404, as if it did not exist. Event roles are the table's read roles, plus the row's when
rowSecurity is on.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import replace
from typing import Any

from rtcli import ids
from rtcli.core import channels, events, permissions, schema
from rtcli.core.event import Event
from rtcli.core.ports import Transaction
from rtcli.core.queries import parse_many
from rtcli.core.queries import plan as list_plan
from rtcli.core.records import Column, DatabaseType, Row, Table
from rtcli.errors import AppwriteError, invalid
from rtcli.services.context import Ctx
from rtcli.services.tablesdb import ROW_PERMISSION_ACTIONS, Body, Model, TablesDB, _id, row_model

MAX_BULK = 1000


def _not_found(row_id: str) -> AppwriteError:
    return AppwriteError("row_not_found", f"Row with the requested ID '{row_id}' could not be found.")


def _unauthorized() -> AppwriteError:
    return AppwriteError("user_unauthorized")


class Rows:
    def __init__(self, tables: TablesDB) -> None:
        self.tables = tables
        self.store = tables.store
        self.repo = tables.repo
        # The columns each open transaction has read, per table: a bulk write of many rows of one
        # table reads its schema once.
        self._seen: weakref.WeakKeyDictionary[Transaction, dict[tuple[str, str, str], list[Column]]] = \
            weakref.WeakKeyDictionary()

    # --- authorization helpers -------------------------------------------------------------

    @staticmethod
    def _grants(ctx: Ctx, table: Table, row: Row | None, action: str) -> bool:
        if ctx.actor.is_key:
            ctx.require_scope("rows.read" if action == "read" else "rows.write")
            return True
        return permissions.grants(ctx.actor, action, table.permissions, row.permissions if row else None,
                                  table.row_security)

    @staticmethod
    def _read_roles(row_permissions: list[str]) -> list[str]:
        return sorted(permissions.roles_for("read", row_permissions))

    @staticmethod
    def _event_roles(table: Table, row: Row) -> list[str]:
        return permissions.read_roles(table.permissions, row.permissions, table.row_security)

    def _event(self, ctx: Ctx, table: Table, row: Row, action: str) -> Event:
        db, tbl, rid = row.database_id, row.table_id, row.id
        db_type = table.database_type
        payload = row_model(row, table.columns)
        if db_type is DatabaseType.LEGACY:  # a legacy database's row is a document to its readers: both names
            payload["$collectionId"] = tbl
        return Event(
            project=ctx.project, events=events.row_events(db, tbl, rid, action, db_type),
            channels=channels.row_channels(db, tbl, rid, action), roles=self._event_roles(table, row),
            payload=payload, timestamp=ids.format_datetime(), user_id=ctx.actor.user_id,
        )

    def _permissions(self, ctx: Ctx, value: Any) -> list[str]:
        if value is None:
            # Appwrite's default: the creating user may read, update and delete its row.
            uid = ctx.actor.user_id
            return [f'read("user:{uid}")', f'update("user:{uid}")', f'delete("user:{uid}")'] if uid else []
        perms = permissions.parse_list(value, ROW_PERMISSION_ACTIONS)
        ctx.assert_can_grant(perms)
        return perms

    async def _columns(self, ctx: Ctx, tx: Transaction, db: str, table: str) -> list[Column]:
        """The table's columns as the write's transaction sees them: a node's copy of the schema
        may lag behind a change another node just made, and a write must not store values that
        a column no longer allows, nor rows of a table that is gone."""
        seen = self._seen.setdefault(tx, {})
        if (ctx.project, db, table) not in seen:
            cols = await self.repo.schema_in(tx, ctx.project, db, table)
            if cols is None:
                raise AppwriteError("table_not_found", f"Table with the requested ID '{table}' could not be found.")
            seen[(ctx.project, db, table)] = cols
        return seen[(ctx.project, db, table)]

    # --- create --------------------------------------------------------------------------

    def _tx(self, ctx: Ctx, tx: Transaction | None) -> AbstractAsyncContextManager[Transaction]:
        """The caller's transaction (a TablesDB transaction's commit applies all its operations
        in one), or a new one on behalf of the caller."""
        return nullcontext(tx) if tx is not None else self.store.transaction(ctx.actor.origin)

    async def create(self, ctx: Ctx, db: str, table_id: str, body: Body,
                     tx: Transaction | None = None) -> tuple[int, Model]:
        """POST …/rows: one row (``rowId``, ``data``) or many (``rows``); returns (status, body)."""
        table = await self.tables.table(ctx, db, table_id)
        if not self._grants(ctx, table, None, "create"):
            raise _unauthorized()
        if "rows" in body:
            items = body["rows"]
            if not isinstance(items, list) or not items:
                raise invalid("Invalid `rows` param: Value must be a non-empty array of objects.")
            if len(items) > MAX_BULK:
                raise invalid(f"Invalid `rows` param: at most {MAX_BULK} rows per request.")
            specs = []
            for item in items:
                if not isinstance(item, dict):
                    raise invalid("Invalid `rows` param: each row must be an object.")
                fields = {k: v for k, v in item.items() if not k.startswith("$")}
                specs.append((item.get("$id", "unique()"), fields, item.get("$permissions")))
            rows = await self._insert(ctx, table, specs, tx)
            return 201, {"total": len(rows), "rows": [row_model(r, table.columns) for r in rows]}
        data = body.get("data")
        if data is None:
            raise AppwriteError("row_missing_data", "The row data is missing. Pass `data` with the row's columns.")
        rows = await self._insert(ctx, table, [(body.get("rowId", body.get("documentId")), data, body.get("permissions"))],
                                  tx)
        return 201, row_model(rows[0], table.columns)

    async def _insert(self, ctx: Ctx, table: Table, specs: list[tuple[Any, Any, Any]],
                      tx: Transaction | None = None) -> list[Row]:
        now = ids.format_datetime()
        prepared = [(_id(raw_id, "rowId"), data, self._permissions(ctx, perms)) for raw_id, data, perms in specs]
        if tx is None and len(prepared) == 1 and self.repo.one_statement_inserts:
            rid, data, perms = prepared[0]
            row = await self._insert_at_once(ctx, table, Row(id=rid, table_id=table.id, database_id=table.database_id,
                                                             data=data, permissions=perms, created_at=now, updated_at=now))
            if row is not None:
                return [row]
        written = []
        async with self._tx(ctx, tx) as tx:
            cols = await self._columns(ctx, tx, table.database_id, table.id)
            rows = [Row(id=rid, table_id=table.id, database_id=table.database_id,
                        data=schema.validate_row(cols, data, creating=True), permissions=perms, created_at=now,
                        updated_at=now) for rid, data, perms in prepared]
            for row in rows:
                seq = await self.repo.insert_row(tx, ctx.project, row, self._read_roles(row.permissions))
                row = replace(row, sequence=seq)
                await tx.append_event(self._event(ctx, table, row, "create"))
                written.append(row)
        return written

    async def _insert_at_once(self, ctx: Ctx, table: Table, row: Row) -> Row | None:
        """One row and its event in one statement (a round trip, not four), validated against
        this node's copy of the columns, which the statement checks against the database's.
        None when that copy is not the database's, or the data does not pass it: the caller
        then writes in a transaction, and answers from the columns the database has."""
        try:
            new = replace(row, data=schema.validate_row(table.columns, row.data, creating=True))
        except AppwriteError:
            return None
        seq = await self.repo.insert_row_logged(ctx.project, new, self._read_roles(new.permissions), table.columns,
                                                self._event(ctx, table, new, "create"), "$sequence", ctx.actor.origin)
        return None if seq is None else replace(new, sequence=seq)

    # --- read ----------------------------------------------------------------------------

    async def get(self, ctx: Ctx, db: str, table_id: str, row_id: str, queries: list[Any]) -> Model:
        table = await self.tables.table(ctx, db, table_id)
        if not table.row_security and not self._grants(ctx, table, None, "read"):
            raise _unauthorized()  # as Appwrite: the table itself is closed to the caller
        row = await self.repo.get_row(ctx.project, db, table_id, row_id)
        if row is None or not self._grants(ctx, table, row, "read"):
            raise _not_found(row_id)
        return self._select(row_model(row, table.columns), list_plan(parse_many(queries)).select)

    async def list(self, ctx: Ctx, db: str, table_id: str, queries: list[Any]) -> Model:
        table = await self.tables.table(ctx, db, table_id)
        read_filter = None
        if not self._grants(ctx, table, None, "read"):
            if not table.row_security:
                raise _unauthorized()
            read_filter = sorted(ctx.actor.roles | {"any"})
        p = list_plan(parse_many(queries))
        # An equal on the first column of an index, or a search on a fulltext one, finds its rows through it.
        leading = {i.columns[0] for i in table.indexes}
        by_index = any(q.method in ("equal", "search") and q.attribute in leading for q in p.filters)
        try:
            total, rows = await self.repo.list_rows(ctx.project, table, p, read_filter, search=True, by_index=by_index)
        except Exception:
            # A table deleted while it was listed takes its indexes with it (the list then fails
            # on a database object that is gone): that is a table not found, not a server error.
            if await self.repo.table_exists(ctx.project, db, table_id):
                raise
            raise AppwriteError("table_not_found",
                                f"Table with the requested ID '{table_id}' could not be found.") from None
        return {"total": total, "rows": [self._select(row_model(r, table.columns), p.select) for r in rows]}

    @staticmethod
    def _select(model: Model, select: Sequence[str] | None) -> Model:
        if not select or "*" in select:
            return model
        return {k: v for k, v in model.items() if k.startswith("$") or k in select}

    # --- update / upsert / delete ------------------------------------------------------------

    async def update(self, ctx: Ctx, db: str, table_id: str, row_id: str, body: Body, upsert: bool = False,
                     tx: Transaction | None = None) -> Model:
        table = await self.tables.table(ctx, db, table_id)
        data = body.get("data") or {}
        if not isinstance(data, dict):
            raise AppwriteError("row_invalid_structure", "Invalid document structure: data must be a JSON object")
        data = {k: v for k, v in data.items() if not k.startswith("$")}
        async with self._tx(ctx, tx) as tx:
            cols = await self._columns(ctx, tx, db, table_id)
            row = await self.repo.get_row(ctx.project, db, table_id, row_id, tx)
            created = None
            if row is None:
                if not upsert:
                    raise _not_found(row_id)
                if not self._grants(ctx, table, None, "create"):
                    raise _unauthorized()
                now = ids.format_datetime()
                rid, perms = _id(row_id, "rowId"), self._permissions(ctx, body.get("permissions"))
                new = Row(id=rid, table_id=table_id, database_id=db, data=schema.validate_row(cols, data, creating=True),
                          permissions=perms, created_at=now, updated_at=now)
                try:
                    created = replace(new, sequence=await self.repo.insert_row(tx, ctx.project, new,
                                                                               self._read_roles(perms)))
                except AppwriteError as e:
                    # A request at the same moment (on PostgreSQL) made the row after it was read:
                    # the INSERT waited for that one and skipped, so reading again finds it.
                    row = await self.repo.get_row(ctx.project, db, table_id, row_id, tx) \
                        if e.type == "row_already_exists" else None
                    if row is None:
                        raise
            if created is not None:
                row = created
            else:
                assert row is not None
                if not self._grants(ctx, table, row, "update"):
                    if not self._grants(ctx, table, row, "read"):
                        raise _not_found(row_id)
                    raise _unauthorized()
                if body.get("permissions") is not None:
                    row = replace(row, permissions=self._permissions(ctx, body["permissions"]))
                row = replace(row, data=schema.validate_row(cols, {**row.data, **data}, creating=False),
                              updated_at=ids.format_datetime())
                await self.repo.update_row(tx, ctx.project, row, self._read_roles(row.permissions))
            await tx.append_event(self._event(ctx, table, row, "upsert" if upsert else "update"))
        return row_model(row, table.columns)

    async def delete(self, ctx: Ctx, db: str, table_id: str, row_id: str, tx: Transaction | None = None) -> None:
        table = await self.tables.table(ctx, db, table_id)
        async with self._tx(ctx, tx) as tx:
            row = await self.repo.get_row(ctx.project, db, table_id, row_id, tx)
            if row is None or not self._grants(ctx, table, row, "read") and not self._grants(ctx, table, row, "delete"):
                raise _not_found(row_id)
            if not self._grants(ctx, table, row, "delete"):
                raise _unauthorized()
            await self.repo.delete_row(tx, row.sequence)
            await tx.append_event(self._event(ctx, table, row, "delete"))

    async def increment(self, ctx: Ctx, db: str, table_id: str, row_id: str, column: str, body: Body,
                        sign: int, tx: Transaction | None = None) -> Model:
        table = await self.tables.table(ctx, db, table_id)
        value = body.get("value", 1)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise invalid("Invalid `value` param: Value must be a positive number.")
        bound_key = "max" if sign > 0 else "min"
        bound = body.get(bound_key)
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, (int, float))):
            raise invalid(f"Invalid `{bound_key}` param: Value must be a number.")
        async with self._tx(ctx, tx) as tx:
            cols = await self._columns(ctx, tx, db, table_id)
            col = next((c for c in cols if c.key == column), None)
            if cols and (col is None or col.kind not in ("integer", "float")):
                raise AppwriteError("column_not_found" if col is None else "column_type_invalid",
                                    f"Column '{column}' is not a numeric column of this table.")
            row = await self.repo.get_row(ctx.project, db, table_id, row_id, tx)
            if row is None or not self._grants(ctx, table, row, "read"):
                raise _not_found(row_id)
            if not self._grants(ctx, table, row, "update"):
                raise _unauthorized()
            current = row.data.get(column) or 0
            if isinstance(current, bool) or not isinstance(current, (int, float)):
                raise AppwriteError("column_type_invalid", f"Column '{column}' does not hold a number.")
            new = current + sign * value
            if bound is not None and ((sign > 0 and new > bound) or (sign < 0 and new < bound)):
                raise invalid(f"Value {new} would pass the {bound_key} of {bound}.")
            data = {**row.data, column: new}
            schema.validate_row(cols, data, creating=False)
            row = replace(row, data=data, updated_at=ids.format_datetime())
            await self.repo.update_row(tx, ctx.project, row, self._read_roles(row.permissions))
            await tx.append_event(self._event(ctx, table, row, "update"))
        return row_model(row, table.columns)
