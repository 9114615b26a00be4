"""Reading the event log over REST (rtcli extension: GET /v1/events), for `rtcli events list`
and for tools. Each caller sees only the events it may read, as over realtime."""

from __future__ import annotations

from rtcli.core.permissions import allows
from rtcli.errors import AppwriteError, invalid
from rtcli.services.context import Ctx

MAX_LIMIT = 1000


class EventLog:
    def __init__(self, store) -> None:
        self.store = store

    async def list(self, ctx: Ctx, since: str | None, limit: int, channels: list[str]) -> dict:
        if ctx.actor.is_key:
            ctx.require_scope("events.read")
        if not 0 < limit <= MAX_LIMIT:
            raise invalid(f"Invalid `limit` param: between 1 and {MAX_LIMIT}.")
        head = await self.store.head()
        if since is None:
            after = max(0, head - limit)  # the most recent events
        else:
            after, reason = await self.store.resolve_since(ctx.project, since)
            if after is None:
                raise AppwriteError("general_cursor_not_found", f"Cannot read the log from {since!r}: {reason}.")
        wanted = set(channels)
        out, last = [], after
        while len(out) < limit and last < head:
            page = await self.store.read_events(ctx.project, last, head, 500)
            if not page:
                break
            for ev in page:
                last = ev.seq
                if wanted and wanted.isdisjoint(ev.channels):
                    continue
                if not ctx.actor.is_key and not allows(set(ev.roles), ctx.actor.roles):
                    continue
                out.append(ev.data())
                if len(out) == limit:
                    break
        return {"events": out, "cursor": self.store.cursor(last) if last else None,
                "more": last < head}
