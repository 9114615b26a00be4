"""The in-memory copy of TablesDB schemas: databases, and tables with their columns and indexes.

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
The values are frozen records, shared with the callers as they are: nobody changes them.
"""

from __future__ import annotations

from rtcli.core.records import Database, Table

MAX_DATABASES = 10_000  # databases whose schema is kept; past that the whole copy starts over

_Key = str | None  # a table's id, or None for the database's own record


class SchemaCache:
    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], dict[_Key, Database | Table]] = {}
        self._generation = 0

    @property
    def generation(self) -> int:
        return self._generation

    def database(self, project: str, db: str) -> Database | None:
        hit = self._entries.get((project, db), {}).get(None)
        return hit if isinstance(hit, Database) else None

    def table(self, project: str, db: str, table: str) -> Table | None:
        hit = self._entries.get((project, db), {}).get(table)
        return hit if isinstance(hit, Table) else None

    def put(self, project: str, db: str, value: Database | Table | None, generation: int) -> None:
        if value is None or generation != self._generation:
            return  # a forget happened since the read began: the value may be the old one
        if (project, db) not in self._entries and len(self._entries) >= MAX_DATABASES:
            self._entries.clear()
        self._entries.setdefault((project, db), {})[value.id if isinstance(value, Table) else None] = value

    def forget(self, project: str, db: str) -> None:
        """Drop everything kept of one database (its record, tables, columns and indexes)."""
        self._generation += 1
        self._entries.pop((project, db), None)
