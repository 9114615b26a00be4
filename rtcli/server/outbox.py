"""The sending half of a realtime connection (server.realtime.RealtimeProtocol is the whole).

While the transport takes data (TCP backpressure has not paused it), frames are written at once;
live fan-out frames of one event-loop turn are coalesced into one ``writev`` per connection
(``Realtime.flush``). Otherwise they wait in a bounded queue drained on ``resume_writing``; when
the queue overflows, the policy of the frame's subscriptions applies (see ``push``). Replays
(rtcli's ``since``) await room instead, so a long replay is flow-controlled, never dropped.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque

from websockets.exceptions import InvalidState

from rtcli import protocol
from rtcli.core.event import SplitFrame

CLOSE_TIMEOUT = 10.0  # seconds to wait for the peer's close frame before dropping the socket


@functools.lru_cache(maxsize=1024)  # one event's frames differ in length only by their ids' lengths
def _header(n: int) -> bytes:
    """The header of an unmasked, unfragmented server text frame of ``n`` bytes (RFC 6455 5.2)."""
    if n < 126:
        return bytes((0x81, n))
    if n < 65536:
        return b"\x81\x7e" + n.to_bytes(2, "big")
    return b"\x81\x7f" + n.to_bytes(8, "big")


class Outbox(asyncio.Protocol):
    """Sending: ``push`` (live, never blocks), ``put`` (replay, waits for room), ``close`` and
    ``closing``; TCP flow control through ``pause_writing``/``resume_writing``. The attributes
    (``rt``, ``transport``, ``ws``, ``pending``, ``queue``…) are the subclass's slots."""

    __slots__ = ()

    def push(self, frame, seq: int = 0, resource: str = "", ids: list[str] | None = None) -> None:
        """Live delivery (the hub's sink): never blocks."""
        if self.closing is not None:
            return  # a close is decided: nothing more may be sent (queued frames still go first)
        q = self.queue
        if q is None:
            if self.writable:
                if self.plain and type(frame) is SplitFrame:
                    # Fan-out: coalesced. The frame joins what this connection is sent in this
                    # turn of the event loop, written as one writev after every event of the
                    # turn is dispatched (see Realtime.flush): one syscall per connection per
                    # turn, not per event.
                    prefix, suffix = frame
                    pending = self.pending
                    if pending is None:
                        self.pending = [_header(len(prefix) + len(suffix)), prefix, suffix]
                        self.rt.mark(self)
                    else:
                        pending += (_header(len(prefix) + len(suffix)), prefix, suffix)
                    return
                self._write(frame)
                return
            q = self.queue = deque()
        elif len(q) >= self.rt.max_frames:
            self._overflow(frame, seq, resource, ids)
            return
        q.append([frame, resource])

    def _overflow(self, frame, seq: int, resource: str, ids: list[str] | None) -> None:
        """The queue is full: apply the policy of the frame's subscriptions (``close`` closes
        with 4008 and drops the queue; ``drop`` skips the frame and later sends a ``gap``
        marker; ``latest`` replaces the queued frame of the same resource)."""
        policy = self.session.policy(ids or []) if self.session is not None else protocol.Policy.CLOSE
        metrics, conn = self.rt.metrics, self.conn
        on_drop = (lambda reason: metrics.drop(seq, conn.id, conn.user_id, reason)) if conn else (lambda r: None)
        if policy is protocol.Policy.CLOSE:
            on_drop("close: the connection was closed as a slow consumer (4008)")
            self.overflowed = True
            self.close(protocol.CLOSE_SLOW_CONSUMER, "slow consumer: send queue overflow, resume from your cursor")
            return
        if policy is protocol.Policy.LATEST:
            for entry in reversed(self.queue):
                if entry[1] == resource:
                    entry[0] = frame
                    on_drop("latest: replaced by a newer event of the same resource")
                    return
        on_drop(f"{policy}: the send queue was full")
        self.dropped += 1
        if self.dropped_ids is None:
            self.dropped_ids = {}
        self.dropped_ids.update(dict.fromkeys(ids or []))

    async def put(self, frame) -> None:
        """Replay delivery: waits for room instead of overflowing."""
        half = self.rt.max_frames // 2
        while self.queue is not None and len(self.queue) >= half and self.closing is None and not self.lost:
            self.space = asyncio.get_running_loop().create_future()
            await self.space
        if self.closing is not None or self.lost:
            return
        if self.queue is None and self.writable:
            self._write(frame)
        else:
            if self.queue is None:
                self.queue = deque()
            self.queue.append([frame, ""])

    def close(self, code: int, reason: str = "") -> None:
        """Close after what is queued (at once for a slow consumer: its queue is dropped)."""
        if self.closing is None:
            self.closing = (code, reason)
        if self.overflowed:
            self.queue = None
        if not self.queue:
            self._send_close()

    def depth(self) -> int:
        return len(self.queue) if self.queue else 0

    # --- writing ---------------------------------------------------------------------------

    def send_pending(self) -> None:
        pending = self.pending
        if pending is not None:
            self.pending = None
            if not self.lost and not self.transport.is_closing():
                self.transport.writelines(pending)

    def _write(self, frame) -> None:
        """Write one frame now (after what is pending, to keep the order)."""
        if self.pending is not None:
            self.send_pending()
        t = self.transport
        if self.lost or t.is_closing():
            return  # going away (the peer's EOF, our close): connection_lost follows
        if self.plain:
            # Server frames are unmasked and websockets keeps no state for sent data frames, so
            # a text frame is our header and the payload's parts, written without joining them.
            if type(frame) is SplitFrame:
                prefix, suffix = frame
                t.writelines((_header(len(prefix) + len(suffix)), prefix, suffix))
            else:
                data = frame.encode()
                t.writelines((_header(len(data)), data))
            return
        self.ws.send_text(frame.encode() if isinstance(frame, str) else frame[0] + frame[1])
        self._flush()

    def _flush(self) -> None:
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
            self._write(q.popleft()[0])
            if self.dropped and not q:
                self._write(self._gap_frame())
        if q is not None and not q:
            self.queue = None
        if self.space is not None and (self.queue is None or len(self.queue) < self.rt.max_frames // 2):
            self._wake_replay()
        if self.queue is None and self.closing is not None:
            self._send_close()

    def _gap_frame(self) -> str:
        frame = protocol.dumps({"type": "gap", "data": {"subscriptions": list(self.dropped_ids or ()),
                                                        "dropped": self.dropped}})
        self.dropped, self.dropped_ids = 0, None
        return frame

    def _wake_replay(self) -> None:
        space, self.space = self.space, None
        if space is not None and not space.done():
            space.set_result(None)

    def _send_close(self) -> None:
        if self.close_sent or self.lost or self.transport is None:
            return
        self.close_sent = True
        self._wake_replay()
        code, reason = self.closing or (protocol.CLOSE_GOING_AWAY, "")
        try:
            self.ws.send_close(code, reason)
        except InvalidState:  # the peer closed first; websockets has answered it
            self.transport.close()
            return
        self._flush()
        self.timer = asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, self.transport.close)

    def pause_writing(self) -> None:
        self.writable = False

    def resume_writing(self) -> None:
        self.writable = True
        self._drain()
