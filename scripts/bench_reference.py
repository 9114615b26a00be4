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

``http``: a minimal raw ASGI app on uvicorn + httptools (as ``rtcli serve``) that, for each
``POST``, reads the JSON body and runs one SQLite transaction of the same shape as an rtcli row
create (insert the row, insert the event, commit; WAL, synchronous=NORMAL, one serialized
writer through aiosqlite), then answers 201 with the row as JSON. No routing, auth, schema
validation or fan-out: the HTTP + SQLite ceiling of the stack rtcli is built on.

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


# --- http: the HTTP + SQLite write ceiling -------------------------------------------------


SCHEMA = """
CREATE TABLE IF NOT EXISTS rows (seq INTEGER PRIMARY KEY, id TEXT UNIQUE, data TEXT, permissions TEXT,
                                 created_at TEXT, updated_at TEXT);
CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, created REAL, name TEXT, channels TEXT, roles TEXT,
                                   payload TEXT);
"""


async def run_http(port: int, db_path: Path) -> None:
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
                if message["type"] == "lifespan.startup":
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
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(out)).encode())]})
        await send({"type": "http.response.body", "body": out})

    class _Server(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets)
            print(f"READY {port}", flush=True)

    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", http="httptools",
                            loop="auto", lifespan="on")
    await _Server(config).serve()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("kind", choices=["ws", "http"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--db", type=Path, help="SQLite file for the http reference")
    args = ap.parse_args(argv)
    _new_loop()
    if args.kind == "ws":
        asyncio.run(run_ws(args.port))
    else:
        if args.db is None:
            sys.exit("--db is required for the http reference")
        asyncio.run(run_http(args.port, args.db))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
