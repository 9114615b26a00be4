"""Realtime over a real WebSocket against a real `rtcli serve`: delivery, non-delivery, protocol."""

from __future__ import annotations

import json
import secrets

import pytest
import websockets.exceptions
from websockets.sync.client import connect


def recv(ws, timeout=5.0) -> dict:
    return json.loads(ws.recv(timeout=timeout))


def nothing(ws, wait=0.4) -> None:
    """Assert that no frame arrives within ``wait`` seconds."""
    with pytest.raises(TimeoutError):
        ws.recv(timeout=wait)


class RT:
    """A guest (or keyed) realtime connection with helpers."""

    def __init__(self, server, headers=None, project=None):
        url = f"ws://127.0.0.1:{server.port}/v1/realtime?project={project or server.project}"
        self.ws = connect(url, additional_headers=headers or {})
        self.connected = recv(self.ws)

    def subscribe(self, *items) -> dict:
        self.ws.send(json.dumps({"type": "subscribe", "data": list(items)}))
        return recv(self.ws)

    def close(self):
        self.ws.close()


@pytest.fixture
def env(shared_server):
    """A fresh database with tables: open (read any), closed (no read), rs (rowSecurity)."""
    db = "rt" + secrets.token_hex(4)
    admin = shared_server.admin()
    admin.post("/tablesdb", json={"databaseId": db, "name": db})
    admin.post(f"/tablesdb/{db}/tables", json={"tableId": "open", "name": "o", "permissions": ['read("any")']})
    admin.post(f"/tablesdb/{db}/tables", json={"tableId": "closed", "name": "c", "permissions": ['read("users")']})
    admin.post(f"/tablesdb/{db}/tables", json={"tableId": "rs", "name": "r", "rowSecurity": True})
    yield shared_server, admin, db
    admin.close()


def create(admin, db, table, data, row_id=None, permissions=None):
    body = {"rowId": row_id or "unique()", "data": data}
    if permissions is not None:
        body["permissions"] = permissions
    r = admin.post(f"/tablesdb/{db}/tables/{table}/rows", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_connected_frame(shared_server):
    rt = RT(shared_server)
    assert rt.connected == {"type": "connected", "data": {"channels": [], "subscriptions": [], "user": None}}
    rt.ws.send(json.dumps({"type": "ping"}))
    assert recv(rt.ws) == {"type": "pong"}
    rt.close()


def test_row_event_shape_and_actions(env):
    server, admin, db = env
    rt = RT(server)
    ack = rt.subscribe({"subscriptionId": "s1", "channels": [f"tablesdb.{db}.tables.open.rows"], "queries": []})
    assert ack["type"] == "response" and ack["data"]["to"] == "subscribe"
    assert ack["data"]["subscriptions"] == [{"subscriptionId": "s1", "channels": [f"tablesdb.{db}.tables.open.rows"], "queries": []}]
    row = create(admin, db, "open", {"text": "hello"}, "r1")
    ev = recv(rt.ws)
    assert ev["type"] == "event"
    d = ev["data"]
    assert d["subscriptions"] == ["s1"] and d["payload"] == row
    assert len(d["channels"]) == 16 and len(set(d["events"])) == 64
    assert d["events"][0] == f"tablesdb.{db}.tables.open.rows.r1.create"
    assert "tablesdb.*.tables.*.rows.*.create" in d["events"]
    assert f"databases.{db}.collections.open.documents.r1.create" in d["events"]
    assert {"rows", "rows.create", "documents.create", f"tablesdb.{db}.tables.open.rows.r1.create"} <= set(d["channels"])
    assert d["timestamp"].endswith("+00:00") and d["cursor"].startswith("c1.")
    admin.patch(f"/tablesdb/{db}/tables/open/rows/r1", json={"data": {"text": "edited"}})
    assert recv(rt.ws)["data"]["events"][0].endswith("r1.update")
    admin.put(f"/tablesdb/{db}/tables/open/rows/r1", json={"data": {"text": "up"}})
    assert recv(rt.ws)["data"]["events"][0].endswith("r1.upsert")
    admin.request("DELETE", f"/tablesdb/{db}/tables/open/rows/r1", json={})
    deleted = recv(rt.ws)["data"]
    assert deleted["events"][0].endswith("r1.delete") and deleted["payload"]["text"] == "up"
    rt.close()


def test_permissions_at_delivery(env):
    server, admin, db = env
    rt = RT(server)
    rt.subscribe({"subscriptionId": "a", "channels": ["rows"], "queries": []})
    create(admin, db, "closed", {"secret": 1})
    create(admin, db, "rs", {"private": 1})
    nothing(rt.ws)
    create(admin, db, "rs", {"public": 1}, permissions=['read("any")'])
    assert recv(rt.ws)["data"]["payload"]["public"] == 1
    create(admin, db, "rs", {"guests": 1}, permissions=['read("guests")'])
    assert recv(rt.ws)["data"]["payload"]["guests"] == 1
    # An API-key connection reads everything.
    keyed = RT(server, headers={"X-Appwrite-Key": server.api_key})
    keyed.subscribe({"subscriptionId": "k", "channels": ["rows"], "queries": []})
    create(admin, db, "closed", {"secret": 2})
    assert recv(keyed.ws)["data"]["payload"]["secret"] == 2
    nothing(rt.ws)
    rt.close()
    keyed.close()


def test_queries_update_unsubscribe_and_one_frame(env):
    server, admin, db = env
    rt = RT(server)
    ch = f"tablesdb.{db}.tables.open.rows"
    eq = json.dumps({"method": "equal", "attribute": "n", "values": [2]})
    rt.subscribe({"subscriptionId": "all", "channels": [ch, "rows"], "queries": []},
                 {"subscriptionId": "two", "channels": [ch], "queries": [eq]})
    create(admin, db, "open", {"n": 1})
    assert recv(rt.ws)["data"]["subscriptions"] == ["all"]
    nothing(rt.ws, 0.2)  # one frame per connection, even with two matching channels
    create(admin, db, "open", {"n": 2})
    assert sorted(recv(rt.ws)["data"]["subscriptions"]) == ["all", "two"]
    create(admin, db, "open", {"n": 2.0})  # strict: 2.0 is not 2
    assert recv(rt.ws)["data"]["subscriptions"] == ["all"]
    # update: same id, new queries replace the old ones
    gt = json.dumps({"method": "greaterThan", "attribute": "n", "values": [5]})
    rt.subscribe({"subscriptionId": "two", "channels": [ch], "queries": [gt]})
    create(admin, db, "open", {"n": 9})
    assert sorted(recv(rt.ws)["data"]["subscriptions"]) == ["all", "two"]
    # update that changes channels drops the old channel (replace, not add)
    rt.subscribe({"subscriptionId": "all", "channels": ["documents.delete"], "queries": []})
    create(admin, db, "open", {"n": 1})
    nothing(rt.ws, 0.3)
    rt.ws.send(json.dumps({"type": "unsubscribe", "data": [{"subscriptionId": "two"}, {"subscriptionId": "zzz"}]}))
    assert recv(rt.ws)["data"] == {"to": "unsubscribe", "success": True, "subscriptions": [
        {"subscriptionId": "two", "removed": True}, {"subscriptionId": "zzz", "removed": False}]}
    create(admin, db, "open", {"n": 9})
    nothing(rt.ws, 0.3)
    rt.ws.send(json.dumps({"type": "ping"}))
    assert recv(rt.ws)["type"] == "pong"
    rt.close()


@pytest.mark.parametrize("frame, message", [
    ("not json", "Message format is not valid."),
    ('{"foo": 1}', "Message format is not valid."),
    ('{"type": "unknown", "data": {}}', "Message type is not valid."),
    ('{"type": 5}', "Message type is not valid."),
    ('{"type": "authentication", "data": []}', "Payload is not valid. Session is required"),
    ('{"type": "authentication", "data": {"session": "bogus"}}', "Session is not valid."),
    ('{"type": "subscribe", "data": {"channels": ["rows"]}}', "items:"),
    ('{"type": "subscribe", "data": [{"queries": []}]}', "items: channels is not present in payload."),
    ('{"type": "subscribe", "data": [{"channels": ["rows"], "subscriptionId": "!bad"}]}', "subscriptionId"),
    ('{"type": "subscribe", "data": [{"channels": ["rows"], "queries": ["{\\"method\\":\\"contains\\",\\"attribute\\":\\"a\\",\\"values\\":[1]}"]}]}',
     "not supported in Realtime queries"),
    ('{"type": "unsubscribe", "data": [{"subscriptionId": ""}]}', "subscriptionId"),
    ('{"type": "unsubscribe", "data": [{"subscriptionId": 5}]}', "subscriptionId"),
])
def test_bad_frames_get_1003_and_socket_stays_open(shared_server, frame, message):
    rt = RT(shared_server)
    rt.ws.send(frame)
    err = recv(rt.ws)
    assert err["type"] == "error" and err["data"]["code"] == 1003 and message in err["data"]["message"]
    rt.ws.send(json.dumps({"type": "ping"}))
    assert recv(rt.ws) == {"type": "pong"}
    rt.close()


def test_oversized_frame(shared_server):
    """A message over 64,000 bytes is refused from its frame header: error frame, then close 1009."""
    rt = RT(shared_server)
    rt.ws.send(json.dumps({"type": "ping", "pad": "x" * 63_000}))  # just under: fine
    assert recv(rt.ws) == {"type": "pong"}
    rt.ws.send(json.dumps({"type": "ping", "pad": "x" * 70_000}))
    err = recv(rt.ws)
    assert err["data"]["code"] == 1009 and "64000" in err["data"]["message"]
    with pytest.raises(websockets.exceptions.ConnectionClosed):
        rt.ws.recv(timeout=2)
    assert rt.ws.close_code == 1009


def test_unknown_project_is_1008(shared_server):
    ws = connect(f"ws://127.0.0.1:{shared_server.port}/v1/realtime?project=nope")
    err = recv(ws)
    assert err == {"type": "error", "data": {"code": 1008, "message": "Missing or unknown project ID"}}
    with pytest.raises(websockets.exceptions.ConnectionClosed):
        ws.recv(timeout=2)
    assert ws.close_code == 1008


def test_legacy_url_mode(env):
    server, admin, db = env
    ws = connect(f"ws://127.0.0.1:{server.port}/v1/realtime?project=default&channels[]=rows&channels[]=documents")
    hello = recv(ws)
    assert hello["data"]["channels"] == ["rows", "documents"] and len(hello["data"]["subscriptions"]) == 1
    create(admin, db, "open", {"x": 1})
    assert recv(ws)["data"]["subscriptions"] == hello["data"]["subscriptions"]
    ws.close()


def test_ordering_under_burst(env):
    server, admin, db = env
    rt = RT(server)
    rt.subscribe({"subscriptionId": "s", "channels": [f"tablesdb.{db}.tables.open.rows"], "queries": []})
    for i in range(50):
        create(admin, db, "open", {"i": i})
    got = [recv(rt.ws)["data"] for _ in range(50)]
    assert [d["payload"]["i"] for d in got] == list(range(50))
    seqs = [int(d["cursor"].rsplit(".", 1)[1]) for d in got]
    assert seqs == sorted(seqs)
    rt.close()


def test_resume_since_cursor_and_beginning(env):
    server, admin, db = env
    ch = f"tablesdb.{db}.tables.open.rows"
    rt = RT(server)
    rt.subscribe({"subscriptionId": "s", "channels": [ch], "queries": []})
    create(admin, db, "open", {"i": 0})
    cursor = recv(rt.ws)["data"]["cursor"]
    rt.close()
    for i in range(1, 6):  # written while the client is away
        create(admin, db, "open", {"i": i})
    rt = RT(server)
    ack = rt.subscribe({"subscriptionId": "s", "channels": [ch], "queries": [], "since": cursor})
    assert ack["data"]["subscriptions"][0]["resumed"] is True
    create(admin, db, "open", {"i": 6})  # live, after the replay: no gap, no duplicate
    got = [recv(rt.ws)["data"]["payload"]["i"] for _ in range(6)]
    assert got == [1, 2, 3, 4, 5, 6]
    nothing(rt.ws, 0.3)
    ack = rt.subscribe({"subscriptionId": "b", "channels": [ch], "queries": [], "since": "beginning"})
    assert ack["data"]["subscriptions"][0]["resumed"] is True
    assert [recv(rt.ws)["data"]["payload"]["i"] for _ in range(7)] == list(range(7))
    bad = rt.subscribe({"subscriptionId": "c", "channels": [ch], "queries": [], "since": "c1.00000000.1"})
    assert bad["data"]["subscriptions"][0]["resumed"] is False
    assert "epoch" in bad["data"]["subscriptions"][0]["reason"]
    rt.close()


def test_resume_rechecks_permissions(env):
    server, admin, db = env
    create(admin, db, "closed", {"hidden": True})
    create(admin, db, "open", {"shown": True})
    rt = RT(server)
    ack = rt.subscribe({"subscriptionId": "s", "channels": ["rows"], "queries": [], "since": "beginning"})
    assert ack["data"]["subscriptions"][0]["resumed"] is True
    payloads = []
    while True:
        try:
            payloads.append(recv(rt.ws, 0.5)["data"]["payload"])
        except TimeoutError:
            break
    assert payloads and not any(p.get("hidden") for p in payloads)
    assert any(p.get("shown") for p in payloads)
    rt.close()


def test_events_list_reads_the_log_with_permissions(env):
    server, admin, db = env
    first = create(admin, db, "open", {"n": 1})
    create(admin, db, "closed", {"hidden": 1})
    create(admin, db, "open", {"n": 2})
    page = admin.get("/events", params={"since": "beginning", "limit": 1000}).json()
    ids = [e["payload"].get("$id") for e in page["events"]]
    assert first["$id"] in ids and page["cursor"].startswith("c1.")
    with server.guest() as g:
        guest = g.get("/events", params={"since": "beginning", "limit": 1000, "channels[]": f"tablesdb.{db}.tables.open.rows"}).json()
        payloads = [e["payload"] for e in guest["events"]]
        assert [p["n"] for p in payloads if p.get("$databaseId") == db] == [1, 2]
        after = g.get("/events", params={"since": guest["events"][0]["cursor"], "channels[]": f"tablesdb.{db}.tables.open.rows"}).json()
        assert [e["payload"]["n"] for e in after["events"]] == [2]
        bad = g.get("/events", params={"since": "c1.00000000.5"})
        assert bad.status_code == 400 and bad.json()["type"] == "general_cursor_not_found"


def test_a_create_logs_the_row_as_created_and_a_refused_one_logs_nothing(env):
    """The event of a create carries the row as the response shows it ($sequence included), live
    and read back from the log; a create refused for its id logs nothing."""
    server, admin, db = env
    rt = RT(server)
    rt.subscribe({"subscriptionId": "s", "channels": [f"tablesdb.{db}.tables.open.rows"], "queries": []})
    row = create(admin, db, "open", {"n": 1, "tags": ["a"], "nested": {"k": [1, 2.5]}}, "c1")
    live = recv(rt.ws)["data"]
    assert live["payload"] == row
    again = admin.post(f"/tablesdb/{db}/tables/open/rows", json={"rowId": "c1", "data": {"n": 2}})
    assert again.status_code == 409 and again.json()["type"] == "row_already_exists"
    nothing(rt.ws)
    logged = admin.get("/events", params={"since": "beginning", "limit": 1000}).json()["events"]
    mine = [e for e in logged if e["payload"].get("$databaseId") == db and e["payload"].get("$id") == "c1"]
    assert [e["payload"] for e in mine] == [row] and mine[0]["cursor"] == live["cursor"]
    rt.close()


def test_channel_patterns(env):
    server, admin, db = env
    rt = RT(server)
    rt.subscribe({"subscriptionId": "p", "channels": ["tablesdb.*.tables.open.rows"], "queries": []},
                 {"subscriptionId": "all", "channels": [f"tablesdb.{db}.>"], "queries": []})
    create(admin, db, "open", {"n": 1})
    assert sorted(recv(rt.ws)["data"]["subscriptions"]) == ["all", "p"]
    create(admin, db, "closed", {"n": 2})  # the pattern matches, but guests may not read it
    nothing(rt.ws)
    rt.ws.send(json.dumps({"type": "subscribe", "data": [{"subscriptionId": "bad", "channels": ["a.>.b"]}]}))
    err = recv(rt.ws)
    assert err["data"]["code"] == 1003 and "pattern" in err["data"]["message"]
    ack = rt.subscribe({"subscriptionId": "r", "channels": [f"tablesdb.{db}.tables.*.rows"], "since": "beginning"})
    assert ack["data"]["subscriptions"][0]["resumed"] is True
    replayed = recv(rt.ws)["data"]
    assert replayed["subscriptions"] == ["r"] and replayed["payload"]["n"] == 1
    rt.close()


def test_metrics_and_explain(env):
    import httpx

    server, admin, db = env
    rt = RT(server)
    rt.subscribe({"subscriptionId": "s", "channels": ["rows"], "queries": []})
    row = create(admin, db, "rs", {"n": 7}, permissions=['read("guests")'])
    ev = recv(rt.ws)["data"]
    text = httpx.get(f"http://127.0.0.1:{server.port}/metrics").text
    assert "rtcli_connections" in text and "rtcli_commit_to_dispatch_seconds_count" in text
    assert "rtcli_deliveries_total" in text
    if server.database:  # a PostgreSQL node counts its create statements and its reads of the log
        counts = {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
                  if line.startswith(("rtcli_create_statements_total", "rtcli_statement_creates_total",
                                      "rtcli_log_reads_total"))}
        assert counts["rtcli_statement_creates_total"] >= counts["rtcli_create_statements_total"] >= 1
        assert counts["rtcli_log_reads_total"] >= 1
    else:
        assert "rtcli_log_reads" not in text
    why = admin.get(f"/events/{ev['cursor']}/explain", params={
        "channel": f"tablesdb.{db}.tables.*.rows", "queries[0]": json.dumps({"method": "equal", "attribute": "n", "values": [7]})}).json()
    assert why["verdict"] == "delivered" and why["channel"]["matches"] and why["permission"]["matches"]
    assert why["queries"][0]["matches"] is True and why["event"].endswith(f"{row['$id']}.create")
    uid = admin.post("/account", json={"userId": "unique()", "email": f"e{row['$id']}@example.com",
                                         "password": "password123"}).json()["$id"]
    no = admin.get(f"/events/{ev['cursor']}/explain", params={
        "user": uid, "queries[0]": json.dumps({"method": "greaterThan", "attribute": "n", "values": [10]})}).json()
    assert no["verdict"] == "not delivered" and no["permission"]["matches"] is False
    assert no["queries"][0]["matches"] is False and "does not satisfy" in no["queries"][0]["reason"]
    with server.guest() as g:
        assert g.get(f"/events/{ev['cursor']}/explain").status_code == 401
    rt.close()


def test_compression_is_off_unless_asked(shared_server, tmp_path):
    from tests.conftest import start_server

    ws = connect(f"ws://127.0.0.1:{shared_server.port}/v1/realtime?project=default")  # offers permessage-deflate
    assert ws.response.headers.get("Sec-WebSocket-Extensions") is None
    ws.close()
    # SQLite only: compression is the WebSocket layer's; the events it carries are the same on both stores.
    srv = start_server(tmp_path / "data", extra=["--ws-compression"])
    try:
        ws = connect(f"ws://127.0.0.1:{srv.port}/v1/realtime?project=default")
        assert "permessage-deflate" in ws.response.headers.get("Sec-WebSocket-Extensions", "")
        assert recv(ws)["type"] == "connected"
        # Events go through websockets' compressor (not the plain fast path) and arrive intact.
        admin = srv.admin()
        admin.post("/tablesdb", json={"databaseId": "z", "name": "z"}).raise_for_status()
        admin.post("/tablesdb/z/tables", json={"tableId": "t", "name": "t",
                                               "permissions": ['read("any")']}).raise_for_status()
        ws.send(json.dumps({"type": "subscribe", "data": [{"subscriptionId": "z1",
                                                           "channels": ["tablesdb.z.tables.t.rows"]}]}))
        assert recv(ws)["type"] == "response"
        rows = [{"$id": f"r{i}", "text": "compress me " * 50} for i in range(20)]
        admin.post("/tablesdb/z/tables/t/rows", json={"rows": rows}).raise_for_status()
        got = [recv(ws) for _ in range(20)]
        assert [e["data"]["payload"]["$id"] for e in got] == [f"r{i}" for i in range(20)]
        assert got[0]["data"]["payload"]["text"] == "compress me " * 50
        admin.close()
        ws.close()
    finally:
        srv.stop()


def test_replays_of_one_subscribe_message_come_in_log_order(env):
    """One subscription per channel (as `rtcli monitor` makes them), since beginning: the
    history comes in the order it happened, each event once with every subscription it matches."""
    server, admin, db = env
    bucket = "b" + secrets.token_hex(3)
    assert admin.post("/storage/buckets", json={"bucketId": bucket, "name": bucket}).status_code == 201
    create(admin, db, "open", {"i": 1}, row_id="r1")
    r = admin.post(f"/storage/buckets/{bucket}/files", data={"fileId": "f1"}, files={"file": ("f.txt", b"hi")})
    assert r.status_code == 201, r.text
    create(admin, db, "open", {"i": 2}, row_id="r2")
    rt = RT(server, headers={"X-Appwrite-Key": server.api_key})
    ack = rt.subscribe({"subscriptionId": "rows", "channels": [f"tablesdb.{db}.tables.open.rows"], "since": "beginning"},
                       {"subscriptionId": "files", "channels": [f"buckets.{bucket}.files"], "since": "beginning"},
                       {"subscriptionId": "all", "channels": [f"tablesdb.{db}.tables.open.rows", f"buckets.{bucket}.files"],
                        "since": "beginning"})
    assert [s["resumed"] for s in ack["data"]["subscriptions"]] == [True, True, True]
    got = [recv(rt.ws)["data"] for _ in range(3)]
    assert [(d["payload"]["$id"], sorted(d["subscriptions"])) for d in got] == [
        ("r1", ["all", "rows"]), ("f1", ["all", "files"]), ("r2", ["all", "rows"])]
    seqs = [int(d["cursor"].rsplit(".", 1)[1]) for d in got]
    assert seqs == sorted(seqs)
    nothing(rt.ws, 0.3)
    rt.close()
