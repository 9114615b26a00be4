"""TablesDB transactions are bounded for whoever calls: an operation's data is checked when it is
staged (a value its column refuses, or nesting too deep, is a 400 and nothing is staged); a
transaction stages a bounded number of bytes, and a user keeps a bounded number pending; a guest's
long list of operations is refused before it is read, and says nothing of the tables it names; a
commit that fails ends its transaction, so that it cannot be run again; and ended transactions
are removed once their time to live has passed. Each runs against a real server."""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from contextlib import ExitStack

import pytest

from tests.conftest import start_server
from tests.server.conftest import BACKENDS, _start
from tests.security.probe import Responsive, anonymous
from tests.services import pg_database, pg_query

USERS = ['create("users")', 'read("users")', 'update("users")', 'delete("users")']
STAGED_BOUND = 10 * 1024 * 1024  # services/transactions.py MAX_STAGED_BYTES
OPEN_BOUND = 10  # services/transactions.py MAX_OPEN_PER_USER


@pytest.fixture(scope="module", params=BACKENDS)
def srv(request, tmp_path_factory):
    with ExitStack() as stack:
        server = _start(request.param, tmp_path_factory.mktemp("tx") / "data", stack)
        yield server
        server.stop()


@pytest.fixture(scope="module")
def db(srv):
    """A database with ``t`` (a 100-character string ``s``, a number ``n``) and ``free`` (no
    columns: any data), where signed-in users may write rows, and ``private``, open to no one."""
    db = "d" + secrets.token_hex(3)
    with srv.admin() as a:
        a.post("/tablesdb", json={"databaseId": db, "name": db}).raise_for_status()
        for table, perms in (("t", USERS), ("free", USERS), ("private", [])):
            a.post(f"/tablesdb/{db}/tables", json={"tableId": table, "name": table, "permissions": perms,
                                                   "rowSecurity": False}).raise_for_status()
        a.post(f"/tablesdb/{db}/tables/t/columns/string", json={"key": "s", "size": 100, "required": False}
               ).raise_for_status()
        a.post(f"/tablesdb/{db}/tables/t/columns/integer", json={"key": "n", "required": False}).raise_for_status()
    return db


def op(db: str, table: str, row: str, action: str = "create", **data) -> dict:
    return {"action": action, "databaseId": db, "tableId": table, "rowId": row, "data": data}


def deep(levels: int) -> dict:
    return json.loads('{"a":' * levels + "1" + "}" * levels)


def sql(server, query: str) -> str:
    """One value from the server's own database (SQLite file or PostgreSQL)."""
    if server.database:
        return pg_query(server.database, query).strip()
    with sqlite3.connect(server.data_dir / "rtcli.db") as c:
        return str(c.execute(query).fetchone()[0])


def test_invalid_or_oversize_data_is_refused_when_staged(srv, db):
    with anonymous(srv) as user:
        tid = user.post("/tablesdb/transactions", json={}).json()["$id"]
        for bad, kind in (
                (op(db, "t", "a", s="x" * 1_000_000), "row_invalid_structure"),  # a 100-character column
                (op(db, "t", "a", s=7), "row_invalid_structure"),
                (op(db, "t", "a", other=1), "row_invalid_structure"),
                (op(db, "t", "a", action="update", s="x" * 101), "row_invalid_structure"),
                (op(db, "t", "a", **{"$permissions": [f'read("user:u{i}")' for i in range(101)]}),
                 "general_argument_invalid"),
                (op(db, "t", "a", action="increment", column="s"), "column_type_invalid"),
                (op(db, "free", "a", v=deep(300)), "row_invalid_structure"),
                (op(db, "free", "a", v=deep(65)), "row_invalid_structure")):
            r = user.post(f"/tablesdb/transactions/{tid}/operations", json={"operations": [bad]})
            assert r.status_code == 400 and r.json()["type"] == kind, (bad["data"].keys(), r.status_code, r.text[:300])
        assert user.get(f"/tablesdb/transactions/{tid}").json()["operations"] == 0
        assert sql(srv, f"SELECT COUNT(*) FROM transaction_ops WHERE txn = '{tid}'") == "0"
        # What the columns take is staged, and applies.
        fine = [op(db, "t", "a", s="x" * 100, n=1), op(db, "t", "a", action="increment", column="n", value=2)]
        assert user.post(f"/tablesdb/transactions/{tid}/operations", json={"operations": fine}).status_code == 201
        assert user.patch(f"/tablesdb/transactions/{tid}", json={"commit": True}).json()["status"] == "committed"
        assert user.get(f"/tablesdb/{db}/tables/t/rows/a").json()["n"] == 3


def test_a_transaction_stages_a_bounded_number_of_bytes(srv, db):
    chunk = "x" * (STAGED_BOUND * 6 // 10)
    with anonymous(srv) as user:
        tid = user.post("/tablesdb/transactions", json={}).json()["$id"]
        assert user.post(f"/tablesdb/transactions/{tid}/operations",
                         json={"operations": [op(db, "free", "a", v=chunk)]}).status_code == 201
        r = user.post(f"/tablesdb/transactions/{tid}/operations", json={"operations": [op(db, "free", "b", v=chunk)]})
        assert r.status_code == 400 and r.json()["type"] == "transaction_limit_exceeded", r.text[:300]
        assert "another" in r.json()["message"]
        assert user.get(f"/tablesdb/transactions/{tid}").json()["operations"] == 1
        assert sql(srv, f"SELECT COUNT(*) FROM transaction_ops WHERE txn = '{tid}'") == "1"
        # Small operations still fit beside the first.
        assert user.post(f"/tablesdb/transactions/{tid}/operations",
                         json={"operations": [op(db, "free", "c", v=1)]}).status_code == 201


def test_a_user_keeps_a_bounded_number_of_transactions_pending(srv):
    with anonymous(srv) as user, anonymous(srv) as other:
        made = [user.post("/tablesdb/transactions", json={}) for _ in range(OPEN_BOUND)]
        assert all(r.status_code == 201 for r in made)
        r = user.post("/tablesdb/transactions", json={})
        assert r.status_code == 400 and r.json()["type"] == "transaction_limit_exceeded", r.text
        assert "delete one" in r.json()["message"]
        assert other.post("/tablesdb/transactions", json={}).status_code == 201  # each user has their own
        # An ended transaction no longer counts.
        assert user.patch(f"/tablesdb/transactions/{made[0].json()['$id']}", json={"rollback": True}).status_code == 200
        assert user.delete(f"/tablesdb/transactions/{made[1].json()['$id']}").status_code == 204
        assert [user.post("/tablesdb/transactions", json={}).status_code for _ in range(3)] == [201, 201, 400]


def test_a_guests_long_operation_list_is_refused_at_once_and_tells_nothing(shared_server):
    with shared_server.admin() as a:
        a.post("/tablesdb", json={"databaseId": "g", "name": "g"}).raise_for_status()
        a.post("/tablesdb/g/tables", json={"tableId": "private", "name": "p", "permissions": []}).raise_for_status()
        tid = a.post("/tablesdb/transactions", json={}).json()["$id"]
    many = {"operations": [op("g", "private", f"r{i}") for i in range(120_000)]}
    with shared_server.guest() as g, Responsive(shared_server, limit=0.4) as watch:
        started = time.monotonic()
        r = g.post(f"/tablesdb/transactions/{tid}/operations", json=many)
        took = time.monotonic() - started
    assert r.status_code == 401, r.text[:300]
    watch.assert_prompt()
    assert took < 0.5, f"refusing took {took:.2f}s"
    # A private table, a missing one and a missing database: the same answer.
    with shared_server.guest() as g:
        answers = {(r.status_code, r.json()["type"]) for r in (
            g.post(f"/tablesdb/transactions/{tid}/operations", json={"operations": [o]})
            for o in (op("g", "private", "r"), op("g", "missing", "r"), op("nodb", "t", "r")))}
    assert answers == {(401, "general_unauthorized_scope")}, answers


def test_a_failed_commit_cannot_be_run_again(srv, db):
    with anonymous(srv) as user:
        tid = user.post("/tablesdb/transactions", json={}).json()["$id"]
        # Each is fine on its own; together they create one row twice.
        twice = [op(db, "t", "dup", n=1), op(db, "t", "dup", n=2)]
        assert user.post(f"/tablesdb/transactions/{tid}/operations", json={"operations": twice}).status_code == 201
        r = user.patch(f"/tablesdb/transactions/{tid}", json={"commit": True})
        assert r.status_code == 409 and r.json()["type"] == "row_already_exists", r.text
        again = user.patch(f"/tablesdb/transactions/{tid}", json={"commit": True})
        assert again.status_code == 400 and again.json()["type"] == "transaction_not_ready", again.text
        assert user.get(f"/tablesdb/transactions/{tid}").json()["status"] != "pending"
        assert sql(srv, f"SELECT COUNT(*) FROM transaction_ops WHERE txn = '{tid}'") == "0"
        assert user.get(f"/tablesdb/{db}/tables/t/rows/dup").status_code == 404


@pytest.fixture(params=BACKENDS)
def store_args(request):
    """``rtcli serve`` arguments for one store, the same at every start (SQLite: none)."""
    with ExitStack() as stack:
        yield [] if request.param == "sqlite" else ["--database", stack.enter_context(pg_database())]


def test_ended_transactions_are_removed_after_their_time_to_live(tmp_path, store_args):
    server = start_server(tmp_path / "data", extra=store_args)
    try:
        with server.admin() as a:
            a.post("/tablesdb", json={"databaseId": "p", "name": "p"}).raise_for_status()
            a.post("/tablesdb/p/tables", json={"tableId": "t", "name": "t"}).raise_for_status()
            ended = []
            for how in ("commit", "rollback", "fail"):
                tid = a.post("/tablesdb/transactions", json={"ttl": 60}).json()["$id"]
                if how == "fail":  # one row created twice
                    a.post(f"/tablesdb/transactions/{tid}/operations",
                           json={"operations": [op("p", "t", "x"), op("p", "t", "x")]}).raise_for_status()
                a.patch(f"/tablesdb/transactions/{tid}", json={"rollback" if how == "rollback" else "commit": True})
                ended.append(tid)
            keep = a.post("/tablesdb/transactions", json={"ttl": 60}).json()["$id"]
            assert a.patch(f"/tablesdb/transactions/{keep}", json={"commit": True}).status_code == 200
    finally:
        server.stop()
    # As if their minute had passed (IDs the server made: no quoting needed).
    past = f"UPDATE transactions SET expires_ts = 0 WHERE id IN ({', '.join(repr(t) for t in ended)})"
    if server.database:
        pg_query(server.database, past)
    else:
        with sqlite3.connect(tmp_path / "data" / "rtcli.db") as c:
            c.execute(past)
    server = start_server(tmp_path / "data", extra=store_args)  # housekeeping runs at start
    try:
        with server.admin() as a:
            deadline, left = time.monotonic() + 10, set(ended)
            while left and time.monotonic() < deadline:
                left = {t for t in left if a.get(f"/tablesdb/transactions/{t}").status_code != 404}
                time.sleep(0.1)
            assert not left, f"still there: {left}"
            assert a.get(f"/tablesdb/transactions/{keep}").json()["status"] == "committed"
    finally:
        server.stop()
