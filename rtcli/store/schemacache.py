"""The in-memory copy of TablesDB schemas: databases, tables, columns and indexes.

Every row request reads its table's schema and schemas rarely change, so each node keeps them
in memory, on SQLite and on PostgreSQL alike. A schema change forgets the entries of its
database twice: on the node that made it, right after its commit (so that node reads its own
change at once), and on every node when it dispatches the change's log event (so other nodes
follow). Between another node's commit and that dispatch a read may see the old schema; writes
therefore check the schema again inside their transaction, against the database.

A read that started before a forget must not store what it read afterwards (it may be the old
schema): every forget moves a generation counter, and ``put`` keeps a value only if the
generation is still the one ``generation`` gave before the read. Nothing read inside an
uncommitted transaction is ever stored (the callers pass no value read through a transaction).
"""

from __future__ import annotations

from typing import Any

MAX_DATABASES = 10_000  # databases whose schema is kept; past that the whole copy starts over


class SchemaCache:
    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], dict[tuple, Any]] = {}
        self._generation = 0

    @property
    def generation(self) -> int:
        return self._generation

    def get(self, project: str, db: str, key: tuple) -> Any | None:
        """A copy of the value (callers change the records they get), or None."""
        hit = self._entries.get((project, db), {}).get(key)
        return None if hit is None else _copy(hit)

    def put(self, project: str, db: str, key: tuple, value: Any, generation: int) -> None:
        if value is None or generation != self._generation:
            return  # a forget happened since the read began: the value may be the old one
        if (project, db) not in self._entries and len(self._entries) >= MAX_DATABASES:
            self._entries.clear()
        self._entries.setdefault((project, db), {})[key] = _copy(value)

    def forget(self, project: str, db: str) -> None:
        """Drop everything kept of one database (its record, tables, columns and indexes)."""
        self._generation += 1
        self._entries.pop((project, db), None)


def _copy(value: Any) -> Any:
    """A record (dict) or a list of records, one level deep: what callers change."""
    return [dict(v) for v in value] if isinstance(value, list) else dict(value)
