"""The realtime transport (server/realtime.py: one asyncio.Protocol per connection, outside
ASGI) against a real `rtcli serve`: coalesced writes, ordering while the opening lookups run,
fragments, other paths, per-address limits, the drop policy's gap marker, shutdown."""

from __future__ import annotations

import base64
import json
import os
import socket
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.conftest import start_server
from tests.server.test_durability import HEADERS, setup_table


def _url(server, path: str = "/v1/realtime") -> str:
    return f"ws://127.0.0.1:{server.port}{path}?project=default"


def _masked(payload: bytes, opcode: int = 0x1, fin: bool = True) -> bytes:
    """A client frame (clients must mask), for payloads under 64 KiB."""
    assert len(payload) < 65536
    mask = os.urandom(4)
    n = len(payload)
    length = bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big")
    return (bytes([(0x80 if fin else 0) | opcode]) + length + mask
            + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def _raw_connect(port: int, rcvbuf: int | None = None) -> socket.socket:
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", port))
    return s


def _handshake(port: int) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET /v1/realtime?project=default HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()


class FrameReader:
    """Reads the server's (unmasked) frames from a raw socket, after the 101 response."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.buf, self.head = sock, b"", None

    def _fill(self, timeout: float) -> bool:
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(1 << 20)
        except TimeoutError:
            return False
        if not chunk:
            raise EOFError("the server closed the connection")
        self.buf += chunk
        return True

    def frame(self, timeout: float = 5.0) -> tuple[int, bytes]:
        deadline = time.monotonic() + timeout
        while self.head is None:
            if b"\r\n\r\n" in self.buf:
                self.head, self.buf = self.buf.split(b"\r\n\r\n", 1)
                assert self.head.startswith(b"HTTP/1.1 101"), self.head
            elif not self._fill(max(0.01, deadline - time.monotonic())):
                raise TimeoutError("no upgrade response")
        while True:
            b = self.buf
            if len(b) >= 2:
                opcode, n, i = b[0] & 0x0F, b[1] & 0x7F, 2
                if n == 126 and len(b) >= 4:
                    n, i = int.from_bytes(b[2:4], "big"), 4
                elif n == 127 and len(b) >= 10:
                    n, i = int.from_bytes(b[2:10], "big"), 10
                if n < 126 or i > 2:
                    if len(b) >= i + n:
                        assert b[0] & 0x80, "server frames are not fragmented"
                        self.buf = b[i + n:]
                        return opcode, b[i:i + n]
            if time.monotonic() > deadline or not self._fill(max(0.01, deadline - time.monotonic())):
                raise TimeoutError("no complete frame")

    def message(self, timeout: float = 5.0) -> dict:
        opcode, data = self.frame(timeout)
        assert opcode == 0x1, f"expected a text frame, got opcode {opcode}"
        return json.loads(data)


def test_events_of_one_turn_arrive_whole_and_in_order(shared_server):
    """A bulk create commits 300 events at once: they are dispatched in one turn of the loop and
    written to each connection coalesced (one writev). Every frame must still arrive whole, in
    order, to every subscriber (the websockets client checks the framing strictly)."""
    server = shared_server
    db = "co" + os.urandom(3).hex()
    with httpx.Client(base_url=server.endpoint, headers=HEADERS) as c:
        c.post("/tablesdb", json={"databaseId": db, "name": db}).raise_for_status()
        c.post(f"/tablesdb/{db}/tables", json={"tableId": "t", "name": "t",
                                               "permissions": ['read("any")']}).raise_for_status()
        subs = []
        for i in range(3):
            ws = connect(_url(server))
            assert json.loads(ws.recv(timeout=5))["type"] == "connected"
            ws.send(json.dumps({"type": "subscribe", "data": [
                {"subscriptionId": f"s{i}", "channels": [f"tablesdb.{db}.tables.t.rows"]}]}))
            assert json.loads(ws.recv(timeout=5))["type"] == "response"
            subs.append(ws)
        before = _counters(server)
        rows = [{"$id": f"r{i:03d}", "n": i} for i in range(300)]
        r = c.post(f"/tablesdb/{db}/tables/t/rows", json={"rows": rows})
        assert r.status_code == 201, r.text
    for i, ws in enumerate(subs):
        got = [json.loads(ws.recv(timeout=10)) for _ in range(300)]
        assert [e["data"]["payload"]["$id"] for e in got] == [f"r{k:03d}" for k in range(300)]
        assert all(e["data"]["subscriptions"] == [f"s{i}"] for e in got)
        seqs = [int(e["data"]["cursor"].rsplit(".", 1)[1]) for e in got]
        assert seqs == sorted(seqs) and len(set(seqs)) == 300
        ws.close()
    after = _counters(server)
    deliveries = after["rtcli_deliveries_total"] - before["rtcli_deliveries_total"]
    writes = after["rtcli_fanout_writes_total"] - before["rtcli_fanout_writes_total"]
    assert deliveries == 900
    assert 3 <= writes <= 30, f"{deliveries} frames took {writes} socket writes: not coalesced"


def _counters(server) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{server.port}/metrics").text
    return {name: float(value) for name, _, value in
            (line.partition(" ") for line in text.splitlines() if line and not line.startswith("#"))
            if name in ("rtcli_deliveries_total", "rtcli_fanout_writes_total")}


def test_messages_sent_before_connected_keep_their_order(shared_server):
    """A client may write as soon as the upgrade is answered, before the server's opening lookups
    (project, credentials) are done: its messages wait, then are answered in order, after the
    `connected` frame."""
    s = _raw_connect(shared_server.port)
    try:
        sub = json.dumps({"type": "subscribe", "data": [{"subscriptionId": "early", "channels": ["account"]}]})
        s.sendall(_handshake(shared_server.port))
        seen = b""
        while b"\r\n\r\n" not in seen:  # the 101 only, not the connected frame
            seen += s.recv(1)
        s.sendall(_masked(sub.encode()) + _masked(b'{"type":"ping"}'))
        reader = FrameReader(s)
        reader.buf = seen
        kinds = [reader.message() for _ in range(3)]
        assert [k["type"] for k in kinds] == ["connected", "response", "pong"]
        assert kinds[1]["data"]["subscriptions"][0]["subscriptionId"] == "early"
    finally:
        s.close()


def test_fragmented_message_is_reassembled(shared_server):
    with connect(_url(shared_server)) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "connected"
        text = json.dumps({"type": "subscribe", "data": [{"subscriptionId": "frag", "channels": ["account"]}]})
        ws.send(iter([text[:10], text[10:30], text[30:]]))  # one message in three frames
        reply = json.loads(ws.recv(timeout=5))
        assert reply["type"] == "response"
        assert reply["data"]["subscriptions"][0]["subscriptionId"] == "frag"


def test_a_text_frame_that_is_not_utf8_closes_with_1007(shared_server):
    s = _raw_connect(shared_server.port)
    try:
        s.sendall(_handshake(shared_server.port))
        reader = FrameReader(s)
        assert reader.message()["type"] == "connected"
        s.sendall(_masked(b"\xff\xfe"))
        opcode, data = reader.frame()
        assert opcode == 0x8 and int.from_bytes(data[:2], "big") == 1007
    finally:
        s.close()


def test_other_websocket_paths_get_404(shared_server):
    with pytest.raises(InvalidStatus) as e:
        connect(_url(shared_server, "/v1/nothing-here"))
    assert e.value.response.status_code == 404
    assert json.loads(e.value.response.body)["type"] == "general_route_not_found"
    # The port still serves REST and realtime.
    assert httpx.get(f"{shared_server.endpoint}/health").status_code == 200
    with connect(_url(shared_server)) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "connected"


def test_connections_per_address_are_limited(tmp_path):
    # SQLite only: the per-address count is kept by the realtime endpoint; no store is involved.
    server = start_server(tmp_path / "data", extra=["--max-connections-per-ip", "2"])
    try:
        held = [connect(_url(server)) for _ in range(2)]
        for ws in held:
            assert json.loads(ws.recv(timeout=5))["type"] == "connected"
        with connect(_url(server)) as third:
            err = json.loads(third.recv(timeout=5))
            assert err["type"] == "error" and err["data"]["code"] == 1013
            with pytest.raises(ConnectionClosed) as closed:
                third.recv(timeout=5)
            assert closed.value.rcvd.code == 1013
        held[0].close()
        time.sleep(0.3)  # the server counts the closed one out
        with connect(_url(server)) as again:
            assert json.loads(again.recv(timeout=5))["type"] == "connected"
        held[1].close()
    finally:
        server.stop()


def test_the_limit_counts_clients_behind_a_local_proxy(tmp_path):
    """Behind a reverse proxy on the same host every connection comes from 127.0.0.1: the limit
    counts the address the proxy forwards (X-Forwarded-For), as uvicorn does for REST."""
    # SQLite only: the per-address count is kept by the realtime endpoint; no store is involved.
    server = start_server(tmp_path / "data", extra=["--max-connections-per-ip", "1"])
    try:
        a = connect(_url(server), additional_headers={"X-Forwarded-For": "203.0.113.1"})
        b = connect(_url(server), additional_headers={"X-Forwarded-For": "203.0.113.2"})
        for ws in (a, b):
            assert json.loads(ws.recv(timeout=5))["type"] == "connected"
        with connect(_url(server), additional_headers={"X-Forwarded-For": "203.0.113.1"}) as again:
            err = json.loads(again.recv(timeout=5))
            assert err["type"] == "error" and err["data"]["code"] == 1013
        a.close()
        b.close()
    finally:
        server.stop()


def test_drop_policy_skips_then_sends_a_gap_marker(tmp_path):
    """A subscriber that cannot keep up, with policy "drop": events beyond its queue are skipped,
    the connection stays open, and a `gap` frame says how many were dropped."""
    # SQLite only: the overflow is the connection's outbox's, after the store has handed the events on.
    server = start_server(tmp_path / "data", extra=["--max-queue", "16"])
    try:
        channel = setup_table(server.endpoint)
        s = _raw_connect(server.port, rcvbuf=4096)
        s.sendall(_handshake(server.port))
        reader = FrameReader(s)
        assert reader.message()["type"] == "connected"
        sub = {"type": "subscribe", "data": [{"subscriptionId": "d", "channels": [channel], "policy": "drop"}]}
        payload = json.dumps(sub, separators=(",", ":")).encode()
        s.sendall(_masked(payload))
        assert reader.message()["type"] == "response"
        big = "x" * 20_000
        n = 200
        with httpx.Client(base_url=server.endpoint, headers=HEADERS) as c:
            for i in range(n):
                assert c.post("/tablesdb/d/tables/t/rows",
                              json={"rowId": f"r{i}", "data": {"big": big}}).status_code == 201
        ids, gaps = [], []
        while True:
            try:
                msg = reader.message(timeout=3)
            except TimeoutError:
                break
            if msg["type"] == "event":
                ids.append(msg["data"]["payload"]["$id"])
            elif msg["type"] == "gap":
                gaps.append(msg["data"])
        dropped = sum(g["dropped"] for g in gaps)
        assert gaps and all(g["subscriptions"] == ["d"] for g in gaps)
        assert len(ids) + dropped == n, "every event was either delivered or counted as dropped"
        assert ids == sorted(ids, key=lambda r: int(r[1:])), "what was delivered stays in order"
        # Still open and serving: one more event arrives.
        with httpx.Client(base_url=server.endpoint, headers=HEADERS) as c:
            c.post("/tablesdb/d/tables/t/rows", json={"rowId": "after", "data": {"big": "y"}}).raise_for_status()
        assert reader.message()["data"]["payload"]["$id"] == "after"
        s.close()
    finally:
        server.stop()


def _read_until_quiet(reader: FrameReader) -> tuple[list[dict], int | None]:
    """Every message until the server falls silent for 3 s, and its close code if it closed."""
    messages: list[dict] = []
    while True:
        try:
            opcode, data = reader.frame(timeout=3)
        except (TimeoutError, EOFError):
            return messages, None
        if opcode == 0x8:
            return messages, int.from_bytes(data[:2], "big")
        messages.append(json.loads(data))


def test_live_events_past_what_a_replay_holds_follow_the_subscriptions_policy(tmp_path):
    """While a replay runs, live events are held (up to --max-queue) and sent after it. Past that
    bound each subscription's policy applies, as for a full send queue: "close" closes with 4008
    once the replay stops, "drop" skips them and sends a gap marker, "latest" keeps the newest
    event of each resource in the place of the one it replaces."""
    # SQLite only: the subject is the connection's holding, after the store has handed events on.
    server = start_server(tmp_path / "data", extra=["--max-queue", "16"])
    big = "x" * 20_000
    n_logged, n_live = 300, 40  # 6 MB of replay: it stalls on a client that reads nothing
    try:
        channel = setup_table(server.endpoint)
        logged: list[str] = []  # the log, as its events' row ids: each policy's replay is all of it
        with httpx.Client(base_url=server.endpoint, headers=HEADERS) as c:
            for i in range(n_logged):
                assert c.post("/tablesdb/d/tables/t/rows", json={"rowId": f"r{i}", "data": {"big": big}}).status_code == 201
                logged.append(f"r{i}")
            for policy in ("close", "drop", "latest"):
                replayed = list(logged)
                s = _raw_connect(server.port, rcvbuf=4096)
                s.sendall(_handshake(server.port))
                reader = FrameReader(s)
                assert reader.message()["type"] == "connected"
                sub = {"type": "subscribe", "data": [{"subscriptionId": "d", "channels": [channel], "policy": policy,
                                                      "since": "beginning"}]}
                s.sendall(_masked(json.dumps(sub, separators=(",", ":")).encode()))
                reply = reader.message()
                assert reply["type"] == "response" and reply["data"]["subscriptions"][0]["resumed"] is True
                for i in range(n_live):  # live events while the replay is stalled
                    if policy == "latest":  # one resource, changed again and again
                        r = c.patch("/tablesdb/d/tables/t/rows/r0", json={"data": {"n": i}})
                    else:
                        r = c.post("/tablesdb/d/tables/t/rows", json={"rowId": f"{policy}{i}", "data": {"n": i}})
                    assert r.status_code in (200, 201), r.text
                    logged.append(r.json()["$id"])
                messages, code = _read_until_quiet(reader)
                events = [m["data"]["payload"] for m in messages if m["type"] == "event"]
                gaps = [m["data"] for m in messages if m["type"] == "gap"]
                if policy == "close":
                    assert code == 4008, "closed as a slow consumer once the replay stopped"
                    assert [e["$id"] for e in events] == replayed[:len(events)], "what came is the log's start, in order"
                    assert len(events) < len(replayed) + n_live
                else:
                    assert code is None, f"{policy}: the connection stays open"
                    assert [e["$id"] for e in events[:len(replayed)]] == replayed, "the whole replay, in order"
                    live = events[len(replayed):]
                    assert len(live) == 16, "as many live events as the replay holds"
                    if policy == "drop":
                        assert [e["$id"] for e in live] == [f"drop{i}" for i in range(16)], "the first ones, in order"
                        assert gaps == [{"subscriptions": ["d"], "dropped": n_live - 16}]
                    else:
                        assert [e["n"] for e in live] == [*range(15), n_live - 1], "the newest in the last one's place"
                        assert gaps == [], "nothing skipped: replaced"
                    r = c.post("/tablesdb/d/tables/t/rows", json={"rowId": f"after-{policy}", "data": {"n": 0}})
                    assert r.status_code == 201
                    logged.append(f"after-{policy}")
                    assert reader.message()["data"]["payload"]["$id"] == f"after-{policy}", "still served"
                s.close()
    finally:
        server.stop()


def test_shutdown_closes_connections_with_1012(tmp_path, backend_args):
    """A clean exit closes the store too (on PostgreSQL its pool and the listening connection)."""
    server = start_server(tmp_path / "data", extra=backend_args)
    ws = connect(_url(server))
    assert json.loads(ws.recv(timeout=5))["type"] == "connected"
    assert server.stop() in (0, -15)  # uvicorn re-raises SIGTERM once it has shut down cleanly
    with pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012


def test_connections_leave_no_cyclic_garbage(tmp_path):
    """Neither an upgrade nor a closed connection may leave reference cycles behind. uvicorn's
    HTTP protocol object that read the upgrade request, websockets' protocol (its parser is a
    generator that holds it) and our protocol with its session are all in cycles; left to the
    cyclic collector, they cost a full collection in the middle of some fan-out (which was the
    p99 of delivery latency), or memory until one runs, rarely, in a serving process
    (app.tune_gc). In process: a real server on a real port, and the collector's own view of
    what it had to free."""
    import asyncio
    import gc

    import uvicorn
    import websockets

    from rtcli.server.app import ServeConfig, build_app, uvicorn_config

    config = ServeConfig(data_dir=tmp_path / "data", api_key="k" * 40, port=_free_port(), max_connections_per_ip=0)
    app = build_app(config)
    server = uvicorn.Server(uvicorn_config(app, config))

    async def scenario() -> list:
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.02)
        url = f"ws://127.0.0.1:{config.port}/v1/realtime?project=default"
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector frees lands in gc.garbage
        try:
            clients = [await websockets.connect(url, compression=None) for _ in range(20)]
            for i, ws in enumerate(clients):
                assert json.loads(await ws.recv())["type"] == "connected"
                await ws.send(json.dumps({"type": "subscribe", "data": [
                    {"subscriptionId": f"g{i}", "channels": ["account", "rows"]}]}))
                assert json.loads(await ws.recv())["type"] == "response"
            await asyncio.sleep(0.1)
            gc.collect()
            after_open = [type(o).__name__ for o in gc.garbage]
            gc.garbage.clear()
            for ws in clients:
                await ws.close()
            await asyncio.sleep(0.3)
            gc.collect()
            after_close = [type(o).__name__ for o in gc.garbage]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
        server.should_exit = True
        await task
        return after_open, after_close

    after_open, after_close = asyncio.run(scenario())
    assert "HttpToolsProtocol" not in after_open and "HttpRequestParser" not in after_open, after_open[:20]
    ours = {"RealtimeProtocol", "Outbox", "ServerProtocol", "HubConnection", "RealtimeSession", "generator"}
    assert not ours & set(after_close), sorted(set(after_close))[:30]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
