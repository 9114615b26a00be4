"""The WebSocket adapter for /v1/realtime: moves frames between the socket and core.session.

Each connection is one ``asyncio.Protocol`` around websockets' sans-I/O ``ServerProtocol``,
outside ASGI. uvicorn hands an upgrade request over to it (``uvicorn.Config(ws=...)``), so REST
and realtime still share one port. Why not an ASGI endpoint: an idle ASGI WebSocket holds two
tasks, three ``asyncio.Event``s, a receive queue, the handshake and the coroutine frames of the
middleware chain (~33 KiB); here an idle connection is a handful of small objects and no task,
and a delivery is one ``transport.writelines`` with no task switch and no copy of the frame.

Sending is the connection's ``Outbox`` (server/outbox.py): frames written at once while TCP takes
them (fan-out frames of one loop turn coalesced), a bounded queue with slow-consumer policies
otherwise.

Receiving: messages are handled strictly in order. What the session answers at once (most
messages) is written at once; what needs I/O (authentication, presence, replays, the opening
handshake's lookups) runs in one short-lived task per connection, and messages arriving
meanwhile wait behind it (reading pauses if too many pile up).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import Counter, deque
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, cast

from starlette.datastructures import QueryParams
from websockets.extensions.base import ServerExtensionFactory
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.exceptions import PayloadTooBig
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol

from rtcli import protocol
from rtcli.core import url_subscriptions
from rtcli.core.hub import HubConnection
from rtcli.core.session import AddressQueryCosts, Close, Limits, RealtimeSession, Send, connection_roles
from rtcli.server import realtime_steps as steps
from rtcli.server.outbox import Coalescer, Outbox
from rtcli.services.presence import Presence
from rtcli.settings import ServeConfig

if TYPE_CHECKING:
    import uvicorn
    from uvicorn.middleware.proxy_headers import _TrustedHosts
    from uvicorn.server import ServerState

log = logging.getLogger("rtcli.realtime")
_ws_log = logging.getLogger("rtcli.realtime.ws")

PATH = "/v1/realtime"
MAX_INBOX = 64  # messages waiting behind a running task before reading pauses
_OPCODE_TEXT, _OPCODE_BINARY, _OPCODE_CONT = Opcode.TEXT, Opcode.BINARY, Opcode.CONT
_ids = itertools.count(1)
# What steps.admit reads (project, origin, credentials: see server/auth.py), lowercased.
_OPENING_HEADERS = frozenset({"x-appwrite-project", "origin", "cookie", "x-appwrite-key", "x-appwrite-jwt",
                              "x-appwrite-session", "x-fallback-cookies"})


def _trusted_proxies(config: uvicorn.Config | None) -> _TrustedHosts | None:
    """The proxies whose X-Forwarded-For uvicorn trusts for REST (``--forwarded-allow-ips``,
    by default the local host), so that the per-address limit counts the same clients there and
    here. None when uvicorn trusts none or its helper moved."""
    if config is None or not getattr(config, "proxy_headers", False):
        return None
    try:
        from uvicorn.middleware.proxy_headers import _TrustedHosts
    except ImportError:
        return None
    return _TrustedHosts(config.forwarded_allow_ips)


def _forget(http_protocol: Any) -> None:
    if getattr(http_protocol, "transport", None) is not None and http_protocol.transport.get_protocol() is http_protocol:
        return  # still in charge of its transport: not ours to touch
    http_protocol.__dict__.clear()


class Realtime:
    """What every connection shares: its collaborators, the server-wide settings and the count
    of connections per address. Its ``protocol`` is the factory uvicorn calls for each
    WebSocket upgrade."""

    def __init__(self, config: ServeConfig, deps: steps.Collaborators, node_id: str) -> None:
        self.deps = deps
        self.node_id = node_id  # prefixes connection ids: unique across nodes
        self.max_connections_per_ip = config.max_connections_per_ip
        self.connections_by_ip: Counter[str] = Counter()
        self.query_costs = AddressQueryCosts()  # query values per address, across its connections
        self.coalescer = Coalescer(config.max_queue, deps.metrics)
        # websockets refuses a larger message from its frame header (close 1009), before
        # reading or buffering its payload.
        self.max_size = protocol.MAX_INCOMING_FRAME
        self.limits = Limits(messages_per_minute=config.messages_per_minute, subscriptions=config.max_subscriptions,
                             publishes_per_second=config.publish_rate, max_message_size=config.max_message_size,
                             replay_events=config.replay_limit)
        # Off by default: with permessage-deflate every event is compressed once per connection
        # (~25 us for a row event's frame, as much as the rest of a delivery), while fan-out
        # encodes each frame once for everyone. Worth it only on slow links.
        self.extensions: list[ServerExtensionFactory] = (
            [ServerPerMessageDeflateFactory(server_max_window_bits=12, client_max_window_bits=12,
                                            compress_settings={"memLevel": 5})]
            if config.ws_compression else [])
        self.proxies: _TrustedHosts | None = None  # uvicorn's trusted proxies (X-Forwarded-For)
        self._proxies_read = False
        # uvicorn's (once it makes a connection): it shuts the connections down and waits for
        # the tasks on exit.
        self.connections: set[Any] = set()
        self.tasks: set[asyncio.Task[None]] = set()

    def protocol(self, config: uvicorn.Config | None = None, server_state: ServerState | None = None,
                 app_state: dict[str, Any] | None = None, _loop: object = None) -> RealtimeProtocol:
        if not self._proxies_read:
            self.proxies, self._proxies_read = _trusted_proxies(config), True
        if server_state is not None:
            self.connections, self.tasks = server_state.connections, server_state.tasks
        return RealtimeProtocol(self)


class RealtimeProtocol(asyncio.Protocol):
    """One realtime connection: reads with websockets' sans-I/O protocol, answers with the
    session (core.session) and the steps (realtime_steps), sends through its ``out``."""

    # Few slots: every one is 8 bytes of each idle connection (see the idle scenario of scripts/bench.py).
    __slots__ = ("rt", "out", "ip", "session", "inbox", "worker", "fragments", "read_paused")
    out: Outbox  # from connection_made on; it holds websockets' protocol (``out.ws``) too

    def __init__(self, rt: Realtime) -> None:
        self.rt = rt
        self.ip = ""
        # Once opened, until released: then the connection is in the hub (``session.conn``), in
        # the metrics and in the count of its address.
        self.session: RealtimeSession | None = None
        self.inbox: deque[str] | None = None  # messages waiting behind the worker task
        self.worker: asyncio.Task[None] | None = None
        self.fragments: list[Any] | None = None  # [binary, parts...] of a fragmented message
        self.read_paused = False

    # --- connection life -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        rt = self.rt
        ws = ServerProtocol(extensions=rt.extensions, max_size=rt.max_size, logger=_ws_log)
        self.out = Outbox(rt.coalescer, ws, cast(asyncio.Transport, transport))
        rt.connections.add(self)
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

    def connection_lost(self, exc: Exception | None) -> None:
        self.out.connection_lost()
        self.rt.connections.discard(self)
        if self.worker is None:
            self._release()
        # else the running step finishes (never cut a write short) and releases in its finally

    def shutdown(self) -> None:
        """The server is stopping (uvicorn calls this): close with 1012 (service restart)."""
        self.out.shutdown()

    def pause_writing(self) -> None:
        self.out.pause_writing()

    def resume_writing(self) -> None:
        self.out.resume_writing()

    async def _open(self, headers: dict[str, str], query: QueryParams) -> None:
        """The opening: the lookups, the per-address limit, then the hub and the session (both
        undone in ``_release``)."""
        rt, out = self.rt, self.out
        admitted = await steps.admit(rt.deps, out, headers, query)
        if admitted is None or out.lost:
            return
        actor = admitted.actor
        limit = rt.max_connections_per_ip
        if limit and rt.connections_by_ip[self.ip] >= limit:
            out.push(protocol.dumps(protocol.error_frame(
                protocol.CODE_TRY_AGAIN, f"Too many connections from this address (limit {limit}).")))
            out.close(protocol.CODE_TRY_AGAIN)
            return
        # Unique across nodes: a message's publisher is named by it on every node (``self: false``).
        conn = HubConnection(f"{rt.node_id}{next(_ids)}", admitted.project, connection_roles(actor), out.push,
                             actor.user_id, session_id=actor.session_id, scopes=actor.scopes if actor.is_key else None)
        conn.held_full = out.held_full  # live events past what a replay holds: the subscriptions' policy
        session = self.session = out.session = RealtimeSession(rt.deps.hub, conn, actor, rt.limits,
                                                               address_costs=rt.query_costs, address=self.ip)
        rt.connections_by_ip[self.ip] += 1
        rt.deps.metrics.outboxes[conn.id] = out
        rt.deps.hub.add(conn)
        items = query.multi_items()
        url_channels = url_subscriptions.channels(items)
        url_subs = url_subscriptions.subscriptions(url_channels, items) if url_channels else None
        await steps.perform(session, session.connected(admitted.account, url_subs), out, self.ip, rt.deps)

    def _release(self) -> None:
        session, rt = self.session, self.rt
        self.session = None  # idempotent: the hub and the counters forget the connection once
        # Break the reference cycles a connection is made of (our session -> its hub connection
        # -> our outbox's push; websockets' protocol <-> its parser generator), so that reference
        # counting frees it now: the serving process runs full collections rarely (app.tune_gc).
        self.inbox = None
        self.out.release()
        self.out.ws.parser = None  # type: ignore[assignment]  # never read once the connection is lost
        if session is not None:
            conn = session.conn
            rt.deps.hub.remove(conn)
            session.closed()
            rt.deps.metrics.outboxes.pop(conn.id, None)
            presence = rt.deps.presence
            if conn.id in presence.live:  # its presence leaves with it
                self._spawn(self._presence_gone(presence, conn.id))
            by_ip = rt.connections_by_ip
            by_ip[self.ip] -= 1
            if not by_ip[self.ip]:
                del by_ip[self.ip]

    @staticmethod
    async def _presence_gone(presence: Presence, key: str) -> None:
        try:
            await presence.connection_closed(key)
        except Exception:
            log.exception("could not remove the presence of %s", key)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self.rt.tasks.add(task)
        task.add_done_callback(self.rt.tasks.discard)
        return task

    # --- reading ---------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        out = self.out
        ws = out.ws
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
        if type(ws.parser_exc) is PayloadTooBig and out.closing is None:
            self._too_big()
        out.flush()

    def _too_big(self) -> None:
        """websockets failed the connection (1009) on a message over ``max_size``: say why in an
        error frame first, ahead of its close frame (plain frames only: with compression,
        websockets' state no longer allows a data frame)."""
        out = self.out
        out.closing = (protocol.CODE_MESSAGE_TOO_BIG, "")
        if out.plain and not out.lost and not out.transport.is_closing():
            out.write(protocol.dumps(protocol.error_frame(
                protocol.CODE_MESSAGE_TOO_BIG, f"Message is too large: the limit is {self.rt.max_size} bytes. "
                "The connection is closed; reconnect and send smaller messages.")))

    def eof_received(self) -> None:
        return None  # close the transport

    def _handshake(self, request: Request) -> None:
        path, _, query = request.path.partition("?")
        ws = self.out.ws
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
        self.out.plain = not ws.extensions
        # Keep only the headers the opening needs: websockets' parser holds on to the request
        # for the connection's lifetime (1.7 KB of an idle connection's ~8).
        headers = {k.lower(): v for k, v in request.headers.raw_items() if k.lower() in _OPENING_HEADERS}
        forwarded = ", ".join(request.headers.get_all("X-Forwarded-For"))
        proxies = self.rt.proxies
        if forwarded and proxies and self.ip in proxies:
            host, _ = proxies.get_trusted_client_address(forwarded)
            self.ip = host or self.ip
        request.headers.clear()
        request.path = ""
        # Always accept: a refused upgrade makes the Web SDK's subscribe() reject; problems are
        # reported in an error frame followed by a close, as Appwrite does.
        self.worker = self._spawn(self._work(self._open(headers, QueryParams(query))))

    def _message(self, data: bytes | bytearray | memoryview, binary: bool) -> None:
        out = self.out
        if out.closing is not None:
            return
        try:  # a text frame must be UTF-8 (RFC 6455: else close 1007); a binary one is read leniently
            text = bytes(data).decode("utf-8", "replace" if binary else "strict")
        except UnicodeDecodeError:
            out.close(1007, "invalid UTF-8")
            return
        session = self.session
        if self.worker is not None or session is None:
            if self.inbox is None:
                self.inbox = deque()
            self.inbox.append(text)
            if len(self.inbox) >= MAX_INBOX and not self.read_paused:
                self.read_paused = True
                out.transport.pause_reading()
            return
        outputs = session.receive(text, time.monotonic())
        if all(type(o) is Send or type(o) is Close for o in outputs):
            steps.perform_now(outputs, out)  # the common case: no I/O, no task
        else:
            self.worker = self._spawn(self._work(steps.perform(session, outputs, out, self.ip, self.rt.deps)))

    async def _work(self, first: Coroutine[Any, Any, None]) -> None:
        """Run one step that needs I/O, then the messages that arrived meanwhile, in order."""
        out = self.out
        try:
            await first
            while self.inbox and self.session is not None and out.closing is None and not out.lost:
                text = self.inbox.popleft()
                await steps.perform(self.session, self.session.receive(text, time.monotonic()), out, self.ip,
                                    self.rt.deps)
                if self.read_paused and len(self.inbox) < MAX_INBOX // 2:
                    self.read_paused = False
                    out.transport.resume_reading()
        except Exception:
            log.exception("realtime connection %s failed", self.session.conn.id if self.session else "?")
            out.close(1011, "internal error")
        finally:
            self.worker = None
            if out.lost:
                self.inbox = None
                self._release()  # after the step: a presence it set leaves with the connection
            elif self.read_paused:
                self.read_paused = False
                out.transport.resume_reading()
