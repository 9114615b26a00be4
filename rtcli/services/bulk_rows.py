"""Bulk row writes (TablesDB ``updateRows``, ``deleteRows``, ``upsertRows``), for API keys as in
Appwrite: all rows in one transaction, each with the event its single-row write emits
(``….rows.R.update``, ``.delete``, ``.upsert``), so subscribers see every row change.

The rows to update or delete are those the queries match. Without a ``limit`` query at most
``MAX_BULK`` may match: a request that would touch more is refused, never cut short silently.
"""

from __future__ import annotations

from typing import Any

from rtcli import ids
from rtcli.core.queries import MAX_QUERIES, parse_many, plan as list_plan
from rtcli.core.records import Row, Table
from rtcli.errors import AppwriteError, invalid
from rtcli.services.context import Ctx
from rtcli.services.rows import Rows
from rtcli.services.tablesdb import Body, Model, row_model

MAX_BULK = 1000


async def _matching(rows: Rows, ctx: Ctx, table: Table, queries: Any) -> list[Row]:
    if queries is None:
        queries = []
    if not isinstance(queries, list) or len(queries) > MAX_QUERIES:
        raise invalid(f"Invalid `queries` param: Value must be an array of at most {MAX_QUERIES} query strings.")
    parsed = parse_many(queries)
    plan = list_plan(parsed)
    if not any(q.method == "limit" for q in parsed):
        plan.limit = MAX_BULK + 1
    plan.select = None
    total, found = await rows.repo.list_rows(ctx.project, table, plan, None)
    if len(found) > MAX_BULK or (plan.limit > MAX_BULK and total > MAX_BULK):
        raise invalid(f"More than {MAX_BULK} rows match: narrow the queries, or page with limit and cursorAfter.")
    return found


async def update_rows(rows: Rows, ctx: Ctx, db: str, table_id: str, body: Body) -> Model:
    """PATCH …/rows: the same ``data`` for every row the ``queries`` match."""
    ctx.require_key("rows.write")
    table = await rows.tables.table(ctx, db, table_id)
    data = body.get("data")
    if not isinstance(data, dict) or not data:
        raise AppwriteError("row_missing_payload", "The row data is missing: pass `data` with the columns to change.")
    matched = await _matching(rows, ctx, table, body.get("queries"))
    out = []
    async with rows.store.transaction(ctx.actor.origin) as tx:
        for row in matched:
            out.append(await rows.update(ctx, db, table_id, row.id, {"data": data}, tx=tx))
    return {"total": len(out), "rows": out}


async def delete_rows(rows: Rows, ctx: Ctx, db: str, table_id: str, body: Body) -> Model:
    """DELETE …/rows: every row the ``queries`` match; returns them."""
    ctx.require_key("rows.write")
    table = await rows.tables.table(ctx, db, table_id)
    matched = await _matching(rows, ctx, table, body.get("queries"))
    async with rows.store.transaction(ctx.actor.origin) as tx:
        for row in matched:
            await rows.delete(ctx, db, table_id, row.id, tx=tx)
    return {"total": len(matched), "rows": [row_model(r, table.columns) for r in matched]}


async def upsert_rows(rows: Rows, ctx: Ctx, db: str, table_id: str, body: Body) -> Model:
    """PUT …/rows: each of ``rows`` created, or updated with the columns it gives."""
    ctx.require_key("rows.write")
    await rows.tables.table(ctx, db, table_id)
    items = body.get("rows", body.get("documents"))
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise invalid("Invalid `rows` param: Value must be a non-empty array of row objects.")
    if len(items) > MAX_BULK:
        raise invalid(f"Invalid `rows` param: at most {MAX_BULK} rows per request.")
    out = []
    async with rows.store.transaction(ctx.actor.origin) as tx:
        for item in items:
            data = {k: v for k, v in item.items() if not k.startswith("$")}
            rid = item.get("$id") or ids.unique()
            out.append(await rows.update(ctx, db, table_id, str(rid),
                                         {"data": data, "permissions": item.get("$permissions")}, upsert=True, tx=tx))
    return {"total": len(out), "rows": out}
