"""REST round trips and error shapes against a real `rtcli serve` process."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def table(shared_server):
    """A fresh database and table readable by anyone, with no columns (schemaless)."""
    import secrets

    db = "db" + secrets.token_hex(4)
    with shared_server.admin() as c:
        assert c.post("/tablesdb", json={"databaseId": db, "name": "Test"}).status_code == 201
        r = c.post(f"/tablesdb/{db}/tables", json={"tableId": "t", "name": "T", "permissions": ['read("any")']})
        assert r.status_code == 201, r.text
    return db, "t"


def _err(resp, status, type_):
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert body["code"] == status and body["type"] == type_ and body["version"] and body["message"]
    return body


def test_row_round_trip(shared_server, table):
    db, t = table
    with shared_server.admin() as c:
        r = c.post(f"/tablesdb/{db}/tables/{t}/rows", json={"rowId": "r1", "data": {"title": "hi", "n": 1}})
        assert r.status_code == 201
        row = r.json()
        assert row["$id"] == "r1" and row["title"] == "hi" and row["n"] == 1
        assert isinstance(row["$sequence"], str) and row["$tableId"] == t and row["$databaseId"] == db
        assert row["$createdAt"].endswith("+00:00") and row["$permissions"] == []
        assert c.get(f"/tablesdb/{db}/tables/{t}/rows/r1").json() == row
        _err(c.post(f"/tablesdb/{db}/tables/{t}/rows", json={"rowId": "r1", "data": {}}), 409, "row_already_exists")
        r = c.patch(f"/tablesdb/{db}/tables/{t}/rows/r1", json={"data": {"n": 2}})
        assert r.status_code == 200 and r.json()["n"] == 2 and r.json()["title"] == "hi"
        r = c.put(f"/tablesdb/{db}/tables/{t}/rows/r2", json={"data": {"n": 7}})
        assert r.status_code == 200 and r.json()["$id"] == "r2"
        r = c.patch(f"/tablesdb/{db}/tables/{t}/rows/r1/n/increment", json={"value": 3})
        assert r.json()["n"] == 5
        r = c.patch(f"/tablesdb/{db}/tables/{t}/rows/r1/n/decrement", json={"value": 10, "min": 0})
        _err(r, 400, "general_argument_invalid")
        assert c.request("DELETE", f"/tablesdb/{db}/tables/{t}/rows/r1", json={}).status_code == 204
        _err(c.get(f"/tablesdb/{db}/tables/{t}/rows/r1"), 404, "row_not_found")


def test_list_queries(shared_server, table):
    db, t = table
    with shared_server.admin() as c:
        bulk = c.post(f"/tablesdb/{db}/tables/{t}/rows",
                      json={"rows": [{"$id": f"r{i}", "n": i, "s": f"name{i}"} for i in range(10)]})
        assert bulk.status_code == 201 and bulk.json()["total"] == 10

        def ids(*queries, **params):
            q = {f"queries[{i}]": json.dumps(x) for i, x in enumerate(queries)}
            r = c.get(f"/tablesdb/{db}/tables/{t}/rows", params=q)
            assert r.status_code == 200, r.text
            return [row["$id"] for row in r.json()["rows"]], r.json()["total"]

        assert ids({"method": "equal", "attribute": "n", "values": [3, 4]}) == (["r3", "r4"], 2)
        assert ids({"method": "greaterThan", "attribute": "n", "values": [7]})[0] == ["r8", "r9"]
        assert ids({"method": "between", "attribute": "n", "values": [2, 3]})[0] == ["r2", "r3"]
        assert ids({"method": "startsWith", "attribute": "s", "values": ["name1"]})[0] == ["r1"]
        assert ids({"method": "orderDesc", "attribute": "n"}, {"method": "limit", "values": [2]}) == (["r9", "r8"], 10)
        assert ids({"method": "orderAsc", "attribute": "n"}, {"method": "cursorAfter", "values": ["r7"]})[0] == ["r8", "r9"]
        assert ids({"method": "cursorBefore", "values": ["r2"]})[0] == ["r0", "r1"]
        assert ids({"method": "offset", "values": [8]})[0] == ["r8", "r9"]
        assert ids({"method": "notEqual", "attribute": "n", "values": [0]})[1] == 9
        assert ids({"method": "isNull", "attribute": "missing"})[1] == 10
        r = c.get(f"/tablesdb/{db}/tables/{t}/rows", params={"queries[0]": "{bad"})
        _err(r, 400, "general_query_invalid")
        r = c.get(f"/tablesdb/{db}/tables/{t}/rows", params={"queries[0]": json.dumps({"method": "cursorAfter", "values": ["nope"]})})
        _err(r, 400, "general_cursor_not_found")


def test_columns_validate_rows(shared_server):
    with shared_server.admin() as c:
        c.post("/tablesdb", json={"databaseId": "typed", "name": "Typed"})
        c.post("/tablesdb/typed/tables", json={"tableId": "t", "name": "T"})
        r = c.post("/tablesdb/typed/tables/t/columns/string", json={"key": "title", "size": 10, "required": True})
        assert r.status_code == 202 and r.json()["type"] == "string" and r.json()["status"] == "available"
        assert c.post("/tablesdb/typed/tables/t/columns/integer", json={"key": "n", "required": False, "default": 0}).status_code == 202
        assert c.post("/tablesdb/typed/tables/t/columns/email", json={"key": "mail", "required": False}).status_code == 202
        assert c.post("/tablesdb/typed/tables/t/columns/enum", json={"key": "kind", "elements": ["a", "b"], "required": False}).status_code == 202
        _err(c.post("/tablesdb/typed/tables/t/columns/string", json={"key": "title", "size": 5, "required": False}), 409, "column_already_exists")
        ok = c.post("/tablesdb/typed/tables/t/rows", json={"rowId": "a", "data": {"title": "hello"}})
        assert ok.status_code == 201 and ok.json()["n"] == 0 and ok.json()["mail"] is None
        for bad in ({"title": "x", "extra": 1}, {"title": 5}, {"title": "much too long"}, {"n": 1},
                    {"title": "x", "n": "1"}, {"title": "x", "mail": "nope"}, {"title": "x", "kind": "c"},
                    {"title": "x", "n": True}):
            _err(c.post("/tablesdb/typed/tables/t/rows", json={"rowId": "unique()", "data": bad}), 400, "row_invalid_structure")
        assert c.get("/tablesdb/typed/tables/t/rows").json()["total"] == 1


def test_a_rows_fields_come_in_its_tables_column_order_on_every_store(shared_server):
    """As Appwrite answers them: in the order the columns were made, whatever order a client
    sent them in (PostgreSQL's jsonb would hand them back sorted by key length), in answers,
    lists and live events alike."""
    from tests.server.test_users import rt, sub

    keys = ["title", "body", "n", "a_much_longer_key"]
    with shared_server.admin() as c:
        c.post("/tablesdb", json={"databaseId": "ordered", "name": "Ordered"})
        c.post("/tablesdb/ordered/tables", json={"tableId": "t", "name": "T", "permissions": ['read("any")']})
        for key in keys:
            kind = "integer" if key == "n" else "string"
            body = {"key": key, "required": False, **({"size": 50} if kind == "string" else {})}
            assert c.post(f"/tablesdb/ordered/tables/t/columns/{kind}", json=body).status_code == 202
        ws, _ = rt(shared_server)
        sub(ws, "tablesdb.ordered.tables.t.rows")
        sent = {"a_much_longer_key": "z", "n": 1, "body": "b", "title": "t"}
        made = c.post("/tablesdb/ordered/tables/t/rows", json={"rowId": "r", "data": sent}).json()
        fields = lambda model: [k for k in model if not k.startswith("$")]  # noqa: E731
        assert fields(made) == keys
        assert fields(c.get("/tablesdb/ordered/tables/t/rows/r").json()) == keys
        assert fields(c.get("/tablesdb/ordered/tables/t/rows").json()["rows"][0]) == keys
        assert fields(c.patch("/tablesdb/ordered/tables/t/rows/r", json={"data": {"n": 2}}).json()) == keys
        live = [json.loads(ws.recv(timeout=5))["data"]["payload"] for _ in range(2)]
        assert [fields(p) for p in live] == [keys, keys]
        ws.close()


def test_guest_permissions(shared_server):
    with shared_server.admin() as admin, shared_server.guest() as guest:
        admin.post("/tablesdb", json={"databaseId": "perm", "name": "P"})
        admin.post("/tablesdb/perm/tables", json={"tableId": "closed", "name": "C"})
        admin.post("/tablesdb/perm/tables", json={"tableId": "open", "name": "O",
                                                  "permissions": ['read("any")', 'create("guests")']})
        admin.post("/tablesdb/perm/tables", json={"tableId": "rs", "name": "R", "rowSecurity": True})
        admin.post("/tablesdb/perm/tables/closed/rows", json={"rowId": "x", "data": {"a": 1}})
        _err(guest.get("/tablesdb/perm/tables/closed/rows"), 401, "user_unauthorized")
        _err(guest.get("/tablesdb/perm/tables/closed/rows/x"), 401, "user_unauthorized")
        _err(guest.post("/tablesdb/perm/tables/closed/rows", json={"rowId": "y", "data": {}}), 401, "user_unauthorized")
        r = guest.post("/tablesdb/perm/tables/open/rows", json={"rowId": "g", "data": {"a": 1}})
        assert r.status_code == 201 and r.json()["$permissions"] == []
        _err(guest.post("/tablesdb/perm/tables/open/rows", json={"rowId": "h", "data": {}, "permissions": ['read("users")']}),
             401, "user_unauthorized")
        _err(guest.patch("/tablesdb/perm/tables/open/rows/g", json={"data": {"a": 2}}), 401, "user_unauthorized")
        # rowSecurity: the row's own read permission admits the guest, inside the SQL query.
        admin.post("/tablesdb/perm/tables/rs/rows", json={"rows": [
            {"$id": "pub", "$permissions": ['read("any")']}, {"$id": "priv"}, {"$id": "pub2", "$permissions": ['read("guests")']}]})
        listed = guest.get("/tablesdb/perm/tables/rs/rows").json()
        assert listed["total"] == 2 and {r["$id"] for r in listed["rows"]} == {"pub", "pub2"}
        assert guest.get("/tablesdb/perm/tables/rs/rows/pub").status_code == 200
        _err(guest.get("/tablesdb/perm/tables/rs/rows/priv"), 404, "row_not_found")
        _err(guest.post("/tablesdb", json={"databaseId": "x", "name": "x"}), 401, "general_unauthorized_scope")


def test_encoded_slashes_never_reach_another_route(shared_server, table):
    db, t = table
    with shared_server.admin() as c:
        c.post(f"/tablesdb/{db}/tables/{t}/rows", json={"rowId": "r1", "data": {}})
        for path in (f"/tablesdb/{db}/tables/{t}%2Frows%2Fr1", f"/tablesdb/{db}%2Ftables/{t}/rows",
                     f"/tablesdb/{db}/tables/{t}/rows/..%2Fr1"):
            _err(c.get(path), 400, "general_argument_invalid")
        assert c.get(f"/tablesdb/{db}/tables/{t}/rows/r1").status_code == 200


def test_errors_never_500(shared_server):
    with shared_server.admin() as c:
        _err(c.get("/nope"), 404, "general_route_not_found")
        _err(c.post("/tablesdb", content=b"{not json", headers={"content-type": "application/json"}), 400, "general_argument_invalid")
        _err(c.post("/tablesdb", json=[1, 2]), 400, "general_argument_invalid")
        _err(c.post("/tablesdb", json={"databaseId": "bad id!", "name": "x"}), 400, "general_argument_invalid")
        _err(c.get("/tablesdb/missing/tables"), 404, "database_not_found")
        _err(c.post("/tablesdb/missing/tables/t/rows", json={"data": {}}), 404, "database_not_found")
        _err(c.post("/tablesdb", json={"databaseId": "dup", "name": "x"}) and c.post("/tablesdb", json={"databaseId": "dup", "name": "x"}), 409, "database_already_exists")
        _err(c.post("/tablesdb/dup/tables", json={"tableId": "t", "name": "x", "permissions": ["read(any)"]}), 400, "general_argument_invalid")
        _err(c.post("/tablesdb/dup/tables", json={"tableId": "t", "name": "x", "rowSecurity": "yes"}), 400, "general_argument_invalid")
    with shared_server.guest() as g:
        _err(g.get("/tablesdb", headers={"X-Appwrite-Project": "nope"}), 404, "project_not_found")
        _err(g.get("/tablesdb", headers={"X-Appwrite-Key": "wrong"}), 401, "user_unauthorized")
    assert shared_server.proc.poll() is None


@pytest.mark.parametrize("request_bytes", [
    b"GET /v1/health?x=" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",  # over the parser's 64 KiB
    b"GARBAGE\r\n\r\n",
    b"GET /v1/health HTTP/1.1\r\nBad Header\r\n\r\n",
])
def test_unparsable_requests_get_the_error_shape(shared_server, request_bytes):
    """What the HTTP parser itself refuses is still answered like every other client error."""
    import socket

    with socket.create_connection(("127.0.0.1", shared_server.port)) as s:
        s.sendall(request_bytes)
        s.settimeout(5)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), head
    assert b"content-type: application/json" in head.lower()
    err = json.loads(body)
    assert err["code"] == 400 and err["type"] == "general_bad_request" and "64 KiB" in err["message"]
    assert shared_server.proc.poll() is None
