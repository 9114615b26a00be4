"""Presence: set over the realtime socket (Web SDK upsertPresence) or REST (node SDK Presences)."""

from __future__ import annotations

import json

from tests.server.test_realtime import nothing, recv
from tests.server.test_users import rt, signup, sub


def test_presence_lifecycle(shared_server):
    a_id, a_token, a = signup(shared_server, "pa")
    b_id, b_token, b = signup(shared_server, "pb")
    watcher, _ = rt(shared_server, {"X-Appwrite-Session": b_token})
    sub(watcher, "presences")
    ws, _ = rt(shared_server, {"X-Appwrite-Session": a_token})
    ws.send(json.dumps({"type": "presence", "data": {"status": "online", "presenceId": f"p-{a_id}",
                                                      "metadata": {"typing": False}}}))
    reply = recv(ws)["data"]
    assert reply["to"] == "presence" and reply["presence"]["status"] == "online"
    assert reply["presence"]["userId"] == a_id and reply["presence"]["source"] == "realtime"
    created = recv(watcher)["data"]
    assert created["events"][0] == f"presences.p-{a_id}.create" and "presences.create" in created["channels"]
    ws.send(json.dumps({"type": "presence", "data": {"status": "away", "presenceId": f"p-{a_id}"}}))
    recv(ws)
    updated = recv(watcher)["data"]
    assert updated["events"][0] == f"presences.p-{a_id}.update" and updated["payload"]["status"] == "away"
    nothing(watcher, 0.3)  # one update event, not a leave plus a join
    listed = b.get("/presences").json()
    assert [p["$id"] for p in listed["presences"]] == [f"p-{a_id}"]
    ws.close()  # the presence leaves with its connection
    gone = recv(watcher)["data"]
    assert gone["events"][0] == f"presences.p-{a_id}.delete"
    assert b.get("/presences").json()["total"] == 0
    watcher.close()


def test_presence_needs_a_user_and_rest_upsert(shared_server):
    guest, _ = rt(shared_server)
    guest.send(json.dumps({"type": "presence", "data": {"status": "online"}}))
    err = recv(guest)["data"]
    assert err["code"] == 401
    guest.send(json.dumps({"type": "presence", "data": {}}))
    assert "Status is required" in recv(guest)["data"]["message"]
    guest.close()
    uid, token, user = signup(shared_server, "rest")
    with shared_server.admin() as admin:
        r = admin.put("/presences/api-1", json={"userId": uid, "status": "busy", "expiresAt": "2099-01-01T00:00:00Z",
                                                "permissions": ['read("any")']})
        assert r.status_code == 200 and r.json()["source"] == "api" and r.json()["expiresAt"].startswith("2099")
        assert admin.patch("/presences/api-1", json={"userId": uid, "status": "free"}).json()["status"] == "free"
    with shared_server.guest() as g:
        assert g.get("/presences/api-1").json()["status"] == "free"
    other = user.put("/presences/api-2", json={"userId": "someone-else", "status": "x"})
    assert other.status_code == 401
    assert user.request("DELETE", "/presences/api-1", json={}).status_code == 204
    with shared_server.guest() as g:
        assert g.get("/presences/api-1").json()["type"] == "presence_not_found"
