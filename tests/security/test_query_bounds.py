"""Bounds on queries, shared by REST lists and realtime subscriptions: at most 100 values per
query (Appwrite's limit), a budget of query values per realtime connection, and queries too
large for the database refused with a 400 rather than failing in the driver with a 500."""

from __future__ import annotations

import json
import secrets
import time
from contextlib import ExitStack

import pytest

from tests.server.conftest import BACKENDS, _start
from tests.security.probe import Responsive, realtime, recv, subscribe


def query(method: str, attribute: str | None = None, values: list | None = None) -> dict:
    out: dict = {"method": method}
    if attribute is not None:
        out["attribute"] = attribute
    if values is not None:
        out["values"] = values
    return out


def encoded(q: dict) -> str:
    return json.dumps(q, separators=(",", ":"))


@pytest.fixture(scope="module", params=BACKENDS)
def table(request, tmp_path_factory):
    """A server on each store, with a table ``pub`` (read any) holding rows n = 0..9."""
    with ExitStack() as stack:
        srv = _start(request.param, tmp_path_factory.mktemp("bounds") / "data", stack)
        admin = srv.admin()
        admin.post("/tablesdb", json={"databaseId": "main", "name": "main"}).raise_for_status()
        admin.post("/tablesdb/main/tables", json={"tableId": "pub", "name": "pub",
                                                  "permissions": ['read("any")']}).raise_for_status()
        admin.put("/tablesdb/main/tables/pub/rows", json={"rows": [{"n": i} for i in range(10)]}).raise_for_status()
        yield srv, admin
        admin.close()
        srv.stop()


def list_rows(admin, *queries: dict):
    return admin.get("/tablesdb/main/tables/pub/rows",
                     params={f"queries[{i}]": encoded(q) for i, q in enumerate(queries)})


def assert_refused(r, words: str) -> None:
    assert r.status_code == 400, r.text
    assert r.json()["type"] == "general_argument_invalid", r.text
    assert words in r.json()["message"], r.text


# --- REST --------------------------------------------------------------------------------------

def test_list_query_of_101_values_is_a_400_and_100_are_accepted(table):
    _, admin = table
    assert_refused(list_rows(admin, query("equal", "n", list(range(101)))), "greater than 100 values: n")
    ok = list_rows(admin, query("equal", "n", list(range(100))))
    assert ok.status_code == 200 and ok.json()["total"] == 10, ok.text


def test_nested_queries_count_as_values_and_may_not_nest_deeper_than_5(table):
    _, admin = table
    wide = query("or", values=[query("equal", "n", [i]) for i in range(101)])
    assert_refused(list_rows(admin, wide), "greater than 100 nested queries")
    deep = query("equal", "n", [1])
    for _ in range(6):
        deep = query("or", values=[deep, query("equal", "n", [2])])
    assert_refused(list_rows(admin, deep), "nested at most 5 levels")


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_bulk_rows_with_huge_query_values_is_a_400(table, method):
    _, admin = table
    huge = encoded(query("equal", "n", [0] * 200_000))
    body: dict = {"queries": [huge]}
    if method == "PATCH":
        body["data"] = {"n": 1}
    r = admin.request(method, "/tablesdb/main/tables/pub/rows", json=body)
    assert_refused(r, "greater than 100 values: n")


def test_queries_needing_too_many_sql_parameters_are_a_400(table):
    """Within the per-query bounds, nested and/or can still hold more values than a statement
    takes (SQLite, asyncpg): refused before the database sees it."""
    _, admin = table
    inner = query("or", values=[query("equal", "n", list(range(13))) for _ in range(100)])
    huge = encoded(query("or", values=[inner] * 100))
    r = admin.request("DELETE", "/tablesdb/main/tables/pub/rows", json={"queries": [huge]})
    assert_refused(r, "too large")
    assert list_rows(admin).json()["total"] == 10


# --- realtime ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def open_table(shared_server):
    db = "qb" + secrets.token_hex(4)
    admin = shared_server.admin()
    admin.post("/tablesdb", json={"databaseId": db, "name": db}).raise_for_status()
    admin.post(f"/tablesdb/{db}/tables", json={"tableId": "open", "name": "o",
                                               "permissions": ['read("any")']}).raise_for_status()
    yield shared_server, admin, f"tablesdb.{db}.tables.open.rows", db
    admin.close()


def test_realtime_query_of_101_values_is_refused_and_the_connection_stays_usable(open_table):
    server, admin, channel, db = open_table
    ws, _ = realtime(server)
    err = subscribe(ws, {"subscriptionId": "big", "channels": [channel],
                         "queries": [encoded(query("equal", "n", list(range(101))))]})
    assert err["type"] == "error" and err["data"]["code"] == 1003, err
    assert "greater than 100 values: n" in err["data"]["message"]
    ws.send(json.dumps({"type": "ping"}))
    assert recv(ws) == {"type": "pong"}
    ok = subscribe(ws, {"subscriptionId": "hundred", "channels": [channel],
                        "queries": [encoded(query("equal", "n", list(range(100))))]})
    assert ok["type"] == "response" and ok["data"]["subscriptions"][0]["subscriptionId"] == "hundred", ok
    admin.post(f"/tablesdb/{db}/tables/open/rows", json={"rowId": "unique()", "data": {"n": 99}}).raise_for_status()
    assert recv(ws)["data"]["subscriptions"] == ["hundred"]
    ws.close()


def test_realtime_query_values_are_budgeted_per_connection(open_table):
    """100 queries of 100 values fill a connection's budget (10,000 values): one more value is
    refused until a subscription goes."""
    server, _, channel, _ = open_table
    ws, _ = realtime(server)
    full = [encoded(query("notEqual", "n", list(range(100)))) for _ in range(100)]
    ok = subscribe(ws, {"subscriptionId": "full", "channels": [channel], "queries": full})
    assert ok["type"] == "response", ok
    one = {"subscriptionId": "one", "channels": [channel], "queries": [encoded(query("equal", "n", [1]))]}
    err = subscribe(ws, one)
    assert err["type"] == "error" and err["data"]["code"] == 1003, err
    assert "at most 10,000 query values" in err["data"]["message"]
    replaced = subscribe(ws, {"subscriptionId": "full", "channels": [channel], "queries": full[:99]})
    assert replaced["type"] == "response", replaced  # replacing a subscription gives its values back
    assert subscribe(ws, one)["type"] == "response"
    ws.close()


def test_realtime_query_values_are_budgeted_per_address_across_its_connections(open_table):
    """Ten connections of one address with full budgets hold 100,000 values, the address's
    bound: an eleventh connection's queries are refused until one of the ten goes; another
    address is not affected."""
    server, _, channel, _ = open_table
    full = [encoded(query("notEqual", "n", list(range(100)))) for _ in range(100)]
    item = {"subscriptionId": "full", "channels": [channel], "queries": full}
    with ExitStack() as stack:
        ten = []
        for _ in range(10):
            ws, _ = realtime(server)
            stack.callback(ws.close)
            assert subscribe(ws, item)["type"] == "response"
            ten.append(ws)
        eleventh, _ = realtime(server)
        stack.callback(eleventh.close)
        err = subscribe(eleventh, item)
        assert err["type"] == "error" and err["data"]["code"] == 1003, err
        assert "from this address" in err["data"]["message"] and "100,000" in err["data"]["message"]
        # Another client (named by the proxy in front, trusted on loopback) has its own bound.
        other, _ = realtime(server, {"X-Forwarded-For": "198.51.100.20"})
        stack.callback(other.close)
        assert subscribe(other, item)["type"] == "response"
        # Unsubscribing, or closing, gives the values back.
        ten[0].send(json.dumps({"type": "unsubscribe", "data": [{"subscriptionId": "full"}]}))
        assert recv(ten[0])["type"] == "response"
        assert subscribe(eleventh, item)["type"] == "response"
        ten[1].close()  # the server forgets it once the socket is gone: a moment, not at once
        for _ in range(20):
            if subscribe(ten[0], item)["type"] == "response":
                break
            time.sleep(0.1)
        else:
            raise AssertionError("a closed connection's query values were not given back")


def test_replay_against_costly_queries_lets_other_requests_through(open_table):
    """A replay tries every logged event against the subscription's queries; it yields to other
    connections as it goes rather than once a page of 500 events."""
    server, admin, channel, db = open_table
    admin.put(f"/tablesdb/{db}/tables/open/rows", json={"rows": [{"n": 1000 + i} for i in range(1000)]}).raise_for_status()
    ws, _ = realtime(server)
    costly = [encoded(query("notEqual", "n", list(range(100)))) for _ in range(99)]
    costly.append(encoded(query("equal", "n", list(range(100)))))  # matches none: all 100 are tried
    with Responsive(server, limit=0.5) as watch:
        ack = subscribe(ws, {"subscriptionId": "replayed", "channels": [channel], "queries": costly,
                             "since": "beginning"})
        assert ack["type"] == "response", ack
        ws.send(json.dumps({"type": "ping"}))
        assert recv(ws, timeout=60) == {"type": "pong"}  # after the replay
    ws.close()
    watch.assert_prompt()
