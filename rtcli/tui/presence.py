"""The presence pane's state, without Textual: who is present, from a REST snapshot kept live by
the ``presences`` channel's events. Pure Python; what needs the time takes ``now`` (the screen's
clock, for highlights) or ``wall`` (Unix time, for ages and expiries).

Contracts:

- ``PresenceBoard`` holds one ``PresenceEntry`` per presence ID, in the server's list order
  (created, then ID), so a change never moves a row. ``apply(event data, now)`` takes one
  ``presences.<id>.create|update|upsert|delete`` event: a create or update replaces the entry
  in place; a delete marks it ``gone``, and it stays listed (highlighted) for ``highlight``
  seconds before ``prune(now)`` drops it. Every change is highlighted for ``highlight`` seconds.
- Loading: call ``begin_load()`` once the ``presences`` subscription is confirmed (so that every
  later change arrives as an event), fetch the list, then ``finish_load(token, presences, now)``.
  The snapshot replaces the entries except those that events touched since ``begin_load``:
  events arrive in commit order, so the last one for a presence is at least as new as the
  snapshot. On a reload (after a reconnect) what the snapshot adds or lacks is highlighted as
  a create or a delete; the first load highlights nothing. The token of an earlier
  ``begin_load`` is ignored, so a slow old load cannot overwrite a newer one.
- ``changes`` counts every change, so a widget can skip redraws when nothing happened.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rtcli.client.summary import summarize

HIGHLIGHT = 3.0
CREATE, UPDATE, DELETE = "create", "update", "delete"
# Metadata keys an app might put a display name under (the monitor cannot look users up).
NAME_KEYS = ("name", "displayName", "username", "userName")
_FIELDS = ("status", "source", "expires_at", "metadata")


def is_presence_event(data: Mapping[str, Any]) -> bool:
    events = data.get("events") or ()
    return bool(events) and str(events[0]).startswith("presences.")


def parse_time(value: Any) -> float | None:
    """An ISO 8601 timestamp as Unix time; None when missing or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def human_duration(seconds: float) -> str:
    """``4s``, ``12m``, ``3h``, ``2d`` (whole units, rounded down; negative counts as 0)."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


@dataclass
class PresenceEntry:
    """One presence as the pane shows it. ``change`` and ``changed_at`` (screen clock) drive the
    highlight; ``changed`` names the fields the last update changed."""

    id: str
    user_id: str
    status: str
    source: str
    created_at: str
    updated_at: str
    expires_at: str
    metadata: dict[str, Any]
    change: str = ""
    changed_at: float = 0.0
    changed: frozenset[str] = frozenset()
    gone: bool = False
    _created: float | None = field(default=None, repr=False)
    _expires: float | None = field(default=None, repr=False)

    @classmethod
    def from_model(cls, model: Mapping[str, Any]) -> PresenceEntry:
        metadata = model.get("metadata")
        entry = cls(id=str(model.get("$id") or ""), user_id=str(model.get("userId") or ""),
                    status=str(model.get("status") or ""), source=str(model.get("source") or ""),
                    created_at=str(model.get("$createdAt") or ""), updated_at=str(model.get("$updatedAt") or ""),
                    expires_at=str(model.get("expiresAt") or ""),
                    metadata=dict(metadata) if isinstance(metadata, Mapping) else {})
        entry._created = parse_time(entry.created_at)
        entry._expires = parse_time(entry.expires_at)
        return entry

    def differs(self, other: PresenceEntry) -> frozenset[str]:
        """The shown fields that differ. A realtime presence's ``expiresAt`` moves on with every
        message from its connection; that is not a change worth showing."""
        quiet = {"expires_at"} if self.source == other.source == "realtime" else set()
        return frozenset(f for f in _FIELDS if f not in quiet and getattr(self, f) != getattr(other, f))

    def flash(self, now: float, highlight: float = HIGHLIGHT) -> str:
        """The change to highlight at ``now`` ('' when none); a gone entry stays a delete."""
        if self.gone:
            return DELETE
        return self.change if self.change and now - self.changed_at < highlight else ""

    def age(self, wall: float) -> str:
        """How long it has been present (since it was created), e.g. ``12m``."""
        return human_duration(wall - self._created) if self._created is not None else "?"

    def expiry(self, wall: float) -> str:
        """When it ends: a realtime presence with its connection (the server refreshes its
        ``expiresAt`` without an event, so a countdown would be wrong); an API one at
        ``expiresAt``, or never."""
        if self.source == "realtime":
            return "with socket"
        if self._expires is None:
            return "never"
        left = self._expires - wall
        return f"in {human_duration(left)}" if left > 0 else "expired"

    def summary(self, width: int, skip: str = "") -> str:
        """The metadata as ``key=value`` pairs (without the key ``skip``), cut to ``width``."""
        shown = {k: v for k, v in self.metadata.items() if k != skip} if skip else self.metadata
        return summarize(shown, width=width) if shown else ""

    def name_key(self) -> str:
        """The metadata key that names the user ('' if none does)."""
        return next((k for k in NAME_KEYS if isinstance(self.metadata.get(k), str) and self.metadata[k]), "")


class PresenceBoard:
    """See the module docstring."""

    def __init__(self, highlight: float = HIGHLIGHT) -> None:
        self.highlight = highlight
        self.entries: dict[str, PresenceEntry] = {}
        self.names: dict[str, str] = {}  # user ID -> name, where known (the signed-in user)
        self.me: str | None = None  # the signed-in user's ID
        self.loaded = False  # a snapshot has been taken in at least once
        self.loading = False
        self.error: str | None = None  # why the last load failed
        self.loads = 0  # snapshots taken in
        self.changes = 0
        self._token = 0
        self._touched: set[str] = set()
        self._order: list[PresenceEntry] | None = None

    def __len__(self) -> int:
        """Presences present (those leaving are not counted)."""
        return sum(1 for e in self.entries.values() if not e.gone)

    # --- loading ---------------------------------------------------------------------------

    def begin_load(self) -> int:
        self._token += 1
        self.loading = True
        self._touched = set()
        return self._token

    def finish_load(self, token: int, presences: Iterable[Mapping[str, Any]], now: float) -> bool:
        """Take in a snapshot; False (and nothing changed) if ``token`` is not the latest load's."""
        if token != self._token or not self.loading:
            return False
        first = not self.loaded
        snapshot = {e.id: e for e in map(PresenceEntry.from_model, presences) if e.id}
        entries: dict[str, PresenceEntry] = {}
        for pid, new in snapshot.items():
            old = self.entries.get(pid)
            if pid in self._touched and old is not None:
                entries[pid] = old  # an event since the load began is at least as new
                continue
            if pid in self._touched:
                continue  # deleted (and pruned) since the load began
            if old is not None and not old.gone:
                diff = new.differs(old)
                if diff:
                    new.change, new.changed_at, new.changed = UPDATE, now, diff
                else:
                    new.change, new.changed_at, new.changed = old.change, old.changed_at, old.changed
            elif not first:
                new.change, new.changed_at = CREATE, now
            entries[pid] = new
        for pid, old in self.entries.items():
            if pid in entries:
                continue
            if pid in self._touched:
                entries[pid] = old  # created by an event after the snapshot was read
            elif not old.gone:
                old.gone, old.change, old.changed_at = True, DELETE, now  # left while we were away
                entries[pid] = old
            elif now - old.changed_at < self.highlight:
                entries[pid] = old
        self.entries = entries
        self.loaded, self.loading, self.error = True, False, None
        self._touched = set()
        self.loads += 1
        self._changed()
        return True

    def fail_load(self, token: int, error: str) -> None:
        if token == self._token:
            self.loading, self.error = False, error
            self._touched = set()
            self._changed()

    # --- events ----------------------------------------------------------------------------

    def apply(self, data: Mapping[str, Any], now: float) -> bool:
        """One event's data; True if it changed the board (False: not a presence event)."""
        if not is_presence_event(data):
            return False
        payload = data.get("payload")
        if not isinstance(payload, Mapping) or not payload.get("$id"):
            return False
        action = str(data["events"][0]).rsplit(".", 1)[-1]
        new = PresenceEntry.from_model(payload)
        old = self.entries.get(new.id)
        if self.loading:
            self._touched.add(new.id)
        if action == DELETE:
            if old is None or old.gone:
                return False
            old.gone, old.change, old.changed_at = True, DELETE, now
        elif old is None or old.gone:
            new.change, new.changed_at = CREATE, now
            self.entries[new.id] = new
        else:
            new.change, new.changed_at, new.changed = UPDATE, now, new.differs(old)
            self.entries[new.id] = new
        self._changed()
        return True

    def apply_many(self, datas: Iterable[Mapping[str, Any]], now: float) -> int:
        return sum(self.apply(d, now) for d in datas)

    def prune(self, now: float) -> bool:
        """Drop the gone entries whose highlight is over; True if any was dropped."""
        done = [pid for pid, e in self.entries.items() if e.gone and now - e.changed_at >= self.highlight]
        for pid in done:
            del self.entries[pid]
        if done:
            self._changed()
        return bool(done)

    def _changed(self) -> None:
        self.changes += 1
        self._order = None

    # --- reading ---------------------------------------------------------------------------

    def rows(self) -> list[PresenceEntry]:
        """Entries in the server's list order: created, then ID."""
        if self._order is None:
            self._order = sorted(self.entries.values(), key=lambda e: (e.created_at, e.id))
        return self._order

    def name_of(self, entry: PresenceEntry) -> str:
        """The user's name if known (the signed-in user, or a name in the metadata), else the user ID."""
        name = self.names.get(entry.user_id)
        if not name:
            key = entry.name_key()
            name = entry.metadata[key] if key else ""
        return name or entry.user_id

    def set_name(self, user_id: str, name: str, me: bool = False) -> None:
        self.names[user_id] = name
        if me:
            self.me = user_id
        self._changed()
