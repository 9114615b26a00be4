"""Nothing a caller may not read leaks through a side door: a list cursor naming a hidden row
answers exactly as a missing row does."""

from __future__ import annotations

import json

import pytest

from tests.security.probe import Responsive, both_stores
from tests.server.conftest import BACKENDS
from tests.server.test_users import signup

# The reads these attacks go through differ in SQL: both stores.
server = pytest.fixture(params=BACKENDS)(both_stores)


def _cursor_query(method: str, row_id: str) -> dict:
    return {"queries[]": [json.dumps({"method": "orderAsc", "attribute": "n"}),
                          json.dumps({"method": method, "values": [row_id]})]}


def test_a_cursor_on_a_hidden_row_answers_as_a_missing_row(server):
    uid, _, owner = signup(server, "owner")
    with server.admin() as a:
        a.post("/tablesdb", json={"databaseId": "d", "name": "d"}).raise_for_status()
        a.post("/tablesdb/d/tables", json={"tableId": "t", "name": "t", "rowSecurity": True}).raise_for_status()
        for i in (10, 20, 30, 50):
            a.post("/tablesdb/d/tables/t/rows", json={"rowId": f"p{i}", "data": {"n": i},
                                                      "permissions": ['read("any")']}).raise_for_status()
        a.post("/tablesdb/d/tables/t/rows", json={"rowId": "secret", "data": {"n": 42},
                                                  "permissions": [f'read("user:{uid}")']}).raise_for_status()
    rows = "/tablesdb/d/tables/t/rows"
    with Responsive(server) as watch, server.guest() as guest:
        for method in ("cursorAfter", "cursorBefore"):
            hidden = guest.get(rows, params=_cursor_query(method, "secret"))
            missing = guest.get(rows, params=_cursor_query(method, "nosuchrow"))
            assert hidden.status_code == missing.status_code == 400
            assert hidden.json()["type"] == missing.json()["type"] == "general_cursor_not_found"
            assert hidden.json()["message"] == missing.json()["message"].replace("nosuchrow", "secret")
        # Beside it: a cursor on a row the guest may read pages as usual.
        page = guest.get(rows, params=_cursor_query("cursorAfter", "p20")).json()
        assert [r["n"] for r in page["rows"]] == [30, 50]
    watch.assert_prompt()
    # The owner, who may read the hidden row, pages from it (the rows after 42 in n order).
    with owner:
        page = owner.get(rows, params=_cursor_query("cursorAfter", "secret"))
        assert page.status_code == 200 and [r["n"] for r in page.json()["rows"]] == [50]


def test_the_log_serves_past_events_under_the_current_table_permissions(server):
    """Rows written while a table was public are not replayed to guests once it is private
    (live or through GET /v1/events); a reader the table still admits gets them."""
    from tests.security.probe import drain, realtime, subscribe

    with server.admin() as a:
        a.post("/tablesdb", json={"databaseId": "d", "name": "d"}).raise_for_status()
        a.post("/tablesdb/d/tables", json={"tableId": "t", "name": "t",
                                           "permissions": ['read("any")']}).raise_for_status()
        for i in range(3):
            a.post("/tablesdb/d/tables/t/rows", json={"rowId": f"r{i}", "data": {"n": i}}).raise_for_status()
        ws, _ = realtime(server)
        subscribe(ws, {"subscriptionId": "s", "channels": ["rows"], "since": "beginning"})
        assert len(drain(ws)) == 3  # public: the guest replays them
        ws.close()
        r = a.put("/tablesdb/d/tables/t", json={"name": "t", "permissions": ['read("users")']})
        assert r.status_code == 200, r.text
    _, token, user = signup(server, "member")
    with Responsive(server) as watch, server.guest() as guest:
        ws, _ = realtime(server)
        ack = subscribe(ws, {"subscriptionId": "s", "channels": ["rows"], "since": "beginning"})
        assert ack["data"]["subscriptions"][0]["resumed"] is True and drain(ws) == []
        ws.close()
        page = guest.get("/events", params={"since": "beginning", "limit": 1000}).json()
        assert [e for e in page["events"] if e["payload"].get("$tableId") == "t"] == []
    watch.assert_prompt()
    # Beside it: a signed-in user (role users) still replays and lists them.
    ws, _ = realtime(server, {"X-Appwrite-Session": token})
    subscribe(ws, {"subscriptionId": "s", "channels": ["rows"], "since": "beginning"})
    assert sorted(f["data"]["payload"]["$id"] for f in drain(ws)) == ["r0", "r1", "r2"]
    ws.close()
    with user:
        page = user.get("/events", params={"since": "beginning", "limit": 1000}).json()
        assert len([e for e in page["events"] if e["payload"].get("$tableId") == "t"]) == 3
