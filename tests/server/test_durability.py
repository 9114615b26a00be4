"""Never lose an event: kill -9 during writes, restarts under hundreds of subscribers, resume."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.conftest import API_KEY, Server, start_server
from tests.server.resuming import ResumingSubscriber
from tests.services import pg_holding

HEADERS = {"X-Appwrite-Project": "default", "X-Appwrite-Key": API_KEY}


def setup_table(endpoint: str) -> str:
    with httpx.Client(base_url=endpoint, headers=HEADERS) as c:
        c.post("/tablesdb", json={"databaseId": "d", "name": "d"}).raise_for_status()
        c.post("/tablesdb/d/tables", json={"tableId": "t", "name": "t", "permissions": ['read("any")']}).raise_for_status()
    return "tablesdb.d.tables.t.rows"


def seq_of(event: dict) -> int:
    return int(event["cursor"].rsplit(".", 1)[1])


def test_kill_9_during_burst_loses_nothing(tmp_path, backend_args):
    data = tmp_path / "data"
    server = start_server(data, extra=backend_args)
    channel = setup_table(server.endpoint)
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(n: int) -> None:
        with httpx.Client(base_url=server.endpoint, headers=HEADERS, timeout=5) as c:
            i = 0
            while not stop.is_set():
                rid = f"w{n}x{i}"
                try:
                    r = c.post("/tablesdb/d/tables/t/rows", json={"rowId": rid, "data": {"w": n, "i": i}})
                except httpx.HTTPError:
                    return  # the server died under us: this write was not acknowledged
                if r.status_code == 201:
                    with lock:
                        acked.append(rid)
                i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10  # about a second, longer on a loaded machine
    time.sleep(1.0)
    while len(acked) <= 20 and time.monotonic() < deadline:
        time.sleep(0.1)
    server.stop("kill")  # SIGKILL mid-burst
    stop.set()
    for t in threads:
        t.join(10)
    assert len(acked) > 20, "the burst should have written something before the kill"

    server = start_server(data, port=server.port, extra=backend_args)
    try:
        with httpx.Client(base_url=server.endpoint, headers=HEADERS) as c:
            stored = set()
            cursor = None
            while True:
                q = {"queries[0]": '{"method":"limit","values":[5000]}'}
                if cursor:
                    q["queries[1]"] = json.dumps({"method": "cursorAfter", "values": [cursor]})
                rows = c.get("/tablesdb/d/tables/t/rows", params=q).json()["rows"]
                if not rows:
                    break
                stored.update(r["$id"] for r in rows)
                cursor = rows[-1]["$id"]
        assert set(acked) <= stored, f"{len(set(acked) - stored)} acknowledged writes are missing"

        async def replay_all() -> list[dict]:
            sub = ResumingSubscriber(f"ws://127.0.0.1:{server.port}/v1/realtime?project=default", [channel], "beginning")
            task = asyncio.create_task(sub.run())
            deadline = time.monotonic() + 20
            while len(sub.events) < len(stored) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)  # anything extra would be a duplicate
            sub.stop()
            task.cancel()
            return sub.events

        events = asyncio.run(replay_all())
        ids = [e["payload"]["$id"] for e in events]
        assert len(ids) == len(set(ids)), "an event was delivered twice"
        assert set(ids) == stored, "every committed row has exactly one event in the log"
        seqs = [seq_of(e) for e in events]
        assert seqs == sorted(seqs), "events replay in commit order"
    finally:
        server.stop()


def test_hundreds_of_subscribers_resume_after_restart(tmp_path, backend_args):
    count = int(os.environ.get("RTCLI_TEST_SUBSCRIBERS", "300"))
    data = tmp_path / "data"
    server = start_server(data, extra=backend_args)
    channel = setup_table(server.endpoint)
    url = f"ws://127.0.0.1:{server.port}/v1/realtime?project=default"

    def write(prefix: str, n: int) -> list[str]:
        with httpx.Client(base_url=server.endpoint, headers=HEADERS) as c:
            out = []
            for i in range(n):
                r = c.post("/tablesdb/d/tables/t/rows", json={"rowId": f"{prefix}{i}", "data": {"i": i}})
                assert r.status_code == 201
                out.append(f"{prefix}{i}")
            return out

    async def scenario() -> tuple[list[ResumingSubscriber], list[str]]:
        nonlocal server
        subs = [ResumingSubscriber(url, [channel], sub_id=f"s{i}") for i in range(count)]
        tasks = [asyncio.create_task(s.run()) for s in subs]
        await asyncio.wait_for(asyncio.gather(*(s.subscribed.wait() for s in subs)), 60)
        written = await asyncio.to_thread(write, "a", 10)
        deadline = time.monotonic() + 30  # every subscriber has them (and their cursor) before the kill
        while time.monotonic() < deadline and any(len(s.events) < 10 for s in subs):
            await asyncio.sleep(0.05)
        await asyncio.to_thread(server.stop, "kill")  # every subscriber is cut off at once
        server = await asyncio.to_thread(start_server, data, server.port, backend_args)
        written += await asyncio.to_thread(write, "b", 10)  # before most clients are back
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(s.subscribed.is_set() for s in subs):
            await asyncio.sleep(0.1)
        written += await asyncio.to_thread(write, "c", 10)  # live again
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(len(s.events) < len(written) for s in subs):
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.3)
        for s in subs:
            s.stop()
        for t in tasks:
            t.cancel()
        return subs, written

    try:
        subs, written = asyncio.run(scenario())
        for s in subs:
            ids = [e["payload"]["$id"] for e in s.events]
            assert ids == written, f"{s.sub_id}: got {len(ids)} events, expected {len(written)} in order"
            assert not s.not_resumed
            assert s.reconnects >= 1
    finally:
        server.stop()


def _raw_subscriber(port: int, channel: str) -> socket.socket:
    """A WebSocket client that subscribes and then never reads: a tiny receive window makes TCP
    push back on the server at once (a library client would keep buffering for us)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /v1/realtime?project=default HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    seen = b""
    while b'"connected"' not in seen:  # a real client waits for the upgrade before it sends
        seen += s.recv(4096)
    payload = json.dumps({"type": "subscribe", "data": [{"subscriptionId": "slow", "channels": [channel]}]}).encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert len(payload) < 126
    s.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
    return s, seen


def _close_code(data: bytes) -> int | None:
    """Walk the server's frames and return the close code, if a close frame is there."""
    i = data.index(b"\r\n\r\n") + 4
    while i + 2 <= len(data):
        opcode, n = data[i] & 0x0F, data[i + 1] & 0x7F
        i += 2
        if n == 126:
            n, i = int.from_bytes(data[i:i + 2], "big"), i + 2
        elif n == 127:
            n, i = int.from_bytes(data[i:i + 8], "big"), i + 8
        if opcode == 0x8:
            return int.from_bytes(data[i:i + 2], "big")
        i += n
    return None


def test_slow_consumer_is_closed_and_others_unaffected(tmp_path, backend_args):
    server = start_server(tmp_path / "data", extra=["--max-queue", "64", *backend_args])
    channel = setup_table(server.endpoint)
    url = f"ws://127.0.0.1:{server.port}/v1/realtime?project=default"
    big = "x" * 20_000
    n = 400  # 8 MB of events: more than the kernel buffers plus a 64-frame queue can hold

    async def scenario():
        slow, received = _raw_subscriber(server.port, channel)
        received = bytearray(received)
        good = ResumingSubscriber(url, [channel], sub_id="good")
        task = asyncio.create_task(good.run())
        await good.subscribed.wait()
        rss_before = server.rss_kb()

        def burst():
            with httpx.Client(base_url=server.endpoint, headers=HEADERS) as c:
                for i in range(n):
                    assert c.post("/tablesdb/d/tables/t/rows", json={"rowId": f"r{i}", "data": {"big": big}}).status_code == 201

        await asyncio.to_thread(burst)
        deadline = time.monotonic() + 30
        while len(good.events) < n and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        rss_after = server.rss_kb()
        slow.settimeout(2)
        while True:  # read what the server still sends: frames, then its close frame
            try:
                chunk = slow.recv(1 << 20)
            except TimeoutError:
                break
            if not chunk:
                break
            received += chunk
        slow.close()
        good.stop()
        task.cancel()
        return good, bytes(received), rss_before, rss_after

    try:
        good, received, rss_before, rss_after = asyncio.run(scenario())
        assert [e["payload"]["$id"] for e in good.events] == [f"r{i}" for i in range(n)]
        assert good.reconnects == 0, "the fast subscriber was never disturbed"
        assert _close_code(received) == 4008, "the slow subscriber was closed as a slow consumer"
        assert len(received) < n * len(big), "the slow subscriber was cut off, not served everything"
        assert rss_after - rss_before < 64 * 1024, f"server grew by {rss_after - rss_before} KB"
        assert server.proc.poll() is None
    finally:
        server.stop()



def test_sqlite_wal_is_checkpointed_while_writing(tmp_path):
    """The writer leaves checkpoints to a thread (none on the write path): the WAL must still be
    copied into the database file as writes go on, so it stays small, and soon after they stop."""
    # SQLite only: its subject is SQLite's own WAL file; PostgreSQL checkpoints its WAL itself.
    import shutil

    data = tmp_path / "data"
    server = start_server(data)
    setup_table(server.endpoint)
    wal = data / "rtcli.db-wal"
    text = "x" * 2000  # each row is written twice (row and event): ~4 KB, ~20 MB in all,
    # and ~190 MB of WAL frames if no checkpoint ever caught up (measured)
    largest = 0
    stop = threading.Event()

    def watch() -> None:
        nonlocal largest
        while not stop.is_set():
            largest = max(largest, wal.stat().st_size if wal.exists() else 0)
            time.sleep(0.01)

    def writer(n: int) -> None:
        with httpx.Client(base_url=server.endpoint, headers=HEADERS, timeout=10) as c:
            for i in range(1200):
                c.post("/tablesdb/d/tables/t/rows", json={"rowId": f"w{n}x{i}", "data": {"text": text}}).raise_for_status()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        time.sleep(1.0)  # idle: the last checkpoint is due within a fraction of a second
        stop.set()
        watcher.join()
        assert largest < 32 * 1024 * 1024, f"the WAL grew to {largest} bytes (~20 MB were written)"
        # The database file alone (no WAL next to it) holds every committed row.
        copy = tmp_path / "copy.db"
        shutil.copyfile(data / "rtcli.db", copy)
        with sqlite3.connect(copy) as db:
            assert db.execute("SELECT COUNT(*) FROM rows").fetchone()[0] == 4800
            assert db.execute("SELECT COUNT(*) FROM events").fetchone()[0] >= 4800
    finally:
        stop.set()
        server.stop()


@contextmanager
def _another_process_holds_the_write_lock(server: Server) -> Iterator[None]:
    """Another process holding, for the block, what a row write must wait for: SQLite's write
    lock; on PostgreSQL a lock on the rows table that blocks writes but lets reads through."""
    if server.database:
        with pg_holding(server.database, "LOCK TABLE rows IN EXCLUSIVE MODE"):
            yield
        return
    other = sqlite3.connect(server.data_dir / "rtcli.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield
        other.execute("COMMIT")
    finally:
        other.close()


def test_writes_wait_for_another_process_without_blocking_the_server(tmp_path, backend_args):
    """Another process holding the write lock: writes wait for it (on SQLite as they did with
    SQLite's busy timeout) without blocking the event loop, and, however many wait, reads are
    still answered at once (on PostgreSQL, waiting writes never hold all of a node's
    connections). Once the lock is free, every write commits."""
    server = start_server(tmp_path / "data", extra=backend_args)
    setup_table(server.endpoint)
    n = 12  # more than the 10 connections a node's writes may hold on PostgreSQL
    with httpx.Client(base_url=server.endpoint, headers=HEADERS, timeout=10) as c:
        c.post("/tablesdb/d/tables/t/rows", json={"rows": [{"$id": f"w{i}", "n": 0} for i in range(n)]}
               ).raise_for_status()
    answers: dict[int, int] = {}

    def write(i: int) -> None:  # updates, each its own transaction (creates may share one)
        with httpx.Client(base_url=server.endpoint, headers=HEADERS, timeout=30) as c:
            answers[i] = c.patch(f"/tablesdb/d/tables/t/rows/w{i}", json={"data": {"n": 1}}).status_code

    threads = [threading.Thread(target=write, args=(i,)) for i in range(n)]
    try:
        with _another_process_holds_the_write_lock(server):
            for t in threads:
                t.start()
            time.sleep(0.5)
            assert answers == {}, "no write can commit while another process holds the lock"
            with httpx.Client(base_url=server.endpoint, headers=HEADERS, timeout=2) as c:
                started = time.monotonic()
                assert c.get("/health").status_code == 200
                assert c.get("/tablesdb/d/tables/t/rows").status_code == 200
                assert c.get("/events").status_code == 200
                assert time.monotonic() - started < 0.5, "reads must not wait for the write lock"
        for t in threads:
            t.join(30)
        assert answers == {i: 200 for i in range(n)}
    finally:
        server.stop()


def test_writes_that_wait_too_long_for_the_lock_get_503(tmp_path, backend_args):
    """Writes piling up behind another process's lock give up after a bound (SQLite: 5 s for the
    write lock; PostgreSQL: 5 s for a connection once all of the node's are waiting): a 503 the
    client may retry, never a 500 nor a hang; once the lock is free the others commit."""
    server = start_server(tmp_path / "data", extra=backend_args)
    setup_table(server.endpoint)
    n = 12  # more than the 10 connections a node's writes may hold on PostgreSQL
    rows = [{"$id": f"w{i}", "n": 0} for i in range(n)]
    with httpx.Client(base_url=server.endpoint, headers=HEADERS, timeout=10) as c:
        c.post("/tablesdb/d/tables/t/rows", json={"rows": rows}).raise_for_status()
    answers: dict[int, httpx.Response] = {}

    def write(i: int) -> None:  # updates, each its own transaction (creates may share one)
        with httpx.Client(base_url=server.endpoint, headers=HEADERS, timeout=60) as c:
            answers[i] = c.patch(f"/tablesdb/d/tables/t/rows/w{i}", json={"data": {"n": 1}})

    threads = [threading.Thread(target=write, args=(i,)) for i in range(n)]
    try:
        with _another_process_holds_the_write_lock(server):
            for t in threads:
                t.start()
            deadline = time.monotonic() + 20
            while not answers and time.monotonic() < deadline:
                time.sleep(0.05)
        for t in threads:
            t.join(60)
        refused = [r.json() for r in answers.values() if r.status_code != 200]
        assert len(answers) == n and refused, {i: r.status_code for i, r in answers.items()}
        assert all(r["code"] == 503 and r["type"] == "general_service_unavailable" for r in refused), refused
        # Saying why: SQLite's write lock is held; PostgreSQL is busy (not down).
        assert all(("write lock" in r["message"] or "busy" in r["message"]) and "Try again" in r["message"]
                   for r in refused), refused
        with httpx.Client(base_url=server.endpoint, headers=HEADERS, timeout=10) as c:
            assert c.post("/tablesdb/d/tables/t/rows", json={"rowId": "late", "data": {}}).status_code == 201
    finally:
        server.stop()
