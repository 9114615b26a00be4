"""TablesDB routes (/v1/tablesdb/…): thin adapters from HTTP to services.tablesdb and services.rows.

The legacy Databases API (/v1/databases/…, routes/databases.py) is the same routes in other
words: each handler takes a ``Dialect`` that renames what comes in and goes out, and
``api_routes`` lays out the paths of either API.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rtcli.core.records import DatabaseType
from rtcli.errors import AppwriteError
from rtcli.core.schema import COLUMN_TYPES
from rtcli.server.routes.unsupported import not_offered
from rtcli.services import bulk_rows
from rtcli.server.http import array_param, body, ctx, json_response, no_content
from rtcli.services.context import Ctx

if TYPE_CHECKING:
    from rtcli.server.app import Services

Model = dict[str, Any]


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Dialect:
    """What an API calls TablesDB's things: its path words (which also name its lists), the
    fields of a request body, the models it answers with, its error types. TablesDB's own
    changes nothing."""

    tables: str = "tables"
    columns: str = "columns"
    rows: str = "rows"
    update_methods: tuple[str, ...] = ("PUT", "PATCH")  # of a database and of a table
    database_type: DatabaseType = DatabaseType.TABLESDB  # of the databases it creates
    not_databases: frozenset[str] = frozenset({"specifications"})  # Appwrite paths where a database ID stands
    fields_in: Callable[[Model], Model] = _same
    table_out: Callable[[Model], Model] = _same
    row_out: Callable[[Model], Model] = _same
    index_out: Callable[[Model], Model] = _same
    error: Callable[[AppwriteError], AppwriteError] = _same

    def listed(self, result: Model, key: str, item: Callable[[Model], Model] = _same) -> Model:
        """A list answer with its items in this API's words (``key``: TablesDB's name for them)."""
        new = {"tables": self.tables, "columns": self.columns, "rows": self.rows}.get(key, key)
        if new == key and item is _same:
            return result
        return {**{k: v for k, v in result.items() if k != key}, new: [item(x) for x in result[key]]}


TABLESDB = Dialect()


def _svc(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _p(request: Request, name: str) -> str:
    return str(request.path_params[name])


async def databases(d: Dialect, request: Request) -> Response:
    c, s = await ctx(request), _svc(request)
    if request.method == "POST":
        return json_response(await s.tablesdb.create_database(c, d.fields_in(await body(request)), d.database_type),
                             201)
    return json_response(await s.tablesdb.list_databases(c, array_param(request, "queries")))


async def database(d: Dialect, request: Request) -> Response:
    if _p(request, "db") in d.not_databases:
        raise not_offered(request)
    c, s, db = await ctx(request), _svc(request), _p(request, "db")
    if request.method == "GET":
        return json_response(await s.tablesdb.get_database(c, db))
    if request.method in ("PUT", "PATCH"):
        return json_response(await s.tablesdb.update_database(c, db, d.fields_in(await body(request))))
    await s.tablesdb.delete_database(c, db)
    return no_content()


async def tables(d: Dialect, request: Request) -> Response:
    c, s, db = await ctx(request), _svc(request), _p(request, "db")
    if request.method == "POST":
        return json_response(d.table_out(await s.tablesdb.create_table(c, db, d.fields_in(await body(request)))), 201)
    return json_response(d.listed(await s.tablesdb.list_tables(c, db, array_param(request, "queries")), "tables",
                                  d.table_out))


async def table(d: Dialect, request: Request) -> Response:
    c, s, db, t = await ctx(request), _svc(request), _p(request, "db"), _p(request, "table")
    if request.method == "GET":
        return json_response(d.table_out(await s.tablesdb.get_table(c, db, t)))
    if request.method in ("PUT", "PATCH"):
        return json_response(d.table_out(await s.tablesdb.update_table(c, db, t, d.fields_in(await body(request)))))
    await s.tablesdb.delete_table(c, db, t)
    return no_content()


async def columns(d: Dialect, request: Request) -> Response:
    c, s = await ctx(request), _svc(request)
    return json_response(d.listed(await s.tablesdb.list_columns(c, _p(request, "db"), _p(request, "table")), "columns"))


async def create_column(d: Dialect, request: Request) -> Response:
    if _p(request, "kind") not in COLUMN_TYPES:
        raise not_offered(request)
    c, s = await ctx(request), _svc(request)
    spec = await s.tablesdb.create_column(c, _p(request, "db"), _p(request, "table"), _p(request, "kind"),
                                          d.fields_in(await body(request)))
    return json_response(spec, 202)


async def column(d: Dialect, request: Request) -> Response:
    c, s = await ctx(request), _svc(request)
    db, t, key = _p(request, "db"), _p(request, "table"), _p(request, "key")
    if request.method == "GET":
        return json_response(await s.tablesdb.get_column(c, db, t, key))
    await s.tablesdb.delete_column(c, db, t, key)
    return no_content()


async def update_column(d: Dialect, request: Request) -> Response:
    if _p(request, "kind") not in COLUMN_TYPES:
        raise not_offered(request)
    c, s = await ctx(request), _svc(request)
    return json_response(await s.tablesdb.update_column(c, _p(request, "db"), _p(request, "table"), _p(request, "kind"),
                                                        _p(request, "key"), d.fields_in(await body(request))))


async def staged_write(d: Dialect, request: Request, c: Ctx, b: Model, action: str, db: str, t: str,
                       row_id: str) -> Response:
    """A row write with ``transactionId``: staged in that transaction, applied when it commits."""
    data: Model = b["data"] if isinstance(b.get("data"), dict) else {}
    op = {"action": action, "databaseId": db, "tableId": t, "rowId": row_id,
          "data": {**data, **({"$permissions": b["permissions"]} if b.get("permissions") is not None else {})}}
    await _svc(request).transactions.stage(c, str(b["transactionId"]), [op])
    if action == "delete":
        return no_content()
    return json_response(d.row_out({"$id": row_id, "$tableId": t, "$databaseId": db, **data}),
                         201 if action == "create" else 200)


# Bulk writes by method.
BULK = {"PATCH": bulk_rows.update_rows, "PUT": bulk_rows.upsert_rows, "DELETE": bulk_rows.delete_rows}


async def rows(d: Dialect, request: Request) -> Response:
    c, s, db, t = await ctx(request), _svc(request), _p(request, "db"), _p(request, "table")
    if request.method == "POST":
        b = d.fields_in(await body(request))
        if b.get("transactionId"):
            return await staged_write(d, request, c, b, "create", db, t, b.get("rowId", "unique()"))
        status, out = await s.rows.create(c, db, t, b)
        return json_response(d.listed(out, "rows", d.row_out) if "rows" in out else d.row_out(out), status)
    if request.method in BULK:
        b = d.fields_in(await body(request))
        if b.get("transactionId"):
            raise AppwriteError("general_not_implemented", f"rtcli does not stage bulk updates, upserts or deletes "
                                f"in a transaction: stage each {d.rows.removesuffix('s')}'s operation instead.")
        return json_response(d.listed(await BULK[request.method](s.rows, c, db, t, b), "rows", d.row_out))
    return json_response(d.listed(await s.rows.list(c, db, t, array_param(request, "queries")), "rows", d.row_out))


async def row(d: Dialect, request: Request) -> Response:
    c, s = await ctx(request), _svc(request)
    db, t, r = _p(request, "db"), _p(request, "table"), _p(request, "row")
    if request.method == "GET":
        return json_response(d.row_out(await s.rows.get(c, db, t, r, array_param(request, "queries"))))
    b = d.fields_in(await body(request))
    if b.get("transactionId"):
        action = {"PATCH": "update", "PUT": "upsert", "DELETE": "delete"}[request.method]
        return await staged_write(d, request, c, b, action, db, t, r)
    if request.method in ("PATCH", "PUT"):
        return json_response(d.row_out(await s.rows.update(c, db, t, r, b, upsert=request.method == "PUT")))
    await s.rows.delete(c, db, t, r)
    return no_content()


async def increment(d: Dialect, request: Request) -> Response:
    if request.path_params["op"] not in ("increment", "decrement"):
        raise AppwriteError("general_route_not_found")
    c, s = await ctx(request), _svc(request)
    sign = 1 if request.path_params["op"] == "increment" else -1
    out = await s.rows.increment(c, _p(request, "db"), _p(request, "table"), _p(request, "row"),
                                 _p(request, "column"), d.fields_in(await body(request)), sign)
    return json_response(d.row_out(out))


async def indexes(d: Dialect, request: Request) -> Response:
    c, s, db, t = await ctx(request), _svc(request), _p(request, "db"), _p(request, "table")
    if request.method == "POST":
        return json_response(d.index_out(await s.indexes.create(c, db, t, d.fields_in(await body(request)))), 202)
    return json_response(d.listed(await s.indexes.list(c, db, t, array_param(request, "queries")), "indexes",
                                  d.index_out))


async def index(d: Dialect, request: Request) -> Response:
    c, s, db, t = await ctx(request), _svc(request), _p(request, "db"), _p(request, "table")
    if request.method == "GET":
        return json_response(d.index_out(await s.indexes.get(c, db, t, _p(request, "key"))))
    await s.indexes.delete(c, db, t, _p(request, "key"))
    return no_content()


async def transactions(request: Request) -> Response:
    c, s = await ctx(request), _svc(request)
    if request.method == "POST":
        return json_response(await s.transactions.create(c, await body(request)), 201)
    return json_response(await s.transactions.list(c, array_param(request, "queries")))


async def transaction(request: Request) -> Response:
    c, s, tid = await ctx(request), _svc(request), _p(request, "txn")
    if request.method == "GET":
        return json_response(await s.transactions.get(c, tid))
    if request.method == "PATCH":
        return json_response(await s.transactions.update(c, tid, await body(request)))
    await s.transactions.delete(c, tid)
    return no_content()


async def operations(request: Request) -> Response:
    c, s = await ctx(request), _svc(request)
    return json_response(await s.transactions.stage(c, _p(request, "txn"), (await body(request)).get("operations")),
                         201)


def _in_dialect(handler: Callable[[Dialect, Request], Awaitable[Response]],
                d: Dialect) -> Callable[[Request], Awaitable[Response]]:
    """``handler`` as an endpoint of the API that ``d`` describes: its errors in the API's words."""
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(d, request)
        except AppwriteError as e:
            renamed = d.error(e)
            if renamed is e:
                raise
            raise renamed from None

    endpoint.__name__ = endpoint.__qualname__ = handler.__name__
    return endpoint


def api_routes(prefix: str, d: Dialect) -> list[Route]:
    """The routes of a database API under ``prefix`` (``/tablesdb``), in ``d``'s words. Both APIs
    share the transactions (an operation may name either API's fields)."""
    every = ("GET", *d.update_methods, "DELETE")
    t = f"{prefix}/{{db}}/{d.tables}/{{table}}"

    def route(path: str, handler: Callable[[Dialect, Request], Awaitable[Response]], methods: tuple[str, ...]) -> Route:
        return Route(path, _in_dialect(handler, d), methods=list(methods))

    return [
        Route(f"{prefix}/transactions", transactions, methods=["GET", "POST"]),
        Route(f"{prefix}/transactions/{{txn}}", transaction, methods=["GET", "PATCH", "DELETE"]),
        Route(f"{prefix}/transactions/{{txn}}/operations", operations, methods=["POST"]),
        route(prefix, databases, ("GET", "POST")),
        route(f"{prefix}/{{db}}", database, every),
        route(f"{prefix}/{{db}}/{d.tables}", tables, ("GET", "POST")),
        route(t, table, every),
        route(f"{t}/{d.columns}", columns, ("GET",)),
        route(f"{t}/{d.columns}/{{kind}}", create_column, ("POST",)),
        route(f"{t}/{d.columns}/{{key}}", column, ("GET", "DELETE")),
        route(f"{t}/{d.columns}/{{kind}}/{{key}}", update_column, ("PATCH",)),
        route(f"{t}/indexes", indexes, ("GET", "POST")),
        route(f"{t}/indexes/{{key}}", index, ("GET", "DELETE")),
        route(f"{t}/{d.rows}", rows, ("GET", "POST", "PATCH", "PUT", "DELETE")),
        route(f"{t}/{d.rows}/{{row}}", row, ("GET", "PATCH", "PUT", "DELETE")),
        route(f"{t}/{d.rows}/{{row}}/{{column}}/{{op:str}}", increment, ("PATCH",)),
    ]


routes = api_routes("/tablesdb", TABLESDB)
