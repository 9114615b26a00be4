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


def explain_checks(r: dict) -> list[tuple[str, bool | None, str]]:
    """An explain response as ``(label, passed, text)`` checks in the hub's order (``passed`` is
    None for a line that is not a check), the verdict last: what ``rtcli explain`` prints and the
    monitor's explain pane shows."""
    out: list[tuple[str, bool | None, str]] = [
        ("event", None, f"{r.get('event')}  (cursor {r.get('cursor')})"),
        ("subscriber", None, f"{r.get('subscriber')}  (roles: {', '.join(r.get('roles') or []) or 'none'})"),
    ]
    ch = r.get("channel") or {}
    if ch.get("channel") is None:
        text = ch.get("note") or "no channel given"
    elif ch.get("matches"):
        text = f"{ch['channel']} matches {', '.join(ch.get('matched_channels') or [])}"
    else:
        text = f"{ch['channel']} matches none of the event's channels"
    out.append(("channel", bool(ch.get("matches")), text))
    perm = r.get("permission") or {}
    readable = ", ".join(r.get("event_roles") or []) or "nobody but API keys"
    out.append(("permission", bool(perm.get("matches")), f"{perm.get('reason')} (event readable by: {readable})"))
    for i, q in enumerate(r.get("queries") or [], 1):
        out.append((f"query {i}", bool(q.get("matches")), f"{q.get('reason')}  {q.get('query')}"))
    drops = r.get("drops") or []
    for d in drops:
        out.append(("dropped", False, f"connection {d.get('connection')}: {d.get('reason')}"))
    if not drops:
        out.append(("drops", None, "none on this node"))
    out.append(("verdict", r.get("verdict") == "delivered", str(r.get("verdict")).upper()))
    return out


class Presences:
    def __init__(self, client: ApiClient) -> None:
        self.client = client

    def list(self, queries: Sequence[str] = ()) -> dict:
        return self.client.call("GET", "/presences", params={"queries": list(queries)})
