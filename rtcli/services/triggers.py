"""Event-triggered functions: which functions each project's events start, kept in memory."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

from rtcli.core.event import Event
from rtcli.core.records import Function


class FunctionSource(Protocol):
    """Where the functions are kept (core.ports.FunctionRepository)."""

    async def every_function(self) -> list[tuple[str, Function]]: ...


class EventTriggers:
    """Runs event-triggered functions after commit, in commit order, off the write path."""

    def __init__(self, repo: FunctionSource, run: Callable[[Event, list[Function]], Awaitable[None]]) -> None:
        self.repo = repo  # the functions' repository
        self.run = run  # runs the functions of a list whose patterns match an event
        self.by_project: dict[str, list[Function]] = {}

    async def load(self) -> None:
        by_project: dict[str, list[Function]] = {}
        for project, f in await self.repo.every_function():
            if f.events:
                by_project.setdefault(project, []).append(f)
        self.by_project = by_project

    def schedule(self, events: list[Event]) -> None:
        if not any(e.project in self.by_project for e in events):
            return
        asyncio.get_running_loop().create_task(self._run(events))

    async def _run(self, events: list[Event]) -> None:
        for ev in events:
            fs = self.by_project.get(ev.project)
            if fs:
                await self.run(ev, fs)
