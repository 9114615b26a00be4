"""The realtime connection as the monitor shows it. Pure Python, no Textual: what needs the time
takes it (``now`` on the screen's clock, ``wall`` in Unix time).

``Connection.change(...)`` takes each state the realtime client reports and returns the text of
the marker row to put in the table, if any: when the connection comes back after being lost, the
marker says when it was lost and for how long (the missed events follow it, replayed from the
last cursor). ``header(now)`` is what the header shows: the state and, while reconnecting, the
countdown to the next attempt with the last error.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass


class Link(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"
    FAILED = "failed"

    @property
    def live(self) -> bool:
        """Events flow (only then are rates, dots and presences shown as live)."""
        return self is Link.CONNECTED

    @property
    def down(self) -> bool:
        """It was up and is not: the screen is dimmed."""
        return self in (Link.RECONNECTING, Link.CLOSED, Link.FAILED)

    @classmethod
    def of(cls, state: str) -> Link:
        try:
            return cls(state)
        except ValueError:
            return cls.CONNECTING


@dataclass
class Connection:
    link: Link = Link.CONNECTING
    at: float = 0.0  # screen clock of the last change
    delay: float | None = None  # seconds to the next attempt, while reconnecting
    error: str | None = None
    lost_at: float | None = None  # wall time it went down

    def change(self, state: str, *, at: float, wall: float, delay: float | None = None, error: str | None = None,
               reconnect: bool = False) -> str | None:
        was_live = self.link.live
        self.link, self.at, self.delay, self.error = Link.of(state), at, delay, error
        if was_live and not self.link.live:
            self.lost_at = wall
        if self.link is Link.CONNECTED and reconnect:
            lost = ""
            if self.lost_at is not None:
                lost = f" (lost at {hms(self.lost_at)}, {wall - self.lost_at:.0f} s offline)"
            self.lost_at = None
            return f"reconnected at {hms(wall)}{lost}: missed events follow, replayed from the last cursor"
        return None

    def header(self, now: float) -> tuple[str, str]:
        if self.link is Link.RECONNECTING and self.delay is not None:
            left = max(0.0, self.at + self.delay - now)
            why = f" ({self.error})" if self.error else ""
            return "reconnecting", f"in {left:.0f} s{why}"
        if self.link is Link.FAILED:
            return "failed", self.error or ""
        return self.link.value, ""


def hms(wall: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(wall))
