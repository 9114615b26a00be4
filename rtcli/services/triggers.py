"""Event-triggered functions: which functions each project's events start, kept in memory."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from rtcli.core.event import Event


class FunctionSource(Protocol):
    """Where the functions are kept (store.functions.FunctionsStore)."""

    async def functions(self, project: str | None) -> tuple[int, list[dict[str, Any]]]: ...


class EventTriggers:
    """Runs event-triggered functions after commit, in commit order, off the write path."""

    def __init__(self, repo: FunctionSource, run: Callable[[Event, list[dict[str, Any]]], Awaitable[None]]) -> None:
        self.repo = repo  # the functions' repository
        self.run = run  # runs the functions of a list whose patterns match an event
        self.by_project: dict[str, list[dict[str, Any]]] = {}

    async def load(self) -> None:
        _, fs = await self.repo.functions(None)
        self.by_project = {}
        for f in fs:
            if f["events"]:
                self.by_project.setdefault(f["project"], []).append(f)

    def schedule(self, events: list[Event]) -> None:
        if not any(e.project in self.by_project for e in events):
            return
        asyncio.get_running_loop().create_task(self._run(events))

    async def _run(self, events: list[Event]) -> None:
        for ev in events:
            fs = self.by_project.get(ev.project)
            if fs:
                await self.run(ev, fs)
