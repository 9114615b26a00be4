"""Writes in parallel on every node: each subscriber still gets every event once, in the one log
order, and resuming on another node mid-burst leaves no gap and no duplicate. Cross-node delivery
rides the Redis wake-ups, not the nodes' log polling (slowed here so that only a wake-up is fast)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from contextlib import ExitStack

import httpx
import pytest
import websockets

from tests.cluster.test_cluster import HEADERS, redis_server, setup_tables, start_nodes, url  # noqa: F401
from tests.conftest import start_server
from tests.server.resuming import ResumingSubscriber
from tests.services import pg_database

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
SLOW_POLL = ["--log-poll", "30"]  # far above every bound below: only a wake-up delivers in time


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
                except asyncio.TimeoutError:
                    break
                if msg["type"] == "response" and msg["data"]["to"] == "subscribe":
                    assert all(s.get("resumed", True) for s in msg["data"]["subscriptions"]), msg
                elif msg["type"] == "event":
                    events.append(msg["data"])
                    cursor = msg["data"]["cursor"]
                    got += 1
        hops += 1
    return events, hops


def test_writers_on_every_node_and_a_subscriber_resuming_mid_burst(tmp_path, redis_server):
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


def test_cross_node_delivery_rides_the_redis_wakeup(tmp_path, redis_server):
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
