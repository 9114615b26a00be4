"""The legacy Databases API (/v1/databases/…: collections, attributes, documents, indexes) as thin
adapters over TablesDB: one storage, one set of use cases, one set of events.

A collection is a table, an attribute a column, a document a row: these routes rename the
request's fields (``collectionId`` -> ``tableId``, ``documentSecurity`` -> ``rowSecurity``,
``documentId`` -> ``rowId``, ``documents`` -> ``rows``, an index's ``attributes`` ->
``columns``), call the TablesDB services, and rename the answer and its errors back
(``row_not_found`` -> ``document_not_found`` …). A row made through either API is read and
written through both. A database made here is of type ``legacy``: its row events carry the
``databases.*.collections.*.documents`` and ``databases.*.tables.*.rows`` names (a TablesDB
database's carry the ``tablesdb.*`` names too), on the same channels.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rtcli.errors import AppwriteError
from rtcli.core.schema import COLUMN_TYPES
from rtcli.server.routes.unsupported import not_offered
from rtcli.server.http import array_param, body, ctx, json_response, no_content
from rtcli.server.routes import tablesdb as tablesdb_routes

# Error types of the TablesDB use cases, as the Databases API names them.
ERRORS = {"table_not_found": "collection_not_found", "table_already_exists": "collection_already_exists",
          "row_not_found": "document_not_found", "row_already_exists": "document_already_exists",
          "row_invalid_structure": "document_invalid_structure", "row_missing_data": "document_missing_data",
          "row_unique_constraint_violation": "document_unique_constraint_violation",
          "column_not_found": "attribute_not_found", "column_already_exists": "attribute_already_exists",
          "column_value_invalid": "attribute_value_invalid", "column_type_invalid": "attribute_type_invalid",
          "column_index_not_found": "index_not_found", "column_index_already_exists": "index_already_exists",
          "column_index_invalid": "index_invalid", "column_index_limit_exceeded": "index_limit_exceeded"}
_WORDS = [(re.compile(rf"\b{a}\b"), b) for a, b in (
    ("Table", "Collection"), ("table", "collection"), ("Row", "Document"), ("row", "document"),
    ("Column", "Attribute"), ("column", "attribute"), ("columns", "attributes"), ("rows", "documents"),
    ("tables", "collections"), ("rowId", "documentId"), ("tableId", "collectionId"),
    ("rowSecurity", "documentSecurity"))]


def _words(message: str) -> str:
    for pattern, word in _WORDS:
        message = pattern.sub(word, message)
    return message


def documents_api(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """Errors in the Databases API's names."""
    @wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except AppwriteError as e:
            if e.type in ERRORS or e.type == "general_argument_invalid":
                raise AppwriteError(ERRORS.get(e.type, e.type), _words(e.message), e.code) from None
            raise
    return wrapped


def _in(data: dict[str, Any]) -> dict[str, Any]:
    names = {"collectionId": "tableId", "documentSecurity": "rowSecurity", "documentId": "rowId",
             "documents": "rows", "attributes": "columns"}
    return {names.get(k, k): v for k, v in data.items()}


def index_out(i: dict[str, Any]) -> dict[str, Any]:
    return {("attributes" if k == "columns" else k): v for k, v in i.items()}


def collection_out(t: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in t.items() if k not in ("rowSecurity", "columns", "indexes")}
    out.update(documentSecurity=t["rowSecurity"], attributes=t["columns"], indexes=[index_out(i) for i in t["indexes"]])
    return out


def document_out(r: dict[str, Any]) -> dict[str, Any]:
    """A row as a document: ``$collectionId`` where the row has ``$tableId`` (its data untouched)."""
    return {("$collectionId" if k == "$tableId" else k): v for k, v in r.items()}


def _list(result: dict[str, Any], key: str, new_key: str, item: Callable[[dict], dict]) -> dict[str, Any]:
    return {"total": result["total"], new_key: [item(x) for x in result[key]]}


def _svc(request: Request):
    return request.app.state.services


def _p(request: Request, name: str) -> str:
    return request.path_params[name]


@documents_api
async def databases(request: Request):
    c, s = await ctx(request), _svc(request)
    if request.method == "POST":
        return json_response(await s.tablesdb.create_database(c, await body(request), "legacy"), 201)
    return json_response(await s.tablesdb.list_databases(c, array_param(request, "queries")))


@documents_api
async def database(request: Request):
    if _p(request, "db") == "transactions":  # an Appwrite path, not a database id
        raise not_offered(request)
    c, s, db = await ctx(request), _svc(request), _p(request, "db")
    if request.method == "GET":
        return json_response(await s.tablesdb.get_database(c, db))
    if request.method == "PUT":
        return json_response(await s.tablesdb.update_database(c, db, await body(request)))
    await s.tablesdb.delete_database(c, db)
    return no_content()


@documents_api
async def collections(request: Request):
    c, s, db = await ctx(request), _svc(request), _p(request, "db")
    if request.method == "POST":
        return json_response(collection_out(await s.tablesdb.create_table(c, db, _in(await body(request)))), 201)
    out = await s.tablesdb.list_tables(c, db, array_param(request, "queries"))
    return json_response(_list(out, "tables", "collections", collection_out))


@documents_api
async def collection(request: Request):
    c, s, db, t = await ctx(request), _svc(request), _p(request, "db"), _p(request, "collection")
    if request.method == "GET":
        return json_response(collection_out(await s.tablesdb.get_table(c, db, t)))
    if request.method == "PUT":
        return json_response(collection_out(await s.tablesdb.update_table(c, db, t, _in(await body(request)))))
    await s.tablesdb.delete_table(c, db, t)
    return no_content()


@documents_api
async def attributes(request: Request):
    c, s = await ctx(request), _svc(request)
    out = await s.tablesdb.list_columns(c, _p(request, "db"), _p(request, "collection"))
    return json_response(_list(out, "columns", "attributes", lambda x: x))


@documents_api
async def create_attribute(request: Request):
    if _p(request, "kind") not in COLUMN_TYPES:
        raise not_offered(request)
    c, s = await ctx(request), _svc(request)
    spec = await s.tablesdb.create_column(c, _p(request, "db"), _p(request, "collection"), _p(request, "kind"),
                                          await body(request))
    return json_response(spec, 202)


@documents_api
async def attribute(request: Request):
    c, s = await ctx(request), _svc(request)
    db, t, key = _p(request, "db"), _p(request, "collection"), _p(request, "key")
    if request.method == "GET":
        return json_response(await s.tablesdb.get_column(c, db, t, key))
    await s.tablesdb.delete_column(c, db, t, key)
    return no_content()


@documents_api
async def update_attribute(request: Request):
    if _p(request, "kind") not in COLUMN_TYPES:
        raise not_offered(request)
    c, s = await ctx(request), _svc(request)
    return json_response(await s.tablesdb.update_column(c, _p(request, "db"), _p(request, "collection"),
                                                        _p(request, "kind"), _p(request, "key"), await body(request)))


@documents_api
async def indexes(request: Request):
    c, s, db, t = await ctx(request), _svc(request), _p(request, "db"), _p(request, "collection")
    if request.method == "POST":
        return json_response(index_out(await s.indexes.create(c, db, t, _in(await body(request)))), 202)
    return json_response(_list(await s.indexes.list(c, db, t, array_param(request, "queries")), "indexes", "indexes",
                               index_out))


@documents_api
async def index(request: Request):
    c, s, db, t = await ctx(request), _svc(request), _p(request, "db"), _p(request, "collection")
    if request.method == "GET":
        return json_response(index_out(await s.indexes.get(c, db, t, _p(request, "key"))))
    await s.indexes.delete(c, db, t, _p(request, "key"))
    return no_content()


@documents_api
async def documents(request: Request):
    c, s, db, t = await ctx(request), _svc(request), _p(request, "db"), _p(request, "collection")
    if request.method == "POST":
        b = _in(await body(request))
        if b.get("transactionId"):
            resp = await tablesdb_routes.staged_write(request, c, b, "create", db, t, b.get("rowId", "unique()"))
            return json_response(document_out(orjson.loads(resp.body)), resp.status_code)
        status, out = await s.rows.create(c, db, t, b)
        return json_response(_list(out, "rows", "documents", document_out) if "rows" in out else document_out(out),
                             status)
    if request.method in tablesdb_routes.BULK:  # updateDocuments, upsertDocuments, deleteDocuments
        b = _in(await body(request))
        if b.get("transactionId"):
            raise AppwriteError("general_not_implemented", "rtcli does not stage bulk updates, upserts or deletes "
                                "in a transaction: stage each document's operation instead.")
        out = await tablesdb_routes.BULK[request.method](s.rows, c, db, t, b)
        return json_response(_list(out, "rows", "documents", document_out))
    out = await s.rows.list(c, db, t, array_param(request, "queries"))
    return json_response(_list(out, "rows", "documents", document_out))


@documents_api
async def document(request: Request):
    c, s = await ctx(request), _svc(request)
    db, t, d = _p(request, "db"), _p(request, "collection"), _p(request, "document")
    if request.method == "GET":
        return json_response(document_out(await s.rows.get(c, db, t, d, array_param(request, "queries"))))
    b = await body(request)
    if b.get("transactionId"):
        action = {"PATCH": "update", "PUT": "upsert", "DELETE": "delete"}[request.method]
        resp = await tablesdb_routes.staged_write(request, c, b, action, db, t, d)
        return json_response(document_out(orjson.loads(resp.body)), resp.status_code) if resp.body else resp
    if request.method in ("PATCH", "PUT"):
        return json_response(document_out(await s.rows.update(c, db, t, d, b, upsert=request.method == "PUT")))
    await s.rows.delete(c, db, t, d)
    return no_content()


@documents_api
async def increment(request: Request):
    if request.path_params["op"] not in ("increment", "decrement"):
        raise AppwriteError("general_route_not_found")
    c, s = await ctx(request), _svc(request)
    sign = 1 if request.path_params["op"] == "increment" else -1
    out = await s.rows.increment(c, _p(request, "db"), _p(request, "collection"), _p(request, "document"),
                                 _p(request, "attribute"), await body(request), sign)
    return json_response(document_out(out))


_C = "/databases/{db}/collections/{collection}"
routes = [
    # The legacy API's transactions are TablesDB's (an operation may name collectionId and documentId).
    Route("/databases/transactions", tablesdb_routes.transactions, methods=["GET", "POST"]),
    Route("/databases/transactions/{txn}", tablesdb_routes.transaction, methods=["GET", "PATCH", "DELETE"]),
    Route("/databases/transactions/{txn}/operations", tablesdb_routes.operations, methods=["POST"]),
    Route("/databases", databases, methods=["GET", "POST"]),
    Route("/databases/{db}", database, methods=["GET", "PUT", "DELETE"]),
    Route("/databases/{db}/collections", collections, methods=["GET", "POST"]),
    Route(_C, collection, methods=["GET", "PUT", "DELETE"]),
    Route(_C + "/attributes", attributes, methods=["GET"]),
    Route(_C + "/attributes/{kind}", create_attribute, methods=["POST"]),
    Route(_C + "/attributes/{key}", attribute, methods=["GET", "DELETE"]),
    Route(_C + "/attributes/{kind}/{key}", update_attribute, methods=["PATCH"]),
    Route(_C + "/indexes", indexes, methods=["GET", "POST"]),
    Route(_C + "/indexes/{key}", index, methods=["GET", "DELETE"]),
    Route(_C + "/documents", documents, methods=["GET", "POST", "PATCH", "PUT", "DELETE"]),
    Route(_C + "/documents/{document}", document, methods=["GET", "PATCH", "PUT", "DELETE"]),
    Route(_C + "/documents/{document}/{attribute}/{op:str}", increment, methods=["PATCH"]),
]
