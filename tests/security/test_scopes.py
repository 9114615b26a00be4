"""A narrow API key gets only what its scopes allow: live, replayed from the log, and when it
makes other keys."""

from __future__ import annotations

import pytest

from tests.security.probe import Responsive, both_stores, drain, keyed, make_key, realtime, subscribe
from tests.server.conftest import BACKENDS
from tests.server.test_users import signup

# The reads these attacks go through differ in SQL: both stores.
server = pytest.fixture(params=BACKENDS)(both_stores)


def _activity(server) -> None:
    """One of each kind of event a narrow key must not see: an account with a session, a team
    with its membership, a file, a row."""
    _, _, user = signup(server, "victim")
    with user:
        assert user.post("/teams", json={"teamId": "unique()", "name": "t"}).status_code == 201
    with server.admin() as a:
        a.post("/storage/buckets", json={"bucketId": "b", "name": "b"}).raise_for_status()
        a.post("/storage/buckets/b/files", data={"fileId": "f"},
               files={"file": ("f.txt", b"secret", "text/plain")}).raise_for_status()
        a.post("/tablesdb", json={"databaseId": "d", "name": "d"}).raise_for_status()
        a.post("/tablesdb/d/tables", json={"tableId": "t", "name": "t"}).raise_for_status()
        a.post("/tablesdb/d/tables/t/rows", json={"rowId": "r", "data": {"x": 1}}).raise_for_status()


def test_replay_and_live_apply_the_key_scopes(server):
    _activity(server)
    writer = make_key(server, ["rows.write"]).json()["secret"]
    reader = make_key(server, ["users.read"]).json()["secret"]
    with Responsive(server) as watch:
        ws, hello = realtime(server, {"X-Appwrite-Key": writer})
        ack = subscribe(ws, {"subscriptionId": "all", "channels": [">"], "since": "beginning"})
        assert ack["data"]["subscriptions"][0]["resumed"] is True
        assert drain(ws) == []  # nothing replayed: rows.write reads nothing
        signup(server, "later")[2].close()
        assert drain(ws) == []  # nothing live either
        ws.close()

        # Beside it, a key with users.read gets the account and session events (and only those).
        ws, _ = realtime(server, {"X-Appwrite-Key": reader})
        subscribe(ws, {"subscriptionId": "all", "channels": [">"], "since": "beginning"})
        names = [f["data"]["events"][0] for f in drain(ws)]
        assert any(".sessions." in n for n in names) and all(n.startswith("users.") for n in names), names
        ws.close()
    watch.assert_prompt()


def test_a_key_mints_only_keys_within_its_own_scopes(server):
    minter = make_key(server, ["keys.write", "rows.read"]).json()["secret"]
    for wanted in (["*"], ["rows.read", "users.read"], ["keys.write", "events.read"]):
        r = make_key(server, wanted, using=minter)
        assert r.status_code == 401, r.text
        body = r.json()
        assert body["type"] == "general_unauthorized_scope" and "subset" in body["message"], body
    with keyed(server, minter) as k:
        assert all(key["scopes"] != ["*"] for key in k.get("/keys").json()["keys"][1:])
    # Beside it: a subset of its scopes is fine, and the server's own key still makes any key.
    made = make_key(server, ["rows.read"], using=minter)
    assert made.status_code == 201 and made.json()["scopes"] == ["rows.read"]
    assert make_key(server, ["*"]).status_code == 201


def test_the_rest_log_applies_the_key_scopes_as_realtime_does(server):
    _activity(server)
    kinds = ("users.", "teams.", "buckets.", "tablesdb.d.tables.t.rows.")

    def log(scopes: list[str]) -> list[str]:
        secret = make_key(server, scopes).json()["secret"]
        with keyed(server, secret) as k:
            r = k.get("/events", params={"since": "beginning", "limit": 1000})
            assert r.status_code == 200, r.text
            return [e["events"][0] for e in r.json()["events"]]

    # events.read opens the log, not what other scopes guard: no account, team, file or row.
    opened = log(["events.read"])
    assert opened and not [n for n in opened if n.startswith(kinds)], opened
    assert any(n.startswith("keys.") for n in opened)  # what no other scope guards
    # With users.read beside it, the account events (and still nothing of the others).
    names = log(["events.read", "users.read"])
    assert any(".sessions." in n for n in names)
    assert not [n for n in names if n.startswith(kinds[1:])], names
    assert len(log(["*"])) > len(names)


def test_explain_needs_the_events_scope_and_users_read_for_a_users_roles(server):
    _activity(server)
    with server.admin() as a:
        log = a.get("/events", params={"since": "beginning", "limit": 1000}).json()["events"]
        uid = next(e["payload"]["$id"] for e in log if e["events"][0].startswith("users.") and ".sessions." not in e["events"][0])
    row = next(e["cursor"] for e in log if e["events"][0].startswith("tablesdb.d.tables.t.rows."))
    account = next(e["cursor"] for e in log if e["events"][0].startswith("users."))
    narrow = keyed(server, make_key(server, ["events.read"]).json()["secret"])
    rows = keyed(server, make_key(server, ["events.read", "rows.read"]).json()["secret"])
    with narrow, rows:
        for cursor, scope in ((row, "rows.read"), (account, "users.read")):
            r = narrow.get(f"/events/{cursor}/explain")
            assert r.status_code == 401 and scope in r.json()["message"], r.text
        assert rows.get(f"/events/{row}/explain").status_code == 200
        r = rows.get(f"/events/{row}/explain", params={"user": uid})  # a user's roles: users.read
        assert r.status_code == 401 and "users.read" in r.json()["message"], r.text
    with server.admin() as a:
        assert a.get(f"/events/{row}/explain", params={"user": uid}).status_code == 200
