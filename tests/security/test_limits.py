"""Limits that keep one visitor from freezing the server or filling its memory: teams and roles
per user, log scans per request, replays per message, live frames held during a replay, and the
size of a realtime message. Each attack runs against a real server while /v1/health is watched."""

from __future__ import annotations

import json
import time
from contextlib import ExitStack

import pytest
from websockets.exceptions import ConnectionClosed

from tests.conftest import start_server
from tests.server.conftest import BACKENDS, _start
from tests.server.test_concurrent_writes import posted_at_once
from tests.security.probe import Responsive, anonymous, drain, realtime, recv, subscribe

MAX_BULK = 100


LIMITS = ["--max-teams-per-user", "3", "--max-roles-per-membership", "4", "--events-scan-limit", "500",
          "--replay-limit", "500", "--max-queue", "8"]


@pytest.fixture(params=BACKENDS)
def limited(request, tmp_path):
    """A server with small limits, on each store: teams are counted, and the log scanned, in SQL
    (PostgreSQL's log positions are not consecutive, so a scan's length is counted differently)."""
    with ExitStack() as stack:
        srv = _start(request.param, tmp_path / "data", stack, extra=LIMITS)
        yield srv
        srv.stop()


@pytest.fixture
def limited_sqlite(tmp_path):
    srv = start_server(tmp_path / "data", extra=LIMITS)
    yield srv
    srv.stop()


def _table(server, table: str, permissions: list[str]) -> None:
    with server.admin() as a:
        if a.get("/tablesdb/d").status_code == 404:
            a.post("/tablesdb", json={"databaseId": "d", "name": "d"}).raise_for_status()
        a.post("/tablesdb/d/tables", json={"tableId": table, "name": table, "permissions": permissions}).raise_for_status()


def _fill(server, table: str, n: int, data: dict | None = None) -> None:
    with server.admin() as a:
        for start in range(0, n, MAX_BULK):
            rows = [{"$id": f"r{i}", **(data or {"i": i})} for i in range(start, min(n, start + MAX_BULK))]
            r = a.post(f"/tablesdb/d/tables/{table}/rows", json={"rows": rows})
            assert r.status_code == 201, r.text


def test_teams_per_user_and_roles_per_membership_are_bounded(limited):
    user = anonymous(limited)
    with Responsive(limited) as watch:
        too_many = user.post("/teams", json={"teamId": "unique()", "name": "t", "roles": [f"r{i}" for i in range(5)]})
        assert too_many.status_code == 400 and too_many.json()["type"] == "general_argument_invalid"
        assert "up to 4" in too_many.json()["message"]
        made = [user.post("/teams", json={"teamId": "unique()", "name": "t", "roles": ["a", "b", "c"]})
                for _ in range(3)]
        assert [r.status_code for r in made] == [201, 201, 201]
        fourth = user.post("/teams", json={"teamId": "unique()", "name": "t"})
        body = fourth.json()
        assert fourth.status_code == 400 and body["type"] == "team_limit_exceeded" and body["code"] == 400
        assert "3 teams" in body["message"] and "--max-teams-per-user" in body["message"]
        # A key cannot push the user past the limit either; leaving a team makes room again.
        with limited.admin() as a:
            a.post("/teams", json={"teamId": "extra", "name": "x"}).raise_for_status()
            uid = user.get("/account").json()["$id"]
            r = a.post("/teams/extra/memberships", json={"userId": uid, "roles": []})
            assert r.status_code == 400 and r.json()["type"] == "team_limit_exceeded"
        tid = made[0].json()["$id"]
        mid = user.get(f"/teams/{tid}/memberships").json()["memberships"][0]["$id"]
        assert user.delete(f"/teams/{tid}/memberships/{mid}").status_code == 204
        assert user.post("/teams", json={"teamId": "unique()", "name": "t"}).status_code == 201
    watch.assert_prompt()
    user.close()


def test_teams_joined_at_the_same_moment_count_against_the_limit(limited):
    """A user's team creations sent all at once (run in parallel on PostgreSQL): exactly as many
    succeed as the limit allows, as they would one after another. Three users, since a race
    shows only when requests overlap."""
    for _ in range(3):
        user = anonymous(limited)
        answers = posted_at_once(limited, user.headers, "/teams", lambda _: {"teamId": "unique()", "name": "t"}, 12)
        assert sorted(r.status_code for r in answers) == [201] * 3 + [400] * 9
        assert {r.json()["type"] for r in answers if r.status_code == 400} == {"team_limit_exceeded"}
        assert user.get("/teams").json()["total"] == 3
        user.close()


def test_many_roles_times_many_channels_costs_one_entry_per_channel(server):
    """A user with 100 teams of 20 roles (2,200 roles) subscribes to 6,000 channels in one
    message: answered at once, and the server stays responsive."""
    user = anonymous(server)
    roles = [f"r{i}" for i in range(19)]
    for _ in range(100):
        assert user.post("/teams", json={"teamId": "unique()", "name": "t", "roles": roles}).status_code == 201
    token = user.headers["X-Appwrite-Session"]
    ws, hello = realtime(server, {"X-Appwrite-Session": token})
    assert hello["data"]["user"]["$id"]
    items = [{"subscriptionId": f"s{j}", "channels": [f"c{j}.{i}" for i in range(100)]} for j in range(60)]
    assert len(json.dumps({"type": "subscribe", "data": items})) < 64_000
    with Responsive(server, limit=1.0) as watch:
        t = time.monotonic()
        ack = subscribe(ws, *items)
        took = time.monotonic() - t
    assert ack["type"] == "response" and len(ack["data"]["subscriptions"]) == 60
    assert took < 1.0, f"the subscribe took {took:.2f}s"
    watch.assert_prompt()
    # The legitimate path beside it: the user's team events still reach them.
    tid = user.get("/teams").json()["teams"][0]["$id"]
    ack = subscribe(ws, {"subscriptionId": "team", "channels": [f"teams.{tid}"]})
    assert ack["type"] == "response"
    assert user.put(f"/teams/{tid}", json={"name": "renamed"}).status_code == 200
    assert recv(ws)["data"]["payload"]["name"] == "renamed"
    ws.close()
    user.close()


def test_event_log_scan_is_bounded_per_request(limited):
    _table(limited, "closed", [])
    _fill(limited, "closed", 1200)
    _table(limited, "open", ['read("any")'])
    _fill(limited, "open", 1)
    with Responsive(limited) as watch, limited.guest() as g:
        pages, since, seen = 0, "beginning", []
        while True:
            r = g.get("/events", params={"since": since, "limit": 1000})
            assert r.status_code == 200, r.text
            page = r.json()
            pages += 1
            seen += [e["payload"].get("$tableId") for e in page["events"]]
            if not page["more"]:
                break
            since = page["cursor"]
        # Each request read at most 500 rows: several pages, and the guest saw only the open row.
        assert pages >= 3 and seen == ["open"]
    watch.assert_prompt()
    # Beside it: the API key reads the closed rows' events.
    with limited.admin() as a:
        page = a.get("/events", params={"since": "beginning", "limit": 1000}).json()
        assert any(e["payload"].get("$tableId") == "closed" for e in page["events"]) and page["more"]


def test_replay_further_behind_than_the_limit_is_refused(limited):
    _table(limited, "open", ['read("any")'])
    _fill(limited, "open", 800)
    with Responsive(limited) as watch:
        ws, _ = realtime(limited)
        ack = subscribe(ws, {"subscriptionId": "all", "channels": ["rows"], "since": "beginning"})
        item = ack["data"]["subscriptions"][0]
        assert item["resumed"] is False and "more than 500 events" in item["reason"]
        assert "GET /v1/events" in item["reason"]
        assert drain(ws, 0.5) == []
        # Several items of one message share the budget too.
        with limited.admin() as a:
            cursor = a.get("/events", params={"limit": 300}).json()["events"][0]["cursor"]
        ack = subscribe(ws, {"subscriptionId": "a", "channels": ["rows"], "since": cursor},
                        {"subscriptionId": "b", "channels": ["rows"], "since": cursor})
        assert [s["resumed"] for s in ack["data"]["subscriptions"]] == [True, False]
        assert len([f for f in drain(ws) if f["type"] == "event"]) == 299
        ws.close()
    watch.assert_prompt()


def test_live_frames_held_during_a_replay_are_bounded(limited_sqlite):
    """A client replays a large backlog without reading while live events pour in: past
    --max-queue held frames the server drops them and closes with 4008 (resume from the cursor)
    instead of holding every live frame in memory."""
    # SQLite only: the bound is the connection's; the replay's reads run on both stores in the tests above.
    limited = limited_sqlite
    _table(limited, "open", ['read("any")'])
    big = {"blob": "x" * 60_000}
    _fill(limited, "open", 400, big)  # ~24 MB: more than the socket buffers take
    with limited.admin() as a:
        cursor = a.get("/events", params={"limit": 400}).json()["events"][0]["cursor"]
    ws, _ = realtime(limited)
    ws.send(json.dumps({"type": "subscribe", "data": [{"subscriptionId": "s", "channels": ["rows"],
                                                        "since": cursor}]}))
    time.sleep(1.0)  # the replay fills the socket and waits for room
    with limited.admin() as a:
        for i in range(20):
            a.post("/tablesdb/d/tables/open/rows", json={"rowId": f"live{i}", "data": {"i": i}}).raise_for_status()
    got, last = [], None
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            frame = recv(ws, 20)
            if frame["type"] == "event":
                got.append(frame["data"]["payload"]["$id"])
                last = frame["data"]["cursor"]
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4008, closed.value
    assert got and not any(i.startswith("live") for i in got)
    # The legitimate path: resuming from the last cursor received delivers the rest, live rows included.
    ws, _ = realtime(limited)
    ack = subscribe(ws, {"subscriptionId": "s", "channels": ["rows"], "since": last})
    assert ack["data"]["subscriptions"][0]["resumed"] is True
    rest = [f["data"]["payload"]["$id"] for f in drain(ws, 2.0) if f["type"] == "event"]
    assert rest[-20:] == [f"live{i}" for i in range(20)] and len(got) + len(rest) == 419
    ws.close()


def test_an_oversized_message_is_refused_before_it_is_read(server):
    ws, _ = realtime(server)
    with Responsive(server) as watch:
        ws.send(json.dumps({"type": "ping", "pad": "x" * 1_000_000}))
        err = recv(ws)
        assert err["type"] == "error" and err["data"]["code"] == 1009
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    watch.assert_prompt()
    ws, _ = realtime(server)  # beside it: a message under the limit is answered
    ws.send(json.dumps({"type": "ping", "pad": "x" * 60_000}))
    assert recv(ws) == {"type": "pong"}
    ws.close()


def test_the_execution_queue_is_capped(tmp_path):
    server = start_server(tmp_path / "data", extra=["--max-execution-queue", "2"])
    try:
        with server.admin() as a, Responsive(server) as watch:
            for fid, command in (("slow", "sleep 3"), ("quick", "echo hi")):
                r = a.post("/functions", json={"functionId": fid, "name": fid, "command": command,
                                               "execute": ["any"], "timeout": 10})
                assert r.status_code == 201, r.text
            queued = [a.post("/functions/slow/executions", json={"async": True}) for _ in range(2)]
            assert [r.status_code for r in queued] == [202, 202]
            with server.guest() as g:
                refused = g.post("/functions/slow/executions", json={"async": True, "body": "x" * 1_000_000})
            body = refused.json()
            assert refused.status_code == 503 and body["type"] == "general_service_unavailable", body
            assert "--max-execution-queue" in body["message"]
            # Beside it: a synchronous execution still runs, and the queue takes work again once drained.
            now = a.post("/functions/quick/executions", json={})
            assert now.status_code == 201 and now.json()["responseBody"].strip() == "hi"
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                r = a.post("/functions/quick/executions", json={"async": True})
                if r.status_code == 202:
                    break
                time.sleep(0.2)
            assert r.status_code == 202
        watch.assert_prompt()
    finally:
        server.stop()


def test_an_upload_is_authorized_before_its_body_is_read(server):
    """A guest announces a 100 MB upload to a bucket it may not write to: the refusal comes at
    once, without waiting for (or spooling) the body."""
    import socket

    with server.admin() as a:
        a.post("/storage/buckets", json={"bucketId": "private", "name": "p"}).raise_for_status()
    head = (f"POST /v1/storage/buckets/private/files HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"X-Appwrite-Project: {server.project}\r\n"
            "Content-Type: multipart/form-data; boundary=xyz\r\nContent-Length: 100000000\r\n\r\n")
    with Responsive(server) as watch, socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        t = time.monotonic()
        s.sendall(head.encode() + b"--xyz\r\n")
        answer = s.recv(65536).decode("latin-1")
        assert time.monotonic() - t < 2
        while "user_unauthorized" not in answer and (more := s.recv(65536)):
            answer += more.decode("latin-1")
    assert answer.startswith("HTTP/1.1 401"), answer[:200]
    assert '"type":"user_unauthorized"' in answer.replace(" ", "")
    watch.assert_prompt()
    # Beside it: the owner of the data (the API key) uploads to that bucket.
    with server.admin() as a:
        r = a.post("/storage/buckets/private/files", data={"fileId": "f"}, files={"file": ("f.txt", b"ok", "text/plain")})
        assert r.status_code == 201, r.text


def test_a_resource_holds_at_most_100_permissions(server):
    """Permissions are checked on every read of a resource and copied into each of its events:
    a row, a table, a bucket, a file or a topic takes at most 100, as in Appwrite."""
    many = [f'read("user:u{i}")' for i in range(101)]
    with server.admin() as a:
        assert a.post("/tablesdb", json={"databaseId": "permsdb", "name": "d"}).status_code == 201
        assert a.post("/tablesdb/permsdb/tables", json={"tableId": "t", "name": "t",
                                                          "permissions": many[:100]}).status_code == 201
        for path, body in (("/tablesdb/permsdb/tables", {"tableId": "t2", "name": "t", "permissions": many}),
                           ("/tablesdb/permsdb/tables/t/rows", {"rowId": "r", "data": {}, "permissions": many}),
                           ("/storage/buckets", {"bucketId": "b", "name": "b", "permissions": many}),
                           ("/topics", {"topicId": "tp", "permissions": many})):
            r = a.post(path, json=body)
            assert r.status_code == 400 and "at most 100 permissions" in r.json()["message"], (path, r.text)
        assert a.post("/tablesdb/permsdb/tables/t/rows", json={"rowId": "r", "data": {},
                                                               "permissions": many[:100]}).status_code == 201
