"""The sending half of a realtime connection: each server.realtime.RealtimeProtocol holds one
``Outbox``, and every outbox of the server shares one ``Coalescer``.

While the transport takes data (TCP backpressure has not paused it), frames are written at once;
live fan-out frames of one event-loop turn are coalesced into one ``writev`` per connection
(``Coalescer.flush``). Otherwise they wait in a bounded queue drained on ``resume_writing``; when
the queue overflows, the policy of the frame's subscriptions applies (see ``push``). Replays
(rtcli's ``since``) await room instead, so a long replay is flow-controlled, never dropped.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import deque
from typing import Any

from websockets.exceptions import InvalidState
from websockets.protocol import State
from websockets.server import ServerProtocol

from rtcli import protocol
from rtcli.core.event import Frame, SplitFrame
from rtcli.core.hub import Held
from rtcli.core.session import RealtimeSession
from rtcli.server.metrics import Metrics

log = logging.getLogger("rtcli.realtime")

CLOSE_TIMEOUT = 10.0  # seconds to wait for the peer's close frame before dropping the socket
# A queued frame: [frame, resource], a list so that the "latest" policy replaces the frame in place.
Entry = list[Any]


@functools.lru_cache(maxsize=1024)  # one event's frames differ in length only by their ids' lengths
def _header(n: int) -> bytes:
    """The header of an unmasked, unfragmented server text frame of ``n`` bytes (RFC 6455 5.2)."""
    if n < 126:
        return bytes((0x81, n))
    if n < 65536:
        return b"\x81\x7e" + n.to_bytes(2, "big")
    return b"\x81\x7f" + n.to_bytes(8, "big")


class Coalescer:
    """What the outboxes share: the live frames of this loop turn, written as one ``writev`` per
    connection once every event of the turn is dispatched, and the bound of each send queue."""

    __slots__ = ("max_frames", "metrics", "_dirty")

    def __init__(self, max_frames: int, metrics: Metrics) -> None:
        self.max_frames = max_frames
        self.metrics = metrics
        self._dirty: list[Outbox] = []

    def mark(self, out: Outbox) -> None:
        """``out`` has pending frames: write them once this turn's dispatches are done."""
        if not self._dirty:
            asyncio.get_running_loop().call_soon(self.flush)
        self._dirty.append(out)

    def flush(self) -> None:
        dirty, self._dirty = self._dirty, []
        self.metrics.writes += len(dirty)
        for out in dirty:
            try:
                out.send_pending()
            except Exception:  # one broken socket must not keep the frames of the others
                log.exception("could not write to a realtime connection")


class Gap:
    """Frames the "drop" policy skipped, told to the client in a ``gap`` frame once the queue
    has drained."""

    __slots__ = ("dropped", "ids")

    def __init__(self) -> None:
        self.dropped = 0
        self.ids: dict[str, None] = {}  # the subscriptions that missed some (ordered, unique)


class Outbox:
    """Sending: ``push`` (live, never blocks), ``put`` (replay, waits for room), ``close`` and
    ``closing``; TCP flow control through ``pause_writing``/``resume_writing``, which the
    connection's protocol passes on."""

    # Few slots: every one is 8 bytes of each idle connection (see the idle scenario of scripts/bench.py).
    __slots__ = ("shared", "ws", "transport", "plain", "session", "pending", "queue", "writable", "closing",
                 "close_sent", "gap", "space", "timer", "lost")

    def __init__(self, shared: Coalescer, ws: ServerProtocol, transport: asyncio.Transport) -> None:
        self.shared = shared
        self.ws = ws  # websockets' protocol: close frames, and data frames once an extension is negotiated
        self.transport = transport
        self.plain = True  # no extension negotiated: frames are written as header + payload
        self.session: RealtimeSession | None = None  # once opened: the overflow policy of a frame's subscriptions
        self.pending: list[bytes] | None = None  # coalesced fan-out frames, written at the turn's end
        self.queue: deque[Entry] | None = None  # frames waiting for the socket (None: empty)
        self.writable = True
        self.closing: tuple[int, str] | None = None  # (code, reason) once a close is decided
        self.close_sent = False
        self.gap: Gap | None = None  # what the "drop" policy skipped since the last gap frame
        self.space: asyncio.Future[None] | None = None  # a replay waiting for room in the queue
        self.timer: asyncio.TimerHandle | None = None
        self.lost = False

    def push(self, frame: Frame, seq: int = 0, resource: str = "", ids: list[str] | None = None) -> None:
        """Live delivery (the hub's sink): never blocks."""
        if self.closing is not None:
            return  # a close is decided: nothing more may be sent (queued frames still go first)
        q = self.queue
        if q is None:
            if self.writable:
                if self.plain and type(frame) is SplitFrame:
                    # Fan-out: coalesced. The frame joins what this connection is sent in this
                    # turn of the event loop, written as one writev after every event of the
                    # turn is dispatched (see Coalescer.flush): one syscall per connection per
                    # turn, not per event.
                    prefix, suffix = frame
                    pending = self.pending
                    if pending is None:
                        self.pending = [_header(len(prefix) + len(suffix)), prefix, suffix]
                        self.shared.mark(self)
                    else:
                        pending += (_header(len(prefix) + len(suffix)), prefix, suffix)
                    return
                self.write(frame)
                return
            q = self.queue = deque()
        elif len(q) >= self.shared.max_frames:
            self._overflow(frame, seq, resource, ids)
            return
        q.append([frame, resource])

    def _overflow(self, frame: Frame, seq: int, resource: str, ids: list[str] | None) -> None:
        """The queue is full: apply the policy of the frame's subscriptions (``close`` closes
        with 4008 and drops the queue; ``drop`` skips the frame and later sends a ``gap``
        marker; ``latest`` replaces the queued frame of the same resource)."""
        policy = self._policy(ids)
        if policy is protocol.Policy.CLOSE:
            self._dropped(seq, "close: the connection was closed as a slow consumer (4008)")
            self.close_slow_consumer("slow consumer: send queue overflow, resume from your cursor")
            return
        if policy is protocol.Policy.LATEST and self.queue is not None:
            for entry in reversed(self.queue):
                if entry[1] == resource:
                    entry[0] = frame
                    self._dropped(seq, "latest: replaced by a newer event of the same resource")
                    return
        self._skip(seq, ids, f"{policy}: the send queue was full")

    def held_full(self, held: list[Held], entry: Held) -> bool:
        """A live frame beyond those a replay holds back (core.hub): the policies of a full
        queue, except that ``close`` is left to the end of the replay (False)."""
        _, seq, resource, ids = entry
        policy = self._policy(ids)
        if policy is protocol.Policy.CLOSE:
            return False
        if policy is protocol.Policy.LATEST:
            for i in range(len(held) - 1, -1, -1):
                if held[i][2] == resource:
                    self._dropped(held[i][1], "latest: replaced by a newer event of the same resource")
                    held[i] = entry
                    return True
        self._skip(seq, ids, f"{policy}: too many live events during a replay")
        return True

    def _policy(self, ids: list[str] | None) -> protocol.Policy:
        session = self.session
        return session.policy(ids or []) if session is not None else protocol.Policy.CLOSE

    def _dropped(self, seq: int, reason: str) -> None:
        if self.session is not None:
            self.shared.metrics.drop(seq, self.session.conn.id, self.session.conn.user_id, reason)

    def _skip(self, seq: int, ids: list[str] | None, reason: str) -> None:
        """Drop a frame, to be told in the next ``gap`` marker."""
        self._dropped(seq, reason)
        gap = self.gap
        if gap is None:
            gap = self.gap = Gap()
        gap.dropped += 1
        gap.ids.update(dict.fromkeys(ids or []))

    def send_gap(self) -> None:
        """Tell what was skipped now, unless frames are queued: the gap goes after them."""
        if self.gap is not None and not self.queue and self.closing is None:
            self.write(self._gap_frame(self.gap))

    async def put(self, frame: Frame) -> None:
        """Replay delivery: waits for room instead of overflowing."""
        half = self.shared.max_frames // 2
        while self.queue is not None and len(self.queue) >= half and self.closing is None and not self.lost:
            self.space = asyncio.get_running_loop().create_future()
            await self.space
        if self.closing is not None or self.lost:
            return
        if self.queue is None and self.writable:
            self.write(frame)
        else:
            if self.queue is None:
                self.queue = deque()
            self.queue.append([frame, ""])

    def close(self, code: int, reason: str = "") -> None:
        """Close after what is queued (at once for a slow consumer: its queue is dropped)."""
        if self.closing is None:
            self.closing = (code, reason)
        if not self.queue:
            self.send_close()

    def close_slow_consumer(self, reason: str) -> None:
        """Close with 4008 now, dropping what is queued: the client resumes from its cursor.
        (Nothing is queued after: a decided close stops ``push`` and ``put``.)"""
        self.queue = None
        self.close(protocol.CLOSE_SLOW_CONSUMER, reason)

    def depth(self) -> int:
        return len(self.queue) if self.queue else 0

    # --- writing ---------------------------------------------------------------------------

    def send_pending(self) -> None:
        pending = self.pending
        if pending is not None:
            self.pending = None
            if not self.lost and not self.transport.is_closing():
                self.transport.writelines(pending)

    def write(self, frame: Frame) -> None:
        """Write one frame now (after what is pending, to keep the order)."""
        if self.pending is not None:
            self.send_pending()
        t = self.transport
        if self.lost or t.is_closing():
            return  # going away (the peer's EOF, our close): connection_lost follows
        if self.plain:
            # Server frames are unmasked and websockets keeps no state for sent data frames, so
            # a text frame is our header and the payload's parts, written without joining them.
            if isinstance(frame, str):
                data = frame.encode()
                t.writelines((_header(len(data)), data))
            else:
                prefix, suffix = frame
                t.writelines((_header(len(prefix) + len(suffix)), prefix, suffix))
            return
        self.ws.send_text(frame.encode() if isinstance(frame, str) else frame[0] + frame[1])
        self.flush()

    def flush(self) -> None:
        """Write what websockets has to send (pongs, close frames, handshake responses); an
        empty chunk means the server's side is done: close the TCP connection."""
        if self.pending is not None:
            self.send_pending()
        for chunk in self.ws.data_to_send():
            if chunk:
                if not self.transport.is_closing():
                    self.transport.write(chunk)
            else:  # after a close frame (ours, the peer's, or a protocol error): send nothing more
                self.close_sent = True
                if self.closing is None:
                    self.closing = (1000, "")
                if self.closing[0] == protocol.CODE_MESSAGE_TOO_BIG and self.transport.can_write_eof():
                    # The peer may still be sending the refused message: closing now, with its
                    # bytes unread, would reset the connection and lose the frames that say why.
                    # Half-close, read and discard until the peer closes (or the timeout).
                    self.transport.write_eof()
                    self.timer = asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, self.transport.close)
                else:
                    self.transport.close()

    def _drain(self) -> None:
        q = self.queue
        while q and self.writable:
            self.write(q.popleft()[0])
            if self.gap is not None and not q:
                self.write(self._gap_frame(self.gap))
        if q is not None and not q:
            self.queue = None
        if self.space is not None and (self.queue is None or len(self.queue) < self.shared.max_frames // 2):
            self._wake_replay()
        if self.queue is None and self.closing is not None:
            self.send_close()

    def _gap_frame(self, gap: Gap) -> str:
        self.gap = None
        frame: str = protocol.dumps({"type": "gap", "data": {"subscriptions": list(gap.ids), "dropped": gap.dropped}})
        return frame

    def _wake_replay(self) -> None:
        space, self.space = self.space, None
        if space is not None and not space.done():
            space.set_result(None)

    def send_close(self) -> None:
        if self.close_sent or self.lost:
            return
        self.close_sent = True
        self._wake_replay()
        code, reason = self.closing or (protocol.CLOSE_GOING_AWAY, "")
        try:
            self.ws.send_close(code, reason)
        except InvalidState:  # the peer closed first; websockets has answered it
            self.transport.close()
            return
        self.flush()
        self.timer = asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, self.transport.close)

    def pause_writing(self) -> None:
        self.writable = False

    def resume_writing(self) -> None:
        self.writable = True
        self._drain()

    # --- the connection's end ----------------------------------------------------------------

    def shutdown(self) -> None:
        """The server is stopping: close with 1012 (service restart)."""
        if self.ws.state is State.OPEN and not self.close_sent:
            self.queue = None
            self.closing = (1012, "")
            self.send_close()
        self.transport.close()

    def connection_lost(self) -> None:
        self.lost = True
        if self.timer is not None:
            self.timer.cancel()
        self._wake_replay()

    def release(self) -> None:
        """Forget the frames and the session (which holds the hub connection whose sink is our
        ``push``): no reference cycle is left for the cyclic collector."""
        self.session = None
        self.pending = self.queue = None
        self.timer = None
