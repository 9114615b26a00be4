"""What the realtime client yields (``RealtimeClient.stream()``: events and state changes) and
the helpers around it: the realtime URL, ``--since`` parsing, the reconnect backoff.
``rtcli.client.realtime`` re-exports all of it: import from there."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, UTC
from enum import StrEnum
from typing import Any

from rtcli.errors import RtcliError

ACTIONS = ("create", "update", "upsert", "delete")
BEGINNING = "beginning"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class RealtimeFatal(RtcliError):
    """The server refused us for good (policy violation 1008, or the upgrade was rejected)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        self.code = code
        super().__init__(message)


# ---------------------------------------------------------------------------------------------
# Items yielded by RealtimeClient.stream()


@dataclass(frozen=True)
class Event:
    """One delivered event. ``data`` is the event frame's ``data`` object, unchanged."""

    data: dict[str, Any]

    @property
    def events(self) -> list[str]:
        return list(self.data.get("events") or [])

    @property
    def channels(self) -> list[str]:
        return list(self.data.get("channels") or [])

    @property
    def payload(self) -> dict[str, Any]:
        p = self.data.get("payload")
        return p if isinstance(p, dict) else {}

    @property
    def timestamp(self) -> str | None:
        return self.data.get("timestamp")

    @property
    def subscriptions(self) -> list[str]:
        return list(self.data.get("subscriptions") or [])

    @property
    def cursor(self) -> str | None:
        c = self.data.get("cursor")
        return c if isinstance(c, str) and c else None

    @property
    def resource(self) -> str | None:
        """The most specific resource path, e.g. ``tablesdb.db.tables.t.rows.r1`` (no wildcards).

        Taken from the event names (longest wildcard-free one, action removed, the ``tablesdb``
        spelling preferred over its ``databases`` mirrors), else from the longest channel.
        """
        candidates: list[tuple[int, bool, str]] = []
        for name in self.events:
            parts = name.split(".")
            if "*" in parts:
                continue
            if parts[-1] in ACTIONS:
                parts = parts[:-1]
            elif len(parts) > 1 and parts[-2] in ACTIONS:  # e.g. users.U.update.name
                parts = parts[:-2]
            candidates.append((len(parts), parts[0] == "tablesdb", ".".join(parts)))
        if not candidates:
            candidates = [(len(c.split(".")), c.startswith("tablesdb."), c)
                          for c in self.channels if c.split(".")[-1] not in ACTIONS]
        return max(candidates)[2] if candidates else None

    @property
    def message_event(self) -> str | None:
        """The event name a topic message was published with (``rtcli publish --event NAME``),
        which its payload carries as ``$event``; None for other events."""
        name = self.payload.get("$event")
        if not isinstance(name, str) or not name or not (self.resource or "").startswith("topics."):
            return None
        return name

    @property
    def action(self) -> str | None:
        """create|update|upsert|delete (or a more specific suffix like ``update.name``'s ``update``)."""
        for name in self.events:
            parts = name.split(".")
            if parts[-1] in ACTIONS:
                return parts[-1]
            if len(parts) > 1 and parts[-2] in ACTIONS:
                return parts[-2]
        return None


class ConnectionState(StrEnum):
    """Where the client's connection stands; compare with ``is``. A ``StrEnum``: ``--json``
    output and the monitor show the same words as before."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"  # after a failure, waiting ``delay`` before the next attempt
    CLOSED = "closed"  # for good: the stream ends


@dataclass(frozen=True)
class StateChange:
    """Connection state. ``reconnect`` is True for a connection that is not the first one."""

    state: ConnectionState
    attempt: int = 0
    delay: float | None = None
    error: str | None = None
    reconnect: bool = False


@dataclass(frozen=True)
class Subscribed:
    """The server's reply to a subscribe frame: its ``subscriptions`` items, unchanged."""

    subscriptions: list[dict[str, Any]]
    reconnect: bool = False

    def not_resumed(self) -> list[dict[str, Any]]:
        """Items where the server could not replay from the requested point (events may be lost)."""
        return [s for s in self.subscriptions if s.get("resumed") is False]


@dataclass(frozen=True)
class ServerError:
    """An error frame the server sent without closing (e.g. 1003 for an invalid query)."""

    code: int
    message: str


@dataclass(frozen=True)
class Gap:
    """rtcli extension: the server dropped ``dropped`` events for these subscriptions (``drop`` or
    ``latest`` slow-consumer policy). They are not replayed."""

    subscriptions: list[str]
    dropped: int


@dataclass(frozen=True)
class Pong:
    rtt: float


Item = Event | StateChange | Subscribed | ServerError | Gap | Pong


# ---------------------------------------------------------------------------------------------
# Helpers


def realtime_url(endpoint: str, project: str) -> str:
    """``http(s)://host/v1`` -> ``ws(s)://host/v1/realtime?project=<project>``."""
    endpoint = endpoint.rstrip("/")
    if endpoint.startswith("https://"):
        endpoint = "wss://" + endpoint[len("https://"):]
    elif endpoint.startswith("http://"):
        endpoint = "ws://" + endpoint[len("http://"):]
    from urllib.parse import quote

    return f"{endpoint}/realtime?project={quote(project, safe='')}"


def format_since_time(dt: datetime) -> str:
    """The server's datetime format: ``YYYY-MM-DDTHH:MM:SS.mmm+00:00`` in UTC."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+00:00"


def local_time(timestamp: str | None, unreadable_width: int | None = None) -> str:
    """``2026-08-21T13:42:57.123+00:00`` -> ``15:42:57.123`` in local time. An unparseable
    input is shown as it is, cut to ``unreadable_width`` characters if given."""
    if not timestamp:
        return "--:--:--.---"
    try:
        dt = datetime.fromisoformat(timestamp).astimezone()
    except ValueError:
        return timestamp[:unreadable_width]
    return dt.strftime("%H:%M:%S.") + f"{dt.microsecond // 1000:03d}"


def parse_since(value: str | None, now: datetime | None = None) -> str | None:
    """Turn a user's ``--since`` into what the server takes.

    ``beginning`` stays; a duration (``30s``, ``10m``, ``2h``, ``1d``, ``1w``) becomes now minus
    that, as a UTC datetime; an ISO-8601 datetime is normalised to UTC (a naive one is read as
    local time, which is what a person at a terminal means); anything else is an opaque cursor.
    Raises ValueError for an empty string.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        raise ValueError("--since must not be empty")
    if value.lower() == BEGINNING:
        return BEGINNING
    now = now or datetime.now(UTC)
    m = _DURATION.match(value)
    if m:
        return format_since_time(now - timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)]))
    if re.match(r"^\d{4}-\d\d-\d\d", value):
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"not a datetime: {value!r}") from None
        if dt.tzinfo is None:
            dt = dt.astimezone()  # naive: local time
        return format_since_time(dt)
    return value


def backoff_delay(attempt: int, initial: float = 0.5, maximum: float = 10.0, jitter: float = 0.2) -> float:
    """Delay before reconnect attempt ``attempt`` (0-based): initial * 2^attempt, capped, ±jitter."""
    base = min(maximum, initial * (2 ** min(attempt, 30)))
    return round(base * random.uniform(1 - jitter, 1 + jitter), 3)
