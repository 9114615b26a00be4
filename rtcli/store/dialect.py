"""The few SQL differences between SQLite and PostgreSQL, in one place.

The repositories (store/tablesdb.py, users.py, storage.py, functions.py) are written once, with
``?`` placeholders and these helpers, and run on both backends: one contract, one set of
queries to review. JSON columns hold JSON text on SQLite and ``jsonb`` on PostgreSQL; either
way Python reads and writes JSON strings.
"""

from __future__ import annotations

import re

import orjson

from rtcli.errors import UniqueViolation as UniqueViolation  # the stores raise it from here

# A column key that may be written into SQL as a literal (column keys are [A-Za-z0-9._-], checked
# when the column is made): the same expression then appears in an index and in the queries that
# should use it. Any other key is a bound parameter.
_LITERAL_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$")


def literal_key(key: str) -> bool:
    return bool(_LITERAL_KEY.match(key))


Scope = tuple[str, str, str]  # (project, database, table) of an index


def scope_sql(scope: Scope, prefix: str = "") -> str:
    """The rows of one table, as an index's WHERE (ids are [A-Za-z0-9._-]; quotes doubled all the same)."""
    p, d, t = (v.replace("'", "''") for v in scope)
    return f"{prefix}project='{p}' AND {prefix}db='{d}' AND {prefix}tbl='{t}'"


def fts_words(text: str) -> tuple[list[str], bool]:
    """A search string as Appwrite reads it: its words (operators and quotes dropped), and
    whether it was one quoted phrase."""
    phrase = len(text) > 1 and text.startswith('"') and text.endswith('"')
    words = re.sub(r"[^\w]+", " ", text).split()
    return words[:32], phrase


class SqliteDialect:
    name = "sqlite"
    same = "IS"  # null-safe equality
    key_share = ""  # one writer at a time: nothing to lock

    def json_value(self, col: str, key: str, params: list) -> str:
        """A typed value of one top-level key of a JSON column (for comparisons and ordering)."""
        if literal_key(key):
            return f"json_extract({col}, '$.\"{key}\"')"
        params.append('$."' + key.replace('"', "") + '"')
        return f"json_extract({col}, ?)"

    # --- indexes ---------------------------------------------------------------------------

    def index_ddl(self, name: str, unique: bool, keys: list[str], orders: list[str], scope: Scope) -> list[str]:
        # Led by the table's own columns, which every row query binds: the planner then prefers
        # it to the (project, db, tbl, id) key even without statistics.
        exprs = ", ".join(f"{self.json_value('data', k, [])} {o}" for k, o in zip(keys, orders))
        return [f"CREATE {'UNIQUE ' if unique else ''}INDEX {name} ON rows (project, db, tbl, {exprs}) "
                f"WHERE {scope_sql(scope)}"]

    def fulltext_ddl(self, name: str, key: str, scope: Scope) -> list[str]:
        """An FTS5 table of the column's text, keyed by the row's seq, kept by triggers in the
        writing transaction; then filled from the rows already there."""
        new, old, cur = (self.json_value(f"{t}.data", key, []) for t in ("new", "old", "rows"))
        in_new, in_old = scope_sql(scope, "new."), scope_sql(scope, "old.")
        return [
            f"CREATE VIRTUAL TABLE {name} USING fts5(value)",
            f"CREATE TRIGGER {name}_i AFTER INSERT ON rows WHEN {in_new} AND {new} IS NOT NULL BEGIN "
            f"INSERT INTO {name}(rowid, value) VALUES (new.seq, {new}); END",
            f"CREATE TRIGGER {name}_u AFTER UPDATE OF data ON rows WHEN {in_new} BEGIN "
            f"DELETE FROM {name} WHERE rowid = old.seq; INSERT INTO {name}(rowid, value) "
            f"SELECT new.seq, {new} WHERE {new} IS NOT NULL; END",
            f"CREATE TRIGGER {name}_d AFTER DELETE ON rows WHEN {in_old} BEGIN "
            f"DELETE FROM {name} WHERE rowid = old.seq; END",
            f"INSERT INTO {name}(rowid, value) SELECT seq, {cur} FROM rows WHERE {scope_sql(scope, 'rows.')} "
            f"AND {cur} IS NOT NULL",
        ]

    def analyze(self) -> list[str]:
        """Fresh planner statistics after an index is made (sampled: fast on a large table), so
        that the planner weighs the new index against the table's key."""
        return ["PRAGMA analysis_limit=1000", "ANALYZE rows"]

    def drop_ddl(self, name: str, fulltext: bool) -> list[str]:
        if fulltext:
            return [f"DROP TRIGGER IF EXISTS {name}_{t}" for t in "iud"] + [f"DROP TABLE IF EXISTS {name}"]
        return [f"DROP INDEX IF EXISTS {name}"]

    def search(self, name: str, key: str, text: str, params: list) -> str:
        """Rows whose column holds any of the words (the last one as a prefix), or the phrase."""
        words, phrase = fts_words(text)
        if not words:
            return "0"
        quoted = ['"' + w + '"' for w in words]
        params.append(f'"{" ".join(words)}"' if phrase else " OR ".join(quoted[:-1] + [quoted[-1] + "*"]))
        return f"seq IN (SELECT rowid FROM {name} WHERE {name} MATCH ?)"

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
    # A lock on a row that keeps it from being deleted (or its key changed) until the transaction
    # ends, and that no other reader's or writer's lock of that kind waits for.
    key_share = " FOR KEY SHARE"

    def json_value(self, col: str, key: str, params: list) -> str:
        if literal_key(key):
            return f"({col} -> '{key}')"
        params.append(key)
        return f"({col} -> ?::text)"

    def json_text(self, col: str, key: str, params: list) -> str:
        if literal_key(key):
            return f"({col} ->> '{key}')"
        params.append(key)
        return f"({col} ->> ?::text)"

    # --- indexes ---------------------------------------------------------------------------

    def index_ddl(self, name: str, unique: bool, keys: list[str], orders: list[str], scope: Scope) -> list[str]:
        # Only the values: PostgreSQL drops the conditions the partial predicate implies, so
        # leading table columns would be scanned through, not searched.
        exprs = ", ".join(f"{self.json_value('data', k, [])} {o}" for k, o in zip(keys, orders))
        where = scope_sql(scope)
        if unique:  # a JSON null is a value to jsonb; as in SQL, rows holding null are not bound
            where += "".join(f" AND {self.json_value('data', k, [])} <> 'null'::jsonb" for k in keys)
        return [f"CREATE {'UNIQUE ' if unique else ''}INDEX {name} ON rows ({exprs}) WHERE {where}"]

    def _tsvector(self, key: str) -> str:
        return f"to_tsvector('simple', COALESCE({self.json_text('data', key, [])}, ''))"

    def fulltext_ddl(self, name: str, key: str, scope: Scope) -> list[str]:
        return [f"CREATE INDEX {name} ON rows USING GIN ({self._tsvector(key)}) WHERE {scope_sql(scope)}"]

    def analyze(self) -> list[str]:
        return ["ANALYZE rows"]

    def drop_ddl(self, name: str, fulltext: bool) -> list[str]:
        return [f"DROP INDEX IF EXISTS {name}"]

    def search(self, name: str, key: str, text: str, params: list) -> str:
        words, phrase = fts_words(text)
        if not words:
            return "FALSE"
        params.append(" <-> ".join(words) if phrase else " | ".join(words[:-1] + [words[-1] + ":*"]))
        return f"{self._tsvector(key)} @@ to_tsquery('simple', ?::text)"

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
