"""The legacy Databases API (/v1/databases: collections, attributes, documents, indexes) against a
real server, on SQLite and PostgreSQL: the same storage as TablesDB (a row is a document, through
either API), Appwrite's document models and error types, and events with both families of names
reaching exactly the readers allowed, live and replayed."""

from __future__ import annotations

import json
import secrets

import pytest
from websockets.sync.client import connect

from tests.server.test_realtime import nothing, recv


@pytest.fixture
def coll(shared_server):
    db = "l" + secrets.token_hex(3)
    with shared_server.admin() as a:
        r = a.post("/databases", json={"databaseId": db, "name": "Legacy"})
        assert r.status_code == 201 and r.json()["type"] == "legacy", r.text
        r = a.post(f"/databases/{db}/collections", json={
            "collectionId": "posts", "name": "Posts", "documentSecurity": True, "permissions": ['create("any")']})
        assert r.status_code == 201, r.text
        for kind, body in (("string", {"key": "title", "size": 100, "required": True}),
                           ("integer", {"key": "likes", "required": False, "default": 0})):
            assert a.post(f"/databases/{db}/collections/posts/attributes/{kind}", json=body).status_code == 202
    return db


def test_collections_attributes_documents_and_indexes(shared_server, coll):
    base = f"/databases/{coll}/collections/posts"
    with shared_server.admin() as a:
        c = a.get(base).json()
        assert c["$id"] == "posts" and c["documentSecurity"] is True and c["databaseId"] == coll
        assert [x["key"] for x in c["attributes"]] == ["title", "likes"] and "rowSecurity" not in c
        assert a.get(f"/databases/{coll}/collections").json()["collections"][0]["$id"] == "posts"
        assert a.get(f"{base}/attributes").json()["total"] == 2
        assert a.get(f"{base}/attributes/title").json()["size"] == 100
        idx = a.post(f"{base}/indexes", json={"key": "t", "type": "unique", "attributes": ["title"]})
        assert idx.status_code == 202 and idx.json()["attributes"] == ["title"] and "columns" not in idx.json()
        assert a.get(f"{base}/indexes").json()["indexes"][0]["key"] == "t"

        d = a.post(f"{base}/documents", json={"documentId": "d1", "data": {"title": "Hello"},
                                               "permissions": ['read("any")']})
        assert d.status_code == 201, d.text
        doc = d.json()
        assert doc["$collectionId"] == "posts" and doc["$databaseId"] == coll and doc["likes"] == 0
        assert "$tableId" not in doc
        assert a.get(f"{base}/documents/d1").json() == doc
        assert a.patch(f"{base}/documents/d1", json={"data": {"likes": 3}}).json()["likes"] == 3
        assert a.patch(f"{base}/documents/d1/likes/increment", json={"value": 2}).json()["likes"] == 5
        assert a.put(f"{base}/documents/d2", json={"data": {"title": "Up"}}).json()["$id"] == "d2"
        bulk = a.post(f"{base}/documents", json={"documents": [{"$id": "d3", "title": "A"}, {"$id": "d4", "title": "B"}]})
        assert bulk.status_code == 201 and [x["$id"] for x in bulk.json()["documents"]] == ["d3", "d4"]
        listed = a.get(f"{base}/documents", params={"queries[0]": json.dumps(
            {"method": "equal", "attribute": "title", "values": ["A"]})}).json()
        assert listed == {"total": 1, "documents": [bulk.json()["documents"][0]]}

        # Errors in the Databases API's names.
        for method, path, payload, status, kind in (
                ("GET", f"{base}/documents/nope", None, 404, "document_not_found"),
                ("GET", f"/databases/{coll}/collections/nope", None, 404, "collection_not_found"),
                ("POST", f"{base}/documents", {"documentId": "d1", "data": {"title": "x"}}, 409, "document_already_exists"),
                ("POST", f"{base}/documents", {"documentId": "d9", "data": {"title": "Hello"}}, 409,
                 "document_unique_constraint_violation"),
                ("POST", f"{base}/documents", {"documentId": "d9", "data": {"likes": 1}}, 400,
                 "document_invalid_structure"),
                ("POST", f"{base}/documents", {"documentId": "d9"}, 400, "document_missing_data"),
                ("GET", f"{base}/attributes/nope", None, 404, "attribute_not_found"),
                ("GET", f"{base}/indexes/nope", None, 404, "index_not_found"),
                ("POST", f"{base}/documents", {"documentId": "-bad", "data": {"title": "x"}}, 400,
                 "general_argument_invalid")):
            r = a.request(method, path, json=payload)
            assert r.status_code == status and r.json()["type"] == kind, (path, r.text)
            assert "row" not in r.json()["message"].lower().replace("throw", ""), r.json()["message"]
        # A parameter error names the Databases API's parameter, plural words included.
        r = a.post(f"{base}/indexes", json={"key": "bad", "type": "key", "attributes": "title"})
        assert r.status_code == 400 and r.json()["type"] == "general_argument_invalid", r.text
        assert "`attributes`" in r.json()["message"] and "column" not in r.json()["message"], r.json()["message"]
        assert a.delete(f"{base}/documents/d4").status_code == 204
        assert a.delete(f"{base}/indexes/t").status_code == 204
        assert a.delete(f"{base}/attributes/likes").status_code == 204
        assert a.delete(base).status_code == 204 and a.get(base).json()["type"] == "collection_not_found"


def test_a_row_is_a_document_through_both_apis(shared_server, coll):
    with shared_server.admin() as a:
        a.post(f"/databases/{coll}/collections/posts/documents",
               json={"documentId": "x", "data": {"title": "from documents"}}).raise_for_status()
        row = a.get(f"/tablesdb/{coll}/tables/posts/rows/x").json()
        assert row["title"] == "from documents" and row["$tableId"] == "posts"
        a.patch(f"/tablesdb/{coll}/tables/posts/rows/x", json={"data": {"title": "from rows"}}).raise_for_status()
        assert a.get(f"/databases/{coll}/collections/posts/documents/x").json()["title"] == "from rows"
        assert a.get(f"/tablesdb/{coll}/tables/posts").json()["rowSecurity"] is True
        # And a TablesDB database is reachable as a legacy one.
        t = "t" + secrets.token_hex(3)
        a.post("/tablesdb", json={"databaseId": t, "name": t}).raise_for_status()
        a.post(f"/tablesdb/{t}/tables", json={"tableId": "rows", "name": "r"}).raise_for_status()
        a.post(f"/tablesdb/{t}/tables/rows/rows", json={"rowId": "r1", "data": {"v": 1}}).raise_for_status()
        assert a.get(f"/databases/{t}/collections/rows/documents/r1").json()["v"] == 1
        assert a.get(f"/databases/{t}").json()["type"] == "tablesdb"


def test_document_events_have_both_names_and_reach_only_readers(shared_server, coll):
    url = f"ws://127.0.0.1:{shared_server.port}/v1/realtime?project={shared_server.project}"
    docs_channel = f"databases.{coll}.collections.posts.documents"
    rows_channel = f"databases.{coll}.tables.posts.rows"

    def subscriber(since=None):
        ws = connect(url)
        assert recv(ws)["type"] == "connected"
        channels = [docs_channel, rows_channel] + ([] if since else ["documents"])
        sub = {"subscriptionId": "s", "channels": channels, "queries": []}
        if since:
            sub["since"] = since
        ws.send(json.dumps({"type": "subscribe", "data": [sub]}))
        assert recv(ws)["type"] == "response"
        return ws

    guest = subscriber()
    try:
        with shared_server.admin() as a:
            a.post(f"/databases/{coll}/collections/posts/documents", json={
                "documentId": "secret", "data": {"title": "private"}, "permissions": ['read("users")']}
            ).raise_for_status()
            a.post(f"/databases/{coll}/collections/posts/documents", json={
                "documentId": "open", "data": {"title": "public"}, "permissions": ['read("any")']}
            ).raise_for_status()
        ev = recv(guest)["data"]
        assert ev["payload"]["$id"] == "open"  # the users-only document did not reach a guest
        names = ev["events"]
        assert f"{docs_channel}.open.create" in names and f"{rows_channel}.open.create" in names
        assert "databases.*.collections.*.documents.*.create" in names and len(names) == 42
        assert not any(n.startswith("tablesdb.") for n in names)  # a legacy database's row
        assert set(ev["channels"]) >= {docs_channel, f"{docs_channel}.open", rows_channel, "documents.create"}
        assert ev["payload"]["$collectionId"] == "posts" and ev["payload"]["$tableId"] == "posts"
        nothing(guest)
        replay = subscriber(since="beginning")
        try:
            replayed = [recv(replay)["data"]["payload"]["$id"] for _ in range(1)]
            assert replayed == ["open"]
            nothing(replay)
        finally:
            replay.close()
    finally:
        guest.close()


def test_document_writes_staged_in_a_transaction(shared_server, coll):
    base = f"/databases/{coll}/collections/posts/documents"
    with shared_server.admin() as a:
        tid = a.post("/databases/transactions", json={}).json()["$id"]
        r = a.post(base, json={"documentId": "t1", "data": {"title": "staged"}, "transactionId": tid})
        assert r.status_code == 201 and r.json()["$collectionId"] == "posts", r.text
        a.post(base, json={"documentId": "t2", "data": {"title": "other"}}).raise_for_status()
        r = a.patch(f"{base}/t2", json={"data": {"likes": 9}, "transactionId": tid})
        assert r.status_code == 200
        assert a.get(f"{base}/t1").status_code == 404 and a.get(f"{base}/t2").json()["likes"] == 0
        assert a.patch(f"/databases/transactions/{tid}", json={"commit": True}).json()["status"] == "committed"
        assert a.get(f"{base}/t1").json()["title"] == "staged" and a.get(f"{base}/t2").json()["likes"] == 9
