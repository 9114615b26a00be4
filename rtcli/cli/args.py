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

from rtcli.client import queries
from rtcli.client.queries import parse_value

_PERMISSION_SHORT = re.compile(r"^(read|create|update|delete|write):(.+)$")


def parse_data(data: str | None, pairs: Iterable[str] = (), hint: str = "--data") -> dict[str, Any] | None:
    """``--data '{...}'`` merged with trailing ``key=value`` pairs (pairs win). None when neither is given.
    ``hint`` names where the JSON came from, for a command whose JSON is an argument."""
    result: dict[str, Any] | None = None
    if data is not None:
        try:
            result = json.loads(data)
        except ValueError as e:
            raise typer.BadParameter(f"not valid JSON: {e}", param_hint=hint) from None
        if not isinstance(result, dict):
            raise typer.BadParameter("must be a JSON object, like '{\"title\": \"hi\"}'", param_hint=hint)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected key=value, got {pair!r}", param_hint="DATA")
        if key != key.strip():
            # Refused, not trimmed: `'text = hi'` would also leave the value " hi", and no column
            # key has spaces around it, so the pair is a typing slip to show, not to guess at.
            meant = f"{key.strip()}={value.strip()}"
            raise typer.BadParameter(f"{pair!r}: the key {key!r} has spaces around it; write "
                                     f"{meant if ' ' not in meant else repr(meant)} (no spaces around =)",
                                     param_hint="DATA")
        result = result if result is not None else {}
        result[key] = parse_value(value)
    return result


def parse_query(text: str) -> str:
    """One query as the SDK sends it (a JSON string): Query JSON or a short comparison like
    ``n>=2`` (see ``rtcli.client.queries.parse_query``)."""
    try:
        return queries.parse_query(text)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--query") from None


def parse_since(since: str | None) -> str | None:
    """``--since`` as the server takes it (see ``rtcli.cli.since.parse``)."""
    from rtcli.cli.since import parse

    try:
        return parse(since)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--since") from None


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
