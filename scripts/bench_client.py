"""The load client and process measurements for scripts/bench.py.

The client must cost less per delivery than the server it measures, so it is minimal on
purpose: a WebSocket client on ``asyncio.Protocol`` (handshake, masking, frame parsing) that
recognises event frames by their first bytes and never JSON-decodes them (for latency it finds
the row id with one ``bytes.find``), and a keep-alive HTTP/1.1 client on asyncio streams.
CPU, run-queue wait and RSS of any process come from /proc (no psutil needed).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import heapq
import os
import re
import secrets
import socket
import sys
import time
from pathlib import Path
from collections.abc import Callable

import orjson

CLK_TCK = os.sysconf("SC_CLK_TCK")
now = time.perf_counter

try:
    from websockets.speedups import apply_mask
except ImportError:  # pure Python fallback; only client->server frames are masked (few, small)
    def apply_mask(data: bytes, mask: bytes) -> bytes:
        n = len(data)
        m = (mask * (n // 4 + 1))[:n]
        return (int.from_bytes(data, "big") ^ int.from_bytes(m, "big")).to_bytes(n, "big")


# --- processes: CPU, contention, memory ------------------------------------------------------


def cpu_split(pid: int | str = "self") -> tuple[float, float]:
    """User and system CPU seconds of a process (all its threads), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def cpu_seconds(pid: int | str = "self") -> float:
    return sum(cpu_split(pid))


def wait_seconds(pid: int | str = "self") -> float:
    """Time the process's threads spent runnable but waiting for a CPU (/proc/<pid>/task/*/schedstat):
    a direct measure of contention from other processes on the machine."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            pass
    return total / 1e9


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class Usage:
    """CPU of the server and of this (load client) process over a window, as % of one core."""

    def __init__(self, server_pid: int) -> None:
        self.pid = server_pid
        self.t = now()
        self.s = cpu_split(server_pid)
        self.c = cpu_seconds()
        self.ws, self.wc = wait_seconds(server_pid), wait_seconds()

    def done(self) -> dict:
        dt = now() - self.t
        user, system = (b - a for a, b in zip(self.s, cpu_split(self.pid)))
        return {"server_cpu_pct": round(100 * (user + system) / dt, 1),
                "server_sys_pct": round(100 * system / dt, 1),  # kernel: socket sends, loopback TCP
                "client_cpu_pct": round(100 * (cpu_seconds() - self.c) / dt, 1),
                # % of the window the process was runnable but another process had its CPU
                "server_cpu_wait_pct": round(100 * (wait_seconds(self.pid) - self.ws) / dt, 1),
                "client_cpu_wait_pct": round(100 * (wait_seconds() - self.wc) / dt, 1)}


class ProcGroupUsage:
    """CPU of a set of named processes over a window, each as % of one core (user + system, all
    threads), with its kernel share and its run-queue wait. ``discover()`` returns ``{name: pid}``;
    it is called at the start and again at the end, and a process that appeared in between (a
    PostgreSQL backend opened by a growing pool) is counted from its birth, flagged ``new``.
    A process gone by the end is reported as None."""

    def __init__(self, discover: Callable[[], dict[str, int]]) -> None:
        self.discover = discover
        self.pids = discover()
        self.snap = {name: self._read(pid) for name, pid in self.pids.items()}
        self.t = now()

    @staticmethod
    def _read(pid: int) -> tuple[float, float, float] | None:
        try:
            user, system = cpu_split(pid)
            return user, system, wait_seconds(pid)
        except (OSError, IndexError, ValueError):
            return None

    def done(self) -> dict[str, dict | None]:
        ends = {name: self._read(pid) for name, pid in self.pids.items()}  # known ones first, then look
        dt = now() - self.t
        out: dict[str, dict | None] = {}

        def pct(a, b) -> dict:
            return {"cpu_pct": round(100 * (b[0] - a[0] + b[1] - a[1]) / dt, 1),
                    "sys_pct": round(100 * (b[1] - a[1]) / dt, 1),
                    "cpu_wait_pct": round(100 * (b[2] - a[2]) / dt, 1)}

        for name, a in self.snap.items():
            b = ends[name]
            out[name] = pct(a, b) if a is not None and b is not None else None
        for name, pid in self.discover().items():
            if name not in out:
                b = self._read(pid)
                if b is not None:
                    out[name] = {**pct((0.0, 0.0, 0.0), b), "new": True}
        return out


# --- the load client: a minimal WebSocket client ---------------------------------------------


class Agg:
    """Counters shared by a group of connections, and waits on the event count."""

    def __init__(self) -> None:
        self.events = 0
        self.t0: dict[bytes, float] | None = None  # latency: row id -> time the write was sent
        self.lat: list[float] = []
        self.last: dict[bytes, float] = {}  # latency: row id -> last delivery time
        self._waiters: list = []
        self._n = 0

    def until(self, target: int) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        if self.events >= target:
            fut.set_result(None)
        else:
            self._n += 1
            heapq.heappush(self._waiters, (target, self._n, fut))
        return fut

    def _wake(self) -> None:
        while self._waiters and self._waiters[0][0] <= self.events:
            fut = heapq.heappop(self._waiters)[2]
            if not fut.done():
                fut.set_result(None)


EVENT_HEAD = b'{"type":"event"'
ID_KEY = b'"$id":"'


class WS(asyncio.Protocol):
    """One WebSocket client connection. Event frames are counted (and, for latency, timed by the
    row id found in them); other text frames go to ``inbox``."""

    def __init__(self, port: int, path: str, agg: Agg, headers: bytes = b"") -> None:
        self.port, self.path, self.agg, self.headers = port, path, agg, headers
        loop = asyncio.get_running_loop()
        self.opened = loop.create_future()
        self.closed = loop.create_future()
        self.transport = None
        self.hs = b""
        self.upgraded = False
        self.buf = b""
        self.inbox: collections.deque = collections.deque()
        self.inbox_waiter: asyncio.Future | None = None
        self.events = 0
        self.keep = 0  # keep this many event frames (samples for the reference)
        self.kept: list[bytes] = []
        self.close_code: int | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        key = base64.b64encode(os.urandom(16))
        transport.write(b"GET " + self.path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1:" + str(self.port).encode()
                        + b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key
                        + b"\r\nSec-WebSocket-Version: 13\r\n" + self.headers + b"\r\n")

    def data_received(self, data: bytes) -> None:
        self.feed(data, now())

    def feed(self, data: bytes, t: float) -> None:
        """Bytes that arrived at time ``t`` (``now()`` clock)."""
        if not self.upgraded:
            self.hs += data
            i = self.hs.find(b"\r\n\r\n")
            if i < 0:
                return
            head, data = self.hs[:i], self.hs[i + 4:]
            self.hs = b""
            if b" 101 " not in head.split(b"\r\n", 1)[0]:
                if not self.opened.done():
                    self.opened.set_exception(ConnectionError(head.split(b"\r\n", 1)[0].decode()))
                self.transport.close()
                return
            self.upgraded = True
            self.opened.set_result(None)
            if not data:
                return
        buf = self.buf + data if self.buf else data
        pos, n = 0, len(buf)
        agg = self.agg
        while n - pos >= 2:
            ln = buf[pos + 1] & 0x7F
            h = 2
            if ln == 126:
                if n - pos < 4:
                    break
                ln, h = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
            elif ln == 127:
                if n - pos < 10:
                    break
                ln, h = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
            start = pos + h
            end = start + ln
            if end > n:
                break
            op = buf[pos] & 0x0F
            pos = end
            if op == 1:
                if buf.startswith(EVENT_HEAD, start):
                    self.events += 1
                    agg.events += 1
                    if agg.t0 is not None:
                        i = buf.find(ID_KEY, start, end)
                        if i >= 0:
                            rid = buf[i + 7:buf.find(b'"', i + 7, end)]
                            t0 = agg.t0.get(rid)
                            if t0 is not None:
                                agg.lat.append(t - t0)
                                agg.last[rid] = t
                    if self.keep:
                        self.keep -= 1
                        self.kept.append(buf[start:end])
                    if agg._waiters and agg._waiters[0][0] <= agg.events:
                        agg._wake()
                else:
                    self.inbox.append(buf[start:end])
                    w = self.inbox_waiter
                    if w is not None and not w.done():
                        w.set_result(None)
            elif op == 8:
                self.close_code = int.from_bytes(buf[start:start + 2], "big") if ln >= 2 else 1005
                self.transport.close()
            elif op == 9:
                self._send(0x8A, buf[start:end])
        self.buf = buf[pos:] if pos < n else b""

    def connection_lost(self, exc) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("connection lost before the handshake"))
        if not self.closed.done():
            self.closed.set_result(self.close_code)
        w = self.inbox_waiter
        if w is not None and not w.done():
            w.set_exception(ConnectionError(f"connection closed ({self.close_code})"))

    def _send(self, head: int, payload: bytes) -> None:
        n = len(payload)
        if n < 126:
            header = bytes((head, 0x80 | n))
        elif n < 65536:
            header = bytes((head, 0xFE)) + n.to_bytes(2, "big")
        else:
            header = bytes((head, 0xFF)) + n.to_bytes(8, "big")
        mask = os.urandom(4)
        self.transport.write(header + mask + apply_mask(payload, mask))

    def send_text(self, payload: bytes | str) -> None:
        self._send(0x81, payload.encode() if isinstance(payload, str) else payload)

    async def recv(self, timeout: float = 30) -> bytes:
        """The next non-event text frame."""
        while not self.inbox:
            if self.closed.done():
                raise ConnectionError(f"connection closed ({self.close_code})")
            self.inbox_waiter = asyncio.get_running_loop().create_future()
            await asyncio.wait_for(self.inbox_waiter, timeout)
        return self.inbox.popleft()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


# Kernel receive timestamps (Linux): the time a frame reached the client's socket, not the time
# the client's loop got to it, so that a burst of 1,000 frames is timed as the server sent it
# even though this single-threaded client needs several milliseconds to read them all.
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # SO_TIMESTAMPNS_OLD, struct timespec, CLOCK_REALTIME


class KernelTimedTransport:
    """A socket read with ``recvmsg`` from ``loop.add_reader``, handing each read to
    ``WS.feed`` with its kernel timestamp (converted to the ``now()`` clock). Writes are the
    client's few small frames: ``sendall`` on the socket."""

    def __init__(self, sock: socket.socket, proto: WS) -> None:
        self.sock, self.proto = sock, proto
        self.loop = asyncio.get_running_loop()
        self.offset = time.time() - now()  # CLOCK_REALTIME - perf_counter, fixed for the run
        self.closed = False
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        proto.connection_made(self)
        self.loop.add_reader(sock.fileno(), self._readable)

    def _readable(self) -> None:
        try:
            data, ancdata, _, _ = self.sock.recvmsg(1 << 18, 64)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close()
            return
        if not data:
            self.close()
            return
        t = None
        for level, kind, cdata in ancdata:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(cdata) >= 16:
                sec, nsec = int.from_bytes(cdata[:8], "little"), int.from_bytes(cdata[8:16], "little")
                t = sec + nsec * 1e-9 - self.offset
        self.proto.feed(data, t if t is not None else now())

    def write(self, data: bytes) -> None:
        if not self.closed:
            self.sock.setblocking(True)
            try:
                self.sock.sendall(data)
            finally:
                self.sock.setblocking(False)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.loop.remove_reader(self.sock.fileno())
        self.sock.close()
        self.proto.connection_lost(None)

    abort = close


async def open_ws(port: int, path: str, agg: Agg, headers: bytes = b"", kernel_time: bool = False) -> WS:
    loop = asyncio.get_running_loop()
    if kernel_time:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await loop.sock_connect(sock, ("127.0.0.1", port))
        ws = WS(port, path, agg, headers)
        KernelTimedTransport(sock, ws)
    else:
        _, ws = await loop.create_connection(lambda: WS(port, path, agg, headers), "127.0.0.1", port)
    await asyncio.wait_for(ws.opened, 30)
    return ws


def sub_message(channel: str, since: str | None = None) -> bytes:
    item = {"subscriptionId": secrets.token_hex(10), "channels": [channel], "queries": []}
    if since is not None:
        item["since"] = since
    return orjson.dumps({"type": "subscribe", "data": [item]})


async def open_subscribers(port: int, path: str, n: int, agg: Agg, channel: str,
                           concurrency: int = 200, progress: str = "", kernel_time: bool = False) -> list[WS]:
    """``n`` connections, each connected and subscribed (the ack received) to ``channel``."""
    sem = asyncio.Semaphore(concurrency)
    out: list[WS] = []

    async def one() -> None:
        async with sem:
            ws = await open_ws(port, path, agg, kernel_time=kernel_time)
            await ws.recv()  # connected
            ws.send_text(sub_message(channel))
            ack = orjson.loads(await ws.recv())
            if ack.get("type") != "response":
                raise RuntimeError(f"subscribe failed: {ack}")
            out.append(ws)
            if progress and len(out) % 2000 == 0:
                print(f"  {progress}: {len(out)}/{n} connections", file=sys.stderr)

    await asyncio.gather(*(one() for _ in range(n)))
    return out


# --- the load client: a minimal keep-alive HTTP/1.1 client ----------------------------------


class Http:
    """One keep-alive HTTP/1.1 connection; JSON bodies; ``headers`` are sent with every request."""

    def __init__(self, port: int, headers: dict[str, str] | None = None) -> None:
        self.port = port
        self.hdr = f"Host: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.r = self.w = None

    async def request(self, method: str, path: str, body=None) -> tuple[int, bytes]:
        if self.w is None:
            self.r, self.w = await asyncio.open_connection("127.0.0.1", self.port)
        data = orjson.dumps(body) if body is not None else b""
        self.w.write(f"{method} {path} HTTP/1.1\r\n{self.hdr}Content-Length: {len(data)}\r\n\r\n".encode() + data)
        head = await self.r.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
        payload = await self.r.readexactly(int(m.group(1))) if m else b""
        return status, payload

    def close(self) -> None:
        if self.w is not None:
            self.w.close()


class HttpPool:
    def __init__(self, port: int, size: int, headers: dict[str, str] | None = None) -> None:
        self.free: asyncio.Queue[Http] = asyncio.Queue()
        self.all = [Http(port, headers) for _ in range(size)]
        for c in self.all:
            self.free.put_nowait(c)

    async def request(self, method: str, path: str, body=None) -> tuple[int, bytes]:
        c = await self.free.get()
        try:
            return await c.request(method, path, body)
        finally:
            self.free.put_nowait(c)

    def close(self) -> None:
        for c in self.all:
            c.close()
