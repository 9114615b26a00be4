"""Topics against a real server (SQLite and PostgreSQL): the resource, publishing over REST and
the realtime socket, who may publish and who receives, durable vs ephemeral, queries, limits."""

from __future__ import annotations

import json
import secrets
import time

import httpx
import pytest

from tests.conftest import start_server
from tests.server.test_realtime import nothing, recv
from tests.server.test_users import rt, signup, sub


def new_topic(admin: httpx.Client, permissions: list[str], mode: str = "durable", name: str = "t") -> str:
    tid = f"{name}{secrets.token_hex(3)}"
    r = admin.post("/topics", json={"topicId": tid, "mode": mode, "permissions": permissions})
    assert r.status_code == 201, r.text
    return tid


def publish(ws, topic: str, data: dict, **extra) -> dict:
    ws.send(json.dumps({"type": "publish", "data": {"topic": topic, "data": data, **extra}}))
    return recv(ws)


def key_client(server, scopes: list[str]) -> httpx.Client:
    with server.admin() as admin:
        secret = admin.post("/keys", json={"name": "k", "scopes": scopes}).json()["secret"]
    return httpx.Client(base_url=server.endpoint, headers={"X-Appwrite-Project": "default", "X-Appwrite-Key": secret})


def test_topic_resource_crud_scopes_and_its_events(shared_server):
    with shared_server.admin() as admin:
        tid = new_topic(admin, ['read("any")'], mode="ephemeral")
        got = admin.get(f"/topics/{tid}").json()
        assert got["mode"] == "ephemeral" and got["name"] == tid and got["$permissions"] == ['read("any")']
        assert tid in [t["$id"] for t in admin.get("/topics", params={"queries[]": '{"method":"limit","values":[5000]}'}).json()["topics"]]
        up = admin.put(f"/topics/{tid}", json={"name": "Typing", "mode": "durable", "permissions": ['read("users")']})
        assert up.status_code == 200 and up.json()["name"] == "Typing" and up.json()["mode"] == "durable"
        again = admin.post("/topics", json={"topicId": tid})
        assert again.status_code == 409 and again.json()["type"] == "topic_already_exists"
        for bad, word in (({"topicId": "a.b"}, "no period"), ({"topicId": "x1", "mode": "sometimes"}, "ephemeral"),
                          ({"topicId": "x2", "permissions": ['fly("any")']}, "Invalid permission"),
                          ({"topicId": "x3", "permissions": [f'read("user:u{i}")' for i in range(101)]}, "at most 100"),
                          ({"topicId": "x4", "name": "n" * 129}, "1-128")):
            r = admin.post("/topics", json=bad)
            assert r.status_code == 400 and word in r.json()["message"], r.text
        log = admin.get("/events", params={"since": "beginning", "limit": 1000}).json()["events"]
        names = [e["events"][0] for e in log]
        assert f"topics.{tid}.create" in names and f"topics.{tid}.update" in names
        assert all(e["channels"] == [] for e in log if e["events"][0].startswith(f"topics.{tid}."))
        assert admin.delete(f"/topics/{tid}").status_code == 204
        assert admin.get(f"/topics/{tid}").json()["type"] == "topic_not_found"
    with key_client(shared_server, ["topics.read"]) as reader:
        assert reader.get("/topics").status_code == 200
        r = reader.post("/topics", json={"topicId": "nope"})
        assert r.status_code == 401 and r.json()["type"] == "general_unauthorized_scope" and "topics.write" in r.text
    with shared_server.guest() as g:
        r = g.post("/topics", json={"topicId": "nope"})
        assert r.status_code == 401 and r.json()["type"] == "general_unauthorized_scope"


def test_users_see_and_manage_topics_as_permissions_allow(shared_server):
    uid, _, user = signup(shared_server, "manager")
    with shared_server.admin() as admin:
        mine = new_topic(admin, [f'read("user:{uid}")', f'update("user:{uid}")', f'delete("user:{uid}")'])
        readable = new_topic(admin, ['read("users")'])
        hidden = new_topic(admin, ['read("team:nobody")'])
    listed = {t["$id"] for t in user.get("/topics").json()["topics"]}
    assert mine in listed and readable in listed and hidden not in listed
    assert user.put(f"/topics/{mine}", json={"name": "Mine"}).json()["name"] == "Mine"
    r = user.put(f"/topics/{readable}", json={"name": "x"})
    assert r.status_code == 401 and r.json()["type"] == "user_unauthorized"
    # Hidden or missing: the same answer, nothing leaks.
    for tid in (hidden, "no-such-topic"):
        r = user.get(f"/topics/{tid}")
        assert r.status_code == 404 and r.json()["message"] == f"Topic with the requested ID '{tid}' could not be found."
    r = user.put(f"/topics/{mine}", json={"permissions": ['read("any")', 'create("team:other")']})
    assert r.status_code == 401 and "Permissions must be one of" in r.json()["message"]  # a role it does not hold
    assert user.delete(f"/topics/{mine}").status_code == 204
    user.close()


def test_publish_permissions_guests_users_teams_keys(shared_server):
    a_id, a_token, a = signup(shared_server, "pub-a")
    b_id, b_token, b = signup(shared_server, "pub-b")
    team = a.post("/teams", json={"teamId": "unique()", "name": "Crew"}).json()["$id"]
    with shared_server.admin() as admin:
        anyone = new_topic(admin, ['read("any")', 'create("any")'])
        users = new_topic(admin, ['read("any")', 'create("users")'])
        crew = new_topic(admin, [f'read("team:{team}")', f'create("team:{team}")'])
        inbox = new_topic(admin, ['create("users")'])  # write-only: users publish, only keys receive
        readonly = new_topic(admin, ['read("any")'])
    body = {"data": {"n": 1}}
    with shared_server.guest() as g:
        assert g.post(f"/topics/{anyone}/messages", json=body).status_code == 201
        r = g.post(f"/topics/{users}/messages", json=body)
        assert r.status_code == 401 and r.json()["type"] == "user_unauthorized"  # it may read: it is told why
        for hidden in (crew, inbox, "missing"):  # it may not even see these: 404 for all, as if absent
            r = g.post(f"/topics/{hidden}/messages", json=body)
            assert r.status_code == 404 and r.json()["type"] == "topic_not_found" and hidden in r.json()["message"]
    assert b.post(f"/topics/{users}/messages", json=body).status_code == 201
    assert b.post(f"/topics/{inbox}/messages", json=body).status_code == 201
    assert b.post(f"/topics/{crew}/messages", json=body).json()["type"] == "topic_not_found"
    assert a.post(f"/topics/{crew}/messages", json=body).status_code == 201  # the team's owner is a member
    assert b.post(f"/topics/{readonly}/messages", json=body).json()["type"] == "user_unauthorized"
    with key_client(shared_server, ["topics.read"]) as reader, key_client(shared_server, ["topics.write"]) as writer:
        r = reader.post(f"/topics/{crew}/messages", json=body)
        assert r.status_code == 401 and r.json()["type"] == "general_unauthorized_scope"
        assert writer.post(f"/topics/{crew}/messages", json=body).status_code == 201  # keys bypass permissions
    # The same answers over the realtime socket, as error frames that name the message.
    ws, _ = rt(shared_server, {"X-Appwrite-Session": b_token})
    refused = publish(ws, crew, {"n": 2}, messageId="m-1")["data"]
    assert refused == {"code": 404, "message": f"Topic with the requested ID '{crew}' could not be found.",
                       "to": "publish", "messageId": "m-1", "type": "topic_not_found"}
    ack = publish(ws, users, {"n": 3}, messageId="m-2")["data"]
    assert ack["to"] == "publish" and ack["success"] and ack["message"]["$id"] == "m-2"
    ws.close()
    for c in (a, b):
        c.close()


def test_read_roles_at_delivery(shared_server):
    a_id, a_token, a = signup(shared_server, "rd-a")
    b_id, b_token, b = signup(shared_server, "rd-b")
    team = a.post("/teams", json={"teamId": "unique()", "name": "Readers"}).json()["$id"]
    with shared_server.admin() as admin:
        tid = new_topic(admin, [f'read("team:{team}")'])
    member, _ = rt(shared_server, {"X-Appwrite-Session": a_token})
    outsider, _ = rt(shared_server, {"X-Appwrite-Session": b_token})
    guest, _ = rt(shared_server)
    with key_client(shared_server, ["topics.read"]) as k1, key_client(shared_server, ["rows.read"]) as k2:
        keyed, _ = rt(shared_server, {"X-Appwrite-Key": k1.headers["X-Appwrite-Key"]})
        unscoped, _ = rt(shared_server, {"X-Appwrite-Key": k2.headers["X-Appwrite-Key"]})
    for ws in (member, outsider, guest, keyed, unscoped):
        sub(ws, f"topics.{tid}", "topics")
    with shared_server.admin() as admin:
        assert admin.post(f"/topics/{tid}/messages", json={"data": {"secret": 42}}).status_code == 201
    for ws in (member, keyed):
        ev = recv(ws)["data"]
        assert ev["payload"]["secret"] == 42 and ev["subscriptions"] == ["s"]
        assert set(ev["channels"]) == {"topics", f"topics.{tid}"}
    for ws in (outsider, guest, unscoped):
        nothing(ws)
    for ws in (member, outsider, guest, keyed, unscoped):
        ws.close()
    a.close()
    b.close()


def test_durable_replays_on_resume_ephemeral_does_not(shared_server):
    with shared_server.admin() as admin:
        durable = new_topic(admin, ['read("any")', 'create("any")'])
        ephemeral = new_topic(admin, ['read("any")', 'create("any")'], mode="ephemeral")
    ws, _ = rt(shared_server)
    sub(ws, f"topics.{durable}", f"topics.{ephemeral}")
    for tid in (durable, ephemeral):
        ws.send(json.dumps({"type": "publish", "data": {"topic": tid, "data": {"n": 1}}}))
    frames = [recv(ws) for _ in range(4)]  # two acks, two events (each ack before its own event)
    d_ack, e_ack = [f["data"]["message"] for f in frames if f["type"] == "response"]
    assert d_ack["cursor"].startswith("c1.") and e_ack["cursor"] is None
    live = [f["data"] for f in frames if f["type"] == "event"]
    assert [e["payload"]["$topicId"] for e in live] == [durable, ephemeral]
    assert live[0]["cursor"] == d_ack["cursor"] and "cursor" not in live[1]
    ws.close()
    # A watcher sees the messages sent while away delivered before the resume: an ephemeral
    # message is handed to the subscribers there are when the node delivers it, which on
    # PostgreSQL is after the durable one committed before it, possibly after the resume.
    watcher, _ = rt(shared_server)
    sub(watcher, f"topics.{durable}", f"topics.{ephemeral}")
    with shared_server.guest() as g:  # while away: one more message on each
        for tid in (durable, ephemeral):
            assert g.post(f"/topics/{tid}/messages", json={"data": {"n": 2}}).status_code == 201
    assert [recv(watcher)["data"]["payload"]["$topicId"] for _ in range(2)] == [durable, ephemeral]
    watcher.close()
    back, _ = rt(shared_server)
    back.send(json.dumps({"type": "subscribe", "data": [{"subscriptionId": "s", "queries": [], "since": d_ack["cursor"],
                                                         "channels": [f"topics.{durable}", f"topics.{ephemeral}"]}]}))
    assert recv(back)["data"]["subscriptions"][0]["resumed"] is True
    replayed = recv(back)["data"]
    assert replayed["payload"]["$topicId"] == durable and replayed["payload"]["n"] == 2
    nothing(back)  # the ephemeral message was never stored: nothing to replay
    back.close()


def test_queries_event_channels_patterns_and_self(shared_server):
    with shared_server.admin() as admin:
        tid = new_topic(admin, ['read("any")', 'create("any")'], mode="ephemeral")
    watcher, _ = rt(shared_server)
    watcher.send(json.dumps({"type": "subscribe", "data": [
        {"subscriptionId": "room-a", "channels": [f"topics.{tid}"], "queries": ['{"method":"equal","attribute":"room","values":["a"]}']},
        {"subscriptionId": "typing", "channels": [f"topics.{tid}.events.typing"], "queries": []},
        {"subscriptionId": "pattern", "channels": ["topics.*.events.>"], "queries": []}]}))
    recv(watcher)
    publisher, _ = rt(shared_server)
    sub(publisher, f"topics.{tid}")
    publish(publisher, tid, {"room": "b", "text": "no"}, self=False)
    publish(publisher, tid, {"room": "a", "text": "yes"}, self=False)
    publish(publisher, tid, {"room": "b"}, event="typing")
    first = recv(watcher)["data"]
    assert first["subscriptions"] == ["room-a"] and first["payload"]["text"] == "yes"
    second = recv(watcher)["data"]
    assert sorted(second["subscriptions"]) == ["pattern", "typing"] and second["payload"]["$event"] == "typing"
    assert f"topics.{tid}.events.typing" in second["channels"]
    nothing(watcher)
    own = recv(publisher)["data"]  # only the one it published with self (the default) came back
    assert own["payload"]["$event"] == "typing"
    nothing(publisher)
    for ws in (watcher, publisher):
        ws.close()


def test_explain_a_durable_message(shared_server):
    uid, _, user = signup(shared_server, "ex")
    with shared_server.admin() as admin:
        tid = new_topic(admin, ['read("users")'])
        cursor = admin.post(f"/topics/{tid}/messages", json={"data": {"level": 3}}).json()["cursor"]
        r = admin.get(f"/events/{cursor}/explain", params={"user": uid, "channel": f"topics.{tid}",
                                                          "queries[]": '{"method":"greaterThan","attribute":"level","values":[5]}'})
        out = r.json()
        assert out["permission"]["matches"] is True and out["channel"]["matches"] is True
        assert out["queries"][0]["matches"] is False and out["verdict"] == "not delivered"
        guest = admin.get(f"/events/{cursor}/explain", params={"guest": 1}).json()
        assert guest["permission"]["matches"] is False
    user.close()


def test_bad_publishes_get_clear_errors_and_the_socket_stays_open(shared_server):
    with shared_server.admin() as admin:
        tid = new_topic(admin, ['read("any")', 'create("any")'])
    ws, _ = rt(shared_server)
    cases = [({"topic": tid}, 1003, "must be a JSON object"), ({"topic": tid, "data": "text"}, 1003, "JSON object"),
             ({"data": {}}, 1003, "`topic`"), ({"topic": "a\u0000b", "data": {}}, 1003, "`topic`"),
             ({"topic": "x" * 37, "data": {}}, 1003, "`topic`"),
             ({"topic": tid, "data": {}, "event": "a.b"}, 1003, "`event`"),
             ({"topic": tid, "data": {}, "self": "no"}, 1003, "`self`"),
             ({"topic": tid, "data": {}, "messageId": "-x"}, 1003, "`messageId`"),
             ({"topic": tid, "data": {"x": "y" * 17_000}}, 1009, "the limit is 16384 bytes"),
             # 9,000 characters, 18,000 bytes of UTF-8: the limit counts bytes
             ({"topic": tid, "data": {"x": "é" * 9_000}}, 1009, "The message is 18008 bytes")]
    for data, code, words in cases:
        ws.send(json.dumps({"type": "publish", "data": data}))
        err = recv(ws)["data"]
        assert err["code"] == code and words in err["message"] and err["to"] == "publish", err
    assert publish(ws, tid, {"ok": True})["data"]["success"] is True
    ws.close()
    with shared_server.guest() as g:
        for body, status in (({"data": [1]}, 400), ({"data": {"x": "y" * 17_000}}, 413),
                             ({"data": {"x": "é" * 9_000}}, 413), ({}, 400)):
            r = g.post(f"/topics/{tid}/messages", json=body)
            assert r.status_code == status and set(r.json()) == {"message", "code", "type", "version"}


def test_publish_rate_limits_per_connection_and_per_user(tmp_path):
    # SQLite only: the budgets are kept in each node's memory (services/ratelimit.py), not in the store.
    srv = start_server(tmp_path / "data", extra=["--publish-rate", "3", "--publish-rate-user", "5"])
    try:
        with srv.admin() as admin:
            tid = new_topic(admin, ['read("any")', 'create("any")'], mode="ephemeral")
        ws, _ = rt(srv)
        answers = [publish(ws, tid, {"i": i}) for i in range(4)]
        assert [a["type"] for a in answers] == ["response"] * 3 + ["error"]
        assert answers[3]["data"]["code"] == 1013 and "3 a second per connection" in answers[3]["data"]["message"]
        # Guests share the per-address budget with REST: 3 used here, 2 left this second.
        with srv.guest() as g:
            codes = [g.post(f"/topics/{tid}/messages", json={"data": {}}).status_code for _ in range(3)]
        assert codes[-1] == 429 and codes.count(201) <= 2
        with srv.admin() as admin:  # API keys are exempt from the per-user budget
            assert all(admin.post(f"/topics/{tid}/messages", json={"data": {}}).status_code == 201 for _ in range(10))
            admin.put(f"/topics/{tid}", json={"permissions": ['read("any")', 'create("users")']}).raise_for_status()
        ws.close()
        # A user's budget (5 a second here) spans REST and its connections.
        uid, token, user = signup(srv, "busy")
        sock, _ = rt(srv, {"X-Appwrite-Session": token})
        burst = [user.post(f"/topics/{tid}/messages", json={"data": {}}) for _ in range(8)]
        frame = publish(sock, tid, {"after": "rest"})
        refused = [r.json() for r in burst if r.status_code == 429]
        assert len(refused) >= 3, [r.status_code for r in burst]
        assert refused[0]["type"] == "general_rate_limit_exceeded" and "a second per user" in refused[0]["message"]
        if frame["type"] == "error":  # within the same second as the REST burst: the same budget
            assert frame["data"]["code"] == 429 and frame["data"]["type"] == "general_rate_limit_exceeded"
        sock.close()
        user.close()
    finally:
        srv.stop()


def test_topic_change_holds_at_once(shared_server):
    """Topics are kept in memory per node: a change is seen by the next publish."""
    with shared_server.admin() as admin:
        tid = new_topic(admin, ['read("any")', 'create("any")'])
        with shared_server.guest() as g:
            assert g.post(f"/topics/{tid}/messages", json={"data": {}}).status_code == 201
            admin.put(f"/topics/{tid}", json={"permissions": ['read("any")']})
            assert g.post(f"/topics/{tid}/messages", json={"data": {}}).status_code == 401
            admin.delete(f"/topics/{tid}")
            assert g.post(f"/topics/{tid}/messages", json={"data": {}}).status_code == 404


@pytest.mark.parametrize("mode", ["durable", "ephemeral"])
def test_function_key_and_user_payload(shared_server, mode):
    """A message names its publisher: $userId for a user, null for a key."""
    uid, token, user = signup(shared_server, "named")
    with shared_server.admin() as admin:
        tid = new_topic(admin, ['read("any")', 'create("users")'], mode=mode)
    ws, _ = rt(shared_server)
    sub(ws, f"topics.{tid}")
    assert user.post(f"/topics/{tid}/messages", json={"data": {"$id": "dropped", "text": "hi"}}).status_code == 201
    payload = recv(ws)["data"]["payload"]
    assert payload["$userId"] == uid and payload["text"] == "hi" and payload["$id"] != "dropped"
    ws.close()
    user.close()


def test_replay_follows_the_topics_current_read_roles(shared_server):
    """A message logged while the topic was public is not replayed, nor listed, to a guest once
    the topic is closed to guests (as for a row of a table made private)."""
    with shared_server.admin() as admin:
        tid = new_topic(admin, ['read("any")'])
        head = admin.get("/events").json()["cursor"]
        admin.post(f"/topics/{tid}/messages", json={"data": {"secret": "then public"}}).raise_for_status()
        item = {"subscriptionId": "s", "channels": [f"topics.{tid}"], "queries": [], "since": head}
        before, _ = rt(shared_server)
        before.send(json.dumps({"type": "subscribe", "data": [item]}))
        assert recv(before)["data"]["subscriptions"][0]["resumed"] is True
        assert recv(before)["data"]["payload"]["secret"] == "then public"
        before.close()
        admin.put(f"/topics/{tid}", json={"permissions": ['read("users")']}).raise_for_status()
    after, _ = rt(shared_server)
    after.send(json.dumps({"type": "subscribe", "data": [item]}))
    assert recv(after)["data"]["subscriptions"][0]["resumed"] is True
    nothing(after)
    after.close()
    with shared_server.guest() as g:
        listed = g.get("/events", params={"since": head, "channels[]": f"topics.{tid}"}).json()
        assert listed["events"] == []


def test_latest_policy_keeps_each_publishers_newest_message_of_a_name(tmp_path):
    """A subscriber that cannot keep up, with policy "latest": a message replaces the queued one
    of the same publisher and event name (a cursor's newest position), so the slow subscriber
    skips stale positions but ends on the newest of each."""
    from websockets.sync.client import connect

    from tests.server.test_realtime_transport import FrameReader, _handshake, _masked, _raw_connect

    # SQLite only: ephemeral messages never reach the store, and the overflow is the connection's outbox's.
    srv = start_server(tmp_path / "data", extra=["--max-queue", "16", "--publish-rate", "0"])
    try:
        with srv.admin() as admin:
            tid = new_topic(admin, ['read("any")'], mode="ephemeral", name="cur")
        slow = _raw_connect(srv.port, rcvbuf=4096)
        slow.sendall(_handshake(srv.port))
        reader = FrameReader(slow)
        assert reader.message()["type"] == "connected"
        sub = {"type": "subscribe", "data": [{"subscriptionId": "c", "channels": [f"topics.{tid}"], "policy": "latest"}]}
        slow.sendall(_masked(json.dumps(sub, separators=(",", ":")).encode()))
        assert reader.message()["type"] == "response"
        n, pad = 600, "x" * 16_000
        with connect(f"ws://127.0.0.1:{srv.port}/v1/realtime?project=default",
                     additional_headers={"X-Appwrite-Key": srv.api_key}) as publisher:
            recv(publisher)
            for i in range(n):
                name = "a" if i % 2 == 0 else "b"
                assert publish(publisher, tid, {"i": i, "pad": pad}, event=name)["type"] == "response"
        got: dict[str, list[int]] = {"a": [], "b": []}
        while True:
            try:
                msg = reader.message(timeout=3)
            except TimeoutError:
                break
            if msg["type"] == "event":
                got[msg["data"]["payload"]["$event"]].append(msg["data"]["payload"]["i"])
        delivered = len(got["a"]) + len(got["b"])
        assert delivered < n, "the slow subscriber was spared superseded positions"
        for name, last in (("a", n - 2), ("b", n - 1)):
            assert got[name] == sorted(got[name]) and got[name][-1] == last, (name, got[name][-5:])
        slow.close()
    finally:
        srv.stop()


def test_a_socket_publishes_with_its_current_roles(shared_server):
    """A connection that lost its team membership, or whose session was deleted, publishes with
    what it holds now, not with what it held when it connected."""
    a_id, a_token, a = signup(shared_server, "own")
    b_id, b_token, b = signup(shared_server, "mem")
    team = a.post("/teams", json={"teamId": "unique()", "name": "Pub"}).json()["$id"]
    with shared_server.admin() as admin:
        m = admin.post(f"/teams/{team}/memberships", json={"roles": ["x"], "userId": b_id}).json()["$id"]
        crew = new_topic(admin, [f'read("team:{team}")', f'create("team:{team}")'])
        users = new_topic(admin, ['read("any")', 'create("users")'])
    ws, _ = rt(shared_server, {"X-Appwrite-Session": b_token})
    assert publish(ws, crew, {"n": 1})["type"] == "response"
    assert a.delete(f"/teams/{team}/memberships/{m}").status_code == 204
    deadline = time.monotonic() + 5  # the change reaches the connection through the hub
    while (answer := publish(ws, crew, {"n": 2}))["type"] == "response" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert answer["data"]["type"] == "topic_not_found"
    assert publish(ws, users, {"n": 3})["type"] == "response"
    assert b.delete("/account/sessions/current").status_code == 204  # signed out: a guest now
    while (answer := publish(ws, users, {"n": 4}))["type"] == "response" and time.monotonic() < deadline + 5:
        time.sleep(0.1)
    assert answer["data"]["type"] == "user_unauthorized"
    ws.close()
    a.close()
    b.close()
