"""The schema cache's rule for reads that race a change: a value read before a forget is never
kept after it, and a forget drops one database's schema only."""

from __future__ import annotations

from rtcli.store.schemacache import SchemaCache


def test_a_read_begun_before_a_forget_keeps_nothing():
    cache = SchemaCache()
    generation = cache.generation  # a read starts...
    cache.forget("p", "d")  # ...a change commits while it waits on the database...
    cache.put("p", "d", ("table", "t"), {"id": "t", "name": "old"}, generation)  # ...and it ends
    assert cache.get("p", "d", ("table", "t")) is None
    cache.put("p", "d", ("table", "t"), {"id": "t", "name": "new"}, cache.generation)
    assert cache.get("p", "d", ("table", "t")) == {"id": "t", "name": "new"}


def test_forget_drops_one_database_and_values_are_copies():
    cache = SchemaCache()
    cache.put("p", "d", ("columns", "t"), [{"key": "a"}], cache.generation)
    cache.put("p", "e", ("columns", "t"), [{"key": "b"}], cache.generation)
    cols = cache.get("p", "d", ("columns", "t"))
    cols[0]["key"] = "changed by a caller"
    assert cache.get("p", "d", ("columns", "t")) == [{"key": "a"}]
    cache.forget("p", "d")
    assert cache.get("p", "d", ("columns", "t")) is None
    assert cache.get("p", "e", ("columns", "t")) == [{"key": "b"}]
