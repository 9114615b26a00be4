"""How a node following the log spends reads on wake-ups: one that a read has already covered
costs none, and a node ignores its own (its commits woke its follower already)."""

from __future__ import annotations

import asyncio
from contextlib import ExitStack

import pytest

from rtcli.core.event import Event
from tests.broker.test_contract import commit, event
from tests.conftest import free_port
from tests.services import PrivateRedis, pg_database, require

pytestmark = pytest.mark.postgres


async def _until(check, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not within time")


async def _two_nodes(dsn: str, url: str):
    """Two nodes on one database and one Redis, each following the log by wake-ups only (no
    polling during a test): their stores, their brokers and what each delivered."""
    from rtcli.broker.redis import RedisBroker
    from rtcli.store.postgres.db import PostgresStore

    stores = [PostgresStore(dsn), PostgresStore(dsn)]
    brokers, got = [], []
    for store in stores:
        await store.open()
        broker = RedisBroker(url, store, poll=60)
        seen: list[Event] = []
        await broker.start(seen.append)
        store.on_commit = broker.publish
        brokers.append(broker)
        got.append(seen)
    return stores, brokers, got


async def _close(stores, brokers) -> None:
    for broker in brokers:
        await broker.close()
    for store in stores:
        await store.close()


def _with_pg_and_redis(scenario) -> None:
    with ExitStack() as stack:
        dsn = stack.enter_context(pg_database())
        redis = PrivateRedis(free_port())
        redis.start()
        stack.callback(redis.stop)
        asyncio.run(scenario(dsn, redis.url))


def test_a_wakeup_already_covered_by_a_read_costs_no_read():
    from rtcli.broker.follower import LogFollower
    from rtcli.store.postgres.db import PostgresStore

    async def scenario(dsn: str):
        writer, reader = PostgresStore(dsn), PostgresStore(dsn)  # two nodes: one writes, one follows
        await writer.open()
        await reader.open()
        follower = LogFollower(reader, poll=60)  # no polling during the test: only wake-ups read
        seen: list[Event] = []
        await follower.start(seen.append)
        try:
            seqs: list[int] = []
            writer.on_commit = lambda events: seqs.extend(e.seq for e in events)
            await commit(writer, None, [event(1), event(2)])
            follower.wake(seqs[-1])
            await _until(lambda: len(seen) == 2)
            reads = follower.reads
            for upto in seqs:  # late or repeated wake-ups for what was delivered
                follower.wake(upto)
            await asyncio.sleep(0.2)
            assert follower.reads == reads, "no read for positions already delivered"
            follower.wake()  # a wake-up without a position (a reconnection): always a read
            await _until(lambda: follower.reads == reads + 1)
            await commit(writer, None, [event(3)])
            follower.wake(seqs[-1])
            await _until(lambda: len(seen) == 3)
            assert [e.payload["$id"] for e in seen] == ["r1", "r2", "r3"]
        finally:
            await follower.close()
            await writer.close()
            await reader.close()

    with pg_database() as dsn:
        asyncio.run(scenario(dsn))


def test_an_announcement_waits_for_the_read_after_this_nodes_own_commit_but_not_long(monkeypatch):
    """While a create statement of this node is on its way, another node's announced events are
    read with the read that follows its commit (one read for both), and no longer than HOLD."""
    import asyncpg

    from rtcli.broker import follower as following
    from rtcli.broker.follower import LogFollower
    from rtcli.store.postgres.db import PostgresStore
    from rtcli.store.tablesdb import TablesDBStore
    from tests.store.test_groupcommit import _create, _table

    monkeypatch.setattr(following, "HOLD", 0.6)  # long enough to see from a test

    async def scenario(dsn: str):
        other, node = PostgresStore(dsn), PostgresStore(dsn)  # another node writes; this one follows
        await other.open()
        await node.open()
        await _table(node)
        follower = LogFollower(node, poll=60)
        seen: list[Event] = []
        await follower.start(seen.append)
        follower.wake()  # the first read, which any wake-up makes
        await _until(lambda: follower.reads == 1)
        node.on_commit = follower.publish
        seqs: list[int] = []
        other.on_commit = lambda events: seqs.extend(e.seq for e in events)
        blocker = await asyncpg.connect(dsn)

        async def held_up_create(row_id: str):
            """A create of this node, its statement on its way but held up by a lock on rows."""
            tx = blocker.transaction()
            await tx.start()
            await blocker.execute("LOCK TABLE rows IN EXCLUSIVE MODE")
            create = asyncio.ensure_future(_create(TablesDBStore(node), row_id, {}, [])[1])
            await _until(node.writing)
            return tx, create

        try:
            tx, create = await held_up_create("mine")
            reads = follower.reads
            await commit(other, None, [event(1)])
            follower.wake(seqs[-1])
            await asyncio.sleep(0.3)
            assert (follower.reads, follower.held, seen) == (reads, 1, []), "held for the read after the commit"
            await tx.rollback()
            await create
            await _until(lambda: len(seen) == 2)
            assert [e.payload["$id"] for e in seen] == ["r1", "mine"]
            assert follower.reads == reads + 1, "one read delivered both"

            # A statement held up longer than HOLD does not hold the announced events any longer.
            tx, create = await held_up_create("late")
            await commit(other, None, [event(2)])
            follower.wake(seqs[-1])
            await _until(lambda: len(seen) == 3, 3.0)
            assert seen[-1].payload["$id"] == "r2" and node.writing(), "read while the statement was still held up"
            assert follower.held == 2
            await tx.rollback()
            await create
            await _until(lambda: len(seen) == 4)
            assert seen[-1].payload["$id"] == "late"

            # With no statement on its way, an announcement is read at once.
            await commit(other, None, [event(3)])
            follower.wake(seqs[-1])
            await _until(lambda: len(seen) == 5, 0.3)
            assert follower.held == 2
        finally:
            await blocker.close()
            await follower.close()
            await other.close()
            await node.close()

    with pg_database() as dsn:
        asyncio.run(scenario(dsn))


@pytest.mark.redis
def test_a_node_ignores_its_own_wakeups_and_wakes_the_others():
    require("redis")
    from rtcli.broker.redis import decode_wakeup, encode_wakeup

    assert decode_wakeup(encode_wakeup("abc", 42)) == ("abc", 42)
    assert decode_wakeup(b"17") == (None, None)  # another shape: wakes the follower, position unknown
    assert decode_wakeup(b"n:" + b"9" * 40) == (None, None)

    async def scenario(dsn: str, url: str):
        stores, brokers, got = await _two_nodes(dsn, url)
        try:
            await _until(lambda: all(b.connected for b in brokers))
            await asyncio.sleep(0.1)  # the reads each node makes on connecting
            a, b = brokers
            reads_b, wakeups_a = b.follower.reads, a.wakeups
            for i in range(1, 6):
                await commit(stores[0], a, [event(i)])
                await _until(lambda n=i: len(got[1]) == n)
            await _until(lambda: a.wakeups > wakeups_a)
            await asyncio.sleep(0.1)
            assert [e.payload["$id"] for e in got[0]] == [e.payload["$id"] for e in got[1]] == [f"r{i}" for i in range(1, 6)]
            assert b.follower.reads > reads_b, "the other node read the log on the wake-ups"
            # Redis echoed a's wake-ups back to it (a.wakeups counts them), but they woke only b's
            # follower, which learnt the position of a's last commit from them.
            assert a.follower._announced == 0
            assert b.follower._announced == got[1][-1].seq
        finally:
            await _close(stores, brokers)

    _with_pg_and_redis(scenario)


@pytest.mark.redis
def test_a_wakeup_connection_that_redis_closed_is_opened_again():
    """Wake-ups go without replies, so nothing waits on a dead connection: the next one notices
    Redis closed it and opens another, and the other node is woken well before its poll."""
    require("redis")
    import redis as redis_client

    async def scenario(dsn: str, url: str):
        stores, brokers, got = await _two_nodes(dsn, url)
        admin = redis_client.Redis.from_url(url)
        try:
            await _until(lambda: all(b.connected for b in brokers))
            a, _ = brokers
            await commit(stores[0], a, [event(1)])
            await _until(lambda: len(got[1]) == 1, 2.0)
            named = [c for c in admin.client_list() if c["name"] == "rtcli-wakeups"]
            assert len(named) == 1, "one quiet connection, named, has sent the wake-ups so far"
            admin.client_kill_filter(_id=named[0]["id"])
            await asyncio.sleep(0.2)  # the node sees Redis close it
            for i in (2, 3):
                await commit(stores[0], a, [event(i)])
                await _until(lambda n=i: len(got[1]) == n, 2.0)
            assert [e.payload["$id"] for e in got[1]] == ["r1", "r2", "r3"]
            assert [c["id"] for c in admin.client_list() if c["name"] == "rtcli-wakeups"] != [named[0]["id"]]
        finally:
            admin.close()
            await _close(stores, brokers)

    _with_pg_and_redis(scenario)


def test_wakeups_that_cost_no_read_do_not_put_off_the_poll():
    """A steady stream of wake-ups for positions already delivered must not keep the follower
    from its poll: a commit that woke nobody is still delivered within the poll interval."""
    from rtcli.broker.follower import LogFollower
    from rtcli.store.postgres.db import PostgresStore

    async def scenario(dsn: str):
        writer, reader = PostgresStore(dsn), PostgresStore(dsn)
        await writer.open()
        await reader.open()
        follower = LogFollower(reader, poll=0.3)
        seen: list[Event] = []
        await follower.start(seen.append)
        try:
            await commit(writer, None, [event(1)])  # no wake-up: only the poll finds it
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            while not seen and loop.time() - t0 < 3:
                follower.wake(0)  # covered by any read: costs none
                await asyncio.sleep(0.05)
            assert [e.payload["$id"] for e in seen] == ["r1"]
            assert loop.time() - t0 < 1.5, "the poll was put off by wake-ups"
        finally:
            await follower.close()
            await writer.close()
            await reader.close()

    with pg_database() as dsn:
        asyncio.run(scenario(dsn))


@pytest.mark.redis
def test_wakeups_cross_a_redis_with_a_password_and_a_wrong_one_is_refused():
    """Wake-ups go on bare connections (the subscription and the publishing one): they log in
    with the URL's password like the client does."""
    require("redis")
    from rtcli.broker.redis import RedisBroker, open_wire
    from rtcli.store.postgres.db import PostgresStore

    async def scenario(dsn: str, redis: PrivateRedis):
        wrong = redis.url.replace(":s3cret@", ":wrong@")
        with pytest.raises(ConnectionError, match="refused the password"):
            await open_wire(wrong)
        stores = [PostgresStore(dsn), PostgresStore(dsn)]
        brokers, got = [], []
        for store in stores:
            await store.open()
            broker = RedisBroker(redis.url, store, poll=60)
            seen: list[Event] = []
            await broker.start(seen.append)
            store.on_commit = broker.publish
            brokers.append(broker)
            got.append(seen)
        try:
            await _until(lambda: all(b.connected for b in brokers))
            await commit(stores[0], brokers[0], [event(1)])
            await _until(lambda: len(got[1]) == 1)
            assert got[1][0].payload["$id"] == "r1"
            assert brokers[1].follower._announced == got[1][0].seq, "woken by the other node's wake-up"
        finally:
            for broker in brokers:
                await broker.close()
            for store in stores:
                await store.close()

    with ExitStack() as stack:
        dsn = stack.enter_context(pg_database())
        redis = PrivateRedis(free_port(), password="s3cret")
        redis.start()
        stack.callback(redis.stop)
        asyncio.run(scenario(dsn, redis))


def test_a_subscription_that_stops_answering_is_given_up(monkeypatch):
    """A peer gone without closing the connection: asked for a PING after a silence, and the
    connection is dropped (the node then reconnects) when no answer comes."""
    from rtcli.broker import redis as broker_redis

    monkeypatch.setattr(broker_redis, "HEALTH_SECONDS", 0.1)

    async def scenario():
        received: list[bytes] = []

        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            received.append(await reader.read(1024))
            await asyncio.sleep(5)

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            t0 = asyncio.get_running_loop().time()
            with pytest.raises(ConnectionError, match="stopped answering"):
                async for _ in broker_redis.wire_replies(reader, writer):
                    pass
            assert 0.15 < asyncio.get_running_loop().time() - t0 < 2
            assert received == [b"*1\r\n$4\r\nPING\r\n"]
            writer.close()
        finally:
            server.close()

    asyncio.run(scenario())
