"""Queries as people type them (the CLI's ``--query``, the monitor's forms), turned into the
Query JSON strings the SDKs send. Pure functions; errors are ValueError with a message for people."""

from __future__ import annotations

import json
import re
from typing import Any

# Two-character operators first, so `a>=1` is not read as `a>` `=1`; `==` is equal, as in most languages.
_SHORT_OPS = (("!=", "notEqual"), (">=", "greaterThanEqual"), ("<=", "lessThanEqual"), ("==", "equal"),
              ("=", "equal"), (">", "greaterThan"), ("<", "lessThan"))
# A value that starts with one of these is an operator typed wrong (`n=>2`, `n>>2`, `n===2`), not a
# comparison with the text "=>2": such a text is given as a JSON string, `n='">2"'`.
_OPERATOR_CHARS = "=<>!"
FORMS = "n=1 (or n==1), n!=1, n>1, n>=1, n<1, n<=1"
_SWAPPED = {"=>": ">=", "=<": "<=", "=!": "!=", "<>": "!="}
_ATTRIBUTE = re.compile(r"^\$?[A-Za-z0-9_.-]+$")


def parse_value(text: str) -> Any:
    """A typed value: JSON when it parses (``1``, ``true``, ``[1]``), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_query(text: str) -> str:
    """One query as the SDK sends it (a JSON string).

    Accepts the Query JSON itself (``{"method":"equal","attribute":"n","values":[1]}``) or a short
    comparison ``n=1`` (or ``n==1``), ``n!=1``, ``n>1``, ``n>=1``, ``n<1``, ``n<=1`` (the value parsed
    like ``parse_value``; a JSON list gives several values, which the server ORs). A value that
    starts with ``=``, ``<``, ``>`` or ``!`` is refused: a text that does is written as a JSON
    string (``n='">2"'``).
    """
    text = text.strip()
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except ValueError as e:
            raise ValueError(f"not valid JSON: {e}") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("method"), str):
            raise ValueError('a query needs a "method", e.g. {"method":"equal","attribute":"n","values":[1]}')
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    for op, method in _SHORT_OPS:
        attribute, sep, value = text.partition(op)
        if sep and _ATTRIBUTE.match(attribute.strip()):
            name, value = attribute.strip(), value.strip()
            if not value:
                raise ValueError(f"{text!r} has no value after {op}: e.g. {name}{op}2 "
                                 f"(an empty string is {name}{op}'\"\"')")
            if value[0] in _OPERATOR_CHARS:
                meant = _SWAPPED.get(op + value[0])
                guess = f" (did you mean {name}{meant}{value[1:].strip()}?)" if meant else ""
                raise ValueError(f"{text!r}: no such operator{guess}; the comparisons are {FORMS}; "
                                 f"a text value that starts with {value[0]} is given as a JSON string: "
                                 f"{name}{op}'{json.dumps(value)}'")
            parsed = parse_value(value)
            values = parsed if isinstance(parsed, list) else [parsed]
            return json.dumps({"method": method, "attribute": name, "values": values},
                              separators=(",", ":"), ensure_ascii=False)
    raise ValueError(f"{text!r} is neither Query JSON nor a comparison: {FORMS}")
