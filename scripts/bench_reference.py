#!/usr/bin/env python3
"""Reference servers for scripts/bench.py: the ceilings rtcli is measured against in the same run.

``ws``: a minimal ``websockets`` server (asyncio implementation, uvloop when installed, as
uvicorn picks for ``rtcli serve``). No database, no auth, no channels:

- ``/sub``: a subscriber. Gets a ``connected`` frame; every text message it sends is answered
  with a fixed ``response`` frame (so a client can "subscribe" as it does against rtcli).
- ``/control``: every text message received is an already encoded frame; it is fanned out to
  all subscribers at once with ``websockets.broadcast`` (one encode, no per-connection work in
  Python beyond framing and ``transport.write``), then ``ok`` is sent back.
- ``/control-raw``: as ``/control`` but the frame's bytes (header included) are built once and
  written with ``transport.write`` to each subscriber: the floor of a Python fan-out.
- ``/replay?n=K``: the first text message is a frame; it is sent K times with ``await send``
  (flow-controlled, as rtcli's replay is).

``proto``: the memory floor of a held connection: one ``asyncio.Protocol`` with a sans-I/O
``websockets`` ServerProtocol per connection, no task, no queue, no ASGI scope.

``http``: a minimal raw ASGI app on uvicorn + httptools (as ``rtcli serve``) that, for each
``POST``, reads the JSON body and runs one SQLite transaction of the same shape as an rtcli row
create (insert the row, insert the event, commit; WAL, synchronous=NORMAL, one serialized
writer through aiosqlite), then answers 201 with the row as JSON. No routing, auth, schema
validation or fan-out: the HTTP + SQLite ceiling of the stack rtcli is built on.
``http-one-hop``: the same, with the whole transaction in one call on the writer thread
(sqlite3 in a one-thread executor) instead of one aiosqlite round trip per statement.

Prints ``READY <port>`` on stdout once it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

CONNECTED = '{"type":"connected","data":{"channels":[],"subscriptions":[],"user":null}}'
RESPONSE = '{"type":"response","data":{"to":"subscribe","success":true,"subscriptions":[]}}'


def _new_loop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


# --- ws: the broadcast ceiling -------------------------------------------------------------


def _frame(payload: bytes) -> bytes:
    """An unmasked, unfragmented text frame (server to client), header included."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + payload


async def run_ws(port: int) -> None:
    from websockets.asyncio.server import broadcast, serve

    subscribers: set = set()

    async def handler(ws) -> None:
        path = ws.request.path
        if path.startswith("/control-raw"):
            # Python's floor: the frame bytes are built once; per connection, one transport.write.
            async for message in ws:
                frame = _frame(message.encode() if isinstance(message, str) else message)
                for sub in subscribers:
                    sub.transport.write(frame)
                await ws.send("ok")
            return
        if path.startswith("/control"):
            async for message in ws:
                frame = message.encode() if isinstance(message, str) else message
                broadcast(subscribers, frame, text=True)
                await ws.send("ok")
            return
        if path.startswith("/replay"):
            n = int(path.partition("n=")[2] or 0)
            frame = await ws.recv()
            for _ in range(n):
                await ws.send(frame)
            await ws.wait_closed()
            return
        await ws.send(CONNECTED)
        subscribers.add(ws)
        try:
            async for _ in ws:
                await ws.send(RESPONSE)
        finally:
            subscribers.discard(ws)

    # No keepalive pings and no compression, as `rtcli serve` (uvicorn ws_ping_interval=None;
    # the bench client offers no permessage-deflate). backlog as uvicorn's default.
    async with serve(handler, "127.0.0.1", port, ping_interval=None, compression=None, max_queue=None,
                     backlog=2048):
        print(f"READY {port}", flush=True)
        await asyncio.Future()


# --- proto: a connection as one asyncio.Protocol, no task -----------------------------------


async def run_proto(port: int) -> None:
    """The memory floor of a held connection in Python: per connection one ``asyncio.Protocol``
    and one sans-I/O ``websockets.server.ServerProtocol``; no task, no queue, no ASGI scope.
    Answers like ``/sub`` (``connected``, then a ``response`` per text message), on any path."""
    from websockets.frames import Opcode
    from websockets.http11 import Request
    from websockets.server import ServerProtocol

    connected, response = CONNECTED.encode(), RESPONSE.encode()

    class Conn(asyncio.Protocol):
        __slots__ = ("transport", "ws")

        def connection_made(self, transport) -> None:
            self.transport = transport
            self.ws = ServerProtocol(max_size=1 << 20)

        def data_received(self, data: bytes) -> None:
            ws = self.ws
            ws.receive_data(data)
            for event in ws.events_received():
                if isinstance(event, Request):
                    reply = ws.accept(event)
                    ws.send_response(reply)
                    if reply.status_code == 101:
                        ws.send_text(connected)
                elif event.opcode is Opcode.TEXT:
                    ws.send_text(response)
            for chunk in ws.data_to_send():
                if chunk:
                    self.transport.write(chunk)
                else:
                    self.transport.close()

    server = await asyncio.get_running_loop().create_server(Conn, "127.0.0.1", port, backlog=2048)
    print(f"READY {port}", flush=True)
    async with server:
        await server.serve_forever()


# --- http: the HTTP + SQLite write ceiling -------------------------------------------------


SCHEMA = """
CREATE TABLE IF NOT EXISTS rows (seq INTEGER PRIMARY KEY, id TEXT UNIQUE, data TEXT, permissions TEXT,
                                 created_at TEXT, updated_at TEXT);
CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, created REAL, name TEXT, channels TEXT, roles TEXT,
                                   payload TEXT);
"""


def _one_hop_writer(db_path: Path):
    """A plain sqlite3 connection owned by one thread; a whole transaction is one executor call."""
    import sqlite3
    from concurrent.futures import ThreadPoolExecutor

    import orjson

    pool = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
    state: dict = {}

    def open_db() -> None:
        db = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(SCHEMA)
        state["db"] = db

    def create(row_id: str, data: dict, now: str) -> bytes:
        db = state["db"]
        db.execute("BEGIN IMMEDIATE")
        try:
            seq = db.execute("INSERT INTO rows (id, data, permissions, created_at, updated_at) VALUES (?,?,?,?,?)",
                             (row_id, orjson.dumps(data).decode(), "[]", now, now)).lastrowid
            payload = orjson.dumps({"$id": row_id, "$sequence": str(seq), "$createdAt": now, "$updatedAt": now,
                                    "$permissions": [], **data})
            db.execute("INSERT INTO events (created, name, channels, roles, payload) VALUES (?,?,?,?,?)",
                       (time.time(), "rows.create", "[]", '["any"]', payload.decode()))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return payload

    return pool, open_db, create


async def run_http(port: int, db_path: Path, one_hop: bool = False) -> None:
    """``one_hop``: the transaction runs as one call on the writer thread (sqlite3) instead of
    one aiosqlite await per statement (BEGIN, INSERT, INSERT, COMMIT: four thread round trips)."""
    import secrets

    import aiosqlite
    import orjson
    import uvicorn

    state: dict = {}
    lock = asyncio.Lock()

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup" and one_hop:
                    pool, open_db, create = _one_hop_writer(db_path)
                    await asyncio.get_running_loop().run_in_executor(pool, open_db)
                    state.update(pool=pool, create=create)
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown" and one_hop:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
                elif message["type"] == "lifespan.startup":
                    db = await aiosqlite.connect(db_path, isolation_level=None)
                    await db.execute("PRAGMA journal_mode=WAL")
                    await db.execute("PRAGMA synchronous=NORMAL")
                    await db.executescript(SCHEMA)
                    state["db"] = db
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await state["db"].close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["method"] != "POST":
            status, out = 200, b'{"status":"pass"}'
        else:
            req = orjson.loads(body) if body else {}
            now = time.strftime("%Y-%m-%dT%H:%M:%S.000+00:00", time.gmtime())
            row_id = req.get("rowId") or secrets.token_hex(10)
            data = req.get("data") or {}
            if one_hop:
                payload = await asyncio.get_running_loop().run_in_executor(state["pool"], state["create"], row_id,
                                                                           data, now)
                await _respond(send, 201, payload)
                return
            db = state["db"]
            async with lock:
                await db.execute("BEGIN IMMEDIATE")
                cur = await db.execute("INSERT INTO rows (id, data, permissions, created_at, updated_at)"
                                       " VALUES (?,?,?,?,?)", (row_id, orjson.dumps(data).decode(), "[]", now, now))
                seq = cur.lastrowid
                row = {"$id": row_id, "$sequence": str(seq), "$createdAt": now, "$updatedAt": now,
                       "$permissions": [], **data}
                payload = orjson.dumps(row)
                await db.execute("INSERT INTO events (created, name, channels, roles, payload) VALUES (?,?,?,?,?)",
                                 (time.time(), "rows.create", "[]", '["any"]', payload.decode()))
                await db.execute("COMMIT")
            status, out = 201, payload
        await _respond(send, status, out)

    class _Server(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets)
            print(f"READY {port}", flush=True)

    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", http="httptools",
                            loop="auto", lifespan="on")
    await _Server(config).serve()


async def _respond(send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("kind", choices=["ws", "proto", "http", "http-one-hop"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--db", type=Path, help="SQLite file for the http reference")
    args = ap.parse_args(argv)
    _new_loop()
    if args.kind == "ws":
        asyncio.run(run_ws(args.port))
    elif args.kind == "proto":
        asyncio.run(run_proto(args.port))
    else:
        if args.db is None:
            sys.exit("--db is required for the http references")
        asyncio.run(run_http(args.port, args.db, one_hop=args.kind == "http-one-hop"))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
