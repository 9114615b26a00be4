"""Subscriptions as the monitor shows them: with the name people see and filter by
(``sub:NAME``), counts and rate, and a note when the monitor cannot receive anything on them.
Pure Python, no Textual."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from rtcli.tui.filter import SubscriptionRef
from rtcli.tui.model import RateMeter
from rtcli.tui.records import EventRecord, compact_channel


@dataclass
class SubscriptionState:
    """One subscription as the monitor shows it. ``paused`` ones are unsubscribed on the server;
    ``confirmed`` is the server's acknowledgement on the current connection (lost with it).
    ``since`` is the feed's seq when it was made: later records on its channels that it did not
    get were excluded by its queries."""

    id: str
    channels: list[str]
    queries: list[str] = field(default_factory=list)
    paused: bool = False
    confirmed: bool = False
    count: int = 0
    meter: RateMeter = field(default_factory=RateMeter)
    name: str = ""
    since: int = 0
    note: str | None = None

    def __post_init__(self) -> None:
        self.name = self.name or base_name(self.channels)

    @property
    def label(self) -> str:
        return ", ".join(self.channels)

    def ref(self) -> SubscriptionRef:
        return SubscriptionRef(self.id, self.name, tuple(self.channels), self.since)


def base_name(channels: Iterable[str]) -> str:
    """A short name for a subscription: its channels, compacted (``main/orders``, ``files:b``)."""
    return ",".join(compact_channel(c) for c in channels)


def unique_name(channels: Iterable[str], taken: Iterable[str]) -> str:
    """``base_name``, with ``#2``, ``#3``… when another subscription has it already."""
    base = base_name(channels)
    taken = set(taken)
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}#{n}"
    return name


def reception_note(channels: Iterable[str], who: str) -> str | None:
    """Why this monitor (as ``who``: 'key', 'guest' or a user) may get nothing on these channels,
    when the server's rules say so; None when it can receive events."""
    notes = []
    for c in channels:
        head = c.split(".", 1)[0]
        if head == "account" and who in ("key", "guest"):
            notes.append(f"{'an API key' if who == 'key' else 'a guest'} has no account: nothing arrives")
        elif who == "key" and head in ("executions", "functions"):
            notes.append("only executions users start send events, not an API key's")
    return "; ".join(dict.fromkeys(notes)) or None


def count_by_subscription(records: Iterable[EventRecord]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in records:
        for sid in r.data.get("subscriptions") or ():
            out[sid] = out.get(sid, 0) + 1
    return out
