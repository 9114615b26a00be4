"""Reading the event log over REST (rtcli extension: GET /v1/events), for `rtcli events list`
and for tools. Each caller sees only the events it may read, as over realtime.

One request reads at most ``scan_limit`` rows of the log, whether or not the caller may read
them: a guest asking for everything since the beginning of a large log gets a page that may be
empty, with ``more: true`` and the ``cursor`` to go on from, instead of a scan of the whole log."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rtcli.core.event import key_may_receive
from rtcli.core.ports import Store
from rtcli.errors import AppwriteError, invalid
from rtcli.services.context import Ctx
from rtcli.services.visibility import LogVisibility

MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class EventPage:
    """One page of the log as a caller sees it: its events, the cursor to go on from, and
    whether the log goes on past what this request scanned."""

    events: list[dict[str, Any]]
    cursor: str | None
    more: bool

    def model(self) -> dict[str, Any]:
        return {"events": self.events, "cursor": self.cursor, "more": self.more}


class EventLog:
    def __init__(self, store: Store, scan_limit: int, visibility: Callable[[], LogVisibility]) -> None:
        self.store = store
        self.scan_limit = scan_limit
        self.visibility = visibility  # a fresh LogVisibility per request or replay

    async def list(self, ctx: Ctx, since: str | None, limit: int, channels: list[str]) -> EventPage:
        if ctx.actor.is_key:
            ctx.require_scope("events.read")
        if not 0 < limit <= MAX_LIMIT:
            raise invalid(f"Invalid `limit` param: between 1 and {MAX_LIMIT}.")
        head = await self.store.head()
        if since is None:
            after = await self.store.before_last(ctx.project, head, limit)  # the most recent events
        else:
            resolved, reason = await self.store.resolve_since(ctx.project, since)
            if resolved is None:
                raise AppwriteError("general_cursor_not_found", f"Cannot read the log from {since!r}: {reason}.")
            after = resolved
        wanted = set(channels)
        visible = self.visibility()
        out: list[dict[str, Any]] = []
        last = after
        upto = await self.store.nth_after(after, self.scan_limit, head)  # positions are shared by all projects
        while len(out) < limit and last < upto:
            page = await self.store.read_events(ctx.project, last, upto, 500)
            if not page:
                last = upto  # none of this project's events up there: skip the range
                break
            for ev in page:
                last = ev.seq
                if wanted and wanted.isdisjoint(ev.channels):
                    continue
                if ctx.actor.is_key:
                    # The rule of a key's realtime connection: ``events.read`` opens the log,
                    # each event still needs its resource's read scope (rows, users, teams…).
                    if not key_may_receive(ctx.actor.scopes, ev):
                        continue
                elif not await visible.readable(ctx.actor.roles, ev):
                    continue
                out.append(ev.data())
                if len(out) == limit:
                    break
        return EventPage(out, self.store.cursor(last) if last else None, last < head)
