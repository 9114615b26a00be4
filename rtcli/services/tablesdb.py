"""TablesDB use cases: databases, tables, columns and rows, with their realtime events."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import Any

from rtcli import ids
from rtcli.core import permissions, schema
from rtcli.core.event import Event
from rtcli.core.ports import Store, Transaction
from rtcli.core.repositories import TableRepository
from rtcli.core.queries import parse_many
from rtcli.core.queries import plan as list_plan
from rtcli.core.records import Column, Database, DatabaseType, Index, Row, Table
from rtcli.errors import AppwriteError, invalid
from rtcli.services.context import Ctx

Body = dict[str, Any]  # a request's JSON body
Model = dict[str, Any]  # an Appwrite JSON model

ROW_PERMISSION_ACTIONS = ("read", "update", "delete", "write")


def _id(value: Any, what: str) -> str:
    resolved = ids.resolve_id(value)
    if resolved is None:
        raise invalid(f"Invalid `{what}` param: Parameter must contain at most 36 chars. Valid chars are a-z, "
                      "A-Z, 0-9, period, hyphen, and underscore. Can't start with a special char")
    return resolved


def database_model(rec: Database) -> Model:
    return {"$id": rec.id, "name": rec.name, "$createdAt": rec.created_at, "$updatedAt": rec.updated_at,
            "enabled": rec.enabled, "type": rec.type.value}


def row_model(row: Row, columns: Sequence[Column] = ()) -> Model:
    """A row as the API answers it: its fields in the order of the table's columns, as Appwrite's
    (stored as jsonb, PostgreSQL hands them back sorted by key length), then any others."""
    data = row.data
    if columns:
        ordered = {c.key: data[c.key] for c in columns if c.key in data}
        if len(ordered) < len(data):
            ordered.update(data)
        data = ordered
    return {"$id": row.id, "$sequence": str(row.sequence), "$tableId": row.table_id, "$databaseId": row.database_id,
            "$createdAt": row.created_at, "$updatedAt": row.updated_at, "$permissions": row.permissions, **data}


def index_model(index: Index) -> Model:
    return {"$id": index.key, "$createdAt": index.created_at, "$updatedAt": index.updated_at,
            "key": index.key, "description": "", "type": index.type.value, "status": "available", "error": "",
            "columns": list(index.columns), "lengths": list(index.lengths), "orders": list(index.orders)}


def table_model(rec: Table) -> Model:
    return {"$id": rec.id, "$createdAt": rec.created_at, "$updatedAt": rec.updated_at,
            "$permissions": rec.permissions, "databaseId": rec.database_id, "name": rec.name,
            "enabled": rec.enabled, "rowSecurity": rec.row_security,
            "columns": [schema.column_model(c) for c in rec.columns],
            "indexes": [index_model(i) for i in rec.indexes], "bytesMax": 0, "bytesUsed": 0}


def schema_event(project: str, db: str, resource: str, action: str) -> Event:
    """The log entry of a schema change (``resource``: "", ".tables.T", ".tables.T.columns.K" or
    ".tables.T.indexes.K"): on no channel and readable by no role (only API keys see it in the
    event log); every node forgets its copy of the database's schema when it dispatches it."""
    return Event(project=project, events=[f"tablesdb.{db}{resource}.{action}"], channels=[], roles=[],
                 payload={"databaseId": db}, timestamp=ids.format_datetime())


class TablesDB:
    def __init__(self, store: Store, repo: TableRepository) -> None:
        self.store = store  # transactions and the event log
        self.repo = repo

    @contextlib.asynccontextmanager
    async def schema_change(self, ctx: Ctx, db: str, resource: str, action: str) -> AsyncIterator[Transaction]:
        """The transaction of a schema change: it logs the change, and this node forgets its copy
        of the database's schema after the commit (a read during the transaction may have kept
        the old one; other nodes forget when they dispatch the change)."""
        try:
            async with self.store.transaction(ctx.actor.origin) as tx:
                yield tx
                await tx.append_event(schema_event(ctx.project, db, resource, action))
        finally:
            self.repo.forget(ctx.project, db)

    def changed(self, event: Event) -> None:
        """Every dispatched event passes here: a schema change makes this node forget its copy."""
        if not event.channels and event.events and event.events[0].startswith("tablesdb."):
            db = event.payload.get("databaseId")
            if isinstance(db, str):
                self.repo.forget(event.project, db)

    # --- databases -----------------------------------------------------------------------

    async def create_database(self, ctx: Ctx, body: Body, db_type: DatabaseType = DatabaseType.TABLESDB) -> Model:
        """``db_type``: ``LEGACY`` for one made with the Databases (documents) API."""
        ctx.require_key()
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise invalid("Invalid `name` param: Value must be a non-empty string.")
        now = ids.format_datetime()
        rec = Database(id=_id(body.get("databaseId"), "databaseId"), name=name, enabled=bool(body.get("enabled", True)),
                       type=db_type, created_at=now, updated_at=now)
        async with self.schema_change(ctx, rec.id, "", "create") as tx:
            await self.repo.insert_database(tx, ctx.project, rec)
        return database_model(rec)

    async def database(self, ctx: Ctx, db: str) -> Database:
        rec = await self.repo.get_database(ctx.project, db)
        if rec is None:
            raise AppwriteError("database_not_found", f"Database with the requested ID '{db}' could not be found.")
        return rec

    async def get_database(self, ctx: Ctx, db: str) -> Model:
        ctx.require_key("databases.read")
        return database_model(await self.database(ctx, db))

    async def list_databases(self, ctx: Ctx, queries: list[Any]) -> Model:
        ctx.require_key("databases.read")
        p = list_plan(parse_many(queries))
        total, recs = await self.repo.list_databases(ctx.project, p.limit, p.offset)
        return {"total": total, "databases": [database_model(r) for r in recs]}

    async def update_database(self, ctx: Ctx, db: str, body: Body) -> Model:
        ctx.require_key()
        rec = await self.database(ctx, db)
        if "name" in body:
            if not isinstance(body["name"], str) or not body["name"]:
                raise invalid("Invalid `name` param: Value must be a non-empty string.")
            rec = replace(rec, name=body["name"])
        if "enabled" in body:
            rec = replace(rec, enabled=bool(body["enabled"]))
        rec = replace(rec, updated_at=ids.format_datetime())
        async with self.schema_change(ctx, db, "", "update") as tx:
            await self.repo.update_database(tx, ctx.project, rec)
        return database_model(rec)

    async def delete_database(self, ctx: Ctx, db: str) -> None:
        ctx.require_key()
        await self.database(ctx, db)
        async with self.schema_change(ctx, db, "", "delete") as tx:
            await self.repo.delete_database(tx, ctx.project, db)

    # --- tables --------------------------------------------------------------------------

    async def table(self, ctx: Ctx, db: str, table: str) -> Table:
        await self.database(ctx, db)
        rec = await self.repo.get_table(ctx.project, db, table)
        if rec is None:
            raise AppwriteError("table_not_found", f"Table with the requested ID '{table}' could not be found.")
        return rec

    async def create_table(self, ctx: Ctx, db: str, body: Body) -> Model:
        ctx.require_key()
        database = await self.database(ctx, db)
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise invalid("Invalid `name` param: Value must be a non-empty string.")
        row_security = body.get("rowSecurity", body.get("documentSecurity", False))
        if not isinstance(row_security, bool):
            raise invalid("Invalid `rowSecurity` param: Value must be a valid boolean.")
        now = ids.format_datetime()
        table_id, perms = _id(body.get("tableId"), "tableId"), permissions.parse_list(body.get("permissions"))
        columns = body.get("columns") or []
        if not isinstance(columns, list):
            raise invalid("Invalid `columns` param: Value must be an array of column objects.")
        rec = Table(id=table_id, database_id=db, database_type=database.type, name=name,
                    enabled=bool(body.get("enabled", True)), row_security=row_security, permissions=perms,
                    created_at=now, updated_at=now,
                    columns=tuple(schema.make_column(str(c.get("type")), c, now) for c in columns if isinstance(c, dict)))
        async with self.schema_change(ctx, db, f".tables.{rec.id}", "create") as tx:
            await self.repo.insert_table(tx, ctx.project, rec)
        return table_model(rec)

    async def get_table(self, ctx: Ctx, db: str, table: str) -> Model:
        ctx.require_key("databases.read")
        return table_model(await self.table(ctx, db, table))

    async def list_tables(self, ctx: Ctx, db: str, queries: list[Any]) -> Model:
        ctx.require_key("databases.read")
        await self.database(ctx, db)
        p = list_plan(parse_many(queries))
        total, recs = await self.repo.list_tables(ctx.project, db, p.limit, p.offset)
        return {"total": total, "tables": [table_model(r) for r in recs]}

    async def update_table(self, ctx: Ctx, db: str, table: str, body: Body) -> Model:
        ctx.require_key()
        rec = await self.table(ctx, db, table)
        if "name" in body:
            if not isinstance(body["name"], str) or not body["name"]:
                raise invalid("Invalid `name` param: Value must be a non-empty string.")
            rec = replace(rec, name=body["name"])
        if "permissions" in body and body["permissions"] is not None:
            rec = replace(rec, permissions=permissions.parse_list(body["permissions"]))
        if "rowSecurity" in body:
            rec = replace(rec, row_security=bool(body["rowSecurity"]))
        if "enabled" in body:
            rec = replace(rec, enabled=bool(body["enabled"]))
        rec = replace(rec, updated_at=ids.format_datetime())
        async with self.schema_change(ctx, db, f".tables.{table}", "update") as tx:
            await self.repo.update_table(tx, ctx.project, rec)
        return table_model(rec)

    async def delete_table(self, ctx: Ctx, db: str, table: str) -> None:
        ctx.require_key()
        await self.table(ctx, db, table)
        async with self.schema_change(ctx, db, f".tables.{table}", "delete") as tx:
            await self.repo.delete_table(tx, ctx.project, db, table)

    # --- columns -------------------------------------------------------------------------

    async def create_column(self, ctx: Ctx, db: str, table: str, kind: str, body: Body) -> Model:
        ctx.require_key()
        await self.table(ctx, db, table)
        col = schema.make_column(kind, body, ids.format_datetime())
        async with self.schema_change(ctx, db, f".tables.{table}.columns.{col.key}", "create") as tx:
            await self.repo.insert_column(tx, ctx.project, db, table, col)
        return schema.column_model(col)

    async def update_column(self, ctx: Ctx, db: str, table: str, kind: str, key: str, body: Body) -> Model:
        """PATCH …/columns/<kind>/<key>: required, default and the type's limits (size, min/max,
        elements); rows already written are kept as they are, as in Appwrite."""
        ctx.require_key()
        await self.table(ctx, db, table)
        new_key = body.get("newKey")
        if new_key is not None and new_key != key:
            raise AppwriteError("general_not_implemented", "rtcli does not rename columns: create a column with the "
                                "new key and copy the data.")
        async with self.schema_change(ctx, db, f".tables.{table}.columns.{key}", "update") as tx:
            cols = await self.repo.schema_in(tx, ctx.project, db, table) or []
            col = next((c for c in cols if c.key == key), None)
            if col is None:
                raise AppwriteError("column_not_found", f"Column with the requested key '{key}' could not be found.")
            if col.kind != kind:
                raise AppwriteError("column_type_invalid", f"Column '{key}' is a {col.kind} column, not {kind}.")
            # The column as a create request, changed by the body: checked as a new column is.
            merged = {k: v for k, v in schema.column_spec(col).items() if not k.startswith(("$", "_"))}
            merged.update({k: body[k] for k in ("required", "default", "size", "min", "max", "elements") if k in body})
            col = replace(schema.make_column(kind, merged, col.created_at), updated_at=ids.format_datetime())
            await self.repo.update_column(tx, ctx.project, db, table, col)
        return schema.column_model(col)

    async def list_columns(self, ctx: Ctx, db: str, table: str) -> Model:
        ctx.require_key("databases.read")
        cols = (await self.table(ctx, db, table)).columns
        return {"total": len(cols), "columns": [schema.column_model(c) for c in cols]}

    async def get_column(self, ctx: Ctx, db: str, table: str, key: str) -> Model:
        ctx.require_key("databases.read")
        for c in (await self.table(ctx, db, table)).columns:
            if c.key == key:
                return schema.column_model(c)
        raise AppwriteError("column_not_found", f"Column with the requested key '{key}' could not be found.")

    async def delete_column(self, ctx: Ctx, db: str, table: str, key: str) -> None:
        ctx.require_key()
        await self.table(ctx, db, table)
        async with self.schema_change(ctx, db, f".tables.{table}.columns.{key}", "delete") as tx:
            if not await self.repo.delete_column(tx, ctx.project, db, table, key):
                raise AppwriteError("column_not_found", f"Column with the requested key '{key}' could not be found.")
