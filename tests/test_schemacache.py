"""The schema cache's rule for reads that race a change: a value read before a forget is never
kept after it, and a forget drops one database's schema only."""

from __future__ import annotations

from rtcli.core.records import Column, Database, DatabaseType, Table
from rtcli.store.schemacache import SchemaCache


def _table(db: str, name: str, columns: tuple[Column, ...] = ()) -> Table:
    return Table(id="t", database_id=db, database_type=DatabaseType.TABLESDB, name=name, enabled=True,
                 row_security=False, permissions=[], created_at="", updated_at="", columns=columns)


def test_a_read_begun_before_a_forget_keeps_nothing():
    cache = SchemaCache()
    generation = cache.generation  # a read starts...
    cache.forget("p", "d")  # ...a change commits while it waits on the database...
    cache.put("p", "d", _table("d", "old"), generation)  # ...and it ends
    assert cache.table("p", "d", "t") is None
    cache.put("p", "d", _table("d", "new"), cache.generation)
    assert cache.table("p", "d", "t") == _table("d", "new")


def test_forget_drops_one_database_only():
    cache = SchemaCache()
    a = _table("d", "a", (Column(key="a", kind="string", required=False, array=False, default=None,
                                 created_at="", updated_at=""),))
    cache.put("p", "d", a, cache.generation)
    cache.put("p", "e", _table("e", "b"), cache.generation)
    database = Database(id="d", name="d", enabled=True, type=DatabaseType.TABLESDB, created_at="", updated_at="")
    cache.put("p", "d", database, cache.generation)
    assert cache.table("p", "d", "t") is a and cache.database("p", "d") is database
    cache.forget("p", "d")
    assert cache.table("p", "d", "t") is None and cache.database("p", "d") is None
    assert cache.table("p", "e", "t") == _table("e", "b")
