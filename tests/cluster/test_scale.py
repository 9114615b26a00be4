"""Writes in parallel on every node: each subscriber still gets every event once, in the one log
order, and resuming on another node mid-burst leaves no gap and no duplicate. Cross-node delivery
rides the Redis wake-ups, not the nodes' log polling (slowed here so that only a wake-up is fast)."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
import websockets

from tests.cluster.test_cluster import HEADERS, redis_server, setup_tables, start_nodes, url  # noqa: F401 (a fixture)
from tests.conftest import start_server
from tests.server.resuming import ResumingSubscriber
from tests.services import pg_database, pg_query

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
SLOW_POLL = ["--log-poll", "30"]  # far above every bound below: only a wake-up delivers in time
ECHO = Path(__file__).parent.parent / "server" / "functions" / "echo.py"


def cursor_seq(event: dict) -> int:
    return int(event["cursor"].rsplit(".", 1)[1])


def burst(node, prefix: str, count: int, written: list[str], lock: threading.Lock) -> None:
    with httpx.Client(base_url=node.endpoint, headers=HEADERS, timeout=20) as c:
        for i in range(count):
            r = c.post("/tablesdb/d/tables/open/rows", json={"rowId": f"{prefix}{i}", "data": {"i": i}})
            assert r.status_code == 201, r.text
            with lock:
                written.append(f"{prefix}{i}")


async def hop_between_nodes(nodes, channel: str, every: int, total: int, timeout: float = 60):
    """A subscriber that leaves after every ``every`` events and resumes on the next node from its
    cursor, until it has ``total`` events. Returns its events and how many times it resumed."""
    events: list[dict] = []
    cursor, hops, deadline = None, 0, time.monotonic() + timeout
    while len(events) < total and time.monotonic() < deadline:
        node = nodes[hops % len(nodes)]
        async with websockets.connect(url(node), open_timeout=10, max_queue=None) as ws:
            json.loads(await ws.recv())  # connected
            item = {"subscriptionId": "hop", "channels": [channel], "queries": []}
            if cursor:
                item["since"] = cursor
            await ws.send(json.dumps({"type": "subscribe", "data": [item]}))
            got = 0
            while got < every and len(events) < total:
                try:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic())))
                except TimeoutError:
                    break
                if msg["type"] == "response" and msg["data"]["to"] == "subscribe":
                    assert all(s.get("resumed", True) for s in msg["data"]["subscriptions"]), msg
                elif msg["type"] == "event":
                    events.append(msg["data"])
                    cursor = msg["data"]["cursor"]
                    got += 1
        hops += 1
    return events, hops


def test_writers_on_every_node_and_a_subscriber_resuming_mid_burst(tmp_path, redis_server):  # noqa: F811
    per_writer, writers_per_node = 40, 3
    with ExitStack() as stack:
        nodes = start_nodes(stack, tmp_path, 3, redis_server.url)
        setup_tables(nodes[0].endpoint)
        total = per_writer * writers_per_node * len(nodes)
        channel = "tablesdb.d.tables.open.rows"

        async def scenario():
            steady = [ResumingSubscriber(url(n), [channel], sub_id=f"steady{i}") for i, n in enumerate(nodes)]
            tasks = [asyncio.create_task(s.run()) for s in steady]
            await asyncio.wait_for(asyncio.gather(*(s.subscribed.wait() for s in steady)), 30)
            written: list[str] = []
            lock = threading.Lock()
            writes = [asyncio.to_thread(burst, node, f"n{i}w{w}-", per_writer, written, lock)
                      for i, node in enumerate(nodes) for w in range(writers_per_node)]
            hopper = asyncio.create_task(hop_between_nodes(nodes, channel, every=25, total=total))
            await asyncio.gather(*writes)
            hopped, hops = await hopper
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and any(len(s.events) < total for s in steady):
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # anything beyond `total` would be a duplicate
            for s in steady:
                s.stop()
            for t in tasks:
                t.cancel()
            return steady, hopped, hops, written

        steady, hopped, hops, written = asyncio.run(scenario())
        assert len(written) == total
        ids = [e["payload"]["$id"] for e in hopped]
        assert len(ids) == len(set(ids)), "the resuming subscriber got an event twice"
        assert set(ids) == set(written), f"the resuming subscriber missed {len(set(written) - set(ids))} events"
        seqs = [cursor_seq(e) for e in hopped]
        assert seqs == sorted(seqs), "resuming kept the log order"
        assert hops >= total // 25 - 1, f"it resumed {hops} times, on every node in turn"
        order = [e["payload"]["$id"] for e in steady[0].events]
        assert order == ids, "the resuming subscriber saw the same order as one that never left"
        for s in steady:
            got = [e["payload"]["$id"] for e in s.events]
            assert got == order, f"{s.sub_id}: {len(got)} events, not the one order"
            assert s.reconnects == 0, f"{s.sub_id} was disconnected {s.reconnects} times"
        for prefix in {w.rsplit("-", 1)[0] for w in written}:  # each writer's rows keep their order
            mine = [r for r in order if r.startswith(prefix + "-")]
            assert mine == [f"{prefix}-{k}" for k in range(per_writer)]


def test_cross_node_delivery_rides_the_redis_wakeup(tmp_path, redis_server):  # noqa: F811
    """With the log polled only every 30 s, an event written on one node reaches a subscriber on
    another within seconds: only the Redis wake-up can carry it that fast."""
    with ExitStack() as stack:
        dsn = stack.enter_context(pg_database())
        a, b = (start_server(tmp_path / "shared-data", extra=["--database", dsn, "--broker", redis_server.url,
                                                              *SLOW_POLL]) for _ in range(2))
        stack.callback(a.stop)
        stack.callback(b.stop)
        setup_tables(a.endpoint)

        async def scenario():
            sub = ResumingSubscriber(url(b), ["tablesdb.d.tables.open.rows"])
            task = asyncio.create_task(sub.run())
            await asyncio.wait_for(sub.subscribed.wait(), 10)
            delays = []
            with httpx.Client(base_url=a.endpoint, headers=HEADERS, timeout=10) as c:
                for i in range(10):
                    t0 = time.monotonic()
                    assert c.post("/tablesdb/d/tables/open/rows", json={"rowId": f"r{i}", "data": {}}).status_code == 201
                    while len(sub.events) <= i and time.monotonic() - t0 < 10:
                        await asyncio.sleep(0.005)
                    delays.append(time.monotonic() - t0)
            sub.stop()
            task.cancel()
            return sub, delays

        sub, delays = asyncio.run(scenario())
        assert [e["payload"]["$id"] for e in sub.events] == [f"r{i}" for i in range(10)]
        # Bounds far under the 30 s poll, wide for a loaded machine (typically 10-70 ms each).
        assert sorted(delays)[len(delays) // 2] < 1.0, f"median cross-node delivery {sorted(delays)}"
        assert max(delays) < 5.0, f"cross-node delivery took {max(delays):.2f} s: the wake-up did not arrive"
        assert sub.reconnects == 0


def test_a_node_delivers_its_own_writes_at_once_without_redis(tmp_path):
    """One PostgreSQL node without Redis also delivers from the settled log; its own commits wake
    it (with the log polled only every 30 s, a missed wake-up would show as a 30 s delay)."""
    with ExitStack() as stack:
        dsn = stack.enter_context(pg_database())
        node = start_server(tmp_path / "data", extra=["--database", dsn, *SLOW_POLL])
        stack.callback(node.stop)
        setup_tables(node.endpoint)

        async def scenario():
            sub = ResumingSubscriber(url(node), ["tablesdb.d.tables.open.rows"])
            task = asyncio.create_task(sub.run())
            await asyncio.wait_for(sub.subscribed.wait(), 10)
            written: list[str] = []
            lock = threading.Lock()
            t0 = time.monotonic()
            await asyncio.gather(*(asyncio.to_thread(burst, node, f"w{w}-", 30, written, lock) for w in range(4)))
            while len(sub.events) < len(written) and time.monotonic() - t0 < 20:
                await asyncio.sleep(0.01)
            elapsed = time.monotonic() - t0
            await asyncio.sleep(0.3)
            sub.stop()
            task.cancel()
            return sub, written, elapsed

        sub, written, elapsed = asyncio.run(scenario())
        ids = [e["payload"]["$id"] for e in sub.events]
        assert len(ids) == len(set(ids)) and set(ids) == set(written)
        seqs = [cursor_seq(e) for e in sub.events]
        assert seqs == sorted(seqs)
        assert elapsed < 15, f"120 concurrent writes took {elapsed:.1f} s to be delivered"


def test_a_long_transaction_in_another_database_does_not_hold_back_delivery(tmp_path):
    """Transaction ids are server-wide: a writing transaction left open in another database of
    the same PostgreSQL server holds back the server's oldest running id, but not this log."""
    import asyncpg

    with ExitStack() as stack:
        dsn = stack.enter_context(pg_database())
        other = stack.enter_context(pg_database())
        node = start_server(tmp_path / "data", extra=["--database", dsn, *SLOW_POLL])
        stack.callback(node.stop)
        setup_tables(node.endpoint)

        async def scenario():
            blocker = await asyncpg.connect(other)
            await blocker.execute("BEGIN")
            await blocker.fetchval("SELECT pg_current_xact_id()")  # it now holds an id, and keeps it
            try:
                sub = ResumingSubscriber(url(node), ["tablesdb.d.tables.open.rows"])
                task = asyncio.create_task(sub.run())
                await asyncio.wait_for(sub.subscribed.wait(), 10)
                t0 = time.monotonic()
                written: list[str] = []
                await asyncio.to_thread(burst, node, "r", 5, written, threading.Lock())
                while len(sub.events) < 5 and time.monotonic() - t0 < 20:
                    await asyncio.sleep(0.01)
                elapsed = time.monotonic() - t0
                with httpx.Client(base_url=node.endpoint, headers=HEADERS) as c:
                    listed = c.get("/events", params={"since": "beginning", "limit": 100}).json()["events"]
                sub.stop()
                task.cancel()
                return sub, written, elapsed, listed
            finally:
                await blocker.execute("ROLLBACK")
                await blocker.close()

        sub, written, elapsed, listed = asyncio.run(scenario())
        assert [e["payload"]["$id"] for e in sub.events] == written
        assert elapsed < 10, f"delivery waited {elapsed:.1f} s for another database's transaction"
        assert [e["payload"]["$id"] for e in listed if e["events"][0].endswith(".create")
                and "rows" in e["events"][0]] == written, "the REST event log lists them too"


def test_functions_made_changed_disabled_or_deleted_on_one_node_hold_on_every_node(tmp_path, redis_server):  # noqa: F811
    """Each node keeps its event triggers in memory and runs the functions of the writes it
    commits: a function change on one node must reach the triggers of the others."""
    with ExitStack() as stack:
        a, b = start_nodes(stack, tmp_path, 2, redis_server.url)
        setup_tables(a.endpoint)
        admin_a = stack.enter_context(httpx.Client(base_url=a.endpoint, headers=HEADERS, timeout=10))
        admin_b = stack.enter_context(httpx.Client(base_url=b.endpoint, headers=HEADERS, timeout=10))
        n = iter(range(10**6))

        def write_on_b() -> None:
            r = admin_b.post("/tablesdb/d/tables/open/rows", json={"rowId": f"r{next(n)}", "data": {}})
            assert r.status_code == 201, r.text

        def executions() -> list[dict]:
            r = admin_a.get("/functions/f/executions")
            return r.json()["executions"] if r.status_code == 200 else []

        def settled() -> dict[str, dict]:
            """The executions by id, once every one started has finished."""
            deadline = time.monotonic() + 20
            while True:
                ex = executions()
                if all(e["status"] in ("completed", "failed") for e in ex):
                    return {e["$id"]: e for e in ex}
                assert time.monotonic() < deadline, f"executions did not finish: {[e['status'] for e in ex]}"
                time.sleep(0.1)

        def runs_for_a_write_on_b(timeout: float = 10) -> list[dict]:
            """Write on b until one of its writes runs the function; the new executions."""
            before = settled()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                write_on_b()
                time.sleep(0.3)
                new = [e for eid, e in settled().items() if eid not in before]
                if new:
                    return new
            return []

        made = admin_a.post("/functions", json={"functionId": "f", "name": "f", "command": f"{sys.executable} {ECHO}",
                                                "events": ["tablesdb.d.tables.open.rows.*.create"]})
        assert made.status_code == 201, made.text
        ran = runs_for_a_write_on_b()
        assert ran and ran[0]["trigger"] == "event", "a function made on node a runs for writes on node b"
        assert ran[0]["responseStatusCode"] == 202

        changed = admin_a.put("/functions/f", json={"name": "f", "command": f"{sys.executable} -c \"print('v2')\"",
                                                    "events": ["tablesdb.d.tables.open.rows.*.create"]})
        assert changed.status_code == 200, changed.text
        deadline = time.monotonic() + 10
        while True:  # b runs the new command once the change reached it
            ran = runs_for_a_write_on_b()
            if ran and all(e["responseBody"] == "v2\n" for e in ran):
                break
            assert time.monotonic() < deadline, "the changed command never ran for writes on node b"

        disabled = admin_a.put("/functions/f", json={"name": "f", "enabled": False, "command": "true",
                                                     "events": ["tablesdb.d.tables.open.rows.*.create"]})
        assert disabled.status_code == 200, disabled.text
        time.sleep(2)  # the change reaches b through the log
        before = settled()
        for _ in range(3):
            write_on_b()
        time.sleep(2)
        assert settled().keys() == before.keys(), "a function disabled on node a does not run for writes on node b"

        assert admin_a.put("/functions/f", json={"name": "f", "enabled": True, "command": "true",
                                                 "events": ["tablesdb.d.tables.open.rows.*.create"]}).status_code == 200
        assert runs_for_a_write_on_b(), "enabled again on node a, it runs for writes on node b"
        assert admin_a.delete("/functions/f").status_code == 204
        time.sleep(2)
        for _ in range(3):
            write_on_b()
        time.sleep(2)
        left = pg_query(b.database, "SELECT count(*) FROM executions WHERE function_id = 'f'").strip()
        assert left == "0", "node b no longer runs a function deleted on node a"
        assert b.proc.poll() is None
