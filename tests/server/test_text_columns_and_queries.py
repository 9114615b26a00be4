"""Text columns (varchar, text, mediumtext, longtext) and the SDK 27 query methods on row lists,
against a real server on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import secrets
import time

import pytest

from rtcli import ids


@pytest.fixture(scope="module")
def table(shared_server):
    db = "q" + secrets.token_hex(3)
    with shared_server.admin() as a:
        a.post("/tablesdb", json={"databaseId": db, "name": db}).raise_for_status()
        a.post(f"/tablesdb/{db}/tables", json={"tableId": "t", "name": "t",
                                               "permissions": ['read("any")']}).raise_for_status()
        base = f"/tablesdb/{db}/tables/t/columns"
        for kind, extra in (("varchar", {"size": 8}), ("text", {}), ("mediumtext", {}), ("longtext", {}),
                            ("integer", {}), ("string", {"size": 64, "array": True})):
            key = {"string": "tags", "integer": "n"}.get(kind, kind)
            r = a.post(f"{base}/{kind}", json={"key": key, "required": False, **extra})
            assert r.status_code == 202, r.text
        rows = [{"varchar": "alpha", "text": "the quick brown fox", "n": 1, "tags": ["a", "b"]},
                {"varchar": "beta", "text": "lazy dogs sleep", "n": 5, "tags": ["b"]},
                {"varchar": "gamma", "text": "quick thinking", "n": 9, "tags": []}]
        for i, data in enumerate(rows):
            a.post(f"/tablesdb/{db}/tables/t/rows", json={"rowId": f"r{i}", "data": data}).raise_for_status()
            time.sleep(0.01)
    return db


def ids_of(server, db: str, *queries) -> list[str]:
    params = {f"queries[{i}]": json.dumps(q) for i, q in enumerate(queries)}
    with server.admin() as a:
        r = a.get(f"/tablesdb/{db}/tables/t/rows", params=params)
    assert r.status_code == 200, r.text
    return [row["$id"] for row in r.json()["rows"]]


def test_text_column_models_and_sizes(shared_server, table):
    with shared_server.admin() as a:
        cols = {c["key"]: c for c in a.get(f"/tablesdb/{table}/tables/t/columns").json()["columns"]}
        assert cols["varchar"]["type"] == "varchar" and cols["varchar"]["size"] == 8
        assert (cols["text"]["size"], cols["mediumtext"]["size"], cols["longtext"]["size"]) == \
            (65_535, 16_777_215, 4_294_967_295)
        too_long = a.post(f"/tablesdb/{table}/tables/t/rows", json={"rowId": "x", "data": {"varchar": "123456789"}})
        assert too_long.status_code == 400 and too_long.json()["type"] == "row_invalid_structure"
        big = "w" * 70_000  # past a text column, within a mediumtext one
        assert a.post(f"/tablesdb/{table}/tables/t/rows", json={"rowId": "y", "data": {"text": big}}).status_code == 400
        r = a.post(f"/tablesdb/{table}/tables/t/rows", json={"rowId": "big", "data": {"mediumtext": big}})
        assert r.status_code == 201, r.text
        a.delete(f"/tablesdb/{table}/tables/t/rows/big").raise_for_status()
        for bad in ({"key": "v2", "size": 0}, {"key": "v3", "size": 16_382}, {"key": "v4"}):
            r = a.post(f"/tablesdb/{table}/tables/t/columns/varchar", json=bad)
            assert r.status_code == 400 and r.json()["type"] == "general_argument_invalid", r.text
        assert a.post(f"/tablesdb/{table}/tables/t/columns/text", json={"key": "t2", "default": 5}).status_code == 400


def test_negated_and_array_queries(shared_server, table):
    q = lambda m, attr=None, values=None: {k: v for k, v in  # noqa: E731
                                           (("method", m), ("attribute", attr), ("values", values)) if v is not None}
    assert ids_of(shared_server, table, q("notContains", "text", ["quick"])) == ["r1"]
    assert ids_of(shared_server, table, q("notBetween", "n", [2, 8])) == ["r0", "r2"]
    assert ids_of(shared_server, table, q("notStartsWith", "varchar", ["al"])) == ["r1", "r2"]
    assert ids_of(shared_server, table, q("notEndsWith", "varchar", ["ta"])) == ["r0", "r2"]
    assert ids_of(shared_server, table, q("containsAny", "tags", ["a", "zz"])) == ["r0"]
    assert ids_of(shared_server, table, q("containsAll", "tags", ["a", "b"])) == ["r0"]
    assert ids_of(shared_server, table, q("containsAll", "tags", ["b"])) == ["r0", "r1"]
    assert ids_of(shared_server, table, q("notContains", "tags", ["b"])) == ["r2"]
    assert ids_of(shared_server, table, q("exists", None, ["varchar", "n"])) == ["r0", "r1", "r2"]
    assert ids_of(shared_server, table, q("notExists", None, ["n"])) == []
    assert ids_of(shared_server, table, q("exists", None, ["$id"])) == ["r0", "r1", "r2"]
    assert sorted(ids_of(shared_server, table, q("orderRandom"))) == ["r0", "r1", "r2"]
    for bad in (q("notBetween", "n", [1]), q("exists", None, []), q("containsAll", "tags", []),
                q("orderRandom", None, None) | {"x": 1}, q("regex", "varchar", ["a.*"])):
        with shared_server.admin() as a:
            r = a.get(f"/tablesdb/{table}/tables/t/rows", params={"queries[0]": json.dumps(bad)})
        if bad.get("x"):
            continue
        assert r.status_code == 400 and r.json()["type"] == "general_query_invalid", (bad, r.text)
    with shared_server.admin() as a:
        r = a.get(f"/tablesdb/{table}/tables/t/rows", params={
            "queries[0]": json.dumps(q("orderRandom")), "queries[1]": json.dumps(q("cursorAfter", None, ["r0"]))})
        assert r.status_code == 400 and "orderRandom" in r.json()["message"]


def test_created_and_updated_before_after(shared_server, table):
    with shared_server.admin() as a:
        rows = a.get(f"/tablesdb/{table}/tables/t/rows").json()["rows"]
    middle = rows[1]["$createdAt"]
    # The SDK's createdBefore/After are lessThan/greaterThan on $createdAt; any ISO form of the
    # instant works (Z, another offset), not only the stored one.
    as_z = middle.replace("+00:00", "Z")
    assert ids_of(shared_server, table, {"method": "lessThan", "attribute": "$createdAt", "values": [as_z]}) == ["r0"]
    assert ids_of(shared_server, table, {"method": "greaterThan", "attribute": "$createdAt", "values": [middle]}) == ["r2"]
    later = ids.format_datetime(time.time() + 3600).replace("+00:00", "+01:00")  # the same instant minus an hour
    assert ids_of(shared_server, table, {"method": "lessThan", "attribute": "$updatedAt", "values": [later]}) == \
        ["r0", "r1", "r2"]
    assert ids_of(shared_server, table, {"method": "greaterThan", "attribute": "$updatedAt", "values": [later]}) == []
