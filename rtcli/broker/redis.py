"""The Redis broker: wakes every node when any node commits events; each node then delivers
the new, settled part of the event log (in PostgreSQL) to its hub, in log order (LogFollower).

Redis carries only positions, a few bytes per commit or burst of commits (the sending node's id
and the highest position committed); the events themselves are read from the log, one query per
burst per node. A node ignores its own wake-ups (its commits woke its follower already), and a
wake-up for positions a read has already passed costs no read. That makes the log the single source of
truth: a lost message, a Redis restart or a Redis outage costs latency (each node reads the log
every ``poll`` seconds meanwhile), never an event, and no event is delivered twice.

Contract (same as the memory broker): ``deliver`` sees every committed event once, in log order.

Events in no log (an ephemeral topic's messages, ``publish_live``) travel whole, on a second
channel: there is no log to read them from. They are at most once and unordered relative to
logged events: a node that is away or a Redis outage loses them, as their mode promises.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from collections.abc import AsyncIterator, Callable

import hiredis
import orjson
import redis.asyncio as aioredis
from redis.connection import parse_url

from rtcli.broker.follower import POLL_SECONDS, LogFollower
from rtcli.core.events import expand
from rtcli.core.event import Controls, Event

log = logging.getLogger("rtcli.broker.redis")

LIVE_BACKLOG = 10_000  # live events waiting for Redis; past it the oldest are dropped
HEALTH_SECONDS = 10.0  # a subscribed connection silent this long is asked for a PING


def encode_live(node: str, event: Event) -> bytes:
    """A live event as it crosses Redis: its most specific name stands for all of them."""
    return orjson.dumps({"node": node, "project": event.project, "name": event.events[0], "channels": event.channels,
                         "roles": event.roles, "payload": event.payload, "timestamp": event.timestamp,
                         "user": event.user_id, "exclude": event.controls.exclude, "supersedes": event.supersedes,
                         "created": event.created})


def decode_live(raw: bytes) -> tuple[str, Event]:
    """(sending node, event); raises ValueError or KeyError on a message of another shape."""
    d = orjson.loads(raw)
    return d["node"], Event(project=d["project"], events=expand(d["name"]), channels=d["channels"],
                            roles=d["roles"], payload=d["payload"], timestamp=d["timestamp"], user_id=d["user"],
                            controls=Controls(exclude=d["exclude"]), supersedes=d["supersedes"], created=d["created"])


def encode_wakeup(node: str, upto: int) -> bytes:
    return f"{node}:{upto}".encode()


def resp_command(*args: bytes) -> bytes:
    """One command in the Redis protocol (RESP): an array of bulk strings."""
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


async def open_wire(url: str, quiet: bool = False) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    """A bare connection to the Redis at ``url`` (redis:// or unix://, with its password if any);
    None for a URL it does not cover (rediss://: TLS options), where the client's path is used.
    ``quiet``: Redis sends no replies on it (``CLIENT REPLY OFF``), for commands sent blind."""
    opts = parse_url(url)
    if "connection_class" in opts and "path" not in opts:
        return None
    if "path" in opts:
        reader, writer = await asyncio.open_unix_connection(opts["path"])
    else:
        reader, writer = await asyncio.open_connection(opts.get("host", "localhost"), opts.get("port", 6379))
    if opts.get("password"):
        user = [opts["username"].encode()] if opts.get("username") else []
        writer.write(resp_command(b"AUTH", *user, opts["password"].encode()))
        reply = await reader.readline()
        if not reply.startswith(b"+"):
            writer.close()
            raise ConnectionError(f"Redis refused the password: {reply.decode(errors='replace').strip()}")
    if quiet:  # named, for an operator's CLIENT LIST
        writer.write(resp_command(b"CLIENT", b"REPLY", b"OFF") + resp_command(b"CLIENT", b"SETNAME", b"rtcli-wakeups"))
    return reader, writer


async def wire_replies(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> AsyncIterator[list]:
    """The replies Redis pushes on a subscribed bare connection, parsed by hiredis. Asks for a
    PING after ``HEALTH_SECONDS`` of silence and gives up on a connection that does not answer it
    (a peer gone without closing); raises on an error reply or when Redis closes the connection."""
    parser = hiredis.Reader()
    pinged = False
    while True:
        try:
            async with asyncio.timeout(HEALTH_SECONDS):
                data = await reader.read(65536)
        except TimeoutError:
            if pinged:
                raise ConnectionError("Redis stopped answering") from None
            writer.write(resp_command(b"PING"))
            pinged = True
            continue
        if not data:
            raise ConnectionError("Redis closed the connection")
        pinged = False
        parser.feed(data)
        while (reply := parser.gets()) is not False:
            if isinstance(reply, hiredis.ReplyError):
                raise ConnectionError(f"Redis answered {reply}")
            if isinstance(reply, list) and reply:
                yield reply


# Past this many bytes waiting to go to Redis, the connection is given up (and opened again):
# a Redis that stops reading must not grow the node's memory.
WIRE_BACKLOG = 64 * 1024


def _usable(wire: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> bool:
    """A quiet connection still fit to write on: Redis has not closed it (it sends nothing else
    on it) and is reading what it is sent."""
    reader, writer = wire
    return not (writer.is_closing() or reader.at_eof() or writer.transport.get_write_buffer_size() > WIRE_BACKLOG)


def decode_wakeup(raw: bytes | str) -> tuple[str | None, int | None]:
    """(sending node, highest position committed); (None, None) for a message of another shape,
    which wakes the follower all the same: a wake-up too many costs one read, one too few a poll."""
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
    node, _, upto = text.rpartition(":")
    if not node or not upto.isdigit() or len(upto) > 20:
        return None, None
    return node, int(upto)


class RedisBroker:
    name = "redis"

    def __init__(self, url: str, store, channel: str | None = None, poll: float = POLL_SECONDS) -> None:
        self.url = url
        self.store = store
        self.channel = channel or ""
        self.live_channel = ""
        self._live_key = b""
        self.node = secrets.token_hex(8)  # to know our own live events when Redis echoes them
        self._live: deque[bytes] = deque(maxlen=LIVE_BACKLOG)
        self._live_wake = asyncio.Event()
        self.redis: aioredis.Redis | None = None
        self.deliver: Callable[[Event], None] | None = None
        self.follower = LogFollower(store, poll)
        self._tasks: list[asyncio.Task] = []
        # Wake-ups for the other nodes: the highest position committed since the last one was
        # sent (0: none). They go blind on a connection of their own on which Redis sends no
        # replies (CLIENT REPLY OFF), written directly: a PUBLISH through the client costs about
        # four times the CPU (pool, checks, parser), waiting for each reply a task and a read
        # more, and a busy node sends hundreds a second. The commits of one turn of the event
        # loop share one (``_flush``); ``_sender`` (re)connects, then sends what is due.
        self._unsent = 0
        self._flush: asyncio.Handle | None = None
        self._sender: asyncio.Task | None = None
        self._wire: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._bare = True  # False: the URL needs the client's options (TLS), which sends them
        self.connected = False
        self.wakeups = 0  # notifications received from Redis (for tests and metrics)

    async def start(self, deliver: Callable[[Event], None]) -> None:
        self.deliver = deliver
        # One channel per database (its epoch), so clusters sharing a Redis do not wake each other.
        self.channel = self.channel or f"rtcli:{self.store.epoch}:events"
        self.live_channel = self.channel + ":live"
        self._live_key = self.live_channel.encode()
        await self.follower.start(deliver)
        self.redis = aioredis.from_url(self.url, socket_connect_timeout=2, socket_timeout=5,
                                       health_check_interval=10)
        self._tasks = [asyncio.create_task(self._listen()), asyncio.create_task(self._send_live())]

    def publish(self, events: list[Event]) -> None:
        """After commit: tell every node (fire and forget; the log is the source of truth).
        Commits made while a wake-up is on its way share the next one: each commit is followed
        by a wake-up sent after it, and a burst costs a few messages, not one per commit."""
        self.follower.publish(events)  # this node delivers its own events without waiting for the echo
        if self.redis is None:
            return
        self._unsent = max(self._unsent, max(e.seq for e in events))
        if self._flush is None and (self._sender is None or self._sender.done()):
            self._flush = asyncio.get_running_loop().call_soon(self._send_now)

    def _send_now(self) -> None:
        self._flush = None
        if not self._unsent:
            return
        if self._wire is not None and _usable(self._wire):
            self._write_wakeup(self._wire, encode_wakeup(self.node, self._unsent))
            self._unsent = 0
            return
        self._drop_wire()
        self._sender = asyncio.get_running_loop().create_task(self._send_wakeups())

    def publish_live(self, event: Event) -> None:
        """Deliver here (after this node's earlier commits); send to the other nodes in the background
        (one pipeline a burst)."""
        if self.deliver is None:
            return
        self.follower.publish_live(event)  # after this node's earlier commits, as with one node
        self._live.append(encode_live(self.node, event))
        self._live_wake.set()

    async def _send_live(self) -> None:
        while True:
            await self._live_wake.wait()
            self._live_wake.clear()
            while self._live:
                batch = [self._live.popleft() for _ in range(min(len(self._live), 500))]
                try:
                    async with self.redis.pipeline(transaction=False) as pipe:
                        for raw in batch:
                            pipe.publish(self.live_channel, raw)
                        await pipe.execute()
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # Redis down: live events are at most once, these are lost
                    log.debug("live publish failed: %s", e)

    def _receive_live(self, raw: bytes) -> None:
        try:
            node, event = decode_live(raw)
        except (ValueError, KeyError, TypeError) as e:
            log.warning("ignored a live event of an unknown shape: %s", e)
            return
        if node != self.node:
            self.deliver(event)

    async def _send_wakeups(self) -> None:
        while self._unsent and self.redis is not None:
            seq, self._unsent = self._unsent, 0
            try:
                async with asyncio.timeout(5):
                    await self._send_wakeup(encode_wakeup(self.node, seq))
            except asyncio.CancelledError:
                raise
            except Exception as e:  # Redis down: the other nodes will find the events by polling
                log.debug("publish failed: %s", e)
                self._drop_wire()

    async def _send_wakeup(self, data: bytes) -> None:
        if self._wire is None and self._bare:
            self._wire = await open_wire(self.url, quiet=True)
            self._bare = self._wire is not None
        if self._wire is None:
            await self.redis.publish(self.channel, data)
            return
        if not _usable(self._wire):
            raise ConnectionError("Redis closed the connection")
        self._write_wakeup(self._wire, data)

    def _write_wakeup(self, wire: tuple[asyncio.StreamReader, asyncio.StreamWriter], data: bytes) -> None:
        wire[1].write(resp_command(b"PUBLISH", self.channel.encode(), data))  # no reply comes (CLIENT REPLY OFF)

    def _drop_wire(self) -> None:
        if self._wire is not None:
            self._wire[1].close()
            self._wire = None

    async def _listen(self) -> None:
        """Wake the follower on each notification; reconnect with backoff when Redis goes away."""
        delay = 0.2
        while True:
            try:
                wire = await open_wire(self.url)
                if wire is None:
                    await self._listen_client()
                else:
                    await self._listen_wire(*wire)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                if self.connected:
                    log.warning("lost Redis (%s); following the event log by polling until it returns", e)
                    delay = 0.2
                self.connected = False
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _subscribed(self) -> None:
        if not self.connected:
            log.info("connected to Redis at %s", self.url)
        self.connected = True
        self.follower.wake()  # catch up on whatever was published while we were away

    def _receive(self, channel: bytes, data: bytes) -> None:
        if channel == self._live_key:
            self._receive_live(data)
            return
        self.wakeups += 1
        node, upto = decode_wakeup(data)
        if node != self.node:
            self.follower.wake(upto)

    async def _listen_wire(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Subscribed on a bare connection whose replies hiredis parses: a message costs a
        fraction of what the client's pub/sub loop spends on it (a task round, checks, a dict)."""
        try:
            writer.write(resp_command(b"SUBSCRIBE", self.channel.encode(), self._live_key))
            subscribed = 0
            async for reply in wire_replies(reader, writer):
                if reply[0] == b"message":
                    self._receive(reply[1], reply[2])
                elif reply[0] == b"subscribe":
                    subscribed += 1
                    if subscribed == 2:
                        self._subscribed()
        finally:
            writer.close()

    async def _listen_client(self) -> None:
        pubsub = self.redis.pubsub()
        try:
            await pubsub.subscribe(self.channel, self.live_channel)
            self._subscribed()
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    self._receive(message["channel"], message["data"])
        finally:
            await pubsub.aclose()

    async def ping(self) -> None:
        """Raises when Redis does not answer (the health API reports it)."""
        if self.redis is None:
            raise ConnectionError("not started")
        await self.redis.ping()

    async def close(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
        if self._sender is not None:
            self._tasks.append(self._sender)
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        await self.follower.close()
        self._drop_wire()
        if self.redis is not None:
            await self.redis.aclose()
            self.redis = None
