"""The event log, explain and presences over REST (rtcli extensions to the Appwrite API).

- ``Events.list`` reads ``GET /v1/events``: the events after ``since`` (a cursor, an ISO date or
  ``beginning``; absent: the most recent ``limit``), filtered by ``channels`` (exact names) and by
  what the caller may read. The response is ``{events: [event data with cursor], cursor, more}``:
  pass ``cursor`` back as ``since`` to read on; ``more`` says whether the log goes further.
- ``Events.explain`` asks why one event did or did not reach a subscriber (a user, an API key
  or a guest) on a channel with queries; it needs an API key with ``events.read``.
- ``Presences.list`` lists the presences the caller may read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from rtcli.client.api import ApiClient, _seg


class Events:
    def __init__(self, client: ApiClient) -> None:
        self.client = client

    def list(self, since: str | None = None, limit: int | None = None, channels: Sequence[str] = ()) -> dict:
        return self.client.call("GET", "/events", params={"since": since, "limit": limit,
                                                          "channels": list(channels) or None})

    def pages(self, since: str | None = None, limit: int | None = None, channels: Sequence[str] = ()
              ) -> Iterator[dict]:
        """``list`` then, while ``more``, the pages after each returned cursor."""
        while True:
            page = self.list(since, limit, channels)
            yield page
            if not page.get("more") or not page.get("cursor") or page.get("cursor") == since:
                return
            since = page["cursor"]

    def explain(self, cursor: str, *, user: str | None = None, key: bool = False, channel: str | None = None,
                queries: Sequence[str] = ()) -> dict:
        """Explain ``cursor`` for user ``user``, an API key (``key``), or else a guest."""
        params: dict[str, Any] = {"channel": channel, "queries": list(queries) or None}
        if user:
            params["user"] = user
        elif key:
            params["key"] = 1
        else:
            params["guest"] = 1
        return self.client.call("GET", f"/events/{_seg(cursor)}/explain", params=params)


class Presences:
    def __init__(self, client: ApiClient) -> None:
        self.client = client

    def list(self, queries: Sequence[str] = ()) -> dict:
        return self.client.call("GET", "/presences", params={"queries": list(queries)})
