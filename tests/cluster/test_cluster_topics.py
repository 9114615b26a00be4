"""Topics on several nodes (PostgreSQL + Redis): a message published on one node reaches the
subscribers of every node (durable ones through the log, ephemeral ones through Redis), with
read roles and queries applied there; a publisher's `self: false` holds on every node; a change
to a topic made on one node holds on the others."""

from __future__ import annotations

import json
import time
from contextlib import ExitStack

import httpx
import pytest

from tests.cluster.test_cluster import HEADERS, redis_server, start_nodes  # noqa: F401 (a fixture)
from tests.server.test_realtime import nothing, recv
from tests.server.test_users import rt, signup

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def subscribe(ws, *items: dict) -> None:
    ws.send(json.dumps({"type": "subscribe", "data": list(items)}))
    assert recv(ws)["type"] == "response"


def test_messages_reach_every_node(tmp_path, redis_server):  # noqa: F811
    with ExitStack() as stack:
        a, b = start_nodes(stack, tmp_path, 2, redis_server.url)
        with httpx.Client(base_url=a.endpoint, headers=HEADERS, timeout=10) as admin:
            for tid, mode in (("room", "durable"), ("cursor", "ephemeral")):
                r = admin.post("/topics", json={"topicId": tid, "mode": mode,
                                                "permissions": ['read("users")', 'create("users")']})
                assert r.status_code == 201, r.text
        uid, token, user = signup(a, "node-a")
        # On node B: a signed-in watcher with a query, and a guest who may not read.
        watcher, _ = rt(b, {"X-Appwrite-Session": token})
        subscribe(watcher, {"subscriptionId": "all", "channels": ["topics.room", "topics.cursor"], "queries": []},
                  {"subscriptionId": "x-only", "channels": ["topics.cursor"],
                   "queries": ['{"method":"equal","attribute":"axis","values":["x"]}']})
        guest, _ = rt(b)
        subscribe(guest, {"subscriptionId": "g", "channels": ["topics"], "queries": []})
        # On node A: the same user publishes over its socket, not wanting its own messages back.
        publisher, _ = rt(a, {"X-Appwrite-Session": token})
        subscribe(publisher, {"subscriptionId": "p", "channels": ["topics"], "queries": []})
        for topic, data in (("room", {"text": "hi"}), ("cursor", {"axis": "x"}), ("cursor", {"axis": "y"})):
            publisher.send(json.dumps({"type": "publish", "data": {"topic": topic, "data": data, "self": False}}))
            ack = recv(publisher)["data"]
            assert ack["success"] and (ack["message"]["cursor"] is None) == (topic == "cursor")
        got = [recv(watcher, 10)["data"] for _ in range(3)]
        by_topic = {(e["payload"]["$topicId"], e["payload"].get("axis")): e for e in got}
        assert set(by_topic) == {("room", None), ("cursor", "x"), ("cursor", "y")}
        assert by_topic[("room", None)]["cursor"].startswith("c1.") and "cursor" not in by_topic[("cursor", "x")]
        assert sorted(by_topic[("cursor", "x")]["subscriptions"]) == ["all", "x-only"]
        assert by_topic[("cursor", "y")]["subscriptions"] == ["all"]
        assert all(e["payload"]["$userId"] == uid for e in got)
        nothing(guest, 0.5)  # read("users"): a guest receives nothing, on any node
        nothing(publisher, 0.5)  # self: false, kept from its own connection
        # A REST publish on B reaches the publisher's connection on A (it is not that connection).
        assert user.post(f"{b.endpoint}/topics/cursor/messages", json={"data": {"axis": "z"}}).status_code == 201
        assert recv(publisher, 10)["data"]["payload"]["axis"] == "z"
        for ws in (watcher, guest, publisher):
            ws.close()
        user.close()


def test_a_topic_change_on_one_node_holds_on_the_others(tmp_path, redis_server):  # noqa: F811
    with ExitStack() as stack:
        a, b = start_nodes(stack, tmp_path, 2, redis_server.url)
        with httpx.Client(base_url=a.endpoint, headers=HEADERS, timeout=10) as admin, \
                httpx.Client(base_url=b.endpoint, headers={"X-Appwrite-Project": "default"}, timeout=10) as guest:
            admin.post("/topics", json={"topicId": "open", "mode": "ephemeral",
                                        "permissions": ['read("any")', 'create("any")']}).raise_for_status()
            assert guest.post("/topics/open/messages", json={"data": {}}).status_code == 201  # B now holds a copy
            admin.patch("/topics/open", json={"permissions": ['read("any")']}).raise_for_status()
            deadline = time.monotonic() + 5
            while guest.post("/topics/open/messages", json={"data": {}}).status_code == 201:
                assert time.monotonic() < deadline, "node B still lets guests publish after the change on A"
                time.sleep(0.1)
            assert guest.post("/topics/open/messages", json={"data": {}}).json()["type"] == "user_unauthorized"
