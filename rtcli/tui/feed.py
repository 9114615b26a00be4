"""The one worker between the realtime client and the app: items in, batched messages out.

``Feed.run()`` reads ``source.stream()`` (a ``RealtimeClient``, or anything with the same
methods) and posts messages (``rtcli.tui.messages``) to the app:

- events become ``EventRecord``s and leave in one ``EventsArrived`` batch every ``interval``
  seconds (50 ms), and only after the app has acknowledged the previous batch (``ack()``). So the
  app redraws at most 20 times a second however fast events come, and a slow app never faces a
  growing queue of messages: while a batch is in flight new events wait in ``pending``, which is
  cut to the newest ``limit`` records (the rest are counted as ``skipped``, as if evicted);
- any other item flushes the pending events first, then goes out as its own message, in order;
- events of the monitor's own presence subscription (``presence_subscription``) also go, in
  order, into one ``PresenceEvents`` per flush, not held back by the acknowledgement (they are
  few). Those listed for that subscription alone stay out of ``EventsArrived``: the table shows
  what the user subscribed to.

The reader yields to the event loop every ``yield_every`` items so that a burst already
buffered in the socket cannot starve the UI, which runs on the same loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, Protocol

from textual.message import Message

from rtcli.client.realtime import Event, Gap, Pong, RealtimeFatal, ServerError, StateChange, Subscribed
from rtcli.tui.messages import (
    ConnectionChanged, EventsArrived, PingMeasured, PresenceEvents, ServerWarning, SubscriptionsConfirmed,
)
from rtcli.tui.model import DEFAULT_BUFFER
from rtcli.tui.records import EventRecord

log = logging.getLogger("rtcli.tui.feed")


class Source(Protocol):
    """What the monitor needs from a realtime connection (``RealtimeClient`` has it all)."""

    rtt: float | None

    def stream(self) -> AsyncIterator[Any]: ...

    async def subscribe(self, channels: Iterable[str], queries: Iterable[str] = (), since: str | None = None,
                        subscription_id: str | None = None, policy: str | None = None) -> str: ...

    async def unsubscribe(self, subscription_id: str) -> None: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


class Feed:
    """See the module docstring. ``post`` is the app's ``post_message``."""

    def __init__(self, source: Source, post: Callable[[Message], Any], *, clock: Callable[[], float] = time.monotonic,
                 interval: float = 0.05, limit: int = DEFAULT_BUFFER, yield_every: int = 100) -> None:
        self.source = source
        self.post = post
        self.clock = clock
        self.interval = interval
        self.limit = limit
        self.yield_every = yield_every
        self.pending: list[EventRecord] = []
        self.skipped = 0
        self.inflight = False
        self.seq = 0
        self.batches = 0
        self.presence_subscription: str | None = None  # the monitor's own, for the presence pane
        self.presence_pending: list[dict[str, Any]] = []

    def ack(self) -> None:
        """The app has handled the last batch; the next one may go."""
        self.inflight = False

    def flush(self, force: bool = False) -> None:
        if self.presence_pending:
            presence, self.presence_pending = self.presence_pending, []
            self.post(PresenceEvents(presence))
        if not self.pending or (self.inflight and not force):
            return
        batch, self.pending = self.pending, []
        skipped, self.skipped = self.skipped, 0
        self.inflight = True
        self.batches += 1
        self.post(EventsArrived(batch, skipped))

    def next_seq(self) -> int:
        """A seq for a record the app makes itself (a marker row), in order with the events."""
        self.seq += 1
        return self.seq

    def add(self, data: dict[str, Any]) -> None:
        """One event's data, into the pending batch (the reader calls it; so can a benchmark)."""
        self.seq += 1
        self.pending.append(EventRecord(self.seq, self.clock(), data))
        if len(self.pending) > 2 * self.limit:
            cut = len(self.pending) - self.limit
            del self.pending[:cut]
            self.skipped += cut

    async def run(self) -> None:
        """Read the source until it ends; flush every ``interval``. Cancelling it stops both."""
        reader = asyncio.create_task(self._read(), name="rtcli-monitor-reader")
        try:
            while not reader.done():
                self.flush()
                await asyncio.sleep(self.interval)
            self.flush(force=True)
            reader.result()
        finally:
            reader.cancel()

    async def _read(self) -> None:
        n = 0
        try:
            async for item in self.source.stream():
                if isinstance(item, Event):
                    own = self.presence_subscription
                    if own is not None:
                        subs = item.data.get("subscriptions") or ()
                        if own in subs:
                            self.presence_pending.append(item.data)
                            if len(subs) == 1:
                                continue
                    self.add(item.data)
                    n += 1
                    if n % self.yield_every == 0:
                        await asyncio.sleep(0)
                    continue
                message = self._message(item)
                if message is not None:
                    self.flush(force=True)
                    self.post(message)
                if isinstance(item, StateChange) and item.state == "connected":
                    await self.source.ping()  # an RTT at once rather than after the first interval
        except RealtimeFatal as e:
            self.flush(force=True)
            text = f"{e} ({e.code})" if e.code else str(e)
            self.post(ConnectionChanged("failed", at=self.clock(), error=text))
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a bug or an unexpected failure: show it rather than die silently
            log.exception("realtime feed failed")
            self.flush(force=True)
            self.post(ConnectionChanged("failed", at=self.clock(), error=f"{type(e).__name__}: {e}"))

    def _message(self, item: Any) -> Message | None:
        if isinstance(item, StateChange):
            return ConnectionChanged(item.state, at=self.clock(), attempt=item.attempt, delay=item.delay,
                                     error=item.error, reconnect=item.reconnect)
        if isinstance(item, Subscribed):
            return SubscriptionsConfirmed(item.subscriptions)
        if isinstance(item, Pong):
            return PingMeasured(item.rtt)
        if isinstance(item, Gap):
            return ServerWarning(f"the server dropped {item.dropped} event(s): this monitor was too slow",
                                 dropped=item.dropped)
        if isinstance(item, ServerError):
            return ServerWarning(f"server error: {item.message} ({item.code})", code=item.code)
        return None
