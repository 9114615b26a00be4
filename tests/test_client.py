"""rtcli.client: settings and profiles, the REST client, the realtime client (reconnect, resume, dedupe).

Pure pieces are tested directly; the REST and realtime clients run against a real `rtcli serve`.
Where the real server cannot produce a situation (a duplicated cursor, a scripted disconnect),
a small scripted WebSocket server on a real socket stands in for it.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
from datetime import datetime, timedelta, UTC

import pytest

from rtcli.client.api import ApiClient, ConnectionFailed, TablesDB, flatten_params
from rtcli.client.config import ConfigError, ProfileStore, resolve_settings
from rtcli.client.realtime import (
    Event, Gap, RealtimeClient, RealtimeFatal, ServerError, StateChange, Subscribed,
    backoff_delay, parse_since, realtime_url,
)
from rtcli.errors import AppwriteError
from tests.conftest import free_port, start_server

# --- settings and profiles ------------------------------------------------------------------------


def test_defaults_when_nothing_is_configured(tmp_path):
    s = resolve_settings({}, env={}, store=ProfileStore(tmp_path / "config.json"))
    assert (s.endpoint, s.project, s.key, s.profile) == ("http://127.0.0.1:8787/v1", "default", None, "default")
    assert set(s.sources.values()) == {"default"}


def test_precedence_flag_over_env_over_profile_over_default(tmp_path):
    store = ProfileStore(tmp_path / "config.json")
    store.update("default", {"endpoint": "http://profile/v1", "project": "p-profile", "key": "k-profile"})
    env = {"RTCLI_ENDPOINT": "http://env/v1", "RTCLI_PROJECT": "p-env"}
    s = resolve_settings({"endpoint": "http://flag/v1/"}, env=env, store=store)
    assert s.endpoint == "http://flag/v1"  # trailing slash trimmed
    assert s.project == "p-env"
    assert s.key == "k-profile"
    assert s.sources == {"endpoint": "flag", "project": "env", "key": "profile"}


def test_profile_chosen_by_flag_then_env(tmp_path):
    store = ProfileStore(tmp_path / "config.json")
    store.update("work", {"project": "work-p"})
    store.update("home", {"project": "home-p"})
    assert resolve_settings({}, env={"RTCLI_PROFILE": "work"}, store=store).project == "work-p"
    assert resolve_settings({"profile": "home"}, env={"RTCLI_PROFILE": "work"}, store=store).project == "home-p"


def test_unknown_named_profile_is_an_error_but_missing_default_is_not(tmp_path):
    store = ProfileStore(tmp_path / "config.json")
    with pytest.raises(ConfigError, match="no profile named 'nope'"):
        resolve_settings({"profile": "nope"}, env={}, store=store)
    assert resolve_settings({}, env={}, store=store).profile == "default"


def test_config_file_is_private_and_keeps_unknown_keys(tmp_path):
    path = tmp_path / "sub" / "config.json"
    store = ProfileStore(path)
    store.update("default", {"key": "secret", "session": {"future": True}})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = ProfileStore(path)
    assert again.get("default") == {"key": "secret", "session": {"future": True}}
    again.update("default", {}, unset=("key",))
    assert ProfileStore(path).get("default") == {"session": {"future": True}}
    assert ProfileStore(path).delete("default") and not ProfileStore(path).delete("default")


def test_corrupt_config_is_reported(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        resolve_settings({}, env={}, store=ProfileStore(path))


def test_config_dir_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("RTCLI_CONFIG_DIR", str(tmp_path))
    from rtcli.client.config import config_path

    assert config_path() == tmp_path / "config.json"


# --- pure helpers ---------------------------------------------------------------------------------


def test_flatten_params_like_the_sdk():
    q = ['{"method":"limit","values":[1]}', '{"method":"offset","values":[2]}']
    assert flatten_params({"queries": q, "total": False, "search": None}) == [
        ("queries[0]", q[0]), ("queries[1]", q[1]), ("total", "false")]


def test_realtime_url():
    assert realtime_url("http://h:1/v1/", "p") == "ws://h:1/v1/realtime?project=p"
    assert realtime_url("https://h/v1", "a b") == "wss://h/v1/realtime?project=a%20b"


NOW = datetime(2026, 11, 28, 1, 0, 0, 250_000, tzinfo=UTC)


@pytest.mark.parametrize("value, expected", [
    ("beginning", "beginning"),
    ("BEGINNING", "beginning"),
    ("30s", "2026-11-28T00:59:30.250+00:00"),
    ("10m", "2026-11-28T00:50:00.250+00:00"),
    ("2h", "2026-11-27T23:00:00.250+00:00"),
    ("1d", "2026-11-27T01:00:00.250+00:00"),
    ("1.5h", "2026-11-27T23:30:00.250+00:00"),
    ("2026-11-28T03:00:00+02:00", "2026-11-28T01:00:00.000+00:00"),
    ("2026-11-28T01:00:00Z", "2026-11-28T01:00:00.000+00:00"),
    ("c1.9594a941.1042", "c1.9594a941.1042"),
    (None, None),
])
def test_parse_since(value, expected):
    assert parse_since(value, now=NOW) == expected


def test_parse_since_naive_datetime_is_local_time():
    local = datetime(2026, 11, 28, 12, 0, 0).astimezone()
    expected = local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+00:00")
    assert parse_since("2026-11-28T12:00:00") == expected


@pytest.mark.parametrize("bad", ["", "2026-13-45T00:00:00"])
def test_parse_since_rejects(bad):
    with pytest.raises(ValueError):
        parse_since(bad)


def test_backoff_doubles_with_jitter_and_caps():
    for attempt, base in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (50, 10.0)]:
        for _ in range(20):
            assert base * 0.8 - 1e-9 <= backoff_delay(attempt) <= base * 1.2 + 1e-9


def test_event_helpers():
    ev = Event({"events": ["databases.*.tables.*.rows.*.create", "tablesdb.d.tables.t.rows.r1.create",
                           "databases.d.tables.t.rows.r1.create", "tablesdb.d.tables.t.rows.r1", "tablesdb.d"],
                "channels": ["rows"], "payload": {"$id": "r1"}, "cursor": "c1.x.1"})
    assert ev.action == "create" and ev.resource == "tablesdb.d.tables.t.rows.r1" and ev.cursor == "c1.x.1"
    nested = Event({"events": ["users.u1.update.name", "users.*.update.name"], "channels": ["account"]})
    assert nested.action == "update" and nested.resource == "users.u1"
    assert Event({"channels": ["files", "buckets.b.files.f", "buckets.b.files.f.create"]}).resource == "buckets.b.files.f"


# --- REST client against a real server ------------------------------------------------------------


def test_rest_round_trip_and_errors(shared_server):
    with ApiClient(shared_server.endpoint, shared_server.project, key=shared_server.api_key) as client:
        assert client.health()["status"] == "pass"
        t = TablesDB(client)
        db = t.create("clientdb", "Client DB")
        assert db["$id"] == "clientdb" and db["type"] == "tablesdb"
        assert any(d["$id"] == "clientdb" for d in t.list()["databases"])
        t.create_table("clientdb", "items", "Items", permissions=['read("any")'])
        t.create_column("clientdb", "items", "string", "title", size=100)
        t.create_column("clientdb", "items", "integer", "n", min=0, max=100)
        assert {c["key"] for c in t.list_columns("clientdb", "items")["columns"]} == {"title", "n"}
        row = t.create_row("clientdb", "items", "r1", {"title": "a b/c?", "n": 1})
        assert row["$id"] == "r1" and row["title"] == "a b/c?" and isinstance(row["$sequence"], str)
        t.create_row("clientdb", "items", "r2", {"title": "x", "n": 5})
        q = json.dumps({"method": "greaterThan", "attribute": "n", "values": [2]})
        assert [r["$id"] for r in t.list_rows("clientdb", "items", [q])["rows"]] == ["r2"]
        assert t.update_row("clientdb", "items", "r1", {"n": 2})["n"] == 2
        assert t.upsert_row("clientdb", "items", "r3", {"title": "new", "n": 3})["$id"] == "r3"
        assert t.increment_row_column("clientdb", "items", "r3", "n", 4)["n"] == 7
        assert t.decrement_row_column("clientdb", "items", "r3", "n")["n"] == 6
        assert t.delete_row("clientdb", "items", "r1") is None
        with pytest.raises(AppwriteError) as e:
            t.get_row("clientdb", "items", "r1")
        assert (e.value.type, e.value.code) == ("row_not_found", 404) and "r1" in e.value.message
        # Path segments are encoded: an id with a slash does not escape into another route.
        with pytest.raises(AppwriteError) as e:
            t.get_row("clientdb", "items", "a/b")
        assert e.value.code in (400, 404)


def test_guest_gets_an_appwrite_error(shared_server):
    with ApiClient(shared_server.endpoint, shared_server.project) as client:
        with pytest.raises(AppwriteError) as e:
            TablesDB(client).create("nope", "No")
        assert e.value.code == 401


def test_connection_refused_names_the_endpoint():
    endpoint = f"http://127.0.0.1:{free_port()}/v1"
    with ApiClient(endpoint, "default") as client, pytest.raises(ConnectionFailed) as e:
        client.health()
    assert e.value.endpoint == endpoint and e.value.reason == "connection refused"


# --- realtime client against a real server --------------------------------------------------------


async def _next(stream, kind, timeout=10.0):
    """The next item of ``kind`` from the stream, skipping others."""
    async def find():
        async for item in stream:
            if isinstance(item, kind):
                return item
        raise AssertionError("stream ended")
    return await asyncio.wait_for(find(), timeout)


def _setup_table(server, db="rt", table="t"):
    with server.admin() as admin:
        assert admin.post("/tablesdb", json={"databaseId": db, "name": db}).status_code == 201
        r = admin.post(f"/tablesdb/{db}/tables", json={"tableId": table, "name": table, "permissions": ['read("any")']})
        assert r.status_code == 201
        assert admin.post(f"/tablesdb/{db}/tables/{table}/columns/integer",
                          json={"key": "n", "required": False}).status_code == 202


def _create_row(server, row_id, n, db="rt", table="t"):
    with server.admin() as admin:
        r = admin.post(f"/tablesdb/{db}/tables/{table}/rows", json={"rowId": row_id, "data": {"n": n}})
        assert r.status_code == 201, r.text


async def test_realtime_subscribe_filter_and_ping(server):
    _setup_table(server)
    client = RealtimeClient(server.endpoint, server.project, ping_interval=0.2)
    q = json.dumps({"method": "greaterThan", "attribute": "n", "values": [10]})
    sub_id = await client.subscribe(["tablesdb.rt.tables.t.rows"], [q])
    stream = client.stream()
    subscribed = await _next(stream, Subscribed)
    assert subscribed.subscriptions[0]["subscriptionId"] == sub_id and not subscribed.reconnect
    await asyncio.to_thread(_create_row, server, "small", 1)
    await asyncio.to_thread(_create_row, server, "big", 11)
    ev = await _next(stream, Event)
    assert ev.payload["$id"] == "big" and sub_id in ev.subscriptions and ev.cursor
    assert "tablesdb.*.tables.*.rows.*.create" in ev.events
    from rtcli.client.realtime import Pong

    assert (await _next(stream, Pong)).rtt >= 0 and client.rtt is not None
    await client.close()
    assert (await _next(stream, StateChange)).state == "closed"


async def test_realtime_invalid_query_is_a_server_error(server):
    client = RealtimeClient(server.endpoint, server.project)
    bad = json.dumps({"method": "contains", "attribute": "n", "values": [1]})
    await client.subscribe(["rows"], [bad])
    err = await _next(client.stream(), ServerError)
    assert err.code == 1003 and "contains" in err.message
    await client.close()


async def test_realtime_unknown_project_is_fatal(server):
    client = RealtimeClient(server.endpoint, "no-such-project")
    await client.subscribe(["rows"])
    with pytest.raises(RealtimeFatal) as e:
        await _next(client.stream(), Event)
    assert e.value.code == 1008


async def test_realtime_since_beginning_replays(server):
    _setup_table(server)
    _create_row(server, "old", 1)
    client = RealtimeClient(server.endpoint, server.project)
    await client.subscribe(["tablesdb.rt.tables.t.rows"], since="beginning")
    stream = client.stream()
    sub = await _next(stream, Subscribed)
    assert sub.subscriptions[0].get("resumed") is True
    assert (await _next(stream, Event)).payload["$id"] == "old"
    await client.close()


async def test_realtime_reconnects_and_resumes_across_server_restart(server):
    """Rows created while the client is away arrive once each, after the reconnect."""
    _setup_table(server)
    client = RealtimeClient(server.endpoint, server.project, backoff_initial=0.05, backoff_max=0.2)
    await client.subscribe(["tablesdb.rt.tables.t.rows"])
    stream = client.stream()
    await _next(stream, Subscribed)
    await asyncio.to_thread(_create_row, server, "before", 1)
    assert (await _next(stream, Event)).payload["$id"] == "before"

    await asyncio.to_thread(server.stop)
    state = await _next(stream, StateChange)
    assert state.state == "reconnecting"
    # The client retries against a closed port while we restart; no event can be lost meanwhile.
    second = await asyncio.to_thread(start_server, server.data_dir, server.port)
    try:
        await asyncio.to_thread(_create_row, second, "while-away", 2)
        sub = await _next(stream, Subscribed, timeout=20)
        assert sub.reconnect and sub.subscriptions[0].get("resumed") is True
        ev = await _next(stream, Event)
        assert ev.payload["$id"] == "while-away"
        await asyncio.to_thread(_create_row, second, "after", 3)
        assert (await _next(stream, Event)).payload["$id"] == "after"  # not "before" again
        await client.close()
    finally:
        second.stop()


# --- scripted server: dedupe, since on reconnect, gap, 1008 close ---------------------------------


async def test_dedupe_per_subscription_resume_cursors_gap_and_1008():
    from websockets.asyncio.server import serve

    seen_subscribes: list[list[dict]] = []

    def event(cursor: str, *subs: str) -> str:
        return json.dumps({"type": "event", "data": {"events": ["x.create"], "channels": ["x"], "payload": {"$id": cursor},
                                                     "timestamp": "2026-11-28T01:00:00.000+00:00",
                                                     "subscriptions": list(subs), "cursor": cursor, "extra": 1}})

    async def handler(ws):
        await ws.send(json.dumps({"type": "connected", "data": {"channels": [], "subscriptions": [], "user": None}}))
        msg = json.loads(await ws.recv())
        assert msg["type"] == "subscribe"
        seen_subscribes.append(msg["data"])
        items = [{**item, "resumed": False, "reason": "pruned"} if item["subscriptionId"] == "s1" else item
                 for item in msg["data"]]
        await ws.send(json.dumps({"type": "response", "data": {"to": "subscribe", "success": True,
                                                               "subscriptions": items}}))
        if len(seen_subscribes) == 1:
            for frame in (event("c1", "s1", "s2"), event("c1", "s1", "s2"), event("c2", "s1")):
                await ws.send(frame)
            await ws.close(1011, "boom")
        elif len(seen_subscribes) == 2:
            await ws.send(event("c2", "s1"))  # s1 already had c2: dropped
            await ws.send(event("c2", "s2"))  # a per-subscription replay for s2: delivered
            await ws.send(event("c3", "s1", "s2"))
            await ws.send(json.dumps({"type": "gap", "data": {"subscriptions": ["s1"], "dropped": 4}}))
            await ws.send(json.dumps({"type": "error", "data": {"code": 1008, "message": "go away"}}))
            await ws.close(1008, "go away")

    port = free_port()
    async with serve(handler, "127.0.0.1", port):
        client = RealtimeClient(f"http://127.0.0.1:{port}/v1", "p", backoff_initial=0.01)
        await client.subscribe(["x"], subscription_id="s1", since="beginning", policy="drop")
        await client.subscribe(["x"], subscription_id="s2")
        await client.subscribe(["y"], subscription_id="s3", since="beginning")  # never gets an event
        got, gaps, subs = [], [], []
        with pytest.raises(RealtimeFatal, match="go away"):
            async for item in client.stream():
                if isinstance(item, Event):
                    got.append(item.data)
                elif isinstance(item, Gap):
                    gaps.append(item)
                elif isinstance(item, Subscribed):
                    subs.append(item)
    assert [(d["cursor"], d["subscriptions"]) for d in got] == [
        ("c1", ["s1", "s2"]), ("c2", ["s1"]), ("c2", ["s2"]), ("c3", ["s1", "s2"])]
    assert got[0]["extra"] == 1  # data passed through unchanged
    first, second = ({i["subscriptionId"]: i for i in items} for items in seen_subscribes)
    assert first["s1"]["since"] == "beginning" and first["s1"]["policy"] == "drop" and "since" not in first["s2"]
    # On reconnect each subscription resumes from the last event it received; s3, whose replay
    # may have been cut short before anything arrived, asks again for what it asked for.
    assert (second["s1"]["since"], second["s2"]["since"], second["s3"]["since"]) == ("c2", "c1", "beginning")
    assert [s.reconnect for s in subs] == [False, True] and subs[1].not_resumed()[0]["reason"] == "pruned"
    assert gaps == [Gap(["s1"], 4)]


async def test_reconnect_without_events_resumes_from_last_contact_time():
    from websockets.asyncio.server import serve

    items: list[list[dict]] = []

    async def handler(ws):
        await ws.send(json.dumps({"type": "connected", "data": {}}))
        items.append(json.loads(await ws.recv())["data"])
        await ws.send(json.dumps({"type": "response", "data": {"to": "subscribe", "success": True,
                                                               "subscriptions": items[-1]}}))
        if len(items) == 1:
            await ws.close(1001)
        else:
            await ws.wait_closed()

    port = free_port()
    async with serve(handler, "127.0.0.1", port):
        client = RealtimeClient(f"http://127.0.0.1:{port}/v1", "p", backoff_initial=0.01)
        await client.subscribe(["x"])
        stream = client.stream()
        await _next(stream, Subscribed)
        await _next(stream, Subscribed)
        await client.close()
    assert "since" not in items[0][0]
    since = datetime.fromisoformat(items[1][0]["since"])
    assert timedelta(0) < datetime.now(UTC) - since < timedelta(seconds=10)
