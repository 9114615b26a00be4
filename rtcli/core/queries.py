"""Queries: parsing the SDK's Query JSON, and strict realtime evaluation (Appwrite RuntimeQuery).

The SDK sends each query as a JSON string ``{"method", "attribute"?, "values"?}``; ``and``/``or``
carry nested query objects (not strings) in ``values``. REST list endpoints translate parsed
queries to SQL in the store; realtime subscriptions evaluate them in memory with PHP-strict
semantics: ``1 != 1.0 != "1" != true``, and a missing attribute never matches (isNull included).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable, Iterable

from rtcli import protocol
from rtcli.errors import AppwriteError

FILTERS = frozenset({
    "equal", "notEqual", "lessThan", "lessThanEqual", "greaterThan", "greaterThanEqual",
    "isNull", "isNotNull", "between", "startsWith", "endsWith", "contains", "and", "or",
    "notContains", "notBetween", "notStartsWith", "notEndsWith", "containsAny", "containsAll", "exists", "notExists",
    "search", "notSearch",
})
MODIFIERS = frozenset({"orderAsc", "orderDesc", "orderRandom", "limit", "offset", "cursorAfter", "cursorBefore",
                       "select"})
REALTIME_ALLOWED = (
    "equal", "notEqual", "lessThan", "lessThanEqual", "greaterThan", "greaterThanEqual",
    "isNull", "isNotNull", "and", "or", "select",
)
_NO_VALUES = frozenset({"isNull", "isNotNull", "orderAsc", "orderDesc", "orderRandom"})
_NO_ATTRIBUTE = frozenset({"limit", "offset", "cursorAfter", "cursorBefore", "select", "and", "or", "orderRandom",
                           "exists", "notExists"})
# The values of one query, and the queries nested in one and/or: Appwrite's own limit
# (APP_LIMIT_ARRAY_PARAMS_SIZE). Every value costs an SQL parameter in a list request and a
# comparison per event in a realtime subscription, so nothing else bounds that cost.
MAX_QUERY_VALUES = 100
# The queries of one request or subscription (also Appwrite's limit), and how deep and/or may
# nest: what a list request's SQL may hold stays far below what the databases parse (SQLite's
# parser stack and its 1,000 levels of expression), so a query too large is a 400, not a 500.
MAX_QUERIES = 100
MAX_QUERY_NESTING = 5


@dataclass(frozen=True)
class Query:
    method: str
    attribute: str | None
    values: tuple[Any, ...]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method}
        if self.attribute is not None:
            out["attribute"] = self.attribute
        if self.method in ("and", "or"):
            out["values"] = [q.to_dict() for q in self.values]
        elif self.values or self.method not in _NO_VALUES:
            out["values"] = list(self.values)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))


def _bad(message: str) -> AppwriteError:
    return AppwriteError("general_query_invalid", f"Invalid query: {message}")


def _too_large(message: str) -> AppwriteError:
    return AppwriteError("general_argument_invalid", f"Invalid `queries` param: {message}")


def _too_many(method: str, attribute: Any) -> AppwriteError:
    if method in ("and", "or"):
        return _too_large(f"Query '{method}' has greater than {MAX_QUERY_VALUES} nested queries.")
    return _too_large(f"Query on attribute has greater than {MAX_QUERY_VALUES} values: {attribute}")


def _decode(raw: Any) -> Any:
    """A query as decoded JSON; bounded in depth, so that nothing after this can recurse too deep."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise _bad(f"Syntax error in {raw[:100]!r}: not valid JSON.") from None
        except RecursionError:
            raise _bad(f"a query must not have nesting deeper than {protocol.MAX_JSON_DEPTH} levels.") from None
    problem = protocol.json_problem(raw)
    if problem:
        raise _bad(f"a query must not have {problem}.")
    return raw


def parse(raw: str | dict[str, Any], depth: int = 0) -> Query:
    """Parse one query (a JSON string or an already decoded object), checking its shape;
    ``depth``: the and/or queries it is nested in."""
    raw = _decode(raw)
    if not isinstance(raw, dict):
        raise _bad("a query must be a JSON object with a method.")
    method = raw.get("method")
    if not isinstance(method, str) or method not in FILTERS | MODIFIERS:
        raise _bad(f"Query method '{method}' is not valid.")
    attribute = raw.get("attribute")
    if attribute is not None and not isinstance(attribute, str):
        raise _bad(f"Attribute of '{method}' must be a string.")
    values = raw.get("values", [])
    if not isinstance(values, list):
        values = [values]
    if len(values) > MAX_QUERY_VALUES:
        raise _too_many(method, attribute)
    if method in ("and", "or"):
        if not values:
            raise _bad(f"'{method}' needs at least one nested query.")
        if depth >= MAX_QUERY_NESTING:
            raise _too_large(f"and/or queries may be nested at most {MAX_QUERY_NESTING} levels deep.")
        return Query(method, None, tuple(parse(v, depth + 1) for v in values))
    if method not in _NO_ATTRIBUTE and method != "select" and not attribute:
        if method not in ("orderAsc", "orderDesc"):
            raise _bad(f"Query method '{method}' needs an attribute.")
    if method in ("limit", "offset"):
        if len(values) != 1 or not isinstance(values[0], int) or isinstance(values[0], bool) or values[0] < 0:
            raise _bad(f"'{method}' takes one non-negative integer.")
    if method in ("cursorAfter", "cursorBefore") and (len(values) != 1 or not isinstance(values[0], str)):
        raise _bad(f"'{method}' takes one row id.")
    if method in ("between", "notBetween") and len(values) != 2:
        raise _bad(f"'{method}' takes exactly two values.")
    if method in ("lessThan", "lessThanEqual", "greaterThan", "greaterThanEqual", "startsWith", "endsWith",
                  "notStartsWith", "notEndsWith") and not values:
        raise _bad(f"'{method}' needs a value.")
    if method in ("equal", "notEqual", "contains", "notContains", "containsAny", "containsAll") and not values:
        raise _bad(f"'{method}' needs at least one value.")
    if method in ("search", "notSearch") and (len(values) != 1 or not isinstance(values[0], str)):
        raise _bad(f"'{method}' takes one string of words to search for.")
    if method in ("exists", "notExists") and (not values or not all(isinstance(v, str) and v for v in values)):
        raise _bad(f"'{method}' takes the names of one or more attributes.")
    return Query(method, attribute, tuple(values))


def parse_many(raws: list[Any]) -> list[Query]:
    if not isinstance(raws, list):
        raise _bad("queries must be an array.")
    if len(raws) > MAX_QUERIES:
        raise _too_large(f"Value must be an array of at most {MAX_QUERIES} query strings.")
    return [parse(r) for r in raws]


# --- realtime -------------------------------------------------------------------------------

Matcher = Callable[[dict[str, Any]], bool]


def _unsupported(method: str) -> AppwriteError:
    return _bad(
        f"Query method '{method}' is not supported in Realtime queries. "
        f"Allowed: {', '.join(REALTIME_ALLOWED)}."
    )


def _reject_unsupported(raw: Any) -> None:
    """Name a method Realtime does not allow before shape checks, so that SDK methods ``parse``
    does not know (search, containsAny, exists, ...) or a ``limit`` get the same message."""
    try:
        raw = _decode(raw)
    except AppwriteError:
        return  # parse() reports it
    if not isinstance(raw, dict):
        return
    method = raw.get("method")
    if isinstance(method, str) and method not in REALTIME_ALLOWED:
        raise _unsupported(method)
    if method in ("and", "or") and isinstance(raw.get("values"), list):
        for sub in raw["values"]:
            _reject_unsupported(sub)


def _check_realtime(q: Query) -> None:
    if q.method not in REALTIME_ALLOWED:
        raise _unsupported(q.method)
    if q.method == "select" and list(q.values) != ["*"]:
        raise _bad("only select([\"*\"]) is supported in Realtime queries.")
    if q.method in ("and", "or"):
        for sub in q.values:
            _check_realtime(sub)


def strict_equal(a: Any, b: Any) -> bool:
    """PHP ===: same type and same value (bool is not int, int is not float)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(strict_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(strict_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def _number(v: Any) -> float | int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, str):
        try:
            return float(v) if any(c in v for c in ".eE") else int(v)
        except ValueError:
            return None
    return None


def _compare(a: Any, b: Any) -> int | None:
    """PHP 8 ordering for the common cases; None when the values do not compare."""
    if isinstance(a, str) and isinstance(b, str):
        na, nb = _number(a), _number(b)
        if na is not None and nb is not None:  # two numeric strings compare as numbers
            a, b = na, nb
    elif isinstance(a, bool) or isinstance(b, bool):
        a, b = bool(a), bool(b)
    else:
        a, b = _number(a), _number(b)
        if a is None or b is None:
            return None
    try:
        return int((a > b) - (a < b))
    except TypeError:
        return None


_ORDER: dict[str, Callable[[int], bool]] = {
    "lessThan": lambda c: c < 0,
    "lessThanEqual": lambda c: c <= 0,
    "greaterThan": lambda c: c > 0,
    "greaterThanEqual": lambda c: c >= 0,
}


def _leaf(q: Query, payload: dict[str, Any]) -> bool:
    if q.attribute not in payload:
        return False  # a missing attribute never matches, not even isNull
    value = payload[q.attribute]
    m = q.method
    if m == "isNull":
        return value is None
    if m == "isNotNull":
        return value is not None
    if m == "equal":
        return any(strict_equal(value, t) for t in q.values)
    if m == "notEqual":  # equal to none of the values (RuntimeQuery: !anyMatch)
        return not any(strict_equal(value, t) for t in q.values)
    test = _ORDER[m]
    for t in q.values:
        c = _compare(value, t)
        if c is not None and test(c):
            return True
    return False


def _evaluate(q: Query, payload: dict[str, Any]) -> bool:
    if q.method == "select":
        return True
    if q.method == "and":
        return all(_evaluate(s, payload) for s in q.values)
    if q.method == "or":
        return any(_evaluate(s, payload) for s in q.values)
    return _leaf(q, payload)


@dataclass(frozen=True, slots=True)
class RealtimeQueries:
    """A subscription's queries, compiled: as the reply lists them, the matcher (None: every
    event), and their cost, the values they hold (see ``cost``)."""

    normalised: list[str]
    matcher: Matcher | None
    cost: int


def cost(queries: Iterable[Query]) -> int:
    """The values a set of queries holds, each condition counting at least one: the most
    comparisons they make on one event (the hub evaluates a subscription once per event),
    and what they keep in memory."""
    return sum(cost(q.values) if q.method in ("and", "or") else max(1, len(q.values)) for q in queries)


def compile_subscription(raws: list[Any]) -> RealtimeQueries:
    """Validate a subscription's queries and compile them.

    Raises ``AppwriteError(general_query_invalid)`` naming the first unsupported method.
    """
    if isinstance(raws, list):
        for raw in raws:
            _reject_unsupported(raw)
    queries = parse_many(raws)
    for q in queries:
        _check_realtime(q)
    normalised = [q.to_json() for q in queries]
    if not queries or any(q.method == "select" for q in queries):
        matcher: Matcher | None = None
    else:
        matcher = lambda payload: all(_evaluate(q, payload) for q in queries)  # noqa: E731
    return RealtimeQueries(normalised, matcher, cost(queries))


def compile_realtime(raws: list[Any]) -> tuple[list[str], Matcher | None]:
    """``compile_subscription`` as (normalised queries, matcher)."""
    compiled = compile_subscription(raws)
    return compiled.normalised, compiled.matcher


# --- REST list requests ---------------------------------------------------------------------

@dataclass
class ListPlan:
    """A parsed list request: filters, orders, paging and selection."""

    filters: list[Query] = field(default_factory=list)
    orders: list[tuple[str, str]] = field(default_factory=list)  # (attribute, "ASC"|"DESC")
    limit: int = 25
    offset: int = 0
    cursor: tuple[str, str] | None = None  # ("after"|"before", row id)
    select: list[str] | None = None
    random: bool = False  # orderRandom: a random order (no cursor then)


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
        elif q.method == "orderRandom":
            p.random = True
        else:
            p.filters.append(q)
    if p.random and (p.cursor or p.orders):
        raise AppwriteError("general_query_invalid",
                            "Invalid query: orderRandom cannot be combined with other orders or a cursor.")
    return p


def explain_realtime(raws: list[Any], payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Each top-level realtime query's verdict on ``payload``, with the reason (for `explain`)."""
    out = []
    for q in parse_many(raws):
        _check_realtime(q)
        ok = _evaluate(q, payload)
        if q.method == "select":
            reason = "select(*) accepts everything"
        elif q.method in ("and", "or"):
            reason = f"{q.method} of {len(q.values)} conditions is {'true' if ok else 'false'}"
        elif q.attribute not in payload:
            reason = f"the payload has no attribute '{q.attribute}' (a missing attribute never matches)"
        else:
            reason = (f"{q.attribute} = {json.dumps(payload[q.attribute])} "
                      f"{'satisfies' if ok else 'does not satisfy'} {q.method} {json.dumps(list(q.values))}")
        out.append({"query": q.to_json(), "matches": ok, "reason": reason})
    return out
