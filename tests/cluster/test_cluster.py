"""Several rtcli nodes on one PostgreSQL database and one Redis: every subscriber, whichever
node it is on, receives every event it may read exactly once, in the same order; resume works
across nodes; Redis restarts and PostgreSQL outages lose nothing."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from contextlib import ExitStack

import httpx
import pytest

from tests.conftest import API_KEY, free_port, start_server
from tests.server.resuming import ResumingSubscriber
from tests.services import PrivateRedis, pg_database, require

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
HEADERS = {"X-Appwrite-Project": "default", "X-Appwrite-Key": API_KEY}


@pytest.fixture
def redis_server():
    require("redis")
    r = PrivateRedis(free_port())
    r.start()
    yield r
    r.stop()


def start_nodes(stack: ExitStack, tmp_path, n: int, redis_url: str, dsn: str | None = None):
    dsn = dsn or stack.enter_context(pg_database())
    nodes = []
    for _ in range(n):
        node = start_server(tmp_path / "shared-data", extra=["--database", dsn, "--broker", redis_url])
        stack.callback(node.stop)
        nodes.append(node)
    return nodes


def setup_tables(endpoint: str) -> None:
    with httpx.Client(base_url=endpoint, headers=HEADERS) as c:
        c.post("/tablesdb", json={"databaseId": "d", "name": "d"}).raise_for_status()
        c.post("/tablesdb/d/tables", json={"tableId": "open", "name": "o", "permissions": ['read("any")']}).raise_for_status()
        c.post("/tablesdb/d/tables", json={"tableId": "closed", "name": "c"}).raise_for_status()


def url(node) -> str:
    return f"ws://127.0.0.1:{node.port}/v1/realtime?project=default"


def write(node, table: str, prefix: str, count: int) -> list[str]:
    ids = []
    with httpx.Client(base_url=node.endpoint, headers=HEADERS, timeout=10) as c:
        for i in range(count):
            r = c.post(f"/tablesdb/d/tables/{table}/rows", json={"rowId": f"{prefix}{i}", "data": {"i": i}})
            assert r.status_code == 201, r.text
            ids.append(f"{prefix}{i}")
    return ids


async def wait_all(subs, expected: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(len(s.events) < expected for s in subs):
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # anything beyond `expected` would be a duplicate


def test_three_nodes_every_event_exactly_once_in_one_order(tmp_path, redis_server):
    with ExitStack() as stack:
        nodes = start_nodes(stack, tmp_path, 3, redis_server.url)
        setup_tables(nodes[0].endpoint)

        async def scenario():
            subs = [ResumingSubscriber(url(nodes[i % 3]), ["tablesdb.d.tables.open.rows"], sub_id=f"s{i}") for i in range(15)]
            closed = [ResumingSubscriber(url(nodes[i]), ["tablesdb.d.tables.closed.rows"], sub_id=f"x{i}") for i in range(3)]
            tasks = [asyncio.create_task(s.run()) for s in subs + closed]
            await asyncio.wait_for(asyncio.gather(*(s.subscribed.wait() for s in subs + closed)), 30)
            results = await asyncio.gather(*(asyncio.to_thread(write, nodes[i], "open", f"n{i}-", 30) for i in range(3)),
                                           asyncio.to_thread(write, nodes[1], "closed", "secret-", 5))
            await wait_all(subs, 90)
            for s in subs + closed:
                s.stop()
            for t in tasks:
                t.cancel()
            return subs, closed, results

        subs, closed, results = asyncio.run(scenario())
        written = set(results[0] + results[1] + results[2])
        orders = []
        for s in subs:
            ids = [e["payload"]["$id"] for e in s.events]
            assert len(ids) == len(set(ids)) == 90, f"{s.sub_id}: {len(ids)} events, {len(set(ids))} distinct"
            assert set(ids) == written
            cursors = [int(e["cursor"].rsplit(".", 1)[1]) for e in s.events]
            assert cursors == sorted(cursors), "delivered in log order"
            orders.append(ids)
        assert all(o == orders[0] for o in orders), "every node delivers in the same total order"
        for x in closed:
            assert x.events == [], "guests never receive rows they may not read, on any node"
        for s in subs + closed:  # resuming must not hide a node that drops connections
            assert s.reconnects == 0, f"{s.sub_id} was disconnected {s.reconnects} times"
        for i in range(3):  # each writer's own rows keep their order
            mine = [r for r in orders[0] if r.startswith(f"n{i}-")]
            assert mine == [f"n{i}-{k}" for k in range(30)]


def test_resume_on_another_node(tmp_path, redis_server):
    with ExitStack() as stack:
        a, b, c = start_nodes(stack, tmp_path, 3, redis_server.url)
        setup_tables(a.endpoint)

        async def scenario():
            sub = ResumingSubscriber(url(a), ["tablesdb.d.tables.open.rows"])
            task = asyncio.create_task(sub.run())
            await sub.subscribed.wait()
            await asyncio.to_thread(write, c, "open", "before-", 5)
            await wait_all([sub], 5)
            sub.stop()
            task.cancel()
            missed = await asyncio.to_thread(write, c, "open", "away-", 7)
            again = ResumingSubscriber(url(b), ["tablesdb.d.tables.open.rows"], since=sub.cursor)
            task = asyncio.create_task(again.run())
            await again.subscribed.wait()
            live = await asyncio.to_thread(write, a, "open", "live-", 3)
            await wait_all([again], 10)
            again.stop()
            task.cancel()
            return sub, again, missed + live

        first, second, expected = asyncio.run(scenario())
        assert [e["payload"]["$id"] for e in first.events] == [f"before-{i}" for i in range(5)]
        assert [e["payload"]["$id"] for e in second.events] == expected
        assert not second.not_resumed


def test_redis_restart_loses_nothing(tmp_path, redis_server):
    with ExitStack() as stack:
        a, b = start_nodes(stack, tmp_path, 2, redis_server.url)
        setup_tables(a.endpoint)

        async def scenario():
            sub = ResumingSubscriber(url(b), ["tablesdb.d.tables.open.rows"])
            task = asyncio.create_task(sub.run())
            await sub.subscribed.wait()
            written = await asyncio.to_thread(write, a, "open", "one-", 5)
            redis_server.stop()  # nodes fall back to following the log by polling
            written += await asyncio.to_thread(write, a, "open", "down-", 5)
            await wait_all([sub], 10, timeout=15)
            delivered_while_down = len(sub.events)
            redis_server.start()
            await asyncio.sleep(1.5)  # the nodes reconnect with backoff
            written += await asyncio.to_thread(write, a, "open", "two-", 5)
            await wait_all([sub], 15)
            sub.stop()
            task.cancel()
            return sub, written, delivered_while_down

        sub, written, while_down = asyncio.run(scenario())
        assert while_down == 10, "events kept flowing between nodes while Redis was down"
        assert [e["payload"]["$id"] for e in sub.events] == written
        assert "connected to Redis" in b.log()


class TcpProxy:
    """A TCP relay to PostgreSQL that a test can cut (refuse and drop) and restore."""

    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self.port = free_port()
        self.up = True
        self.conns: list[socket.socket] = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self.conns += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        self.up = False
        for s in self.conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.conns.clear()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        self.sock.close()


def test_postgres_outage_writes_503_realtime_survives(tmp_path, redis_server):
    with ExitStack() as stack:
        dsn = stack.enter_context(pg_database())
        proxy = TcpProxy(5432)
        stack.callback(proxy.close)
        proxied = dsn.replace(":5432/", f":{proxy.port}/")
        (node,) = start_nodes(stack, tmp_path, 1, redis_server.url, dsn=proxied)
        setup_tables(node.endpoint)

        async def scenario():
            sub = ResumingSubscriber(url(node), ["tablesdb.d.tables.open.rows"])
            task = asyncio.create_task(sub.run())
            await sub.subscribed.wait()
            await asyncio.to_thread(write, node, "open", "a-", 2)
            proxy.cut()
            await asyncio.sleep(0.2)

            def failing_write():
                with httpx.Client(base_url=node.endpoint, headers=HEADERS, timeout=30) as c:
                    return c.post("/tablesdb/d/tables/open/rows", json={"rowId": "lost", "data": {}})

            r = await asyncio.to_thread(failing_write)
            reconnects_during = sub.reconnects
            proxy.restore()
            deadline = time.monotonic() + 20
            while True:  # the pool reconnects on its own
                try:
                    await asyncio.to_thread(write, node, "open", "b-", 2)
                    break
                except AssertionError:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.5)
            await wait_all([sub], 4)
            sub.stop()
            task.cancel()
            return sub, r, reconnects_during

        sub, r, reconnects_during = asyncio.run(scenario())
        assert r.status_code == 503 and r.json()["type"] == "general_service_unavailable", r.text
        assert reconnects_during == 0, "the realtime connection stayed up during the outage"
        assert [e["payload"]["$id"] for e in sub.events] == ["a-0", "a-1", "b-0", "b-1"]
        assert node.proc.poll() is None


def test_api_keys_made_or_deleted_on_one_node_hold_on_every_node(tmp_path, redis_server):
    """Each node keeps the project's keys in memory; a key created on one node must work on the
    others, and a key deleted on one must stop working everywhere (not only after a restart)."""

    def until(check, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return True
            time.sleep(0.05)
        return False

    with ExitStack() as stack:
        a, b = start_nodes(stack, tmp_path, 2, redis_server.url)
        with httpx.Client(base_url=a.endpoint, headers=HEADERS) as admin:
            made = admin.post("/keys", json={"name": "reader", "scopes": ["databases.read"]})
            assert made.status_code == 201, made.text
            key = made.json()
        as_new_key = {"X-Appwrite-Project": "default", "X-Appwrite-Key": key["secret"]}

        def status_on_b() -> int:
            return httpx.get(f"{b.endpoint}/tablesdb", headers=as_new_key).status_code

        assert until(lambda: status_on_b() == 200), "a key made on node a works on node b"
        with httpx.Client(base_url=a.endpoint, headers=HEADERS) as admin:
            assert admin.delete(f"/keys/{key['$id']}").status_code == 204
        assert until(lambda: status_on_b() == 401), "a key deleted on node a is refused on node b"
        assert httpx.get(f"{a.endpoint}/tablesdb", headers=as_new_key).status_code == 401
