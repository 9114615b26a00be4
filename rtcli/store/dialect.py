"""The few SQL differences between SQLite and PostgreSQL, in one place.

The repositories (store/tablesdb.py, users.py, storage.py, functions.py) are written once, with
``?`` placeholders and these helpers, and run on both backends: one contract, one set of
queries to review. JSON columns hold JSON text on SQLite and ``jsonb`` on PostgreSQL; either
way Python reads and writes JSON strings.
"""

from __future__ import annotations

import orjson


class SqliteDialect:
    name = "sqlite"
    same = "IS"  # null-safe equality

    def json_value(self, col: str, key: str, params: list) -> str:
        """A typed value of one top-level key of a JSON column (for comparisons and ordering)."""
        params.append('$."' + key.replace('"', "") + '"')
        return f"json_extract({col}, ?)"

    json_text = json_value  # SQLite's json_extract already gives text for strings

    def value(self, v, params: list, json: bool) -> str:
        """A comparison value; for JSON expressions, encoded as json_extract yields it."""
        if json and isinstance(v, bool):
            v = int(v)
        elif isinstance(v, (list, dict)):
            v = orjson.dumps(v).decode()
        params.append(v)
        return "?"

    def any_role(self, col: str, roles: list[str], params: list) -> str:
        params.extend(roles)
        return f"EXISTS (SELECT 1 FROM json_each({col}) WHERE value IN ({','.join('?' for _ in roles)}))"

    def array_has_any(self, col: str, key: str, values: list, params: list) -> str:
        params.append('$."' + key.replace('"', "") + '"')
        marks = ",".join(self.value(v, params, True) for v in values)
        return f"EXISTS (SELECT 1 FROM json_each({col}, ?) WHERE value IN ({marks}))"

    def starts_with(self, text_expr: str, v: str, params: list) -> str:
        params.append(v)
        return f"instr({text_expr}, ?) = 1"

    def ends_with(self, text_expr: str, v: str, params: list) -> str:
        params.extend([v, v])
        return f"substr({text_expr}, -length(?)) = ?"

    def contains(self, text_expr: str, v: str, params: list, ci: bool = False) -> str:
        params.append(v)
        if ci:
            return f"instr(lower({text_expr}), lower(?)) > 0"
        return f"instr({text_expr}, ?) > 0"

    def json_has(self, col: str, key: str, params: list) -> str:
        """The JSON object in ``col`` has ``key`` (even when its value is null)."""
        params.append('$."' + key.replace('"', "") + '"')
        return f"json_type({col}, ?) IS NOT NULL"

    def field(self, col: str, key: str) -> str:
        """A JSON field as text, for a trusted literal key."""
        return f"json_extract({col}, '$.{key}')"

    def type_guard(self, emit, v, params: list) -> str:
        """Extra condition so that ordering compares like with like (SQLite needs none)."""
        return ""


class PostgresDialect:
    name = "postgres"
    same = "IS NOT DISTINCT FROM"

    def json_value(self, col: str, key: str, params: list) -> str:
        params.append(key)
        return f"({col} -> ?::text)"

    def json_text(self, col: str, key: str, params: list) -> str:
        params.append(key)
        return f"({col} ->> ?::text)"

    def value(self, v, params: list, json: bool) -> str:
        if json:
            params.append(orjson.dumps(v).decode())
            return "?::jsonb"
        params.append(v)
        return "?"

    def any_role(self, col: str, roles: list[str], params: list) -> str:
        params.append(list(roles))
        return f"jsonb_exists_any({col}, ?::text[])"

    def array_has_any(self, col: str, key: str, values: list, params: list) -> str:
        params.extend([key, key])
        marks = ",".join(self.value(v, params, True) for v in values)
        return (f"EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof({col} -> ?::text) = 'array' "
                f"THEN {col} -> ?::text ELSE '[]'::jsonb END) e WHERE e IN ({marks}))")

    def starts_with(self, text_expr: str, v: str, params: list) -> str:
        params.append(v)
        return f"starts_with({text_expr}, ?::text)"

    def ends_with(self, text_expr: str, v: str, params: list) -> str:
        params.extend([v, v])
        return f"right({text_expr}, length(?::text)) = ?::text"

    def contains(self, text_expr: str, v: str, params: list, ci: bool = False) -> str:
        params.append(v)
        if ci:
            return f"strpos(lower({text_expr}), lower(?::text)) > 0"
        return f"strpos({text_expr}, ?::text) > 0"

    def json_has(self, col: str, key: str, params: list) -> str:
        params.append(key)
        return f"jsonb_exists({col}, ?::text)"

    def field(self, col: str, key: str) -> str:
        return f"({col} ->> '{key}')"

    def type_guard(self, emit, v, params: list) -> str:
        # jsonb orders across types (a string sorts below any number); Appwrite compares like
        # with like, so require the same JSON type as the value's.
        kind = ("boolean" if isinstance(v, bool) else "number" if isinstance(v, (int, float))
                else "string" if isinstance(v, str) else "null" if v is None else "array" if isinstance(v, list)
                else "object")
        sql = emit(params)
        params.append(kind)
        return f" AND jsonb_typeof({sql}) = ?::text"
