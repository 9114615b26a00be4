"""Parsing of the CLI's free-form arguments: row data, queries, permissions, column defaults.

Every function raises ``typer.BadParameter`` (exit code 2, usage error) on bad input, so
commands can call them directly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import typer

# Two-character operators first, so `a>=1` is not read as `a>` `=1`.
_SHORT_OPS = (("!=", "notEqual"), (">=", "greaterThanEqual"), ("<=", "lessThanEqual"),
              ("=", "equal"), (">", "greaterThan"), ("<", "lessThan"))
_ATTRIBUTE = re.compile(r"^\$?[A-Za-z0-9_.-]+$")
_PERMISSION_SHORT = re.compile(r"^(read|create|update|delete|write):(.+)$")


def parse_value(text: str) -> Any:
    """A value typed on the command line: JSON when it parses (``1``, ``true``, ``[1]``), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_data(data: str | None, pairs: Iterable[str] = ()) -> dict[str, Any] | None:
    """``--data '{...}'`` merged with trailing ``key=value`` pairs (pairs win). None when neither is given."""
    result: dict[str, Any] | None = None
    if data is not None:
        try:
            result = json.loads(data)
        except ValueError as e:
            raise typer.BadParameter(f"not valid JSON: {e}", param_hint="--data") from None
        if not isinstance(result, dict):
            raise typer.BadParameter("must be a JSON object, like '{\"title\": \"hi\"}'", param_hint="--data")
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected key=value, got {pair!r}", param_hint="DATA")
        result = result if result is not None else {}
        result[key] = parse_value(value)
    return result


def parse_query(text: str) -> str:
    """One query as the SDK sends it (a JSON string).

    Accepts the Query JSON itself (``{"method":"equal","attribute":"n","values":[1]}``) or a short
    comparison ``n=1``, ``n!=1``, ``n>1``, ``n>=1``, ``n<1``, ``n<=1`` (value parsed like ``parse_value``;
    a JSON list gives several values, which the server ORs).
    """
    text = text.strip()
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except ValueError as e:
            raise typer.BadParameter(f"not valid JSON: {e}", param_hint="--query") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("method"), str):
            raise typer.BadParameter('a query needs a "method", e.g. {"method":"limit","values":[10]}',
                                     param_hint="--query")
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    for op, method in _SHORT_OPS:
        attribute, sep, value = text.partition(op)
        if sep and _ATTRIBUTE.match(attribute.strip()):
            parsed = parse_value(value.strip())
            values = parsed if isinstance(parsed, list) else [parsed]
            return json.dumps({"method": method, "attribute": attribute.strip(), "values": values},
                              separators=(",", ":"), ensure_ascii=False)
    raise typer.BadParameter(f"{text!r} is neither Query JSON nor a comparison like n=1 or n>=2",
                             param_hint="--query")


def limit_query(limit: int) -> str:
    return json.dumps({"method": "limit", "values": [limit]}, separators=(",", ":"))


def parse_permission(text: str) -> str:
    """A permission string; ``read:any`` is short for ``read("any")``, ``update:user:u1`` for ``update("user:u1")``."""
    text = text.strip()
    if "(" in text:
        return text
    m = _PERMISSION_SHORT.match(text)
    if not m:
        raise typer.BadParameter(f"{text!r} is not a permission; use read(\"any\") or read:any",
                                 param_hint="--permission")
    return f'{m.group(1)}("{m.group(2)}")'


def parse_default(column_type: str, text: str | None) -> Any:
    """A column's ``--default`` as the column type wants it."""
    if text is None:
        return None
    try:
        if column_type == "integer":
            return int(text)
        if column_type == "float":
            return float(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a valid {column_type}", param_hint="--default") from None
    if column_type == "boolean":
        if text.lower() not in ("true", "false"):
            raise typer.BadParameter("must be true or false", param_hint="--default")
        return text.lower() == "true"
    return text


def parse_elements(text: str | None) -> list[str] | None:
    """``--elements a,b,c`` -> ``["a", "b", "c"]``."""
    if text is None:
        return None
    return [e.strip() for e in text.split(",") if e.strip()]
