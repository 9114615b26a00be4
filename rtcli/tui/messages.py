"""Messages the feed posts to the app (one direction only: feed -> app), and the presence
pane's REST snapshot, which a worker posts.

Events travel in batches (``EventsArrived``), at most one batch in flight at a time; everything
else the realtime client reports becomes one message of its own, posted after the events that
came before it so the order is kept. The presence pane's own events travel apart
(``PresenceEvents``).
"""

from __future__ import annotations

from typing import Any

from textual.message import Message

from rtcli.tui.records import EventRecord


class EventsArrived(Message):
    """A batch of events in arrival order. ``skipped`` events were dropped before reaching the
    app because it fell more than a whole buffer behind; they count as having left the buffer."""

    def __init__(self, records: list[EventRecord], skipped: int = 0) -> None:
        super().__init__()
        self.records = records
        self.skipped = skipped


class ConnectionChanged(Message):
    """connecting | connected | reconnecting | closed | failed. ``at`` is the feed clock's time,
    so the header can count down ``delay`` seconds to the next attempt."""

    def __init__(self, state: str, *, at: float, attempt: int = 0, delay: float | None = None,
                 error: str | None = None, reconnect: bool = False) -> None:
        super().__init__()
        self.state = state
        self.at = at
        self.attempt = attempt
        self.delay = delay
        self.error = error
        self.reconnect = reconnect


class SubscriptionsConfirmed(Message):
    """The server's reply to a subscribe frame (its ``subscriptions`` items, unchanged)."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        super().__init__()
        self.items = items


class PingMeasured(Message):
    def __init__(self, rtt: float) -> None:
        super().__init__()
        self.rtt = rtt


class ServerWarning(Message):
    """An error frame that did not close the connection, or a gap the server reported."""

    def __init__(self, text: str, *, code: int | None = None, dropped: int = 0) -> None:
        super().__init__()
        self.text = text
        self.code = code
        self.dropped = dropped


class PresenceEvents(Message):
    """Events of the monitor's own ``presences`` subscription (the presence pane's), in order.
    Sent with each flush, not held back by an unacknowledged ``EventsArrived``: they are few."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        super().__init__()
        self.events = events


class PresencesLoaded(Message):
    """The REST snapshot of presences for the load ``token`` (see ``PresenceBoard``), or why it
    could not be read (``error``). Posted from a thread worker."""

    def __init__(self, token: int, presences: list[dict[str, Any]] | None, error: str | None = None) -> None:
        super().__init__()
        self.token = token
        self.presences = presences
        self.error = error
