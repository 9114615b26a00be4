"""Presence: set over the realtime socket (Web SDK upsertPresence) or REST (server SDKs' Presences),
with Appwrite's rules: one presence per user, owner-only unless its permissions say otherwise,
update/delete by whoever holds that permission, a key may give a presence to another user."""

from __future__ import annotations

import json

from tests.server.test_realtime import nothing, recv
from tests.server.test_users import rt, signup, sub

SHARED = ['read("users")']


def presence(ws, **data) -> dict:
    ws.send(json.dumps({"type": "presence", "data": data}))
    return recv(ws)


def test_realtime_presence_lifecycle(shared_server):
    a_id, a_token, a = signup(shared_server, "pa")
    b_id, b_token, b = signup(shared_server, "pb")
    watcher, _ = rt(shared_server, {"X-Appwrite-Session": b_token})
    sub(watcher, "presences")
    ws, _ = rt(shared_server, {"X-Appwrite-Session": a_token})
    reply = presence(ws, status="online", presenceId=f"p-{a_id}", metadata={"typing": False}, permissions=SHARED)["data"]
    assert reply["to"] == "presence" and reply["presence"]["status"] == "online"
    assert reply["presence"]["userId"] == a_id and reply["presence"]["source"] == "realtime"
    first = recv(watcher)["data"]
    assert first["events"][0] == f"presences.p-{a_id}.upsert" and "presences.upsert" in first["channels"]
    # A second id for the same user updates the one presence, under its first id.
    again = presence(ws, status="away", presenceId="another-id", permissions=SHARED)["data"]["presence"]
    assert again["$id"] == f"p-{a_id}" and again["status"] == "away"
    updated = recv(watcher)["data"]
    assert updated["events"][0] == f"presences.p-{a_id}.upsert" and updated["payload"]["status"] == "away"
    nothing(watcher, 0.3)  # one event, never a leave plus a join
    assert [p["$id"] for p in b.get("/presences").json()["presences"]] == [f"p-{a_id}"]
    ws.close()  # the presence leaves with its connection
    gone = recv(watcher)["data"]
    assert gone["events"][0] == f"presences.p-{a_id}.delete"
    assert b.get("/presences").json()["total"] == 0
    watcher.close()


def test_owner_only_by_default(shared_server):
    a_id, a_token, a = signup(shared_server, "own")
    b_id, b_token, b = signup(shared_server, "other")
    watcher, _ = rt(shared_server, {"X-Appwrite-Session": b_token})
    sub(watcher, "presences")
    ws, _ = rt(shared_server, {"X-Appwrite-Session": a_token})
    made = presence(ws, status="online", presenceId=f"own-{a_id}")["data"]["presence"]
    assert sorted(made["$permissions"]) == sorted(f'{x}("user:{a_id}")' for x in ("read", "update", "delete", "write"))
    nothing(watcher, 0.4)
    assert b.get(f"/presences/own-{a_id}").json()["type"] == "presence_not_found"
    assert a.get(f"/presences/own-{a_id}").json()["status"] == "online"
    ws.close()
    watcher.close()


def test_realtime_error_texts(shared_server):
    guest, _ = rt(shared_server)
    err = presence(guest, status="online")["data"]
    assert err == {"code": 401, "message": "User must be authorized"}
    assert "Payload is not valid. Status is required" in presence(guest)["data"]["message"]
    guest.close()
    _, token, _ = signup(shared_server, "texts")
    ws, _ = rt(shared_server, {"X-Appwrite-Session": token})
    bad = presence(ws, status="online", permissions="invalid")["data"]
    assert "permissions: Permissions must be an array of strings" in bad["message"]
    ws.close()


def test_rest_rules(shared_server):
    a_id, _, a = signup(shared_server, "ra")
    b_id, _, b = signup(shared_server, "rb")
    c_id, _, c = signup(shared_server, "rc")
    with shared_server.admin() as admin:
        missing = admin.put("/presences/k-1", json={"status": "x"})
        assert missing.status_code == 400 and missing.json()["message"] == "userId is required for API key authentication"
        r = admin.put("/presences/k-1", json={"userId": a_id, "status": "busy",
                                                "permissions": ['read("users")', f'update("user:{b_id}")']})
        assert r.status_code == 200 and r.json()["source"] == "rest"
        # One presence per user: another id updates it, keeping its id.
        assert admin.put("/presences/k-2", json={"userId": a_id, "status": "free",
                                                 "permissions": ['read("users")', f'update("user:{b_id}")']}).json()["$id"] == "k-1"
        assert admin.get("/presences", params={"queries[]": json.dumps({"method": "equal", "attribute": "userId",
                                                                          "values": [a_id]})}).json()["total"] == 1
    # B holds update permission on A's presence: B may update it, C (read only) may not.
    assert b.patch("/presences/k-1", json={"status": "seen by b"}).json()["status"] == "seen by b"
    denied = c.patch("/presences/k-1", json={"status": "c"})
    assert denied.status_code == 401 and denied.json()["type"] == "user_unauthorized"
    assert c.request("DELETE", "/presences/k-1", json={}).status_code == 401
    other = c.put("/presences/c-1", json={"userId": a_id, "status": "x"})
    assert other.status_code == 401 and other.json()["message"] == "userId is not allowed for non-API key and non-privileged users"
    taken = c.put("/presences/k-1", json={"status": "x"})  # k-1 is A's: C cannot take its id
    assert taken.status_code == 409 and taken.json()["type"] == "presence_already_exists"
    with shared_server.admin() as admin:
        # A key may give the presence to another user, who then owns it (default permissions).
        moved = admin.patch("/presences/k-1", json={"userId": c_id}).json()
        assert moved["userId"] == c_id and all(f"user:{c_id}" in p for p in moved["$permissions"])
        assert b.get("/presences/k-1").json()["type"] == "presence_not_found"
        assert c.get("/presences/k-1").json()["userId"] == c_id
        assert admin.patch("/presences/k-1", json={"userId": c_id, "status": "mine"}).json()["status"] == "mine"
    assert c.request("DELETE", "/presences/k-1", json={}).status_code == 204
    with shared_server.guest() as g:
        assert g.put("/presences/g", json={"status": "x"}).json()["type"] == "general_unauthorized_scope"
