"""Translate parsed REST queries (core.queries.Query) into SQL, for SQLite and PostgreSQL.

User columns live in a JSON ``data`` column; system attributes map to real columns (or, for
other tables, a whitelist of columns). Values and attribute names are always bound parameters:
no user string becomes SQL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from rtcli import ids
from rtcli.core.queries import Query
from rtcli.errors import AppwriteError

SYSTEM = {"$id": "id", "$createdAt": "created_at", "$updatedAt": "updated_at", "$sequence": "seq"}
# Negations of a filter: NOT of the positive condition (a row without the attribute matches
# neither, as in SQL).
_NEGATED = {"notContains": "contains", "notBetween": "between", "notStartsWith": "startsWith",
            "notEndsWith": "endsWith"}
_OPS = {"lessThan": "<", "lessThanEqual": "<=", "greaterThan": ">", "greaterThanEqual": ">="}

Emit = Callable[[list], str]
# The parameters the filters of one request may bind. A list statement binds them twice (the
# total and the page) beside the caller's roles and the paging; this keeps it well under what
# the drivers take (asyncpg: 32,767; SQLite: 32,766 by default), so that queries too large are
# a 400 here rather than a driver error (a 500).
MAX_FILTER_PARAMS = 12_000


def _check_size(params: list) -> None:
    if len(params) > MAX_FILTER_PARAMS:
        raise AppwriteError("general_argument_invalid",
                            f"Invalid `queries` param: the queries are too large: they need more than "
                            f"{MAX_FILTER_PARAMS:,} values and attribute paths together; use fewer queries or values.")


class Attr:
    """One attribute in a query: ``emit(params)`` writes its SQL (and its parameters) where
    needed, as often as needed; ``json`` tells whether it is a JSON value or a real column."""

    def __init__(self, dialect, attribute: str, columns: dict[str, str] | None) -> None:
        self.d = dialect
        if columns is not None:
            if attribute not in columns:
                raise AppwriteError("general_query_invalid", f"Invalid query: cannot query by '{attribute}'.")
            self.column, self.json = columns[attribute], False
        elif attribute in SYSTEM:
            self.column, self.json = SYSTEM[attribute], False
        elif attribute.startswith("$") or not attribute:
            raise AppwriteError("general_query_invalid", f"Invalid query: unknown attribute '{attribute}'.")
        else:
            self.column, self.json = None, True
        self.key = attribute

    def emit(self, params: list) -> str:
        return self.d.json_value("data", self.key, params) if self.json else self.column

    def text(self, params: list) -> str:
        return self.d.json_text("data", self.key, params) if self.json else self.column

    def value(self, v, params: list) -> str:
        if not self.json and self.key in SYSTEM:
            v = _system_value(self.key, v)
        return self.d.value(v, params, self.json)


def _system_value(attribute: str, v):
    """System attributes are typed columns: a value of another type is the caller's mistake
    (PostgreSQL would refuse to bind it; SQLite would silently match nothing)."""
    if attribute == "$sequence":
        if isinstance(v, str) and v.isdigit():
            return int(v)
        if isinstance(v, int) and not isinstance(v, bool):
            return v
    elif attribute in ("$createdAt", "$updatedAt") and isinstance(v, str):
        return _stored_datetime(v)
    elif isinstance(v, str):
        return v
    raise AppwriteError("general_query_invalid",
                        f"Invalid query: {v!r} is not a valid value for {attribute}.")


def _stored_datetime(v: str) -> str:
    """An ISO 8601 date (``Z``, any offset, any precision) as dates are stored (UTC, ms, +00:00), so
    that createdBefore/After compare instants, not strings; other strings are kept as given."""
    try:
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return v
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return ids.format_datetime(dt.timestamp())


def where_clause(dialect, q: Query, params: list, arrays: set[str], columns: dict[str, str] | None = None,
                 fulltext: dict[str, str] | None = None) -> str:
    """``fulltext``: column key -> its fulltext index (``search`` needs one, as in Appwrite).

    ``params`` holds every parameter of the statement so far: past ``MAX_FILTER_PARAMS`` the
    queries are refused (400)."""
    sql = _where(dialect, q, params, arrays, columns, fulltext)
    _check_size(params)
    return sql


def _where(dialect, q: Query, params: list, arrays: set[str], columns: dict[str, str] | None,
           fulltext: dict[str, str] | None) -> str:
    m = q.method
    if m in ("and", "or"):
        return "(" + f" {m.upper()} ".join(where_clause(dialect, s, params, arrays, columns, fulltext)
                                           for s in q.values) + ")"
    if m in ("search", "notSearch"):
        name = (fulltext or {}).get(q.attribute or "")
        if name is None:
            raise AppwriteError("general_query_invalid",
                                f'Invalid query: Searching by attribute "{q.attribute}" requires a fulltext index.')
        cond = dialect.search(name, q.attribute, str(q.values[0]), params)
        return cond if m == "search" else f"NOT ({cond})"
    if m in ("exists", "notExists"):
        tests = []
        for name in q.values:
            a = Attr(dialect, str(name), columns)
            tests.append(dialect.json_has("data", a.key, params) if a.json else f"{a.column} IS NOT NULL")
        return ("(" if m == "exists" else "NOT (") + " AND ".join(tests) + ")"
    attr = Attr(dialect, q.attribute or "", columns)
    if attr.json and attr.key in arrays and m in ("equal", "contains", "containsAny"):
        return dialect.array_has_any("data", attr.key, list(q.values), params)
    if m in ("equal", "notEqual"):
        expr = attr.emit(params)
        marks = ",".join(attr.value(v, params) for v in q.values)
        return f"{expr} {'IN' if m == 'equal' else 'NOT IN'} ({marks})"
    if m in _OPS:
        v = q.values[0]
        expr = attr.emit(params)
        cond = f"{expr} {_OPS[m]} {attr.value(v, params)}"
        return f"({cond}{dialect.type_guard(attr.emit, v, params) if attr.json else ''})"
    if m == "isNull":
        return f"{attr.text(params)} IS NULL"
    if m == "isNotNull":
        return f"{attr.text(params)} IS NOT NULL"
    if m == "between":
        expr = attr.emit(params)
        lo = attr.value(q.values[0], params)
        hi = attr.value(q.values[1], params)
        return f"({expr} BETWEEN {lo} AND {hi}{dialect.type_guard(attr.emit, q.values[0], params) if attr.json else ''})"
    if m == "startsWith":
        return dialect.starts_with(attr.text(params), str(q.values[0]), params)
    if m == "endsWith":
        return dialect.ends_with(attr.text(params), str(q.values[0]), params)
    if m in ("contains", "containsAny"):
        return "(" + " OR ".join(dialect.contains(attr.text(params), str(v), params) for v in q.values) + ")"
    if m == "containsAll":
        if attr.json and attr.key in arrays:
            return "(" + " AND ".join(dialect.array_has_any("data", attr.key, [v], params) for v in q.values) + ")"
        return "(" + " AND ".join(dialect.contains(attr.text(params), str(v), params) for v in q.values) + ")"
    if m in _NEGATED:
        positive = _where(dialect, Query(_NEGATED[m], q.attribute, q.values), params, arrays, columns, fulltext)
        return f"NOT {positive}"
    raise AppwriteError("general_query_invalid", f"Invalid query: method '{m}' is not supported here.")
