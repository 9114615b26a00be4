"""TablesDB transactions against a real server, on SQLite and PostgreSQL: staged operations apply
together on commit (their events published only then, together, in order, replayable from the
log), a rollback or a failing commit leaves and publishes nothing, and an expired transaction
cannot be used."""

from __future__ import annotations

import json
import secrets
import sqlite3

import pytest
from websockets.sync.client import connect

from tests.server.test_realtime import nothing, recv
from tests.services import pg_query


@pytest.fixture
def table(shared_server):
    db = "x" + secrets.token_hex(3)
    with shared_server.admin() as a:
        a.post("/tablesdb", json={"databaseId": db, "name": db}).raise_for_status()
        a.post(f"/tablesdb/{db}/tables", json={"tableId": "t", "name": "t",
                                               "permissions": ['read("any")']}).raise_for_status()
        a.post(f"/tablesdb/{db}/tables/t/columns/integer", json={"key": "n", "required": False}).raise_for_status()
        # Wait until r0's event is dispatched (on PostgreSQL a node delivers from the log, a moment
        # after the commit), so that it cannot reach the tests' own subscribers.
        ws = listen(shared_server, db)
        a.post(f"/tablesdb/{db}/tables/t/rows", json={"rowId": "r0", "data": {"n": 0}}).raise_for_status()
        assert recv(ws)["data"]["payload"]["$id"] == "r0"
        ws.close()
    return db


def listen(server, db, since=None):
    ws = connect(f"ws://127.0.0.1:{server.port}/v1/realtime?project={server.project}")
    assert recv(ws)["type"] == "connected"
    sub = {"subscriptionId": "s", "channels": [f"tablesdb.{db}.tables.t.rows"], "queries": []}
    if since:
        sub["since"] = since
    ws.send(json.dumps({"type": "subscribe", "data": [sub]}))
    assert recv(ws)["type"] == "response"
    return ws


def op(action, db, row, **data):
    return {"action": action, "databaseId": db, "tableId": "t", "rowId": row, "data": data}


def rows_of(admin, db) -> dict:
    return {r["$id"]: r.get("n") for r in admin.get(f"/tablesdb/{db}/tables/t/rows").json()["rows"]}


def test_commit_applies_everything_then_publishes_in_order(shared_server, table):
    ws = listen(shared_server, table)
    try:
        with shared_server.admin() as a:
            t = a.post("/tablesdb/transactions", json={"ttl": 120})
            assert t.status_code == 201 and t.json()["status"] == "pending" and t.json()["operations"] == 0, t.text
            tid = t.json()["$id"]
            staged = a.post(f"/tablesdb/transactions/{tid}/operations", json={"operations": [
                op("create", table, "r1", n=1), op("update", table, "r1", n=2), op("create", table, "r2", n=5)]})
            assert staged.status_code == 201 and staged.json()["operations"] == 3, staged.text
            # A row write with transactionId is staged too.
            r = a.delete(f"/tablesdb/{table}/tables/t/rows/r0", params={}, headers={"Content-Type": "application/json"})
            assert r.status_code == 204
            a.post(f"/tablesdb/{table}/tables/t/rows", json={"rowId": "r0", "data": {"n": 0}}).raise_for_status()
            recv(ws), recv(ws)  # (those two were direct writes)
            r = a.request("DELETE", f"/tablesdb/{table}/tables/t/rows/r0", json={"transactionId": tid})
            assert r.status_code == 204
            r = a.patch(f"/tablesdb/{table}/tables/t/rows/r2", json={"data": {"n": 6}, "transactionId": tid})
            assert r.status_code == 200 and r.json()["n"] == 6
            assert a.get(f"/tablesdb/transactions/{tid}").json()["operations"] == 5
            nothing(ws)  # staged, not applied: no events
            assert rows_of(a, table) == {"r0": 0}
            done = a.patch(f"/tablesdb/transactions/{tid}", json={"commit": True})
            assert done.status_code == 200 and done.json()["status"] == "committed", done.text
            assert rows_of(a, table) == {"r1": 2, "r2": 6}
            events = [recv(ws)["data"] for _ in range(5)]
            assert [e["events"][0] for e in events] == [
                f"tablesdb.{table}.tables.t.rows.r1.create", f"tablesdb.{table}.tables.t.rows.r1.update",
                f"tablesdb.{table}.tables.t.rows.r2.create", f"tablesdb.{table}.tables.t.rows.r0.delete",
                f"tablesdb.{table}.tables.t.rows.r2.update"]
            seqs = [int(e["cursor"].rsplit(".", 1)[1]) for e in events]
            assert seqs == list(range(seqs[0], seqs[0] + 5))  # together: one commit, consecutive in the log
            nothing(ws)
            r = a.post(f"/tablesdb/transactions/{tid}/operations", json={"operations": [op("create", table, "r9")]})
            assert r.status_code == 400 and r.json()["type"] == "transaction_not_ready"
        replay = listen(shared_server, table, since=events[0]["cursor"])
        try:
            assert [recv(replay)["data"]["cursor"] for _ in range(4)] == [e["cursor"] for e in events[1:]]
        finally:
            replay.close()
    finally:
        ws.close()


def test_rollback_and_failed_commit_leave_nothing(shared_server, table):
    ws = listen(shared_server, table)
    try:
        with shared_server.admin() as a:
            tid = a.post("/tablesdb/transactions", json={}).json()["$id"]
            a.post(f"/tablesdb/transactions/{tid}/operations",
                   json={"operations": [op("create", table, "a", n=1), op("delete", table, "r0")]}).raise_for_status()
            back = a.patch(f"/tablesdb/transactions/{tid}", json={"rollback": True})
            assert back.status_code == 200 and back.json()["status"] == "rolled_back"
            assert rows_of(a, table) == {"r0": 0}
            nothing(ws)
            # An operation that fails on commit (a row created twice) undoes those before it.
            tid = a.post("/tablesdb/transactions", json={}).json()["$id"]
            a.post(f"/tablesdb/transactions/{tid}/operations", json={"operations": [
                op("update", table, "r0", n=7), op("create", table, "b", n=1), op("create", table, "b", n=2)]}
            ).raise_for_status()
            r = a.patch(f"/tablesdb/transactions/{tid}", json={"commit": True})
            assert r.status_code == 409 and r.json()["type"] == "row_already_exists", r.text
            assert rows_of(a, table) == {"r0": 0}
            nothing(ws)
            for bad, kind in (({"commit": True, "rollback": True}, "general_bad_request"), ({}, "general_bad_request")):
                r = a.patch(f"/tablesdb/transactions/{tid}", json=bad)
                assert r.status_code == 400 and r.json()["type"] == kind
            assert a.delete(f"/tablesdb/transactions/{tid}").status_code == 204
            assert a.get(f"/tablesdb/transactions/{tid}").json()["type"] == "transaction_not_found"
            for body in ({"operations": []}, {"operations": [{"action": "bulkCreate", "databaseId": table}]},
                         {"operations": [op("create", "nodb", "x")]}):
                tid = a.post("/tablesdb/transactions", json={}).json()["$id"]
                r = a.post(f"/tablesdb/transactions/{tid}/operations", json=body)
                assert r.status_code in (400, 404), r.text
            assert a.post("/tablesdb/transactions", json={"ttl": 10}).status_code == 400
    finally:
        ws.close()


def test_expired_transaction_cannot_be_used(shared_server, table):
    with shared_server.admin() as a:
        tid = a.post("/tablesdb/transactions", json={"ttl": 60}).json()["$id"]
        a.post(f"/tablesdb/transactions/{tid}/operations", json={"operations": [op("create", table, "late", n=1)]}
               ).raise_for_status()
        sql = f"UPDATE transactions SET expires_ts = 0 WHERE id = '{tid}'"  # as if its minute had passed
        if shared_server.database:
            pg_query(shared_server.database, sql)
        else:
            with sqlite3.connect(shared_server.data_dir / "rtcli.db") as c:
                c.execute(sql)
        r = a.patch(f"/tablesdb/transactions/{tid}", json={"commit": True})
        assert r.status_code == 410 and r.json()["type"] == "transaction_expired"
        assert "late" not in rows_of(a, table)


def test_transactions_belong_to_their_user(shared_server, table):
    def user():
        email = f"t-{secrets.token_hex(4)}@example.com"
        with shared_server.admin() as a:
            u = a.post("/users", json={"userId": "unique()", "email": email, "password": "password123"}).json()
            return a.post(f"/users/{u['$id']}/sessions").json()["secret"]

    import httpx

    ann, bob = user(), user()
    base = {"base_url": shared_server.endpoint, "timeout": 10}
    with httpx.Client(**base, headers={"X-Appwrite-Project": "default", "X-Appwrite-Session": ann}) as a, \
            httpx.Client(**base, headers={"X-Appwrite-Project": "default", "X-Appwrite-Session": bob}) as b:
        tid = a.post("/tablesdb/transactions", json={}).json()["$id"]
        assert b.get(f"/tablesdb/transactions/{tid}").json()["type"] == "transaction_not_found"
        assert a.get("/tablesdb/transactions").json()["total"] == 1 and b.get("/tablesdb/transactions").json()["total"] == 0
        # Ann may not create rows in this table: the commit fails as her direct write would.
        a.post(f"/tablesdb/transactions/{tid}/operations", json={"operations": [op("create", table, "u1", n=1)]}
               ).raise_for_status()
        r = a.patch(f"/tablesdb/transactions/{tid}", json={"commit": True})
        assert r.status_code == 401 and r.json()["type"] == "user_unauthorized"
    with shared_server.guest() as g:
        assert g.post("/tablesdb/transactions", json={}).status_code == 401


def test_expired_transactions_are_removed(tmp_path, backend_args):
    """Housekeeping (at start, then every minute) removes pending transactions past their expiry."""
    import time

    from tests.conftest import start_server

    srv = start_server(tmp_path / "data", extra=backend_args)
    try:
        with srv.admin() as a:
            tid = a.post("/tablesdb/transactions", json={"ttl": 60}).json()["$id"]
            keep = a.post("/tablesdb/transactions", json={"ttl": 3600}).json()["$id"]
    finally:
        srv.stop()
    expire = f"UPDATE transactions SET expires_ts = 0 WHERE id = '{tid}'"  # an ID the server made: no quoting needed
    if srv.database:
        pg_query(srv.database, expire)
    else:
        with sqlite3.connect(tmp_path / "data" / "rtcli.db") as c:
            c.execute(expire)
    srv = start_server(tmp_path / "data", extra=backend_args)
    try:
        with srv.admin() as a:
            deadline = time.monotonic() + 10
            while a.get(f"/tablesdb/transactions/{tid}").status_code != 404 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert a.get(f"/tablesdb/transactions/{tid}").json()["type"] == "transaction_not_found"
            assert a.get(f"/tablesdb/transactions/{keep}").json()["status"] == "pending"
    finally:
        srv.stop()
