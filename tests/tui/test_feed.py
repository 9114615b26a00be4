"""rtcli.tui.feed: batching with one batch in flight, the bound on pending events, the order of
messages, the presence pane's events, and what a fatal error becomes. (Uses a scripted source: no server is needed to
check the batching; the pilot tests run the same feed against a real one.)"""

from __future__ import annotations

import asyncio

from rtcli.client.realtime import Gap, Pong, RealtimeFatal, ServerError, StateChange, Subscribed
from rtcli.tui.feed import Feed
from rtcli.tui.messages import (
    ConnectionChanged, EventsArrived, PingMeasured, PresenceEvents, ServerWarning, SubscriptionsConfirmed,
)
from tests.tui.fakes import presence_event, presence_model, row_event


class ListSource:
    """Yields ``items`` (an exception instance is raised), then waits."""

    def __init__(self, items) -> None:
        self.items = items
        self.rtt = None
        self.pings = 0

    async def stream(self):
        for item in self.items:
            if isinstance(item, BaseException):
                raise item
            yield item
        await asyncio.Event().wait()

    async def ping(self) -> None:
        self.pings += 1

    async def subscribe(self, *a, **k) -> str:
        return "s"

    async def unsubscribe(self, sid) -> None:
        pass

    async def close(self) -> None:
        pass


async def run_for(feed: Feed, seconds: float) -> None:
    task = asyncio.create_task(feed.run())
    await asyncio.sleep(seconds)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass


async def test_one_batch_in_flight_until_acknowledged():
    posted: list = []
    feed = Feed(ListSource([row_event(i) for i in range(1, 101)]), posted.append, interval=0.01)
    await run_for(feed, 0.1)
    batches = [m for m in posted if isinstance(m, EventsArrived)]
    assert len(batches) == 1  # never acknowledged: the rest waits
    assert sum(len(b.records) for b in batches) + len(feed.pending) == 100
    feed.ack()
    feed.flush()
    batches = [m for m in posted if isinstance(m, EventsArrived)]
    records = [r for b in batches for r in b.records]
    assert [r.seq for r in records] == list(range(1, 101))
    assert [r.rid for r in records[:2]] == ["row0001", "row0002"]


async def test_pending_is_bounded_while_the_app_lags():
    posted: list = []
    feed = Feed(ListSource([row_event(i) for i in range(1, 1001)]), posted.append, interval=0.01, limit=100)
    await run_for(feed, 0.2)
    assert len(feed.pending) <= 200
    feed.ack()
    feed.flush()
    batches = [m for m in posted if isinstance(m, EventsArrived)]
    got = sum(len(b.records) for b in batches)
    skipped = sum(b.skipped for b in batches)
    assert got + skipped == 1000 and skipped > 0
    assert batches[-1].records[-1].seq == 1000  # the newest survive


async def test_other_items_keep_their_order_and_become_messages():
    items = [StateChange("connecting"), StateChange("connected"), Subscribed([{"subscriptionId": "s"}]),
             row_event(1), row_event(2), Pong(0.003), Gap(["s"], 5), ServerError(1003, "bad query"),
             row_event(3), StateChange("reconnecting", attempt=1, delay=2.0, error="connection lost")]
    posted: list = []
    source = ListSource(items)
    feed = Feed(source, lambda m: (posted.append(m), feed.ack()), interval=0.01)
    await run_for(feed, 0.1)
    kinds = [type(m).__name__ if not isinstance(m, ConnectionChanged) else m.state for m in posted]
    assert kinds == ["connecting", "connected", "SubscriptionsConfirmed", "EventsArrived", "PingMeasured",
                     "ServerWarning", "ServerWarning", "EventsArrived", "reconnecting"]
    assert source.pings == 1  # an RTT right after connecting
    assert isinstance(posted[2], SubscriptionsConfirmed) and posted[2].items == [{"subscriptionId": "s"}]
    assert isinstance(posted[4], PingMeasured) and posted[4].rtt == 0.003
    assert isinstance(posted[5], ServerWarning) and posted[5].dropped == 5
    assert isinstance(posted[6], ServerWarning) and posted[6].code == 1003
    assert posted[-1].delay == 2.0 and posted[-1].error == "connection lost"


async def test_fatal_error_becomes_failed_state():
    posted: list = []
    feed = Feed(ListSource([StateChange("connecting"), row_event(1), RealtimeFatal("Invalid API key", 1008)]),
                posted.append, interval=0.01)
    await asyncio.wait_for(feed.run(), 2)
    assert isinstance(posted[1], EventsArrived)  # what came before the error is delivered
    assert isinstance(posted[-1], ConnectionChanged) and posted[-1].state == "failed"
    assert posted[-1].error == "Invalid API key (1008)"


async def test_presence_events_go_to_the_pane_and_stay_out_of_the_table():
    """Events listed only for the monitor's own presence subscription skip the table; one listed
    for a user subscription too goes to both."""
    own = "rtcli-monitor-presences"
    model = presence_model("p1", "u1")
    items = [row_event(1), presence_event(model, "create", subs=[own]),
             presence_event({**model, "status": "away"}, "update", subs=[own, "mine"]), row_event(2)]
    posted: list = []
    feed = Feed(ListSource(items), lambda m: (posted.append(m), feed.ack()), interval=0.01)
    feed.presence_subscription = own
    await run_for(feed, 0.1)
    table = [r for m in posted if isinstance(m, EventsArrived) for r in m.records]
    pane = [e for m in posted if isinstance(m, PresenceEvents) for e in m.events]
    assert [r.rid for r in table] == ["row0001", "p1", "row0002"]
    assert [e["events"][0] for e in pane] == ["presences.p1.create", "presences.p1.update"]
