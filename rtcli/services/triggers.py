"""Event-triggered functions: which functions each project's events start, kept in memory.

Each node keeps, per project, which functions each event pattern starts, for at most
``--max-event-functions`` enabled functions with events (all projects together); a function
past that bound never runs on events, and every load that meets the bound says so in the log.
The cache is read page by page, so a reload never holds more than one page of rows beyond it,
and it keeps patterns and ids only: a function's settings are read when one of its patterns
matches, so an execution runs the function as it is then.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from rtcli.core.event import Event
from rtcli.core.ports import Transaction
from rtcli.core.records import Function, FunctionTrigger

log = logging.getLogger("rtcli.functions")

PAGE = 500  # functions one query of a reload reads


class FunctionSource(Protocol):
    """Where the functions are kept (core.repositories.FunctionRepository)."""

    async def event_functions(self, after: tuple[str, str] | None, limit: int) -> list[FunctionTrigger]: ...

    async def function(self, project: str, fid: str, tx: Transaction | None = None) -> Function | None: ...


class EventTriggers:
    """Runs event-triggered functions after commit, in commit order, off the write path."""

    def __init__(self, repo: FunctionSource, run: Callable[[Event, list[Function]], Awaitable[None]],
                 limit: int) -> None:
        self.repo = repo  # the functions' repository
        self.run = run  # runs the functions of a list whose patterns match an event
        self.limit = limit  # enabled functions with events kept, over every project
        self.by_project: dict[str, dict[str, list[str]]] = {}  # project -> event pattern -> function ids
        # Reloads are asked for by every function change, here and on the other nodes. One runs at
        # a time, and asks made while it reads are answered by the next one, which reads after
        # them: an older read never replaces a newer one, and a burst of changes costs two reads.
        self._lock = asyncio.Lock()
        self._asked = 0
        self._done = 0

    async def load(self) -> None:
        self._asked += 1
        ask = self._asked
        async with self._lock:
            if self._done >= ask:
                return  # a read that began after this ask has finished
            began = self._asked
            self.by_project = await self._read()
            self._done = began

    async def _read(self) -> dict[str, dict[str, list[str]]]:
        by_project: dict[str, dict[str, list[str]]] = {}
        kept = 0
        after: tuple[str, str] | None = None
        while True:
            page = await self.repo.event_functions(after, PAGE)
            for t in page:
                if kept == self.limit:
                    log.warning("more than %d enabled functions have event triggers: %s of project %s and the "
                                "functions after it (by project, then id) do not run on events; raise "
                                "--max-event-functions on every node", self.limit, t.function_id, t.project)
                    return by_project
                kept += 1
                patterns = by_project.setdefault(t.project, {})
                for pattern in t.events:
                    patterns.setdefault(pattern, []).append(t.function_id)
            if len(page) < PAGE:
                return by_project
            after = (page[-1].project, page[-1].function_id)

    def schedule(self, events: list[Event]) -> None:
        if not any(e.project in self.by_project for e in events):
            return
        asyncio.get_running_loop().create_task(self._run(events))

    async def _run(self, events: list[Event]) -> None:
        for ev in events:
            patterns = self.by_project.get(ev.project)
            if not patterns:
                continue
            # An event is named under every pattern it matches (events.generate): one lookup each.
            fids = dict.fromkeys(fid for name in ev.events for fid in patterns.get(name, ()))
            fs = [f for fid in fids if (f := await self.repo.function(ev.project, fid)) is not None]
            if fs:
                await self.run(ev, fs)
