"""Translate parsed REST queries (core.queries.Query) into SQLite SQL over the ``rows`` table.

User columns live in the JSON ``data`` column; system attributes map to real columns.
Values are always bound parameters; attribute names only ever appear inside a JSON path that
is itself a bound parameter, so no user string becomes SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from rtcli.core.queries import Query
from rtcli.errors import AppwriteError

SYSTEM = {"$id": "id", "$createdAt": "created_at", "$updatedAt": "updated_at", "$sequence": "seq"}


def column_expr(attribute: str, params: list, columns: dict[str, str] | None = None) -> str:
    """SQL for an attribute: a real column for system attributes (or, with ``columns``, only
    the whitelisted ones), else a JSON path into ``data``."""
    if columns is not None:
        if attribute not in columns:
            raise AppwriteError("general_query_invalid", f"Invalid query: cannot query by '{attribute}'.")
        return columns[attribute]
    if attribute in SYSTEM:
        return SYSTEM[attribute]
    if attribute.startswith("$"):
        raise AppwriteError("general_query_invalid", f"Invalid query: unknown attribute '{attribute}'.")
    params.append('$."' + attribute.replace('"', '') + '"')
    return "json_extract(data, ?)"


def _sql_value(v):
    # SQLite stores JSON booleans as integers 1/0 through json_extract.
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (list, dict)):
        return orjson.dumps(v).decode()
    return v


_OPS = {"lessThan": "<", "lessThanEqual": "<=", "greaterThan": ">", "greaterThanEqual": ">="}


def where_clause(q: Query, params: list, arrays: set[str], columns: dict[str, str] | None = None) -> str:
    m = q.method
    if m in ("and", "or"):
        parts = [where_clause(sub, params, arrays, columns) for sub in q.values]
        return "(" + f" {m.upper()} ".join(parts) + ")"
    attr = q.attribute or ""
    if attr in arrays and m in ("equal", "contains"):
        # An array column matches when any element equals one of the values.
        path = '$."' + attr.replace('"', '') + '"'
        params.append(path)
        marks = ",".join("?" for _ in q.values)
        params.extend(_sql_value(v) for v in q.values)
        return f"EXISTS (SELECT 1 FROM json_each(data, ?) WHERE value IN ({marks}))"
    expr = column_expr(attr, params, columns)
    if m == "equal":
        marks = ",".join("?" for _ in q.values)
        params.extend(_sql_value(v) for v in q.values)
        return f"{expr} IN ({marks})"
    if m == "notEqual":
        marks = ",".join("?" for _ in q.values)
        params.extend(_sql_value(v) for v in q.values)
        return f"{expr} NOT IN ({marks})"
    if m in _OPS:
        params.append(_sql_value(q.values[0]))
        return f"{expr} {_OPS[m]} ?"
    if m == "isNull":
        return f"{expr} IS NULL"
    if m == "isNotNull":
        return f"{expr} IS NOT NULL"
    if m == "between":
        params.extend([_sql_value(q.values[0]), _sql_value(q.values[1])])
        return f"{expr} BETWEEN ? AND ?"
    if m == "startsWith":
        params.append(str(q.values[0]))
        return f"instr({expr}, ?) = 1"
    if m == "endsWith":
        v = str(q.values[0])
        params.extend([v, v])
        return f"substr({expr}, -length(?)) = ?"
    if m == "contains":
        ors = []
        for v in q.values:
            params.append(str(v))
            ors.append(f"instr({expr}, ?) > 0")
        return "(" + " OR ".join(ors) + ")"
    raise AppwriteError("general_query_invalid", f"Invalid query: method '{m}' is not supported here.")


@dataclass
class ListPlan:
    """A parsed list request: filters, orders, paging and selection."""

    filters: list[Query] = field(default_factory=list)
    orders: list[tuple[str, str]] = field(default_factory=list)  # (attribute, "ASC"|"DESC")
    limit: int = 25
    offset: int = 0
    cursor: tuple[str, str] | None = None  # ("after"|"before", row id)
    select: list[str] | None = None


def plan(queries: list[Query]) -> ListPlan:
    p = ListPlan()
    for q in queries:
        if q.method in ("orderAsc", "orderDesc"):
            p.orders.append((q.attribute or "$sequence", "ASC" if q.method == "orderAsc" else "DESC"))
        elif q.method == "limit":
            p.limit = min(int(q.values[0]), 5000)
        elif q.method == "offset":
            p.offset = int(q.values[0])
        elif q.method in ("cursorAfter", "cursorBefore"):
            if p.cursor is not None:
                raise AppwriteError("general_query_invalid", "Invalid query: only one cursor is allowed.")
            p.cursor = ("after" if q.method == "cursorAfter" else "before", str(q.values[0]))
        elif q.method == "select":
            p.select = [str(v) for v in q.values]
        else:
            p.filters.append(q)
    return p
