"""The legacy Databases API (/v1/databases/…: collections, attributes, documents, indexes): the
TablesDB routes in its own words (a ``Dialect``), so one storage, one set of use cases, one set
of events.

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
from typing import Any

from rtcli.core.records import DatabaseType
from rtcli.errors import AppwriteError
from rtcli.server.routes.tablesdb import Dialect, api_routes

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


def _error(e: AppwriteError) -> AppwriteError:
    if e.type in ERRORS or e.type == "general_argument_invalid":
        return AppwriteError(ERRORS.get(e.type, e.type), _words(e.message), e.code)
    return e


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


DATABASES = Dialect(tables="collections", columns="attributes", rows="documents", update_methods=("PUT",),
                    database_type=DatabaseType.LEGACY, not_databases=frozenset({"transactions"}), fields_in=_in,
                    table_out=collection_out, row_out=document_out, index_out=index_out, error=_error)

routes = api_routes("/databases", DATABASES)
