"""Realtime client: one WebSocket, many subscriptions, reconnect with backoff, resume by cursor.

Usage (the CLI's `subscribe` and, later, the TUI feed on the same stream)::

    client = RealtimeClient(endpoint, project, key=key)
    await client.subscribe(["tablesdb.db.tables.t.rows"], since=parse_since("10m"))
    async for item in client.stream():      # Event | StateChange | Subscribed | ServerError | Gap | Pong
        ...

Contract:

- ``stream()`` connects to ``<endpoint as ws>/realtime?project=<project>`` and, only after the
  server's ``connected`` frame, sends one ``subscribe`` frame holding every registered
  subscription (original ids kept across reconnects). ``subscribe()`` while connected sends at once.
- Any loss of the connection is followed by a reconnect after a backoff (0.5 s doubling to 10 s,
  ±20 % jitter), except a 1008 close or error frame, or an HTTP 4xx on the upgrade: those end the
  stream with ``RealtimeFatal``. ``close()`` ends the stream normally.
- Resume (rtcli extension): the client remembers, per subscription, the cursor of the last event
  delivered to it; on every reconnect each subscription carries ``since: <that cursor>`` so the
  server replays what was missed. A subscription that has had no event yet asks again for the
  caller's own ``since`` if it had one (its replay may have been cut short), else for the last
  cursor seen on the connection, else for the time of the last frame received. An event is
  dropped when every subscription it lists has already had that cursor, so each event reaches
  each subscription at most once.
- The heartbeat sends ``{"type":"ping"}`` every ``ping_interval`` seconds; each pong yields ``Pong``
  with the round-trip time, also kept in ``rtt``.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime, UTC
from typing import Any

from rtcli import ids, protocol
# The stream's items and helpers live in client/stream.py; callers import them from here.
from rtcli.client.stream import (  # noqa: F401
    ACTIONS, BEGINNING, ConnectionState, Event, Gap, Item, Pong, RealtimeFatal, ServerError, StateChange, Subscribed,
    backoff_delay, format_since_time, parse_since, realtime_url,
)


@dataclass
class _Subscription:
    id: str
    channels: list[str]
    queries: list[str]
    since: str | None = None
    policy: str | None = None
    confirmed: bool = False
    cursor: str | None = None  # of the last event delivered to this subscription


# ---------------------------------------------------------------------------------------------


class RealtimeClient:
    """See the module docstring. Not thread-safe; use from one event loop."""

    def __init__(self, endpoint: str, project: str, key: str | None = None, session: str | None = None,
                 *, ping_interval: float = 20.0, connect_timeout: float = 10.0,
                 backoff_initial: float = 0.5, backoff_max: float = 10.0, dedupe_window: int = 4096) -> None:
        self.url = realtime_url(endpoint, project)
        self.headers: dict[str, str] = {}
        if key:
            self.headers["X-Appwrite-Key"] = key
        if session:
            self.headers["X-Appwrite-Session"] = session
        self.ping_interval = ping_interval
        self.connect_timeout = connect_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.rtt: float | None = None
        self.last_cursor: str | None = None
        self._subs: dict[str, _Subscription] = {}
        self._seen: deque[tuple[str, str | None]] = deque(maxlen=dedupe_window)
        self._seen_set: set[tuple[str, str | None]] = set()
        self._ws: Any = None
        self._ready = False  # the post-`connected` subscribe frame has gone out on self._ws
        self._closing = False
        self._alive_at: float | None = None  # wall clock of the last frame received
        self._ping_sent: float | None = None

    # --- subscriptions ---------------------------------------------------------------------

    async def subscribe(self, channels: Iterable[str], queries: Iterable[str] = (), since: str | None = None,
                        subscription_id: str | None = None, policy: str | None = None) -> str:
        """Register (or, with an existing id, replace) a subscription; returns its id.

        ``queries`` are Query JSON strings as the SDK sends them. ``since`` is already in the
        server's form (see ``parse_since``). ``policy`` (rtcli extension) is the slow-consumer
        policy: ``close`` (server default), ``drop`` or ``latest``. Sent at once when connected,
        else on connect.
        """
        sub = _Subscription(subscription_id or ids.unique(), list(channels), list(queries), since, policy)
        self._subs[sub.id] = sub
        if self._ready:
            await self._send({"type": protocol.SUBSCRIBE, "data": [self._item(sub, reconnect=False)]})
        return sub.id

    async def unsubscribe(self, subscription_id: str) -> None:
        if self._subs.pop(subscription_id, None) is not None and self._ready:
            await self._send({"type": protocol.UNSUBSCRIBE, "data": [{"subscriptionId": subscription_id}]})

    def _item(self, sub: _Subscription, reconnect: bool) -> dict[str, Any]:
        item: dict[str, Any] = {"subscriptionId": sub.id, "channels": sub.channels, "queries": sub.queries}
        since = sub.since
        if reconnect:
            if sub.cursor:
                since = sub.cursor
            elif sub.since is None and sub.confirmed:
                if self.last_cursor:
                    since = self.last_cursor
                elif self._alive_at is not None:
                    # Nothing received at all yet: replay from shortly before the link went quiet;
                    # the dedupe drops anything we did get.
                    since = format_since_time(datetime.fromtimestamp(self._alive_at - 1.0, UTC))
        if since:
            item["since"] = since
        if sub.policy:
            item["policy"] = sub.policy
        return item

    # --- connection ------------------------------------------------------------------------

    async def close(self) -> None:
        """End ``stream()`` after the current frame; closes the socket with 1000."""
        self._closing = True
        if self._ws is not None:
            await self._ws.close()

    async def _send(self, frame: dict[str, Any]) -> None:
        ws = self._ws
        if ws is None:
            return
        try:
            await ws.send(protocol.dumps(frame))
        except Exception:
            # The receive loop sees the same failure and reconnects; the frame is resent then.
            pass

    async def events(self) -> AsyncIterator[Event]:
        """Only the events of ``stream()``."""
        async for item in self.stream():
            if isinstance(item, Event):
                yield item

    async def stream(self) -> AsyncIterator[Item]:
        """Connect and yield items until ``close()`` or a fatal error (``RealtimeFatal``)."""
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

        attempt = 0
        connected_once = False
        while not self._closing:
            yield StateChange(ConnectionState.CONNECTING, attempt=attempt, reconnect=connected_once)
            error: str
            pinger: asyncio.Task | None = None
            try:
                async with connect(self.url, additional_headers=self.headers, open_timeout=self.connect_timeout,
                                   max_size=None, user_agent_header="rtcli") as ws:
                    self._ws = ws
                    if self._closing:  # close() ran while we were connecting
                        break
                    first = _decode(await asyncio.wait_for(ws.recv(), self.connect_timeout))
                    if not isinstance(first, dict):
                        raise WebSocketException("the server's first frame is not a JSON object")
                    if first.get("type") == protocol.ERROR:
                        data = first.get("data") or {}
                        raise RealtimeFatal(str(data.get("message") or "connection refused by server"),
                                            data.get("code"))
                    if first.get("type") != protocol.CONNECTED:
                        raise WebSocketException(f"expected a connected frame, got {first.get('type')!r}")
                    self._alive_at = time.time()
                    reconnect = connected_once
                    connected_once, attempt = True, 0
                    yield StateChange(ConnectionState.CONNECTED, reconnect=reconnect)
                    items = [self._item(s, reconnect) for s in self._subs.values()]
                    self._ready = True
                    if items:
                        await self._send({"type": protocol.SUBSCRIBE, "data": items})
                    pinger = asyncio.create_task(self._pinger())
                    async for raw in ws:
                        self._alive_at = time.time()
                        item = self._handle(_decode(raw), reconnect)
                        if item is not None:
                            yield item
                error = "closed by server"
            except ConnectionClosed as e:
                if e.rcvd is not None and e.rcvd.code == protocol.CODE_POLICY_VIOLATION:
                    raise RealtimeFatal(e.rcvd.reason or "policy violation", 1008) from None
                error = (f"closed by server: {e.rcvd.code}{' ' + e.rcvd.reason if e.rcvd.reason else ''}"
                         if e.rcvd is not None else "connection lost")
            except InvalidStatus as e:
                status = e.response.status_code
                if 400 <= status < 500 and status != 429:
                    raise RealtimeFatal(f"{self.url} rejected the WebSocket upgrade with HTTP {status} "
                                        "(is the endpoint right? it should end in /v1)", status) from None
                error = f"HTTP {status}"
            except (TimeoutError, OSError, WebSocketException, ValueError) as e:
                error = _describe(e)
            finally:
                self._ws, self._ready = None, False
                if pinger is not None:
                    pinger.cancel()
            if self._closing:
                break
            delay = backoff_delay(attempt, self.backoff_initial, self.backoff_max)
            attempt += 1
            yield StateChange(ConnectionState.RECONNECTING, attempt=attempt, delay=delay, error=error, reconnect=connected_once)
            await asyncio.sleep(delay)
        yield StateChange(ConnectionState.CLOSED)

    def _handle(self, msg: Any, reconnect: bool) -> Item | None:
        """One decoded frame -> the item to yield (or None). Raises RealtimeFatal on a 1008 error."""
        if not isinstance(msg, dict):
            return None
        kind, data = msg.get("type"), msg.get("data")
        if kind == protocol.EVENT and isinstance(data, dict):
            cursor = data.get("cursor")
            if isinstance(cursor, str) and cursor:
                # Keyed by subscription too: a resume replays per subscription, so one event can
                # rightly arrive twice, once for each of two subscriptions.
                listed = [str(x) for x in data.get("subscriptions") or []] or [None]
                fresh = [sid for sid in listed if (cursor, sid) not in self._seen_set]
                if not fresh:
                    return None
                for sid in fresh:
                    self._remember((cursor, sid))
                    if sid in self._subs:
                        self._subs[sid].cursor = cursor
                self.last_cursor = cursor
            return Event(data)
        if kind == protocol.RESPONSE and isinstance(data, dict) and data.get("to") == protocol.SUBSCRIBE:
            subs = [s for s in data.get("subscriptions") or [] if isinstance(s, dict)]
            for s in subs:
                if s.get("subscriptionId") in self._subs:
                    self._subs[s["subscriptionId"]].confirmed = True
            return Subscribed(subs, reconnect=reconnect)
        if kind == "gap" and isinstance(data, dict):
            return Gap([str(s) for s in data.get("subscriptions") or []], int(data.get("dropped") or 0))
        if kind == protocol.PONG:
            if self._ping_sent is not None:
                self.rtt = time.monotonic() - self._ping_sent
                self._ping_sent = None
                return Pong(self.rtt)
            return None
        if kind == protocol.ERROR and isinstance(data, dict):
            code, message = int(data.get("code") or 0), str(data.get("message") or "unknown error")
            if code == protocol.CODE_POLICY_VIOLATION:
                raise RealtimeFatal(message, code)
            return ServerError(code, message)
        return None

    def _remember(self, key: tuple[str, str | None]) -> None:
        if len(self._seen) == self._seen.maxlen:
            self._seen_set.discard(self._seen[0])
        self._seen.append(key)
        self._seen_set.add(key)

    async def _pinger(self) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            self._ping_sent = time.monotonic()
            await self._send({"type": protocol.PING})

    async def ping(self) -> None:
        """Send one ping now (the reply arrives in ``stream()`` as ``Pong``)."""
        self._ping_sent = time.monotonic()
        await self._send({"type": protocol.PING})


def _decode(raw: str | bytes) -> Any:
    try:
        return protocol.loads(raw)
    except ValueError:
        return None  # not JSON: ignored, like the SDK does with frames it does not understand


def _describe(e: BaseException) -> str:
    if isinstance(e, ConnectionRefusedError) or (isinstance(e, OSError) and e.errno == 111):
        return "connection refused"
    if isinstance(e, asyncio.TimeoutError):
        return "timed out"
    return str(e) or type(e).__name__
