"""Subscriptions carried by the WebSocket URL, as Appwrite's own realtime tests send them: the
indexed ``channels[0]=…`` list, ``<channel>[<slot>][]=<query>`` queries (valid ones filter,
invalid ones are refused with 1008), one subscription per slot."""

from __future__ import annotations

import json
import secrets
from urllib.parse import quote, urlencode

import pytest
import websockets.exceptions
from websockets.sync.client import connect

from tests.server.test_realtime import create, nothing, recv


@pytest.fixture
def env(shared_server):
    """A fresh database with a table anyone may read."""
    db = "url" + secrets.token_hex(4)
    with shared_server.admin() as admin:
        admin.post("/tablesdb", json={"databaseId": db, "name": db}).raise_for_status()
        admin.post(f"/tablesdb/{db}/tables", json={"tableId": "open", "name": "o",
                                                   "permissions": ['read("any")']}).raise_for_status()
        yield shared_server, admin, db


def q(method: str, attribute: str | None = None, values=None) -> str:
    out: dict = {"method": method}
    if attribute is not None:
        out["attribute"] = attribute
    out["values"] = values if values is not None else []
    return json.dumps(out, separators=(",", ":"))


def open_ws(server, query: str):
    return connect(f"ws://127.0.0.1:{server.port}/v1/realtime?project=default&{query}")


def slot(channel: str, index: int, *queries: str) -> str:
    return "&".join(f"{quote(channel)}[{index}][]={quote(x)}" for x in queries)


def test_indexed_channel_list(env):
    """PHP's http_build_query encoding, which Appwrite's tests use: channels[0]=…&channels[1]=…"""
    server, admin, db = env
    rows = f"tablesdb.{db}.tables.open.rows"
    ws = open_ws(server, urlencode({"channels[0]": rows, "channels[1]": "files"}))
    hello = recv(ws)
    assert hello["data"]["channels"] == [rows, "files"] and len(hello["data"]["subscriptions"]) == 1
    create(admin, db, "open", {"x": 1})
    assert rows in recv(ws)["data"]["channels"]
    ws.close()


def test_url_queries_filter_delivery(env):
    server, admin, db = env
    rows = f"tablesdb.{db}.tables.open.rows"
    ws = open_ws(server, f"channels[]={rows}&" + slot(rows, 0, q("equal", "color", ["red"]),
                                                           q("greaterThan", "n", [1])))
    hello = recv(ws)
    assert hello["data"]["channels"] == [rows] and len(hello["data"]["subscriptions"]) == 1
    create(admin, db, "open", {"color": "blue", "n": 5})
    create(admin, db, "open", {"color": "red", "n": 1})
    nothing(ws)
    match = create(admin, db, "open", {"color": "red", "n": 2})
    event = recv(ws)
    assert event["data"]["payload"]["$id"] == match["$id"] and event["data"]["subscriptions"] == hello["data"]["subscriptions"]
    ws.close()


def test_each_slot_is_a_subscription(env):
    server, admin, db = env
    rows = f"tablesdb.{db}.tables.open.rows"
    # The channel's dots may come as underscores (the parameter name PHP gives it).
    query = (f"channels[]={rows}&channels[]=files&" + slot(rows, 0, q("equal", "color", ["red"])) + "&"
             + slot(rows.replace(".", "_"), 1, q("equal", "color", ["blue"])))
    ws = open_ws(server, query)
    hello = recv(ws)
    red, blue = hello["data"]["subscriptions"]
    create(admin, db, "open", {"color": "blue"})
    assert recv(ws)["data"]["subscriptions"] == [blue]
    create(admin, db, "open", {"color": "red"})
    assert recv(ws)["data"]["subscriptions"] == [red]  # files joined slot 0 too, with its query
    create(admin, db, "open", {"color": "green"})
    nothing(ws)
    ws.close()


def test_channel_without_query_matches_everything(env):
    server, admin, db = env
    rows = f"tablesdb.{db}.tables.open.rows"
    ws = open_ws(server, f"channels[]={rows}")
    recv(ws)
    create(admin, db, "open", {"color": "any"})
    assert recv(ws)["type"] == "event"
    ws.close()


@pytest.mark.parametrize("query, method", [
    (q("contains", "status", ["active"]), "contains"),
    (q("and", None, [json.loads(q("equal", "a", [1])), json.loads(q("search", "name", ["x"]))]), "search"),
    (q("or", None, [json.loads(q("equal", "a", [1])), json.loads(q("limit", None, [1]))]), "limit"),
])
def test_invalid_url_query_is_refused_with_1008(env, query, method):
    server, _, _ = env
    ws = open_ws(server, "channels[]=documents&" + slot("documents", 0, query))
    err = recv(ws)
    assert err["type"] == "error" and err["data"]["code"] == 1008
    assert "not supported in Realtime queries" in err["data"]["message"] and method in err["data"]["message"]
    with pytest.raises(websockets.exceptions.ConnectionClosed):
        ws.recv(timeout=2)
    assert ws.close_code == 1008


def test_malformed_url_query_is_refused(env):
    server, _, _ = env
    ws = open_ws(server, "channels[]=documents&documents[0][]=" + quote("{not json"))
    err = recv(ws)
    assert err["type"] == "error" and err["data"]["code"] == 1008
    with pytest.raises(websockets.exceptions.ConnectionClosed):
        ws.recv(timeout=2)
