"""Requests that arrive at the same moment. SQLite has one writer, so a check before a write
(is this ID free?) holds until the write; on PostgreSQL write transactions run in parallel, and
each such check must hold all the same: one request creates the resource, every other gets the
resource's own "already exists" error (never a 500, never a second 201 that overwrote the first)."""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest

from tests.services import pg_query

AT_ONCE = 8


def posted_at_once(server, headers: httpx.Headers | dict, path: str, body: Callable[[int], dict],
                   n: int = AT_ONCE) -> list[httpx.Response]:
    """``n`` POSTs (the i-th with ``body(i)``) sent at the same moment, each on its own connection."""
    start = threading.Barrier(n)

    def one(i: int) -> httpx.Response:
        with httpx.Client(base_url=server.endpoint, headers=headers, timeout=20) as c:
            start.wait()
            return c.post(path, json=body(i))

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


@dataclass(frozen=True)
class Creation:
    """How to create one kind of resource under a given ID and name, and read its name back."""

    path: str
    body: Callable[[str, str], dict]  # (id, name) -> request body
    read: str | None  # path of the created resource, {id} in it (None: it has no name to read back)
    exists: str  # the error type a taken ID gets
    as_key: bool = True


CREATIONS = {
    "signup": Creation("/account", lambda i, n: {"userId": i, "email": f"{i}@example.com", "password": "password123",
                                                 "name": n}, "/users/{id}", "user_already_exists", as_key=False),
    "user": Creation("/users", lambda i, n: {"userId": i, "email": f"{n}@example.com", "password": "password123",
                                             "name": n}, "/users/{id}", "user_already_exists"),
    "team": Creation("/teams", lambda i, n: {"teamId": i, "name": n}, "/teams/{id}", "team_already_exists"),
    "bucket": Creation("/storage/buckets", lambda i, n: {"bucketId": i, "name": n}, "/storage/buckets/{id}",
                       "storage_bucket_already_exists"),
    "function": Creation("/functions", lambda i, n: {"functionId": i, "name": n, "command": "true"},
                         "/functions/{id}", "function_already_exists"),
    "topic": Creation("/topics", lambda i, n: {"topicId": i, "name": n}, "/topics/{id}", "topic_already_exists"),
    "row": Creation("/tablesdb/c/tables/t/rows", lambda i, n: {"rowId": i, "data": {"name": n}},
                    "/tablesdb/c/tables/t/rows/{id}", "row_already_exists"),
    "database": Creation("/tablesdb", lambda i, n: {"databaseId": i, "name": n}, "/tablesdb/{id}",
                         "database_already_exists"),
    "table": Creation("/tablesdb/c/tables", lambda i, n: {"tableId": i, "name": n}, "/tablesdb/c/tables/{id}",
                      "table_already_exists"),
    "column": Creation("/tablesdb/c/tables/t/columns/string", lambda i, n: {"key": i, "size": 8, "required": False},
                       None, "column_already_exists"),
    "index": Creation("/tablesdb/c/tables/t/indexes", lambda i, n: {"key": i, "type": "key", "columns": ["name"]},
                      None, "column_index_already_exists"),
}


@pytest.fixture(scope="module")
def rows_table(shared_server) -> None:
    with shared_server.admin() as a:
        a.post("/tablesdb", json={"databaseId": "c", "name": "c"}).raise_for_status()
        a.post("/tablesdb/c/tables", json={"tableId": "t", "name": "t"}).raise_for_status()
        a.post("/tablesdb/c/tables/t/columns/string", json={"key": "name", "size": 64, "required": False}
               ).raise_for_status()


@pytest.mark.parametrize("kind", list(CREATIONS))
def test_one_id_created_by_requests_at_the_same_moment(shared_server, rows_table, kind):
    made = CREATIONS[kind]
    rid = f"{kind}{secrets.token_hex(4)}"
    names = [f"n{i}x{secrets.token_hex(2)}" for i in range(AT_ONCE)]
    with shared_server.admin() as admin, shared_server.guest() as guest:
        headers = (admin if made.as_key else guest).headers
        answers = posted_at_once(shared_server, headers, made.path, lambda i: made.body(rid, names[i]))
        created = [i for i, r in enumerate(answers) if r.status_code in (201, 202)]
        assert len(created) == 1, [r.status_code for r in answers]
        refused = [r.json() for r in answers if r.status_code not in (201, 202)]
        assert {(r["code"], r["type"]) for r in refused} == {(409, made.exists)}, refused
        if made.read:  # what is stored is what the one 201 answered: no refused request overwrote it
            stored = admin.get(made.read.format(id=rid)).json()
            assert stored["name"] == names[created[0]], stored


def _put_at_once(server, headers: httpx.Headers, requests: list[tuple[str, dict]]) -> list[httpx.Response]:
    start = threading.Barrier(len(requests))

    def one(request: tuple[str, dict]) -> httpx.Response:
        with httpx.Client(base_url=server.endpoint, headers=headers, timeout=20) as c:
            start.wait()
            return c.put(request[0], json=request[1])

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(one, requests))


def test_a_users_presence_set_by_requests_at_the_same_moment_is_one(shared_server):
    """A user has one presence: set under eight IDs at once, it is set eight times, once made.
    And one presence ID claimed for eight users at once belongs to one of them; the others are
    told it exists (never handed the first user's presence)."""
    uid, pid = f"u{secrets.token_hex(4)}", f"p{secrets.token_hex(4)}"
    with shared_server.admin() as admin:
        answers = _put_at_once(shared_server, admin.headers,
                               [(f"/presences/{pid}x{i}", {"userId": uid, "status": f"s{i}"}) for i in range(AT_ONCE)])
        assert [r.status_code for r in answers] == [200] * AT_ONCE
        assert len({r.json()["$id"] for r in answers}) == 1, "every answer is the same presence"
        mine = admin.get("/presences", params={"queries[]": f'{{"method":"equal","attribute":"userId","values":["{uid}"]}}'})
        assert mine.json()["total"] == 1, mine.text
        answers = _put_at_once(shared_server, admin.headers,
                               [(f"/presences/{pid}", {"userId": f"{uid}x{i}", "status": "on"}) for i in range(AT_ONCE)])
        owners = [r.json()["userId"] for r in answers if r.status_code == 200]
        refused = [r.json()["type"] for r in answers if r.status_code != 200]
        assert len(owners) == 1 and refused == ["presence_already_exists"] * (AT_ONCE - 1), refused
        assert admin.get(f"/presences/{pid}").json()["userId"] == owners[0]


def test_one_file_id_uploaded_by_requests_at_the_same_moment(shared_server):
    """Whole files sent under one ID at once: one is stored, the others are refused as a later
    upload would be (they are not taken for chunks of the first, which kept the last one's bytes)."""
    fid = f"f{secrets.token_hex(4)}"
    with shared_server.admin() as admin:
        if admin.get("/storage/buckets/same").status_code == 404:
            admin.post("/storage/buckets", json={"bucketId": "same", "name": "same"}).raise_for_status()
        start = threading.Barrier(AT_ONCE)

        def upload(i: int) -> httpx.Response:
            with httpx.Client(base_url=shared_server.endpoint, timeout=20,
                              headers={"X-Appwrite-Project": "default", "X-Appwrite-Key": shared_server.api_key}) as c:
                start.wait()
                return c.post("/storage/buckets/same/files", data={"fileId": fid},
                              files={"file": (f"{i}.txt", f"content {i}".encode(), "text/plain")})

        with ThreadPoolExecutor(AT_ONCE) as pool:
            answers = list(pool.map(upload, range(AT_ONCE)))
        stored = [i for i, r in enumerate(answers) if r.status_code == 201]
        assert len(stored) == 1, [r.status_code for r in answers]
        refused = [r.json() for r in answers if r.status_code != 201]
        assert {(r["code"], r["type"]) for r in refused} == {(409, "storage_file_already_exists")}, refused
        assert admin.get(f"/storage/buckets/same/files/{fid}/download").content == f"content {stored[0]}".encode()


def test_columns_added_to_one_table_at_the_same_moment_keep_their_own_places(shared_server, rows_table):
    """Columns of different keys added at once: each is added, each at a position of its own."""
    with shared_server.admin() as admin:
        admin.post("/tablesdb/c/tables", json={"tableId": "wide", "name": "wide"}).raise_for_status()
        answers = posted_at_once(shared_server, admin.headers, "/tablesdb/c/tables/wide/columns/integer",
                                 lambda i: {"key": f"k{i}", "required": False})
        assert [r.status_code for r in answers] == [202] * AT_ONCE
        listed = admin.get("/tablesdb/c/tables/wide/columns").json()["columns"]
        assert sorted(c["key"] for c in listed) == [f"k{i}" for i in range(AT_ONCE)]
    # The order the columns are listed in is their position: each column has its own.
    sql = "SELECT COUNT(DISTINCT position) FROM columns WHERE db='c' AND tbl='wide'"
    if shared_server.database:
        places = int(pg_query(shared_server.database, sql))
    else:
        with sqlite3.connect(shared_server.data_dir / "rtcli.db") as db:
            places = db.execute(sql).fetchone()[0]
    assert places == AT_ONCE


def test_upserts_of_one_new_row_at_the_same_moment_all_succeed(shared_server, rows_table):
    """PUT of a row that does not exist yet, sent at once: one creates it, the others update it
    (an upsert never answers that the row exists)."""
    rid = f"up{secrets.token_hex(4)}"
    with shared_server.admin() as admin:
        start = threading.Barrier(AT_ONCE)

        def put(i: int) -> httpx.Response:
            with httpx.Client(base_url=shared_server.endpoint, headers=admin.headers, timeout=20) as c:
                start.wait()
                return c.put(f"/tablesdb/c/tables/t/rows/{rid}", json={"data": {"name": f"n{i}"}})

        with ThreadPoolExecutor(AT_ONCE) as pool:
            answers = list(pool.map(put, range(AT_ONCE)))
        assert [r.status_code for r in answers] == [200] * AT_ONCE, [r.text for r in answers]
        stored = admin.get(f"/tablesdb/c/tables/t/rows/{rid}").json()
        assert stored["name"] in {r.json()["name"] for r in answers}
