"""Columns and row validation (TablesDB).

A table without columns accepts any JSON attributes (schemaless); once it has columns, a row
may hold only those columns, each of its declared type. Errors are 400 ``row_invalid_structure``
with a message naming the attribute, as Appwrite's structure validator does.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from rtcli import protocol
from rtcli.core import formats
from rtcli.core.records import Column
from rtcli.errors import AppwriteError

COLUMN_TYPES = ("string", "integer", "float", "boolean", "datetime", "email", "enum", "url", "ip",
                "varchar", "text", "mediumtext", "longtext")
# Text columns of a fixed size (in characters), as MariaDB's TEXT types; varchar takes a size up to
# VARCHAR_MAX. (A value is bounded by the request size long before a mediumtext or longtext is full.)
TEXT_SIZES = {"text": 65_535, "mediumtext": 16_777_215, "longtext": 4_294_967_295}
VARCHAR_MAX = 16_381
STRING_TYPES = frozenset({"string", "varchar", *TEXT_SIZES})
FORMAT_TYPES = ("email", "enum", "url", "ip")  # strings with a format, in Appwrite's Column model
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


def _bad(message: str) -> AppwriteError:
    return AppwriteError("row_invalid_structure", f"Invalid document structure: {message}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_value(col: Column, v: Any) -> str | None:
    """None if ``v`` fits the column, else what is wrong."""
    t = col.kind
    if (t in STRING_TYPES or t in ("email", "enum", "url", "ip", "datetime")) and not isinstance(v, str):
        return "must be a string"
    size = 255 if col.size is None else col.size
    if t in STRING_TYPES and len(v) > size:
        return f"must be at most {size} characters"
    if t == "email" and not formats.is_email(v):
        return f"must be a valid email address of at most {formats.EMAIL_MAX} characters"
    if t == "url" and not formats.is_url(v):
        return f"must be a valid URL of at most {formats.URL_MAX} characters"
    if t == "enum" and v not in (col.elements or ()):
        return f"must be one of: {', '.join(col.elements or ())}"
    if t == "ip":
        try:
            ipaddress.ip_address(v)
        except ValueError:
            return "must be a valid IP address"
    if t == "datetime":
        try:
            datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            return "must be a valid ISO 8601 date"
    if t == "integer":
        if not _is_int(v):
            return "must be an integer"
        lo = INT_MIN if col.min is None else col.min
        hi = INT_MAX if col.max is None else col.max
        if not lo <= v <= hi:
            return f"must be between {lo} and {hi}"
    if t == "float":
        if not (_is_int(v) or isinstance(v, float)):
            return "must be a number"
        if (col.min is not None and v < col.min) or (col.max is not None and v > col.max):
            return f"must be between {col.min} and {col.max}"
    if t == "boolean" and not isinstance(v, bool):
        return "must be a boolean"
    return None


def validate_value(col: Column, v: Any) -> None:
    if v is None:
        if col.required:
            raise _bad(f'Missing required attribute "{col.key}"')
        return
    values = v if col.array else [v]
    if col.array and not isinstance(v, list):
        raise _bad(f'Attribute "{col.key}" must be an array')
    for item in values:
        problem = _check_value(col, item)
        if problem:
            raise _bad(f'Attribute "{col.key}" has invalid {"element" if col.array else "value"}: {problem}')


def validate_row(columns: Sequence[Column], data: dict[str, Any], creating: bool) -> dict[str, Any]:
    """Check ``data`` against ``columns``; on create, fill defaults. Returns the row's data."""
    if not isinstance(data, dict):
        raise _bad("data must be a JSON object")
    problem = protocol.json_problem(data)
    if problem:  # it could be stored but not sent on in an event frame
        raise _bad(f"data must not have {problem}")
    for key in data:
        if not isinstance(key, str) or not key or key.startswith("$"):
            raise _bad(f'Invalid attribute name "{key}"')
    if not columns:
        return dict(data)
    by_key = {c.key: c for c in columns}
    for key in data:
        if key not in by_key:
            raise _bad(f'Unknown attribute: "{key}"')
    out = dict(data)
    for key, col in by_key.items():
        if key not in out:
            if creating and col.default is not None:
                out[key] = col.default
            elif col.required:
                raise _bad(f'Missing required attribute "{key}"')
            else:
                out[key] = [] if col.array else None
        validate_value(col, out[key])
    return out


def make_column(kind: str, body: dict[str, Any], now: str) -> Column:
    """Validate a create-column request; returns the column."""
    if kind not in COLUMN_TYPES:
        raise AppwriteError("column_type_invalid", f"Unknown column type '{kind}'. Use one of: {', '.join(COLUMN_TYPES)}.")
    key = body.get("key")
    if not isinstance(key, str) or not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,35}$", key):
        raise AppwriteError("general_argument_invalid",
                            "Invalid `key` param: must be 1-36 chars of a-z, A-Z, 0-9, period, hyphen and underscore.")
    required = body.get("required", False)
    if not isinstance(required, bool):
        raise AppwriteError("general_argument_invalid", "Invalid `required` param: must be a boolean.")
    col = Column(key=key, kind=kind, required=required, array=bool(body.get("array", False)), default=None,
                 created_at=now, updated_at=now)
    if kind == "string":
        size = body.get("size", 255)
        if not _is_int(size) or size < 1:
            raise AppwriteError("general_argument_invalid", "Invalid `size` param: must be a positive integer.")
        col = replace(col, size=size, encrypt=bool(body.get("encrypt", False)))
    if kind == "varchar":
        size = body.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= VARCHAR_MAX:
            raise AppwriteError("general_argument_invalid",
                                f"Invalid `size` param: Value must be a valid range between 1 and {VARCHAR_MAX:,}")
        col = replace(col, size=size)
    if kind in TEXT_SIZES:
        col = replace(col, size=TEXT_SIZES[kind])
    if kind == "varchar" or kind in TEXT_SIZES:
        col = replace(col, encrypt=bool(body.get("encrypt", False)))
    if kind in ("integer", "float"):
        bounds: dict[str, int | float] = {}
        for bound in ("min", "max"):
            if body.get(bound) is not None:
                b = body[bound]
                if not (_is_int(b) or (kind == "float" and isinstance(b, float))):
                    raise AppwriteError("general_argument_invalid", f"Invalid `{bound}` param: must be a number.")
                bounds[bound] = b
        if kind == "integer":
            bounds.setdefault("min", INT_MIN)
            bounds.setdefault("max", INT_MAX)
        col = replace(col, min=bounds.get("min"), max=bounds.get("max"))
    if kind == "enum":
        elements = body.get("elements")
        if not isinstance(elements, list) or not elements or not all(isinstance(e, str) for e in elements):
            raise AppwriteError("general_argument_invalid", "Invalid `elements` param: a non-empty list of strings.")
        col = replace(col, elements=tuple(elements))
    default = body.get("default")
    if default is not None:
        if required:
            raise AppwriteError("column_value_invalid", "Cannot set a default value for a required column.")
        problem = _check_value(col, default)
        if problem:
            raise AppwriteError("column_value_invalid", f"Invalid default value: {problem}.")
    return replace(col, default=default)


def column_type(kind: str) -> str:
    """The stored ``type`` of a column of this kind (an email column is a string with a format)."""
    return "string" if kind in FORMAT_TYPES else kind


def column_spec(col: Column) -> dict[str, Any]:
    """The column as it is stored: Appwrite's Column model before its renames, with ``_kind``
    (the key order is the model's)."""
    spec: dict[str, Any] = {"key": col.key, "type": column_type(col.kind),
                            "status": "available", "error": "", "required": col.required, "array": col.array,
                            "$createdAt": col.created_at, "$updatedAt": col.updated_at}
    if col.kind in FORMAT_TYPES:
        spec["format"] = col.kind
    for name, value in (("size", col.size), ("encrypt", col.encrypt), ("min", col.min), ("max", col.max)):
        if value is not None:
            spec[name] = value
    if col.elements is not None:
        spec["elements"] = list(col.elements)
    spec["default"] = col.default
    spec["_kind"] = col.kind
    return spec


def column_from_spec(spec: dict[str, Any]) -> Column:
    """The stored form back (``column_spec``)."""
    elements = spec.get("elements")
    return Column(key=spec["key"], kind=spec.get("_kind", spec["type"]), required=bool(spec.get("required")),
                  array=bool(spec.get("array")), default=spec.get("default"), created_at=spec["$createdAt"],
                  updated_at=spec["$updatedAt"], size=spec.get("size"), encrypt=spec.get("encrypt"),
                  min=spec.get("min"), max=spec.get("max"), elements=None if elements is None else tuple(elements))


def column_model(col: Column) -> dict[str, Any]:
    """Appwrite's Column model: a float column is of type ``double``, a datetime column has
    ``format: "datetime"`` (the SDKs pick the column model by these)."""
    out = column_spec(col)
    del out["_kind"]
    if out["type"] == "float":
        out["type"] = "double"
    elif out["type"] == "datetime":
        out["format"] = "datetime"
    return out
