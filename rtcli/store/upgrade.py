"""Columns added to existing tables since schema version 1, applied when a store opens.

``schema.sql`` creates tables only when they are missing, so a data directory (or PostgreSQL
database) made by an older rtcli keeps its old tables: each column added since is listed here,
once, in SQLite's types (the PostgreSQL store converts them as it does the schema), and added
when absent. Indexes on added columns follow them.
"""

from __future__ import annotations

ADDED_COLUMNS: list[tuple[str, str, str]] = [
    # Users API: imported password hashes (their algorithm and its options), phone numbers.
    ("users", "hash", "TEXT NOT NULL DEFAULT 'argon2'"),
    ("users", "hash_options", "TEXT NOT NULL DEFAULT '{}'"),
    ("users", "phone", "TEXT"),
    ("users", "phone_verification", "INTEGER NOT NULL DEFAULT 0"),
    # Functions: the user who asked for an execution (a scheduled one runs as them after a restart).
    ("executions", "user_id", "TEXT"),
    # TablesDB transactions: the bytes of their staged operations (a transaction stages a bounded amount).
    ("transactions", "staged_bytes", "INTEGER NOT NULL DEFAULT 0"),
]

AFTER = [
    "CREATE UNIQUE INDEX IF NOT EXISTS users_phone ON users (project, phone) WHERE phone IS NOT NULL",
    # One presence per user, held by the database: requests at the same moment on PostgreSQL
    # could each find none and make one. Made after keeping only each user's newest (a database
    # written before may hold several), in place of the plain index of earlier versions.
    "DELETE FROM presences WHERE EXISTS (SELECT 1 FROM presences newer WHERE newer.project = presences.project"
    " AND newer.user_id = presences.user_id AND (newer.updated_at > presences.updated_at"
    " OR (newer.updated_at = presences.updated_at AND newer.id > presences.id)))",
    "CREATE UNIQUE INDEX IF NOT EXISTS presences_one_per_user ON presences (project, user_id)",
    "DROP INDEX IF EXISTS presences_user",
]


def sqlite_upgrade(conn) -> None:
    """Add the missing columns on a stdlib sqlite3 connection (SQLite has no ADD COLUMN IF NOT EXISTS)."""
    for table, column, decl in ADDED_COLUMNS:
        present = {r[1] for r in conn.execute(f"PRAGMA table_info({table})").fetchall()}
        if column not in present:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
    for sql in AFTER:
        conn.execute(sql)


def pg_upgrade_sql(convert) -> str:
    """The same for PostgreSQL, as one script; ``convert`` turns SQLite types into PostgreSQL's."""
    stmts = [convert(f"ALTER TABLE {t} ADD COLUMN IF NOT EXISTS {c} {d}") for t, c, d in ADDED_COLUMNS]
    return ";\n".join(stmts + AFTER) + ";"
