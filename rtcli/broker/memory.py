"""The in-process broker: a loop-back to the local hub, taking the same path a Redis broker does.

``publish`` is called right after commit under the writer lock; scheduling each event with
``loop.call_soon`` keeps log order (callbacks run FIFO) while taking fan-out off the write path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from rtcli.core.event import Event


class MemoryBroker:
    name = "in-process"

    def __init__(self) -> None:
        self._deliver: Callable[[Event], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self, deliver: Callable[[Event], None]) -> None:
        self._deliver = deliver
        self._loop = asyncio.get_running_loop()

    def publish(self, events: list[Event]) -> None:
        if self._deliver is None or self._loop is None:
            return
        for ev in events:
            self._loop.call_soon(self._deliver, ev)

    def publish_live(self, event: Event) -> None:
        """An event in no log (an ephemeral topic's message): to the local hub, after the
        events already scheduled."""
        if self._deliver is not None and self._loop is not None:
            self._loop.call_soon(self._deliver, event)

    async def ping(self) -> None:
        """Always answers: the broker is this process."""

    async def close(self) -> None:
        self._deliver = None
