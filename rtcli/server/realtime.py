"""The WebSocket adapter for /v1/realtime: moves frames between the socket and core.session.

Per connection: one reader loop (messages handled strictly in order) and one writer task that
drains a bounded outbox. The hub enqueues encoded frames without awaiting; when a client cannot
keep up and its outbox overflows, the connection is closed with 4008 (slow consumer) and the
client resumes from its last cursor. Replays (rtcli's ``since``) await outbox space instead, so
a long replay is flow-controlled rather than dropped.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque

from starlette.websockets import WebSocket, WebSocketDisconnect

from rtcli import protocol
from rtcli.core.hub import KEY_ROLE, Event, HubConnection, SplitFrame, encode_frame
from rtcli.core.session import (Authenticate, Close, Limits, RealtimeSession, Replay, Send, SetPresence,
                                connection_roles)
from rtcli.errors import AppwriteError
from rtcli.services.account import account_model
from rtcli.server.auth import authenticate
from rtcli.server.http import project_of

log = logging.getLogger("rtcli.realtime")
_ids = itertools.count(1)

REPLAY_PAGE = 500


class Outbox:
    """A bounded queue of encoded frames drained by one writer task.

    Overflow follows the policy of the frame's subscriptions (see ``Subscription.policy``):
    ``close`` closes with 4008 and drops the queue; ``drop`` skips the frame and later sends a
    ``gap`` marker; ``latest`` replaces the queued frame of the same resource (or drops, with
    a gap marker, when there is none).
    """

    def __init__(self, ws: WebSocket, max_frames: int, policy_of=lambda ids: "close", on_drop=None) -> None:
        self.ws = ws
        self.on_drop = on_drop or (lambda seq, reason: None)
        self.max_frames = max_frames
        self.policy_of = policy_of
        self.frames: deque[list] = deque()  # [frame, resource]
        self.wakeup = asyncio.Event()
        self.space = asyncio.Event()
        self.space.set()
        self.overflowed = False
        self.closing: tuple[int, str] | None = None
        self.dropped = 0
        self.dropped_ids: dict[str, None] = {}
        self.direct = direct_writer(ws)

    def push(self, frame: str, seq: int = 0, resource: str = "", ids: list[str] | None = None) -> None:
        """Live delivery: never blocks."""
        if self.overflowed:
            return
        if not self.frames and self.direct is not None and self.closing is None and self.direct(frame):
            return  # nothing queued and the socket takes it now: no task switch, no ASGI hop
        if len(self.frames) >= self.max_frames:
            policy = self.policy_of(ids or [])
            if policy == "close":
                self.on_drop(seq, "close: the connection was closed as a slow consumer (4008)")
                self.overflowed = True
                self.close(protocol.CLOSE_SLOW_CONSUMER, "slow consumer: send queue overflow, resume from your cursor")
                return
            if policy == "latest":
                for entry in reversed(self.frames):
                    if entry[1] == resource:
                        entry[0] = frame
                        self.on_drop(seq, "latest: replaced by a newer event of the same resource")
                        return
            self.on_drop(seq, f"{policy}: the send queue was full")
            self.dropped += 1
            self.dropped_ids.update(dict.fromkeys(ids or []))
            return
        self.frames.append([frame, resource])
        self.wakeup.set()

    async def put(self, frame: str) -> None:
        """Replay delivery: waits for room instead of overflowing."""
        while len(self.frames) >= self.max_frames // 2 and not self.closing:
            self.space.clear()
            await self.space.wait()
        self.frames.append([frame, ""])
        self.wakeup.set()

    def close(self, code: int, reason: str = "") -> None:
        if self.closing is None:
            self.closing = (code, reason)
        self.wakeup.set()

    def _gap_frame(self) -> str:
        frame = protocol.dumps({"type": "gap", "data": {"subscriptions": list(self.dropped_ids),
                                                        "dropped": self.dropped}})
        self.dropped, self.dropped_ids = 0, {}
        return frame

    async def run(self) -> None:
        ws = self.ws
        try:
            while True:
                await self.wakeup.wait()
                self.wakeup.clear()
                if self.closing and self.overflowed:
                    break  # drop what is queued: the client resumes from its cursor
                while self.frames:
                    frame = self.frames.popleft()[0]
                    await ws.send_text(frame if isinstance(frame, str) else frame.text())
                    if not self.space.is_set() and len(self.frames) < self.max_frames // 2:
                        self.space.set()
                    if self.dropped and not self.frames:
                        await ws.send_text(self._gap_frame())
                self.space.set()
                if self.closing:
                    break
            code, reason = self.closing
            await ws.close(code, reason)
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass  # the peer went away; the reader loop sees the disconnect
        finally:
            self.space.set()


async def _fatal(ws: WebSocket, code: int, message: str) -> None:
    """Error frame, then a real close frame: 1008 (the SDK stops reconnecting) for what retrying
    cannot fix, 1013 (try again later; the SDK reconnects) when the server is unavailable."""
    await ws.send_text(protocol.dumps(protocol.error_frame(code, message)))
    await ws.close(protocol.CODE_TRY_AGAIN if 500 <= code < 1000 else protocol.CODE_POLICY_VIOLATION)


def direct_writer(ws: WebSocket):
    """A fast path for uvicorn's websockets-sansio protocol: write a text frame straight to the
    transport when it can take it, returning False when it cannot (writes paused by TCP
    backpressure, closing) so that the frame is queued instead. Through ASGI each frame costs a
    task switch and several copies; this is the largest part of fan-out's per-delivery cost.
    Any other server (or a changed uvicorn) simply gets no fast path."""
    proto = getattr(ws.scope.get("rtcli.server_send"), "__self__", None)
    conn = getattr(proto, "conn", None)
    transport = getattr(proto, "transport", None)
    writable = getattr(proto, "writable", None)
    if conn is None or transport is None or writable is None or not hasattr(conn, "data_to_send"):
        return None

    def write(frame) -> bool:
        if (not writable.is_set() or transport.is_closing() or getattr(proto, "close_sent", True)
                or getattr(proto, "disconnected", True)):
            return False
        if isinstance(frame, SplitFrame) and not getattr(conn, "extensions", True):
            # No extension negotiated (compression is off by default): an unmasked, unfragmented
            # server text frame is the header and the payload, which we write as its two parts
            # without joining them (websockets keeps no state for sent data frames).
            prefix, suffix = frame
            n = len(prefix) + len(suffix)
            header = (b"\x81" + bytes([n]) if n < 126 else
                      b"\x81\x7e" + n.to_bytes(2, "big") if n < 65536 else b"\x81\x7f" + n.to_bytes(8, "big"))
            transport.writelines((header, prefix, suffix))
            return True
        try:
            conn.send_text(frame.encode() if isinstance(frame, str) else frame[0] + frame[1])
        except Exception:  # the connection changed state under us: let the queue path decide
            return False
        transport.write(b"".join(conn.data_to_send()))
        return True

    return write


def _may_read(roles: frozenset[str], event: Event) -> bool:
    return KEY_ROLE in roles or "any" in event.roles or not roles.isdisjoint(event.roles)


async def realtime_endpoint(ws: WebSocket) -> None:
    state = ws.app.state
    await ws.accept()  # always accept: a refused upgrade makes the Web SDK's subscribe() reject
    project = project_of(ws.headers, ws.query_params)
    if not project or project not in state.projects.known:
        await _fatal(ws, protocol.CODE_POLICY_VIOLATION, "Missing or unknown project ID")
        return
    origin = ws.headers.get("origin")
    if not state.origins.allows(origin):
        host = origin.split("://", 1)[-1] if origin else ""
        await _fatal(ws, protocol.CODE_POLICY_VIOLATION, f"Invalid Origin. Register your new client ({host}) as a new "
                     "Web platform on your project console dashboard")
        return
    try:
        actor, account = await authenticate(state, project, ws.headers, ws.cookies, ws.query_params)
    except AppwriteError as e:
        # An invalid JWT or key: Appwrite sends the error (401) and disconnects.
        await _fatal(ws, e.code, e.message)
        return

    ip = ws.client.host if ws.client else ""
    limit = state.config.max_connections_per_ip
    if limit and state.connections_by_ip[ip] >= limit:
        await ws.send_text(protocol.dumps(protocol.error_frame(
            protocol.CODE_TRY_AGAIN, f"Too many connections from this address (limit {limit}).")))
        await ws.close(protocol.CODE_TRY_AGAIN)
        return
    state.connections_by_ip[ip] += 1

    outbox = Outbox(ws, state.config.max_queue)
    conn = HubConnection(f"c{next(_ids)}", project, connection_roles(actor), outbox.push, actor.user_id,
                         session_id=actor.session_id, scopes=actor.scopes if actor.is_key else None)
    session = RealtimeSession(state.hub, conn, actor, Limits(messages_per_minute=state.config.messages_per_minute,
                                                             subscriptions=state.config.max_subscriptions))
    outbox.policy_of = session.policy
    metrics = state.metrics
    outbox.on_drop = lambda seq, reason: metrics.drop(seq, conn.id, conn.user_id, reason)
    metrics.outboxes[conn.id] = outbox
    state.hub.add(conn)
    writer = asyncio.create_task(outbox.run())
    url_channels = ws.query_params.getlist("channels[]") or ws.query_params.getlist("channels")
    try:
        await _perform(session, session.connected(account, url_channels or None), outbox, state)
        while not outbox.closing:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                break
            text = msg.get("text")
            if text is None:
                text = (msg.get("bytes") or b"").decode("utf-8", "replace")
            await _perform(session, session.receive(text, time.monotonic()), outbox, state)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        state.hub.remove(conn)
        metrics.outboxes.pop(conn.id, None)
        try:  # its presence leaves with it
            await state.services.presence.connection_closed(state.node_id + conn.id)
        except Exception:
            log.exception("could not remove the presence of %s", conn.id)
        state.connections_by_ip[ip] -= 1
        if not state.connections_by_ip[ip]:
            del state.connections_by_ip[ip]
        if not outbox.closing:
            outbox.close(protocol.CLOSE_GOING_AWAY)
        try:
            await asyncio.wait_for(writer, 5)
        except (asyncio.TimeoutError, Exception):
            writer.cancel()


async def _perform(session: RealtimeSession, outputs: list, outbox: Outbox, state) -> None:
    """Carry out a session's outputs in order."""
    replays = [o for o in outputs if isinstance(o, Replay)]
    resolved: dict[str, tuple[int | None, str | None]] = {}
    for r in replays:
        resolved[r.subscription.id] = await state.store.resolve_since(session.conn.project, r.since)
        state.metrics.counts["resumed" if resolved[r.subscription.id][0] is not None else "not_resumed"] += 1
    for out in outputs:
        if isinstance(out, Send):
            frame = out.frame
            if replays and frame.get("type") == protocol.RESPONSE and frame["data"].get("to") == protocol.SUBSCRIBE:
                for item in frame["data"]["subscriptions"]:
                    if item["subscriptionId"] in resolved:
                        pos, reason = resolved[item["subscriptionId"]]
                        item["resumed"] = pos is not None
                        if reason:
                            item["reason"] = reason
            outbox.push(protocol.dumps(frame))
        elif isinstance(out, Close):
            outbox.close(out.code, out.reason)
        elif isinstance(out, Authenticate):
            found = await state.auth.from_session_token(session.conn.project, out.token)
            if found:
                actor, user = found
                session.conn.session_id = actor.session_id
                await _perform(session, session.authenticated(actor, account_model(user)), outbox, state)
            else:
                await _perform(session, session.authenticated(None, None), outbox, state)
        elif isinstance(out, SetPresence):
            try:
                model = await state.services.presence.from_connection(
                    session.conn.project, session.actor, state.node_id + session.conn.id, out.data)
            except AppwriteError as e:
                outbox.push(protocol.dumps(protocol.error_frame(
                    e.code if e.code == 401 else protocol.CODE_INVALID_MESSAGE, e.message)))
            else:
                outbox.push(protocol.dumps({"type": protocol.RESPONSE, "data": {"to": protocol.PRESENCE,
                                                                               "presence": model}}))
        elif isinstance(out, Replay):
            pos, _ = resolved[out.subscription.id]
            if pos is not None:
                await _replay(session, out, pos, outbox, state)
            for frame, seq, resource, ids in session.replay_done():
                outbox.push(frame, seq, resource, ids)


async def _replay(session: RealtimeSession, r: Replay, after: int, outbox: Outbox, state) -> None:
    """Send the logged events in (after, upto] that match the subscription and may be read now."""
    conn, sub = session.conn, r.subscription
    pos = after
    while pos < r.upto and not outbox.closing:
        page = await state.store.read_events(conn.project, pos, r.upto, REPLAY_PAGE)
        if not page:
            break
        for ev in page:
            pos = ev.seq
            if not sub.on_channels(ev.channels) or not _may_read(conn.roles, ev) or not sub.accepts(ev.payload):
                continue
            await outbox.put(encode_frame(ev.frame_prefix(), [sub.id]))
        state.metrics.counts["replayed"] += len(page)
