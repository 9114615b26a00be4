"""TablesDB routes (/v1/tablesdb/…): thin adapters from HTTP to services.tablesdb and services.rows."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rtcli.errors import AppwriteError
from rtcli.core.schema import COLUMN_TYPES
from rtcli.server.routes.unsupported import not_offered
from rtcli.services import bulk_rows
from rtcli.server.http import array_param, body, ctx, json_response, no_content


def _svc(request: Request):
    return request.app.state.services


def _p(request: Request, name: str) -> str:
    return request.path_params[name]


async def databases(request: Request):
    c, s = await ctx(request), _svc(request)
    if request.method == "POST":
        return json_response(await s.tablesdb.create_database(c, await body(request)), 201)
    return json_response(await s.tablesdb.list_databases(c, array_param(request, "queries")))


async def database(request: Request):
    if _p(request, "db") == "specifications":  # an Appwrite path, not a database id
        raise not_offered(request)
    c, s, db = await ctx(request), _svc(request), _p(request, "db")
    if request.method == "GET":
        return json_response(await s.tablesdb.get_database(c, db))
    if request.method in ("PUT", "PATCH"):
        return json_response(await s.tablesdb.update_database(c, db, await body(request)))
    await s.tablesdb.delete_database(c, db)
    return no_content()


async def tables(request: Request):
    c, s, db = await ctx(request), _svc(request), _p(request, "db")
    if request.method == "POST":
        return json_response(await s.tablesdb.create_table(c, db, await body(request)), 201)
    return json_response(await s.tablesdb.list_tables(c, db, array_param(request, "queries")))


async def table(request: Request):
    c, s, db, t = await ctx(request), _svc(request), _p(request, "db"), _p(request, "table")
    if request.method == "GET":
        return json_response(await s.tablesdb.get_table(c, db, t))
    if request.method in ("PUT", "PATCH"):
        return json_response(await s.tablesdb.update_table(c, db, t, await body(request)))
    await s.tablesdb.delete_table(c, db, t)
    return no_content()


async def columns(request: Request):
    c, s = await ctx(request), _svc(request)
    return json_response(await s.tablesdb.list_columns(c, _p(request, "db"), _p(request, "table")))


async def create_column(request: Request):
    if _p(request, "kind") not in COLUMN_TYPES:
        raise not_offered(request)
    c, s = await ctx(request), _svc(request)
    spec = await s.tablesdb.create_column(c, _p(request, "db"), _p(request, "table"), _p(request, "kind"),
                                          await body(request))
    return json_response(spec, 202)


async def column(request: Request):
    c, s = await ctx(request), _svc(request)
    db, t, key = _p(request, "db"), _p(request, "table"), _p(request, "key")
    if request.method == "GET":
        return json_response(await s.tablesdb.get_column(c, db, t, key))
    await s.tablesdb.delete_column(c, db, t, key)
    return no_content()


async def staged_write(request: Request, c, b: dict, action: str, db: str, t: str, row_id: str) -> Response:
    """A row (or document) write with ``transactionId``: staged in that transaction, applied when it commits."""
    data = b.get("data") if isinstance(b.get("data"), dict) else {}
    op = {"action": action, "databaseId": db, "tableId": t, "rowId": row_id,
          "data": {**data, **({"$permissions": b["permissions"]} if b.get("permissions") is not None else {})}}
    await _svc(request).transactions.stage(c, str(b["transactionId"]), [op])
    if action == "delete":
        return no_content()
    return json_response({"$id": row_id, "$tableId": t, "$databaseId": db, **data}, 201 if action == "create" else 200)


async def update_column(request: Request):
    if _p(request, "kind") not in COLUMN_TYPES:
        raise not_offered(request)
    c, s = await ctx(request), _svc(request)
    return json_response(await s.tablesdb.update_column(c, _p(request, "db"), _p(request, "table"), _p(request, "kind"),
                                                        _p(request, "key"), await body(request)))


async def rows(request: Request):
    c, s, db, t = await ctx(request), _svc(request), _p(request, "db"), _p(request, "table")
    if request.method == "POST":
        b = await body(request)
        if b.get("transactionId"):
            return await staged_write(request, c, b, "create", db, t, b.get("rowId", "unique()"))
        status, out = await s.rows.create(c, db, t, b)
        return json_response(out, status)
    if request.method in BULK:
        b = await body(request)
        if b.get("transactionId"):
            raise AppwriteError("general_not_implemented", "rtcli does not stage bulk updates, upserts or deletes "
                                "in a transaction: stage each row's operation instead.")
        return json_response(await BULK[request.method](s.rows, c, db, t, b))
    return json_response(await s.rows.list(c, db, t, array_param(request, "queries")))


# Bulk writes by method (the Databases API routes use them too).
BULK = {"PATCH": bulk_rows.update_rows, "PUT": bulk_rows.upsert_rows, "DELETE": bulk_rows.delete_rows}


async def row(request: Request):
    c, s = await ctx(request), _svc(request)
    db, t, r = _p(request, "db"), _p(request, "table"), _p(request, "row")
    if request.method == "GET":
        return json_response(await s.rows.get(c, db, t, r, array_param(request, "queries")))
    b = await body(request)
    if b.get("transactionId"):
        action = {"PATCH": "update", "PUT": "upsert", "DELETE": "delete"}[request.method]
        return await staged_write(request, c, b, action, db, t, r)
    if request.method == "PATCH":
        return json_response(await s.rows.update(c, db, t, r, b))
    if request.method == "PUT":
        return json_response(await s.rows.update(c, db, t, r, b, upsert=True))
    await s.rows.delete(c, db, t, r)
    return no_content()


async def increment(request: Request):
    if request.path_params["op"] not in ("increment", "decrement"):
        raise AppwriteError("general_route_not_found")
    c, s = await ctx(request), _svc(request)
    sign = 1 if request.path_params["op"] == "increment" else -1
    out = await s.rows.increment(c, _p(request, "db"), _p(request, "table"), _p(request, "row"),
                                 _p(request, "column"), await body(request), sign)
    return json_response(out)


async def indexes(request: Request):
    c, s, db, t = await ctx(request), _svc(request), _p(request, "db"), _p(request, "table")
    if request.method == "POST":
        return json_response(await s.indexes.create(c, db, t, await body(request)), 202)
    return json_response(await s.indexes.list(c, db, t, array_param(request, "queries")))


async def index(request: Request):
    c, s, db, t = await ctx(request), _svc(request), _p(request, "db"), _p(request, "table")
    if request.method == "GET":
        return json_response(await s.indexes.get(c, db, t, _p(request, "key")))
    await s.indexes.delete(c, db, t, _p(request, "key"))
    return no_content()


async def transactions(request: Request):
    c, s = await ctx(request), _svc(request)
    if request.method == "POST":
        return json_response(await s.transactions.create(c, await body(request)), 201)
    return json_response(await s.transactions.list(c, array_param(request, "queries")))


async def transaction(request: Request):
    c, s, tid = await ctx(request), _svc(request), _p(request, "txn")
    if request.method == "GET":
        return json_response(await s.transactions.get(c, tid))
    if request.method == "PATCH":
        return json_response(await s.transactions.update(c, tid, await body(request)))
    await s.transactions.delete(c, tid)
    return no_content()


async def operations(request: Request):
    c, s = await ctx(request), _svc(request)
    return json_response(await s.transactions.stage(c, _p(request, "txn"), (await body(request)).get("operations")),
                         201)


_T = "/tablesdb/{db}/tables/{table}"
routes = [
    Route("/tablesdb/transactions", transactions, methods=["GET", "POST"]),
    Route("/tablesdb/transactions/{txn}", transaction, methods=["GET", "PATCH", "DELETE"]),
    Route("/tablesdb/transactions/{txn}/operations", operations, methods=["POST"]),
    Route("/tablesdb", databases, methods=["GET", "POST"]),
    Route("/tablesdb/{db}", database, methods=["GET", "PUT", "PATCH", "DELETE"]),
    Route("/tablesdb/{db}/tables", tables, methods=["GET", "POST"]),
    Route(_T, table, methods=["GET", "PUT", "PATCH", "DELETE"]),
    Route(_T + "/columns", columns, methods=["GET"]),
    Route(_T + "/columns/{kind}", create_column, methods=["POST"]),
    Route(_T + "/columns/{key}", column, methods=["GET", "DELETE"]),
    Route(_T + "/columns/{kind}/{key}", update_column, methods=["PATCH"]),
    Route(_T + "/indexes", indexes, methods=["GET", "POST"]),
    Route(_T + "/indexes/{key}", index, methods=["GET", "DELETE"]),
    Route(_T + "/rows", rows, methods=["GET", "POST", "PATCH", "PUT", "DELETE"]),
    Route(_T + "/rows/{row}", row, methods=["GET", "PATCH", "PUT", "DELETE"]),
    Route(_T + "/rows/{row}/{column}/{op:str}", increment, methods=["PATCH"]),
]
