"""Following the event log: how a node on PostgreSQL delivers committed events to its hub.

Transactions commit in parallel, on every node, so the order in which commits are announced is
not log order. A node therefore delivers from the log itself: whenever it is woken (by its own
commit, or by another node's through Redis) and at least every ``poll`` seconds, it reads the
settled events after the last one it delivered (see store/postgres) and delivers them in
position order. The events it committed itself it already holds: the read skips them, so only
other nodes' events cross the network twice.

An event settles once every transaction older than its own has ended. When a read finds
committed events that have not settled yet, the follower looks again within milliseconds
rather than at the next poll: the transaction it waits for may log no event and wake nobody.
While a create statement of this node is on its way, events other nodes announce wait for the
read that follows its commit (``HOLD`` at most): under load that saves a sixth of a cluster's
reads.

Contract (as for the in-process broker): ``deliver`` sees every committed event once, in log order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from rtcli.core.event import Event

log = logging.getLogger("rtcli.broker.follower")

POLL_SECONDS = 1.0
PAGE = 1000
# Waiting for older transactions to end: first look again after this, doubling up to the cap.
SETTLE_FIRST, SETTLE_CAP = 0.002, 0.05
# Other nodes' announcements wait at most this long for this node's write on its way (_hold).
HOLD = 0.005


class LogFollower:
    """Delivers the settled log, in order, to the local hub; the broker of a single node on
    PostgreSQL, and the delivering half of the Redis broker."""

    name = "in-process"

    def __init__(self, store, poll: float = POLL_SECONDS) -> None:
        self.store = store
        self.poll = poll
        self.deliver: Callable[[Event], None] | None = None
        self.last = 0  # the last settled position delivered to the hub (or passed over: none there)
        self.reads = 0  # log reads so far (for tests and metrics)
        self.held = 0  # announcements put off for a read after this node's own commit
        self._mine: dict[int, Event] = {}  # committed here, not yet delivered
        self._live: list[Event] = []  # events in no log, waiting for those committed before them
        self._wake = asyncio.Event()
        # Why to read: told to (a poll, a reconnection, events still settling), or the highest
        # position another node announced, which a read may already have passed.
        self._due = True
        self._announced = 0
        self._task: asyncio.Task | None = None

    async def start(self, deliver: Callable[[Event], None]) -> None:
        self.deliver = deliver
        self.last = await self.store.head()  # live delivery starts after what is already logged
        self._task = asyncio.create_task(self._follow())

    def publish(self, events: list[Event]) -> None:
        """After a local commit: keep its events (the log read skips them) and look at the log."""
        for ev in events:
            if ev.seq > self.last:
                self._mine[ev.seq] = ev
        self._wake.set()

    def publish_live(self, event: Event) -> None:
        """An event in no log (an ephemeral topic's message): to the local hub at once, or, when
        events this node committed before are still to be delivered, right after them (what
        one node hands over reaches its own subscribers in that order)."""
        if self.deliver is None:
            return
        if self._mine:
            self._live.append(event)
        else:
            asyncio.get_running_loop().call_soon(self.deliver, event)

    async def ping(self) -> None:
        """Always answers: the broker is this process (the log is in the database)."""

    def wake(self, upto: int | None = None) -> None:
        """Another node committed events up to position ``upto`` (None: unknown): look at the log,
        unless a read has passed ``upto`` by the time the follower gets to it. Wake-ups that
        arrive during a read share the next one, and those the read already covered cost none."""
        if upto is None:
            self._due = True
        elif upto > self._announced:
            self._announced = upto
        self._wake.set()

    async def _follow(self) -> None:
        loop = asyncio.get_running_loop()
        retry = 0.0
        # When to read without a wake-up: set after each read, so that wake-ups which cost no
        # read do not put off a poll or a look at events still settling.
        until = loop.time() + self.poll
        held: float | None = None  # other nodes' announcements put off until then (see _hold)
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), max(0.0, min(until, held or until) - loop.time()))
            except TimeoutError:
                if held is None or loop.time() >= until:
                    self._due = True  # a poll, or a look again at events still settling
            self._wake.clear()
            if not (self._due or self._mine or self._announced > self.last):
                held = None
                continue  # everything announced since the last read was in it
            if not (self._due or self._mine):
                held = self._hold(loop.time(), held)
                if held is not None:
                    continue
            held = None
            self._due = False
            try:
                waiting = await self._catch_up()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the database is unreachable: try again on the next round
                log.warning("cannot read the event log: %s", e)
                waiting, self._due = False, True
            retry = min(max(retry * 2, SETTLE_FIRST), SETTLE_CAP) if waiting else 0.0
            until = loop.time() + (retry or self.poll)

    def _hold(self, now: float, held: float | None) -> float | None:
        """Until when to put off reading the events other nodes announced: while a write of this
        node is on its way, the read that follows its commit takes them too, one read instead
        of two (in a cluster under load, nearly half the reads were made for announcements
        alone), for ``HOLD`` at most. None: read now."""
        if not self.store.writing():
            return None
        if held is None:
            self.held += 1
            return now + HOLD
        return held if now < held else None

    async def _catch_up(self) -> bool:
        """Deliver everything settled; True when committed events are still waiting to settle."""
        while True:
            known = list(self._mine)
            page = await self.store.follow(self.last, PAGE, known)
            self.reads += 1
            for ev in page.events:  # committed here but announced after the read was sent
                self._mine.pop(ev.seq, None)
            full = len(page.events) == PAGE
            upto = page.events[-1].seq if full else page.bound - 1
            mine = [self._mine.pop(s) for s in sorted(s for s in self._mine if s <= upto)]
            batch = page.events if not mine else sorted(page.events + mine, key=lambda e: e.seq)
            for ev in batch:
                if ev.seq > self.last:
                    self.last = ev.seq
                    self.deliver(ev)
            self.last = max(self.last, upto)
            if self._live and not self._mine:
                live, self._live = self._live, []
                for ev in live:
                    self.deliver(ev)
            if not full:
                return page.top > self.last or bool(self._mine)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None
