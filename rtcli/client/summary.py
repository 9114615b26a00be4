"""An event payload in one short line, ``key=value`` pairs of the user's fields: the line
`rtcli subscribe` prints per event and the monitor's summary column, presences' metadata.

Called for every event the monitor receives (up to thousands a second), so it stops reading
fields as soon as the line is full.
"""

from __future__ import annotations

import json
from typing import Any

# Fields worth showing first, per kind of resource (the rest follow).
_FIRST_KEYS = {
    "files": ("name", "mimeType", "sizeOriginal"),
    "executions": ("status", "responseStatusCode", "duration", "trigger"),
}


def shown_value(value: Any) -> str:
    """A field's value as a summary shows it: a string bare (quoted if empty or spaced),
    numbers and booleans as JSON, anything else as compact JSON."""
    if isinstance(value, str):
        return value if value and " " not in value else json.dumps(value, ensure_ascii=False)
    if value is None or isinstance(value, bool):
        return "null" if value is None else ("true" if value else "false")
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def user_first(payload: dict[str, Any], resource: str = "") -> list[str]:
    """The payload's keys: the ones worth seeing first for this kind of resource (``resource``
    is its channel or path, e.g. ``buckets.b.files``), the user's own fields, then the ``$``
    (system) fields."""
    kind = next((k for k in _FIRST_KEYS if f".{k}" in f".{resource}"), None)
    keys = [k for k in _FIRST_KEYS.get(kind or "", ()) if k in payload]
    keys += [k for k in payload if not k.startswith("$") and k not in keys]
    return keys + [k for k in payload if k.startswith("$")]


def summarize(payload: dict[str, Any], resource: str = "", *, width: int) -> str:
    """The payload's own fields as ``key=value`` pairs (system ``$`` fields left out), cut to
    ``width`` characters (the last one ``…`` when cut)."""
    parts = []
    used = 0
    for key in user_first(payload, resource):
        if key.startswith("$"):
            break
        parts.append(f"{key}={shown_value(payload[key])}")
        used += len(parts[-1]) + 1
        if used > width:
            break
    text = " ".join(parts)
    return text if len(text) <= width else text[: width - 1] + "…"
