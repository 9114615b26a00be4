"""TablesDB schemas on several nodes (PostgreSQL + Redis): each node keeps schemas in memory, and
a column, index or table made or deleted on one node holds on the others at once (when they
dispatch the change, well before a log poll), while writes on a node that has not caught up yet
are checked against the database."""

from __future__ import annotations

import time
from contextlib import ExitStack

import httpx
import pytest

from tests.cluster.test_cluster import HEADERS, redis_server, start_nodes  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
# The nodes poll the log once a second when nothing wakes them: a change must reach the other
# node through its dispatch, well before that.
AT_ONCE = 0.5


def within(check, seconds: float = AT_ONCE) -> float:
    """Seconds until ``check()`` holds; fails past ``seconds``."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < seconds, f"not seen within {seconds}s"
        time.sleep(0.01)
    return time.monotonic() - start


def test_schema_changes_on_one_node_hold_on_the_other_at_once(tmp_path, redis_server):  # noqa: F811
    with ExitStack() as stack:
        one, two = start_nodes(stack, tmp_path, 2, redis_server.url)
        a = stack.enter_context(httpx.Client(base_url=one.endpoint, headers=HEADERS, timeout=10))
        b = stack.enter_context(httpx.Client(base_url=two.endpoint, headers=HEADERS, timeout=10))
        a.post("/tablesdb", json={"databaseId": "d", "name": "d"}).raise_for_status()
        a.post("/tablesdb/d/tables", json={"tableId": "t", "name": "t"}).raise_for_status()
        base = "/tablesdb/d/tables/t"
        a.post(f"{base}/columns/integer", json={"key": "n", "required": False}).raise_for_status()

        def columns_on_two() -> list[str]:
            return [c["key"] for c in b.get(f"{base}/columns").json()["columns"]]

        # Node two reads the schema, and keeps it.
        within(lambda: columns_on_two() == ["n"], 10)
        assert b.get(f"{base}/rows").json()["total"] == 0
        refused = b.post(f"{base}/rows", json={"rowId": "r0", "data": {"name": "x"}})
        assert refused.status_code == 400 and refused.json()["type"] == "row_invalid_structure"

        a.post(f"{base}/columns/string", json={"key": "name", "size": 20, "required": True}).raise_for_status()
        # A write on node two is checked against the new column whatever node two keeps.
        missing = b.post(f"{base}/rows", json={"rowId": "r1", "data": {"n": 1}})
        assert missing.status_code == 400 and missing.json()["type"] == "row_invalid_structure", missing.text
        assert b.post(f"{base}/rows", json={"rowId": "r2", "data": {"name": "x"}}).status_code == 201
        within(lambda: columns_on_two() == ["n", "name"])

        r = a.post(f"{base}/indexes", json={"key": "by_name", "type": "key", "columns": ["name"]})
        assert r.status_code == 202, r.text
        within(lambda: [i["key"] for i in b.get(base).json()["indexes"]] == ["by_name"])
        found = b.get(f"{base}/rows", params={"queries[0]": '{"method":"equal","attribute":"name","values":["x"]}'})
        assert found.json()["total"] == 1

        assert a.delete(f"{base}/columns/name").status_code == 204
        gone = b.post(f"{base}/rows", json={"rowId": "r3", "data": {"name": "y"}})
        assert gone.status_code == 400 and gone.json()["type"] == "row_invalid_structure", gone.text
        within(lambda: columns_on_two() == ["n"] and b.get(base).json()["indexes"] == [])

        assert a.delete(base).status_code == 204
        late = b.post(f"{base}/rows", json={"rowId": "r4", "data": {"n": 4}})
        assert late.status_code == 404 and late.json()["type"] == "table_not_found", late.text
        within(lambda: b.get(base).status_code == 404)
        assert b.get(f"{base}/rows").json()["type"] == "table_not_found"

        assert a.delete("/tablesdb/d").status_code == 204
        within(lambda: b.get("/tablesdb/d").status_code == 404)
