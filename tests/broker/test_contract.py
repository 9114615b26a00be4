"""The broker contract, for the in-process broker and for Redis: after commit, every node's
``deliver`` sees every event exactly once, in log order."""

from __future__ import annotations

import asyncio
from contextlib import ExitStack

import pytest

from rtcli.broker.memory import MemoryBroker
from rtcli.core.events import row_events
from rtcli.core.event import Event
from tests.conftest import free_port
from tests.services import PrivateRedis, pg_database, require


def event(i: int) -> Event:
    return Event(project="p", events=row_events("d", "t", f"r{i}", "create"), channels=["rows"], roles=["any"],
                 payload={"$id": f"r{i}"}, timestamp="2026-01-01T00:00:00.000+00:00")


async def commit(store, broker, events: list[Event]) -> None:
    async with store.transaction() as tx:
        for e in events:
            await tx.append_event(e)


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("redis", marks=[pytest.mark.redis, pytest.mark.postgres])])
def backend(request, tmp_path):
    """(make_store, make_broker) for one kind of deployment."""
    with ExitStack() as stack:
        if request.param == "memory":
            from rtcli.store.sqlite.db import SqliteStore

            yield request.param, (lambda: SqliteStore(tmp_path / "rtcli.db")), (lambda store: MemoryBroker())
        elif request.param == "postgres":  # one node, no Redis: it follows the log on its own
            dsn = stack.enter_context(pg_database())
            from rtcli.broker.follower import LogFollower
            from rtcli.store.postgres.db import PostgresStore

            yield request.param, (lambda: PostgresStore(dsn)), (lambda store: LogFollower(store))
        else:
            require("redis")
            dsn = stack.enter_context(pg_database())
            redis = PrivateRedis(free_port())
            redis.start()
            stack.callback(redis.stop)
            from rtcli.broker.redis import RedisBroker
            from rtcli.store.postgres.db import PostgresStore

            yield request.param, (lambda: PostgresStore(dsn)), (lambda store: RedisBroker(redis.url, store))


async def run_nodes(make_store, make_broker, nodes: int, batches: list[list[int]]):
    stores, brokers, got = [], [], []
    for _ in range(nodes):
        store = make_store()
        await store.open()
        broker = make_broker(store)
        seen: list[Event] = []
        await broker.start(seen.append)
        store.on_commit = broker.publish
        stores.append(store)
        brokers.append(broker)
        got.append(seen)
    for k, batch in enumerate(batches):  # commits from every node in turn
        await commit(stores[k % nodes], brokers[k % nodes], [event(i) for i in batch])
    expected = sum(len(b) for b in batches)
    for _ in range(200):
        if all(len(g) >= expected for g in got):
            break
        await asyncio.sleep(0.025)
    await asyncio.sleep(0.3)
    for b in brokers:
        await b.close()
    for s in stores:
        await s.close()
    return got


def test_every_event_once_in_order(backend):
    kind, make_store, make_broker = backend
    nodes = 3 if kind == "redis" else 1  # without Redis a broker serves exactly one node
    batches = [[1, 2], [3], [4, 5, 6], [7]]
    got = asyncio.run(run_nodes(make_store, make_broker, nodes, batches))
    for seen in got:
        assert [e.payload["$id"] for e in seen] == [f"r{i}" for i in range(1, 8)]
        seqs = [e.seq for e in seen]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_nothing_published_for_a_rolled_back_transaction(backend):
    kind, make_store, make_broker = backend

    async def scenario():
        store = make_store()
        await store.open()
        broker = make_broker(store)
        seen: list[Event] = []
        await broker.start(seen.append)
        store.on_commit = broker.publish
        with pytest.raises(RuntimeError):
            async with store.transaction() as tx:
                await tx.append_event(event(1))
                raise RuntimeError("abort")
        await commit(store, broker, [event(2)])
        await asyncio.sleep(0.5)
        await broker.close()
        await store.close()
        return seen

    seen = asyncio.run(scenario())
    assert [e.payload["$id"] for e in seen] == ["r2"]


def test_concurrent_transactions_delivered_once_in_log_order(backend):
    """Transactions of one node committing at the same time (in parallel on PostgreSQL, where
    commits are announced out of log order): every event once, in position order."""
    kind, make_store, make_broker = backend

    async def scenario():
        store = make_store()
        await store.open()
        broker = make_broker(store)
        seen: list[Event] = []
        await broker.start(seen.append)
        store.on_commit = broker.publish
        await asyncio.gather(*(commit(store, broker, [event(i), event(1000 + i)]) for i in range(60)))
        for _ in range(200):
            if len(seen) >= 120:
                break
            await asyncio.sleep(0.025)
        await asyncio.sleep(0.3)
        await broker.close()
        await store.close()
        return seen

    seen = asyncio.run(scenario())
    ids = [e.payload["$id"] for e in seen]
    assert len(ids) == len(set(ids)) == 120
    seqs = [e.seq for e in seen]
    assert seqs == sorted(seqs), "delivered in log order"
