"""The WebSocket adapter for /v1/realtime: moves frames between the socket and core.session.

Each connection is one ``asyncio.Protocol`` around websockets' sans-I/O ``ServerProtocol``,
outside ASGI. uvicorn hands an upgrade request over to it (``uvicorn.Config(ws=...)``), so REST
and realtime still share one port. Why not an ASGI endpoint: an idle ASGI WebSocket holds two
tasks, three ``asyncio.Event``s, a receive queue, the handshake and the coroutine frames of the
middleware chain (~33 KiB); here an idle connection is a handful of small objects and no task,
and a delivery is one ``transport.writelines`` with no task switch and no copy of the frame.

Sending is server/outbox.py: frames written at once while TCP takes them (fan-out frames of
one loop turn coalesced), a bounded queue with slow-consumer policies otherwise.

Receiving: messages are handled strictly in order. What the session answers at once (most
messages) is written at once; what needs I/O (authentication, presence, replays, the opening
handshake's lookups) runs in one short-lived task per connection, and messages arriving
meanwhile wait behind it (reading pauses if too many pile up).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque

from starlette.datastructures import QueryParams
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.exceptions import PayloadTooBig
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

from rtcli import protocol
from rtcli.core.hub import HubConnection
from rtcli.core.session import Close, Limits, RealtimeSession, Send
from rtcli.server import realtime_steps as steps
from rtcli.server.outbox import Outbox
from rtcli.settings import ServeConfig

log = logging.getLogger("rtcli.realtime")
_ws_log = logging.getLogger("rtcli.realtime.ws")

PATH = "/v1/realtime"
MAX_INBOX = 64  # messages waiting behind a running task before reading pauses
_OPCODE_TEXT, _OPCODE_BINARY, _OPCODE_CONT = Opcode.TEXT, Opcode.BINARY, Opcode.CONT
# What steps.open_connection reads (project, origin, credentials: see server/auth.py), lowercased.
_OPENING_HEADERS = frozenset({"x-appwrite-project", "origin", "cookie", "x-appwrite-key", "x-appwrite-jwt",
                              "x-appwrite-session", "x-fallback-cookies"})


def _trusted_proxies(config):
    """The proxies whose X-Forwarded-For uvicorn trusts for REST (``--forwarded-allow-ips``,
    by default the local host), so that the per-address limit counts the same clients there and
    here. False when uvicorn trusts none or its helper moved."""
    if config is None or not getattr(config, "proxy_headers", False):
        return False
    try:
        from uvicorn.middleware.proxy_headers import _TrustedHosts
    except ImportError:
        return False
    return _TrustedHosts(config.forwarded_allow_ips)


def _forget(http_protocol) -> None:
    if getattr(http_protocol, "transport", None) is not None and http_protocol.transport.get_protocol() is http_protocol:
        return  # still in charge of its transport: not ours to touch
    http_protocol.__dict__.clear()


class Realtime:
    """What every connection shares: its collaborators, the server-wide settings and the count
    of connections per address. Its ``protocol`` is the factory uvicorn calls for each
    WebSocket upgrade."""

    def __init__(self, config: ServeConfig, deps: steps.Collaborators, node_id: str) -> None:
        self.deps = deps
        self.metrics = deps.metrics
        self.node_id = node_id  # prefixes connection ids: unique across nodes
        self.max_frames = config.max_queue
        self.max_connections_per_ip = config.max_connections_per_ip
        self.connections_by_ip: Counter[str] = Counter()
        # websockets refuses a larger message from its frame header (close 1009), before
        # reading or buffering its payload.
        self.max_size = protocol.MAX_INCOMING_FRAME
        self.limits = Limits(messages_per_minute=config.messages_per_minute, subscriptions=config.max_subscriptions,
                             publishes_per_second=config.publish_rate, max_message_size=config.max_message_size,
                             replay_events=config.replay_limit)
        # Off by default: with permessage-deflate every event is compressed once per connection
        # (~25 us for a row event's frame, as much as the rest of a delivery), while fan-out
        # encodes each frame once for everyone. Worth it only on slow links.
        self.extensions = ([ServerPerMessageDeflateFactory(server_max_window_bits=12, client_max_window_bits=12,
                                                           compress_settings={"memLevel": 5})]
                           if config.ws_compression else [])
        self._dirty: list[RealtimeProtocol] = []
        self.proxies = None  # uvicorn's trusted proxies (X-Forwarded-For), once known; False: none

    def mark(self, proto: RealtimeProtocol) -> None:
        """``proto`` has pending frames: write them once this turn's dispatches are done."""
        if not self._dirty:
            asyncio.get_running_loop().call_soon(self.flush)
        self._dirty.append(proto)

    def flush(self) -> None:
        dirty, self._dirty = self._dirty, []
        self.metrics.writes += len(dirty)
        for proto in dirty:
            try:
                proto.send_pending()
            except Exception:  # one broken socket must not keep the frames of the others
                log.exception("could not write to a realtime connection")

    def protocol(self, config=None, server_state=None, app_state=None, _loop=None) -> RealtimeProtocol:
        if self.proxies is None:
            self.proxies = _trusted_proxies(config)
        return RealtimeProtocol(self, server_state.connections if server_state is not None else set(),
                                server_state.tasks if server_state is not None else set())


class RealtimeProtocol(Outbox):
    """One realtime connection. Its public face for the hub and ``realtime_steps`` is an outbox's:
    ``push`` (live, never blocks), ``put`` (replay, waits for room), ``close`` and ``closing``."""

    __slots__ = ("rt", "connections", "tasks", "transport", "ws", "ip", "conn", "session", "plain",
                 "pending", "queue", "writable", "closing", "close_sent", "overflowed", "dropped", "dropped_ids",
                 "inbox", "worker", "space", "timer", "lost", "fragments", "read_paused", "counted")

    def __init__(self, rt: Realtime, connections: set, tasks: set) -> None:
        self.rt = rt
        self.connections = connections  # uvicorn's: it shuts these down on exit
        self.tasks = tasks  # uvicorn's: it waits for these on exit
        self.transport: asyncio.Transport | None = None
        self.ws = ServerProtocol(extensions=rt.extensions, max_size=rt.max_size, logger=_ws_log)
        self.ip = ""
        self.conn: HubConnection | None = None
        self.session: RealtimeSession | None = None
        self.plain = True  # no extension negotiated: frames are written as header + payload
        self.pending: list[bytes] | None = None  # coalesced fan-out frames, written at the turn's end
        self.queue: deque | None = None  # [frame, resource] waiting for the socket (None: empty)
        self.writable = True
        self.closing: tuple[int, str] | None = None
        self.close_sent = False
        self.overflowed = False
        self.dropped = 0
        self.dropped_ids: dict[str, None] | None = None
        self.inbox: deque | None = None  # messages waiting behind the worker task
        self.worker: asyncio.Task | None = None
        self.space: asyncio.Future | None = None  # a replay waiting for room in the queue
        self.timer: asyncio.TimerHandle | None = None
        self.lost = False
        self.fragments: list | None = None
        self.read_paused = False
        self.counted = False

    # --- connection life -------------------------------------------------------------------

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.connections.add(self)
        peer = transport.get_extra_info("peername")
        self.ip = peer[0] if isinstance(peer, tuple) and peer else ""
        # The HTTP protocol that read the upgrade request hands the transport over to us and is
        # then garbage, but garbage in reference cycles (its parser calls back into it): only the
        # cyclic collector would free it, ~1.5 KB and 10 objects per connection, which made the
        # full collections that landed in the middle of a fan-out longer. Once it is done with
        # the upgrade (next turn of the loop), empty it so that reference counting frees it.
        http = transport.get_protocol()
        if http is not None and http is not self and hasattr(http, "__dict__"):
            asyncio.get_running_loop().call_soon(_forget, http)

    def connection_lost(self, exc) -> None:
        self.lost = True
        self.connections.discard(self)
        if self.timer is not None:
            self.timer.cancel()
        self._wake_replay()
        if self.worker is None:
            self._release()
        # else the running step finishes (never cut a write short) and releases in its finally

    def shutdown(self) -> None:
        """The server is stopping (uvicorn calls this): close with 1012 (service restart)."""
        if self.ws.state is State.OPEN and not self.close_sent:
            self.queue = None
            self.closing = (1012, "")
            self._send_close()
        if self.transport is not None:
            self.transport.close()

    def _release(self) -> None:
        conn, rt = self.conn, self.rt
        self.conn = None  # idempotent: the hub and the counters forget the connection once
        # Break the reference cycles a connection is made of (our session -> its hub connection
        # -> our push; websockets' protocol <-> its parser generator), so that reference counting
        # frees it now: the serving process runs full collections rarely (app.tune_gc).
        self.session = None
        self.pending = self.queue = self.inbox = None
        self.ws.parser = None
        self.timer = None
        if conn is not None:
            rt.deps.hub.remove(conn)
            rt.metrics.outboxes.pop(conn.id, None)
            presence = rt.deps.presence
            if conn.id in presence.live:  # its presence leaves with it
                self._spawn(self._presence_gone(presence, conn.id))
        if self.counted:
            self.counted = False
            by_ip = rt.connections_by_ip
            by_ip[self.ip] -= 1
            if not by_ip[self.ip]:
                del by_ip[self.ip]

    @staticmethod
    async def _presence_gone(presence, key: str) -> None:
        try:
            await presence.connection_closed(key)
        except Exception:
            log.exception("could not remove the presence of %s", key)

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    # --- reading ---------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        ws = self.ws
        ws.receive_data(data)
        for event in ws.events_received():
            if type(event) is Frame:
                op = event.opcode
                if op is _OPCODE_TEXT or op is _OPCODE_BINARY:
                    if event.fin:
                        self._message(event.data, op is _OPCODE_BINARY)
                    else:
                        self.fragments = [op is _OPCODE_BINARY, event.data]
                elif op is _OPCODE_CONT and self.fragments is not None:
                    self.fragments.append(event.data)
                    if event.fin:
                        binary, *parts = self.fragments
                        self.fragments = None
                        self._message(b"".join(parts), binary)
                # pings are answered and close frames acknowledged by websockets itself
            elif isinstance(event, Request):
                self._handshake(event)
        if type(ws.parser_exc) is PayloadTooBig and self.closing is None:
            self._too_big()
        self._flush()

    def _too_big(self) -> None:
        """websockets failed the connection (1009) on a message over ``max_size``: say why in an
        error frame first, ahead of its close frame (plain frames only: with compression,
        websockets' state no longer allows a data frame)."""
        self.closing = (protocol.CODE_MESSAGE_TOO_BIG, "")
        if self.plain and not self.lost and not self.transport.is_closing():
            self._write(protocol.dumps(protocol.error_frame(
                protocol.CODE_MESSAGE_TOO_BIG, f"Message is too large: the limit is {self.rt.max_size} bytes. "
                "The connection is closed; reconnect and send smaller messages.")))

    def eof_received(self) -> None:
        return None  # close the transport

    def _handshake(self, request: Request) -> None:
        path, _, query = request.path.partition("?")
        ws = self.ws
        if path.rstrip("/") != PATH:
            body = protocol.dumps({"message": "Route not found.", "code": 404, "type": "general_route_not_found",
                                   "version": ""})
            response = ws.reject(404, body)
            response.headers["Content-Type"] = "application/json"
            ws.send_response(response)
            return
        response = ws.accept(request)
        ws.send_response(response)
        if response.status_code != 101:
            return
        self.plain = not ws.extensions
        # Keep only the headers the opening needs: websockets' parser holds on to the request
        # for the connection's lifetime (1.7 KB of an idle connection's ~8).
        headers = {k.lower(): v for k, v in request.headers.raw_items() if k.lower() in _OPENING_HEADERS}
        forwarded = ", ".join(request.headers.get_all("X-Forwarded-For"))
        if forwarded and self.rt.proxies and self.ip in self.rt.proxies:
            host, _ = self.rt.proxies.get_trusted_client_address(forwarded)
            self.ip = host or self.ip
        request.headers.clear()
        request.path = ""
        # Always accept: a refused upgrade makes the Web SDK's subscribe() reject; problems are
        # reported in an error frame followed by a close, as Appwrite does.
        self.worker = self._spawn(self._work(steps.open_connection(self, headers, QueryParams(query))))

    def _message(self, data: bytes, binary: bool) -> None:
        if self.closing is not None:
            return
        try:  # a text frame must be UTF-8 (RFC 6455: else close 1007); a binary one is read leniently
            text = bytes(data).decode("utf-8", "replace" if binary else "strict")
        except UnicodeDecodeError:
            self.close(1007, "invalid UTF-8")
            return
        if self.worker is not None or self.session is None:
            if self.inbox is None:
                self.inbox = deque()
            self.inbox.append(text)
            if len(self.inbox) >= MAX_INBOX and not self.read_paused:
                self.read_paused = True
                self.transport.pause_reading()
            return
        outputs = self.session.receive(text, time.monotonic())
        if all(type(o) is Send or type(o) is Close for o in outputs):
            steps.perform_now(outputs, self)  # the common case: no I/O, no task
        else:
            self.worker = self._spawn(self._work(steps.perform(self.session, outputs, self, self.rt.deps)))

    async def _work(self, first) -> None:
        """Run one step that needs I/O, then the messages that arrived meanwhile, in order."""
        try:
            await first
            while self.inbox and self.session is not None and self.closing is None and not self.lost:
                text = self.inbox.popleft()
                await steps.perform(self.session, self.session.receive(text, time.monotonic()), self, self.rt.deps)
                if self.read_paused and len(self.inbox) < MAX_INBOX // 2:
                    self.read_paused = False
                    self.transport.resume_reading()
        except Exception:
            log.exception("realtime connection %s failed", self.conn.id if self.conn else "?")
            self.close(1011, "internal error")
        finally:
            self.worker = None
            if self.lost:
                self.inbox = None
                self._release()  # after the step: a presence it set leaves with the connection
            elif self.read_paused:
                self.read_paused = False
                self.transport.resume_reading()
