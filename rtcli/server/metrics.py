"""/metrics in the Prometheus text format, and the drop records behind `rtcli explain`.

Counters live where the work happens (the hub counts dispatches and deliveries, the adapter
counts connections, resumes and drops, a PostgreSQL node its log reads and create statements);
a collector reads them at scrape time, so the hot path pays for one histogram observation per
event and nothing per delivery.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from starlette.requests import Request
from starlette.responses import Response

from rtcli.core.event import Event
from rtcli.core.hub import Hub

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class Queued(Protocol):
    """A connection's send queue, as the gauges read it (server.outbox.Outbox)."""

    def depth(self) -> int: ...


@dataclass(frozen=True)
class Count:
    """A counter that a backend keeps (the store, the broker), read when /metrics is scraped."""

    name: str
    help: str
    read: Callable[[], int]


class Metrics:
    def __init__(self, hub: Hub, counts: Sequence[Count] = ()) -> None:
        self.hub = hub
        self.backend_counts = tuple(counts)
        self.counts: Counter[str] = Counter()
        self.writes = 0  # coalesced socket writes of live frames (deliveries / writes = frames per write)
        self.outboxes: dict[str, Queued] = {}  # connection id -> its realtime connection's outbox
        # The last drops, for `rtcli explain`: (seq, connection id, user id, reason).
        self.drops: deque[tuple[int, str, str | None, str]] = deque(maxlen=10_000)
        self.registry = CollectorRegistry(auto_describe=True)
        self.latency = Histogram("rtcli_commit_to_dispatch_seconds",
                                 "Time from an event's commit to its fan-out on this node", buckets=LATENCY_BUCKETS,
                                 registry=self.registry)
        self.registry.register(self)

    def dispatched(self, event: Event) -> None:
        if event.created:
            self.latency.observe(max(0.0, time.time() - event.created))

    def drop(self, seq: int, conn_id: str, user_id: str | None, reason: str) -> None:
        self.counts[f"drop:{reason.split(':')[0]}"] += 1
        self.drops.append((seq, conn_id, user_id, reason))

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        hub = self.hub
        yield GaugeMetricFamily("rtcli_connections", "Open realtime connections", value=len(hub.connections))
        yield GaugeMetricFamily("rtcli_subscriptions", "Live subscriptions",
                                value=sum(len(c.subscriptions) for c in hub.connections.values()))
        yield CounterMetricFamily("rtcli_events_dispatched", "Events fanned out by this node", value=hub.dispatched)
        yield CounterMetricFamily("rtcli_deliveries", "Event frames handed to connections", value=hub.delivered)
        yield CounterMetricFamily("rtcli_fanout_writes", "Socket writes of live event frames (the frames one "
                                  "connection gets in one event-loop turn share a write)", value=self.writes)
        depths = [o.depth() for o in self.outboxes.values()]
        yield GaugeMetricFamily("rtcli_queue_depth_total", "Frames waiting in send queues", value=sum(depths))
        yield GaugeMetricFamily("rtcli_queue_depth_max", "Deepest send queue", value=max(depths, default=0))
        drops = CounterMetricFamily("rtcli_drops", "Events not delivered because a client was too slow",
                                    labels=["policy"])
        for key, n in self.counts.items():
            if key.startswith("drop:"):
                drops.add_metric([key[5:]], n)
        yield drops
        resumes = CounterMetricFamily("rtcli_resumes", "Subscriptions made with `since`", labels=["resumed"])
        resumes.add_metric(["true"], self.counts["resumed"])
        resumes.add_metric(["false"], self.counts["not_resumed"])
        yield resumes
        yield CounterMetricFamily("rtcli_replayed_events", "Logged events read for replays", value=self.counts["replayed"])
        for count in self.backend_counts:
            yield CounterMetricFamily(count.name, count.help, value=count.read())


async def metrics_endpoint(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry),
                    media_type="text/plain; version=0.0.4; charset=utf-8")
