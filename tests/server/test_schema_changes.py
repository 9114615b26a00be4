"""Schema changes against a real server, on SQLite and PostgreSQL: a node keeps schemas in
memory, yet its answers follow each change at once, and a table deleted while it is listed
answers 404, never a server error."""

from __future__ import annotations

import asyncio
import json
import secrets

import httpx


def _queries(*queries: dict) -> dict:
    return {f"queries[{i}]": json.dumps(q) for i, q in enumerate(queries)}


def test_a_node_answers_after_its_own_schema_changes_at_once(shared_server):
    db = "s" + secrets.token_hex(3)
    with shared_server.admin() as a:
        a.post("/tablesdb", json={"databaseId": db, "name": db}).raise_for_status()
        a.post(f"/tablesdb/{db}/tables", json={"tableId": "t", "name": "t"}).raise_for_status()
        base = f"/tablesdb/{db}/tables/t"
        a.post(f"{base}/columns/integer", json={"key": "n", "required": False}).raise_for_status()
        # Read everything once: the node now keeps the schema.
        assert [c["key"] for c in a.get(base).json()["columns"]] == ["n"]
        assert a.get(f"{base}/rows").json()["total"] == 0
        bad = a.post(f"{base}/rows", json={"rowId": "r0", "data": {"name": "x"}})
        assert bad.status_code == 400 and bad.json()["type"] == "row_invalid_structure", bad.text

        a.post(f"{base}/columns/string", json={"key": "name", "size": 20, "required": True}).raise_for_status()
        assert [c["key"] for c in a.get(base).json()["columns"]] == ["n", "name"]
        assert a.post(f"{base}/rows", json={"rowId": "r1", "data": {"name": "x"}}).status_code == 201
        missing = a.post(f"{base}/rows", json={"rowId": "r2", "data": {}})
        assert missing.status_code == 400 and missing.json()["type"] == "row_invalid_structure"

        r = a.post(f"{base}/indexes", json={"key": "by_name", "type": "key", "columns": ["name"]})
        assert r.status_code == 202, r.text
        assert [i["key"] for i in a.get(base).json()["indexes"]] == ["by_name"]
        found = a.get(f"{base}/rows", params=_queries({"method": "equal", "attribute": "name", "values": ["x"]}))
        assert found.json()["total"] == 1

        assert a.delete(f"{base}/columns/name").status_code == 204
        assert [c["key"] for c in a.get(base).json()["columns"]] == ["n"] and a.get(base).json()["indexes"] == []
        gone = a.post(f"{base}/rows", json={"rowId": "r3", "data": {"name": "x"}})
        assert gone.status_code == 400 and gone.json()["type"] == "row_invalid_structure", gone.text

        assert a.delete(base).status_code == 204
        for r in (a.get(base), a.get(f"{base}/rows"), a.post(f"{base}/rows", json={"rowId": "r4", "data": {}})):
            assert r.status_code == 404 and r.json()["type"] == "table_not_found", r.text
        assert a.delete(f"/tablesdb/{db}").status_code == 204
        assert a.get(f"/tablesdb/{db}").json()["type"] == "database_not_found"


def test_a_table_deleted_while_it_is_listed_answers_404_never_500(shared_server):
    """Lists with a fulltext search and an indexed equal run without pause while the table is
    deleted: each answers the rows (it read before the delete) or 404, and the server lives on."""
    db = "s" + secrets.token_hex(3)
    with shared_server.admin() as a:
        a.post("/tablesdb", json={"databaseId": db, "name": db}).raise_for_status()
        a.post(f"/tablesdb/{db}/tables", json={"tableId": "t", "name": "t"}).raise_for_status()
        base = f"/tablesdb/{db}/tables/t"
        a.post(f"{base}/columns/text", json={"key": "body", "required": False}).raise_for_status()
        a.post(f"{base}/columns/integer", json={"key": "n", "required": False}).raise_for_status()
        a.post(f"{base}/indexes", json={"key": "ft", "type": "fulltext", "columns": ["body"]}).raise_for_status()
        a.post(f"{base}/indexes", json={"key": "by_n", "type": "key", "columns": ["n"]}).raise_for_status()
        for chunk in range(3):
            rows = [{"$id": f"r{chunk}_{i}", "body": f"quick brown fox {i}", "n": i % 10} for i in range(1000)]
            a.post(f"{base}/rows", json={"rows": rows}).raise_for_status()

    lists = [_queries({"method": "search", "attribute": "body", "values": ["fox"]}, {"method": "limit", "values": [5]}),
             _queries({"method": "equal", "attribute": "n", "values": [3]}, {"method": "limit", "values": [5]})]
    statuses: list[tuple[int, str]] = []

    async def scenario() -> None:
        headers = {"X-Appwrite-Project": shared_server.project, "X-Appwrite-Key": shared_server.api_key}
        async with httpx.AsyncClient(base_url=shared_server.endpoint, headers=headers, timeout=30) as c:
            deleted = asyncio.Event()

            async def lister(params: dict) -> None:
                after = 0
                while after < 3:  # until a few lists have started after the delete returned
                    r = await c.get(f"{base}/rows", params=params)
                    statuses.append((r.status_code, r.json().get("type", "") if r.status_code != 200 else ""))
                    after += deleted.is_set()

            listers = [asyncio.create_task(lister(lists[i % 2])) for i in range(6)]
            await asyncio.sleep(0.5)
            r = await c.delete(base)
            assert r.status_code == 204, r.text
            deleted.set()
            await asyncio.wait_for(asyncio.gather(*listers), 60)

    asyncio.run(scenario())
    assert {s for s, _ in statuses} <= {200, 404}, statuses
    assert (200, "") in statuses and (404, "table_not_found") in statuses
    assert all(t == "table_not_found" for s, t in statuses if s == 404)
    assert statuses[-1] == (404, "table_not_found")
    with shared_server.admin() as a:
        assert a.get("/health").status_code == 200
