"""Parsing what people type into the monitor's forms: channels, realtime queries (the CLI's
syntax, from rtcli.client.queries), JSON data; and the short labels the subscriptions panel
shows for queries. Pure functions; errors are ValueError with a message for people."""

from __future__ import annotations

import json
import re
from typing import Any

from rtcli.client.queries import parse_query  # noqa: F401  (the forms' queries: the CLI's syntax)
from rtcli.tui.records import EventRecord


def parse_channels(text: str) -> list[str]:
    """Channels separated by spaces or commas, duplicates removed."""
    return list(dict.fromkeys(c for c in re.split(r"[\s,]+", text.strip()) if c))


def parse_json_object(text: str, what: str = "data") -> dict[str, Any]:
    """A JSON object typed into a form; ValueError with a readable message otherwise."""
    try:
        value = json.loads(text or "{}")
    except ValueError as e:
        raise ValueError(f"{what} is not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise ValueError(f'{what} must be a JSON object, like {{"title": "hi"}}')
    return value


def row_target(record: EventRecord | None) -> tuple[str, str]:
    """(database, table) of a row event, to prefill the create-row form; ("", "") otherwise."""
    if record is None:
        return "", ""
    parts = record.channel.split(".")
    if len(parts) >= 5 and parts[0] == "tablesdb" and parts[2] == "tables":
        return parts[1], parts[3]
    return "", ""


_OP_LABELS = {"equal": "=", "notEqual": "!=", "greaterThan": ">", "greaterThanEqual": ">=",
              "lessThan": "<", "lessThanEqual": "<="}


def query_label(query: str) -> str:
    """A short label for a Query JSON string: ``n>=2``, ``isNull(x)``; the text itself if unreadable."""
    try:
        obj = json.loads(query)
    except ValueError:
        return query
    if not isinstance(obj, dict):
        return query
    method, attribute, values = obj.get("method"), obj.get("attribute"), obj.get("values") or []
    shown = ",".join(json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v for v in values)
    if method in _OP_LABELS and attribute:
        return f"{attribute}{_OP_LABELS[method]}{shown}"
    inner = ", ".join(x for x in (attribute, shown) if x)
    return f"{method}({inner})"
