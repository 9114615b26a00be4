"""GET /v1/openapi.json: an OpenAPI 3 description of rtcli's REST surface (for tools and fuzzing).

Built from small tables (models, column types, operations) so that it stays short and follows
routes/tablesdb.py route for route. Path parameter names are Appwrite's (``databaseId``, …);
the server routes by position, so the names are documentation only.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rtcli import APPWRITE_VERSION, __version__
from rtcli.core.schema import COLUMN_TYPES
from rtcli.server.http import json_response

Schema = dict[str, Any]  # a piece of the OpenAPI document
# (path, method, operationId, summary, success status, response model, request body, takes queries)
Operation = tuple[str, str, str, str, int, str | None, str | None, bool]

STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
NUM: Schema = {"type": "number"}
BOOL: Schema = {"type": "boolean"}
DATE: Schema = {"type": "string", "description": "ISO 8601, e.g. 2026-08-21T13:42:57.123+00:00"}
ID: Schema = {"type": "string", "pattern": r"^(unique\(\)|[A-Za-z0-9][A-Za-z0-9._-]{0,35})$",
            "description": "A custom ID (at most 36 chars of a-z, A-Z, 0-9, '.', '-', '_'; no leading "
                           "special char) or 'unique()' for a new one."}
PERMISSIONS: Schema = {"type": "array", "items": STR, "description": 'Permission strings: action("role").'}
JSON_VALUE: Schema = {}  # any JSON value


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _arr(items: Schema, **extra: Any) -> Schema:
    return {"type": "array", "items": items, **extra}


def _obj(props: Schema, required: tuple[str, ...] | list[str] = (), extra: bool | Schema = False) -> Schema:
    out: Schema = {"type": "object", "properties": props, "additionalProperties": extra}
    if required:
        out["required"] = list(required)
    return out


def _model(props: Schema, extra: bool = False) -> Schema:
    """A response model: every listed property is always present."""
    return _obj(props, list(props), extra)


def _list(key: str, item: str) -> Schema:
    return _model({"total": INT, key: _arr(_ref(item))})


SCHEMAS: dict[str, Schema] = {
    "Error": _model({"message": STR, "code": INT, "type": STR, "version": STR}),
    "Health": _model({"name": STR, "status": STR, "ping": INT, "version": STR, "appwrite": STR}),
    "Database": _model({"$id": STR, "name": STR, "$createdAt": DATE, "$updatedAt": DATE, "enabled": BOOL,
                        "type": STR}),
    "DatabaseList": _list("databases", "Database"),
    # Type-specific fields (size, default, format, elements, min, max, encrypt) come on top.
    "Column": _obj({"key": STR, "type": STR, "status": STR, "error": STR, "required": BOOL, "array": BOOL,
                    "$createdAt": DATE, "$updatedAt": DATE},
                   ["key", "type", "status", "error", "required", "array", "$createdAt", "$updatedAt"], True),
    "ColumnList": _list("columns", "Column"),
    "Table": _model({"$id": STR, "$createdAt": DATE, "$updatedAt": DATE, "$permissions": _arr(STR),
                     "databaseId": STR, "name": STR, "enabled": BOOL, "rowSecurity": BOOL,
                     "columns": _arr(_ref("Column")), "indexes": _arr({"type": "object"}), "bytesMax": INT,
                     "bytesUsed": INT}),
    "TableList": _list("tables", "Table"),
    # The user's columns sit at the top level, next to the $-attributes.
    "Row": _model({"$id": STR, "$sequence": {"type": "string", "pattern": r"^[0-9]+$"}, "$tableId": STR,
                   "$databaseId": STR, "$createdAt": DATE, "$updatedAt": DATE, "$permissions": _arr(STR)}, True),
    "RowList": _list("rows", "Row"),
    # Request bodies.
    "DatabaseCreate": _obj({"databaseId": ID, "name": {"type": "string", "minLength": 1}, "enabled": BOOL},
                           ["databaseId", "name"]),
    "DatabaseUpdate": _obj({"name": {"type": "string", "minLength": 1}, "enabled": BOOL}),
    "TableCreate": _obj({"tableId": ID, "name": {"type": "string", "minLength": 1}, "permissions": PERMISSIONS,
                         "rowSecurity": BOOL, "enabled": BOOL, "columns": _arr({"type": "object"})},
                        ["tableId", "name"]),
    "TableUpdate": _obj({"name": {"type": "string", "minLength": 1}, "permissions": PERMISSIONS,
                         "rowSecurity": BOOL, "enabled": BOOL}),
    "RowCreate": {"oneOf": [
        _obj({"rowId": ID, "data": {"type": "object"}, "permissions": PERMISSIONS}, ["rowId", "data"]),
        _obj({"rows": _arr(_obj({"$id": ID, "$permissions": PERMISSIONS}, extra=True), minItems=1, maxItems=1000)},
             ["rows"]),
    ]},
    "RowUpdate": _obj({"data": {"type": "object"}, "permissions": PERMISSIONS}),
}

# Column types: the JSON type of their default value and their own fields.
_COLUMN_DEFAULTS = {"integer": INT, "float": NUM, "boolean": BOOL}
_COLUMN_FIELDS: dict[str, Schema] = {
    "string": {"size": {"type": "integer", "minimum": 1}, "encrypt": BOOL},
    "integer": {"min": INT, "max": INT},
    "float": {"min": NUM, "max": NUM},
    "enum": {"elements": _arr(STR, minItems=1)},
}
for _kind in COLUMN_TYPES:
    SCHEMAS[f"Column{_kind.capitalize()}Create"] = _obj(
        {"key": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]{0,35}$"}, "required": BOOL,
         "array": BOOL, "default": {**_COLUMN_DEFAULTS.get(_kind, STR), "nullable": True},
         **_COLUMN_FIELDS.get(_kind, {})},
        ["key", "required", *(["elements"] if _kind == "enum" else [])])

SECURITY_SCHEMES = {
    "Project": {"type": "apiKey", "in": "header", "name": "X-Appwrite-Project",
                "description": "The project ID (required on every call; `?project=` also works)."},
    "Key": {"type": "apiKey", "in": "header", "name": "X-Appwrite-Key",
            "description": "A project API key: the call acts as the server, past every permission."},
}

QUERIES = {"name": "queries[]", "in": "query", "required": False, "style": "form", "explode": True,
           "description": 'Queries as JSON strings, e.g. {"method":"limit","values":[10]}.',
           "schema": _arr(STR, maxItems=100),
           "example": ['{"method":"limit","values":[10]}', '{"method":"orderDesc","attribute":"$createdAt"}']}

_DB, _T = "/tablesdb/{databaseId}", "/tablesdb/{databaseId}/tables/{tableId}"
_ROW = _T + "/rows/{rowId}"


def _path_params(path: str) -> list[Schema]:
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    return [{"name": n, "in": "path", "required": True, "schema": STR} for n in names]


def _operation(op_id: str, summary: str, status: int, response: str | None, body: str | None = None,
               queries: bool = False, tag: str = "tablesdb") -> Schema:
    """One operation; errors are the Error model with a 4xx status (a 5xx is always a bug)."""
    success: Schema = {"description": summary}
    if response:
        success["content"] = {"application/json": {"schema": _ref(response)}}
    op: Schema = {"operationId": op_id, "summary": summary, "tags": [tag],
                "responses": {str(status): success,
                              "4XX": {"description": "Client error",
                                      "content": {"application/json": {"schema": _ref("Error")}}}}}
    if queries:
        op["parameters"] = [QUERIES]
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body)}}}
    return op


OPERATIONS: list[Operation] = [
    ("/tablesdb", "get", "listDatabases", "List databases", 200, "DatabaseList", None, True),
    ("/tablesdb", "post", "createDatabase", "Create a database", 201, "Database", "DatabaseCreate", False),
    (_DB, "get", "getDatabase", "Get a database", 200, "Database", None, False),
    (_DB, "put", "updateDatabase", "Update a database", 200, "Database", "DatabaseUpdate", False),
    (_DB, "patch", "patchDatabase", "Update a database", 200, "Database", "DatabaseUpdate", False),
    (_DB, "delete", "deleteDatabase", "Delete a database", 204, None, None, False),
    (_DB + "/tables", "get", "listTables", "List tables", 200, "TableList", None, True),
    (_DB + "/tables", "post", "createTable", "Create a table", 201, "Table", "TableCreate", False),
    (_T, "get", "getTable", "Get a table", 200, "Table", None, False),
    (_T, "put", "updateTable", "Update a table", 200, "Table", "TableUpdate", False),
    (_T, "patch", "patchTable", "Update a table", 200, "Table", "TableUpdate", False),
    (_T, "delete", "deleteTable", "Delete a table", 204, None, None, False),
    (_T + "/columns", "get", "listColumns", "List columns", 200, "ColumnList", None, False),
    *[(_T + f"/columns/{k}", "post", f"create{k.capitalize()}Column", f"Create a {k} column", 202, "Column",
       f"Column{k.capitalize()}Create", False) for k in COLUMN_TYPES],
    (_T + "/columns/{key}", "get", "getColumn", "Get a column", 200, "Column", None, False),
    (_T + "/columns/{key}", "delete", "deleteColumn", "Delete a column", 204, None, None, False),
    (_T + "/rows", "get", "listRows", "List rows", 200, "RowList", None, True),
    (_T + "/rows", "post", "createRows", "Create a row (rowId, data) or many (rows)", 201, "RowOrRows",
     "RowCreate", False),
    (_ROW, "get", "getRow", "Get a row", 200, "Row", None, True),
    (_ROW, "patch", "updateRow", "Update a row", 200, "Row", "RowUpdate", False),
    (_ROW, "put", "upsertRow", "Create or update a row", 200, "Row", "RowUpdate", False),
    (_ROW, "delete", "deleteRow", "Delete a row", 204, None, None, False),
    *[(_ROW + "/{column}/" + op, "patch", f"{op}RowColumn", f"{op.capitalize()} a numeric column", 200, "Row",
       f"Row{op.capitalize()}", False) for op in ("increment", "decrement")],
]
SCHEMAS["RowOrRows"] = {"oneOf": [_ref("Row"), _ref("RowList")]}

# Topics (an rtcli extension): managed like tables, published to without one.
_TOPIC = "/topics/{topicId}"
_MODE: Schema = {"type": "string", "enum": ["durable", "ephemeral"]}
SCHEMAS.update({
    "Topic": _model({"$id": STR, "$createdAt": DATE, "$updatedAt": DATE, "$permissions": _arr(STR), "name": STR,
                     "mode": _MODE}),
    "TopicList": _list("topics", "Topic"),
    "TopicCreate": _obj({"topicId": ID, "name": {"type": "string", "minLength": 1, "maxLength": 128}, "mode": _MODE,
                         "permissions": PERMISSIONS}, ["topicId"]),
    "TopicUpdate": _obj({"name": {"type": "string", "minLength": 1, "maxLength": 128}, "mode": _MODE,
                         "permissions": PERMISSIONS}),
    "MessageCreate": _obj({"data": {"type": "object"}, "event": {"type": "string", "pattern": r"^[A-Za-z0-9_-]{1,64}$"},
                           "messageId": ID}, ["data"]),
    "MessageAck": _model({"$id": STR, "topicId": STR, "cursor": {"type": "string", "nullable": True},
                          "$createdAt": DATE}),
})
TOPIC_OPERATIONS: list[Operation] = [
    ("/topics", "get", "listTopics", "List topics", 200, "TopicList", None, True),
    ("/topics", "post", "createTopic", "Create a topic", 201, "Topic", "TopicCreate", False),
    (_TOPIC, "get", "getTopic", "Get a topic", 200, "Topic", None, False),
    (_TOPIC, "put", "updateTopic", "Update a topic", 200, "Topic", "TopicUpdate", False),
    (_TOPIC, "patch", "patchTopic", "Update a topic", 200, "Topic", "TopicUpdate", False),
    (_TOPIC, "delete", "deleteTopic", "Delete a topic", 204, None, None, False),
    (_TOPIC + "/messages", "post", "publishMessage", "Publish a message", 201, "MessageAck", "MessageCreate", False),
]
for _op, _bound in (("increment", "max"), ("decrement", "min")):
    SCHEMAS[f"Row{_op.capitalize()}"] = _obj({"value": {"type": "number", "exclusiveMinimum": True, "minimum": 0},
                                              _bound: NUM})


def spec() -> Schema:
    paths: dict[str, Schema] = {}
    for tag, operations in (("tablesdb", OPERATIONS), ("topics", TOPIC_OPERATIONS)):
        for path, method, op_id, summary, status, response, body, queries in operations:
            entry = paths.setdefault(path, {})
            if "{" in path:
                entry["parameters"] = _path_params(path)
            entry[method] = _operation(op_id, summary, status, response, body, queries, tag)
    health = _operation("getHealth", "Health check", 200, "Health", tag="health")
    health["security"] = []
    del health["responses"]["4XX"]
    return {
        "openapi": "3.0.3",
        "info": {"title": "rtcli", "version": __version__,
                 "description": f"The Appwrite-compatible REST API of `rtcli serve` (answers as Appwrite "
                                f"{APPWRITE_VERSION}). Realtime is a WebSocket at /v1/realtime."},
        "servers": [{"url": "/v1"}],
        "security": [{"Project": [], "Key": []}, {"Project": []}],
        "paths": {"/health": {"get": health}, **paths},
        "components": {"schemas": SCHEMAS, "securitySchemes": SECURITY_SCHEMES},
    }


async def openapi(request: Request) -> Response:
    return json_response(spec())


routes = [Route("/openapi.json", openapi, methods=["GET"])]
