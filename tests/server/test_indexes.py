"""Indexes against a real server, on SQLite and PostgreSQL: key, unique and fulltext indexes are
database indexes (the query plan uses them), a unique index refuses repeated values with 409,
and Query.search works on a fulltext index."""

from __future__ import annotations

import json
import secrets
import sqlite3

import pytest

from tests.services import pg_query


@pytest.fixture
def table(shared_server):
    db = "i" + secrets.token_hex(3)
    with shared_server.admin() as a:
        a.post("/tablesdb", json={"databaseId": db, "name": db}).raise_for_status()
        a.post(f"/tablesdb/{db}/tables", json={"tableId": "t", "name": "t"}).raise_for_status()
        for key, kind in (("email", "string"), ("body", "text"), ("n", "integer")):
            a.post(f"/tablesdb/{db}/tables/t/columns/{kind}",
                   json={"key": key, "required": False, "size": 200}).raise_for_status()
    return db


def create(admin, db, row_id, **data):
    return admin.post(f"/tablesdb/{db}/tables/t/rows", json={"rowId": row_id, "data": data})


def listing(admin, db, *queries):
    r = admin.get(f"/tablesdb/{db}/tables/t/rows",
                  params={f"queries[{i}]": json.dumps(q) for i, q in enumerate(queries)})
    return r


def plan(server, sql: str) -> str:
    """The database's query plan for ``sql`` (its EXPLAIN), to see that an index is used."""
    if server.database:
        return pg_query(server.database, "SET enable_seqscan = off; EXPLAIN " + sql)
    with sqlite3.connect(server.data_dir / "rtcli.db") as c:
        return " ".join(str(r) for r in c.execute("EXPLAIN QUERY PLAN " + sql).fetchall())


def test_index_lifecycle_and_models(shared_server, table):
    with shared_server.admin() as a:
        r = a.post(f"/tablesdb/{table}/tables/t/indexes", json={"key": "by_n", "type": "key", "columns": ["n"],
                                                                "orders": ["DESC"]})
        assert r.status_code == 202, r.text
        model = r.json()
        assert model["key"] == "by_n" and model["status"] == "available" and model["orders"] == ["DESC"]
        assert a.get(f"/tablesdb/{table}/tables/t/indexes/by_n").json() == model
        assert a.get(f"/tablesdb/{table}/tables/t/indexes").json() == {"total": 1, "indexes": [model]}
        assert a.get(f"/tablesdb/{table}/tables/t").json()["indexes"] == [model]
        dup = a.post(f"/tablesdb/{table}/tables/t/indexes", json={"key": "by_n", "type": "key", "columns": ["n"]})
        assert dup.status_code == 409 and dup.json()["type"] == "column_index_already_exists"
        for bad, kind in (({"key": "x", "type": "spatial", "columns": ["n"]}, "column_index_invalid"),
                          ({"key": "x", "type": "key", "columns": ["nope"]}, "column_not_found"),
                          ({"key": "x", "type": "fulltext", "columns": ["body", "email"]}, "column_index_invalid"),
                          ({"key": "x", "type": "key", "columns": []}, "general_argument_invalid"),
                          ({"key": "x", "type": "key", "columns": ["n"], "orders": ["UP"]}, "general_argument_invalid"),
                          ({"key": "x", "type": "key", "columns": ["n", "n"]}, "column_index_invalid"),
                          ({"key": "x", "type": "fulltext", "columns": ["n"]}, "column_index_invalid")):
            r = a.post(f"/tablesdb/{table}/tables/t/indexes", json=bad)
            assert r.status_code in (400, 404) and r.json()["type"] == kind, (bad, r.text)
        assert a.delete(f"/tablesdb/{table}/tables/t/indexes/by_n").status_code == 204
        r = a.get(f"/tablesdb/{table}/tables/t/indexes/by_n")
        assert r.status_code == 404 and r.json()["type"] == "column_index_not_found"
    with shared_server.guest() as g:
        assert g.get(f"/tablesdb/{table}/tables/t/indexes").status_code == 401


def test_unique_index_refuses_repeated_values(shared_server, table):
    with shared_server.admin() as a:
        assert create(a, table, "a", email="x@example.com").status_code == 201
        assert create(a, table, "b", email="x@example.com").status_code == 201
        r = a.post(f"/tablesdb/{table}/tables/t/indexes", json={"key": "u", "type": "unique", "columns": ["email"]})
        assert r.status_code == 400 and r.json()["type"] == "column_index_invalid", r.text  # duplicates already
        a.delete(f"/tablesdb/{table}/tables/t/rows/b").raise_for_status()
        assert a.post(f"/tablesdb/{table}/tables/t/indexes",
                      json={"key": "u", "type": "unique", "columns": ["email"]}).status_code == 202
        r = create(a, table, "c", email="x@example.com")
        assert r.status_code == 409 and r.json()["type"] == "row_unique_constraint_violation", r.text
        r = create(a, table, "a", email="other@example.com")
        assert r.status_code == 409 and r.json()["type"] == "row_already_exists"
        assert create(a, table, "c", email="y@example.com").status_code == 201
        r = a.patch(f"/tablesdb/{table}/tables/t/rows/c", json={"data": {"email": "x@example.com"}})
        assert r.status_code == 409 and r.json()["type"] == "row_unique_constraint_violation", r.text
        r = a.post(f"/tablesdb/{table}/tables/t/rows", json={"rows": [{"$id": "d", "email": "z@example.com"},
                                                                      {"$id": "e", "email": "z@example.com"}]})
        assert r.status_code == 409 and a.get(f"/tablesdb/{table}/tables/t/rows/d").status_code == 404
        assert create(a, table, "n1").status_code == 201 and create(a, table, "n2").status_code == 201  # nulls repeat
        # Another table's rows are not bound by this table's index.
        a.post(f"/tablesdb/{table}/tables", json={"tableId": "t2", "name": "t2"}).raise_for_status()
        assert a.post(f"/tablesdb/{table}/tables/t2/rows", json={"rowId": "z", "data": {"email": "x@example.com"}}
                      ).status_code == 201
        # Deleting the index lifts the constraint.
        a.delete(f"/tablesdb/{table}/tables/t/indexes/u").raise_for_status()
        assert create(a, table, "f", email="x@example.com").status_code == 201


def test_fulltext_search(shared_server, table):
    with shared_server.admin() as a:
        r = listing(a, table, {"method": "search", "attribute": "body", "values": ["fox"]})
        assert r.status_code == 400 and "requires a fulltext index" in r.json()["message"]
        create(a, table, "r1", body="The quick brown fox").raise_for_status()
        a.post(f"/tablesdb/{table}/tables/t/indexes", json={"key": "ft", "type": "fulltext",
                                                            "columns": ["body"]}).raise_for_status()
        create(a, table, "r2", body="Lazy dogs and foxes sleep").raise_for_status()
        create(a, table, "r3", body="Nothing to see").raise_for_status()

        def search(text, method="search"):
            r = listing(a, table, {"method": method, "attribute": "body", "values": [text]})
            assert r.status_code == 200, r.text
            return [row["$id"] for row in r.json()["rows"]]

        assert search("fox") == ["r1", "r2"]  # a word, and a word it begins (foxes)
        assert search("QUICK") == ["r1"]
        assert search("dogs quick") == ["r1", "r2"]  # any of the words
        assert search('"brown fox"') == ["r1"] and search('"fox brown"') == []
        assert search("zebra") == [] and search("***") == []
        assert search("fox", "notSearch") == ["r3"]
        a.patch(f"/tablesdb/{table}/tables/t/rows/r3", json={"data": {"body": "a fox at last"}}).raise_for_status()
        assert search("fox") == ["r1", "r2", "r3"]  # updates are indexed
        a.delete(f"/tablesdb/{table}/tables/t/rows/r1").raise_for_status()
        assert search("quick") == []  # and deletes
        r = listing(a, table, {"method": "search", "attribute": "email", "values": ["x"]})
        assert r.status_code == 400


def test_queries_use_the_database_indexes(shared_server, table):
    with shared_server.admin() as a:  # enough rows that an index beats reading the table (statistics follow)
        r = a.post(f"/tablesdb/{table}/tables/t/rows", json={"rows": [{"$id": f"r{k}", "n": k} for k in range(1000)]})
        assert r.status_code == 201, r.text
        a.post(f"/tablesdb/{table}/tables/t/indexes", json={"key": "k", "type": "key", "columns": ["n"]}
               ).raise_for_status()
        a.post(f"/tablesdb/{table}/tables/t/indexes", json={"key": "ft", "type": "fulltext", "columns": ["body"]}
               ).raise_for_status()
    where = f"project='default' AND db='{table}' AND tbl='t'"
    if shared_server.database:
        eq = plan(shared_server, f"SELECT seq FROM rows WHERE {where} AND (data -> 'n') IN ('5'::jsonb)")
        defs = pg_query(shared_server.database, "SELECT indexdef FROM pg_indexes WHERE indexname LIKE 'ix_%'")
        assert "Index" in eq and "ix_" in eq, eq
        assert "USING gin (to_tsvector('simple'" in defs, defs  # what search's condition reads
    else:
        eq = plan(shared_server, f"SELECT seq FROM rows WHERE {where} AND json_extract(data, '$.\"n\"') IN (5)")
        assert "USING INDEX ix_" in eq, eq
        with sqlite3.connect(shared_server.data_dir / "rtcli.db") as c:
            names = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE name LIKE 'ix_%'")}
        assert any(n.startswith("ix_") and f"{n}_i" in names for n in names), names  # the FTS table and triggers
    with shared_server.admin() as a:
        a.delete(f"/tablesdb/{table}").raise_for_status()  # the table's database objects go with it
    if not shared_server.database:
        with sqlite3.connect(shared_server.data_dir / "rtcli.db") as c:
            left = c.execute("SELECT COUNT(*) FROM indexes WHERE db=?", (table,)).fetchone()[0]
        assert left == 0
