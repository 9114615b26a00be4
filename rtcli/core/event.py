"""A published event, its encoded frame, and who may receive it over an API key.

Events are values: the store writes them to the log in the same transaction as the change, the
broker carries them between nodes, and the hub fans them out. What travels beside an event
(control flags, the function execution that caused it) is a field of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rtcli import protocol

# Pseudo-role under which API-key connections are indexed: they may read every event their
# scopes allow.
KEY_ROLE = "#key"


@dataclass(frozen=True, slots=True)
class Origin:
    """The function execution on whose behalf an event is written: the function and how many
    event triggers deep it runs (its key carries it, the request's actor holds it, and the
    transaction it writes in stamps it on every event). The trigger guard reads it so that a
    function never triggers itself and chains of triggers stop."""

    function: str
    depth: int


@dataclass(frozen=True, slots=True)
class Controls:
    """What an event asks of the nodes that deliver it, beside being delivered (not part of the
    frame; kept in the event log so every node, and a node replaying the log, applies it).

    - ``refresh_roles``: (user id, its roles now) after a membership, label or status change; the
      hub applies it before matching, so this very event already reaches the user's new roles.
    - ``revoke_session``: a deleted session; the hub turns that session's connections (of the
      event's ``user_id``) into guests before matching.
    - ``reload_keys``: the project's API keys changed; every node's delivery loop reloads them
      (they are kept in memory).
    - ``reload_functions``: the project's functions changed; every node's delivery loop reloads
      its event triggers (kept in memory).
    - ``exclude``: the connection that published this topic message and asked not to get it
      back; the hub leaves it out of the fan-out.
    """

    refresh_roles: tuple[str, frozenset[str]] | None = None
    revoke_session: str | None = None
    reload_keys: bool = False
    reload_functions: bool = False
    exclude: str | None = None


NO_CONTROLS = Controls()


@dataclass(slots=True)
class Event:
    """A published event. ``roles`` are the roles that may read it (``any`` admits everyone;
    an empty list admits only API-key connections). ``seq`` is its position in the event log."""

    project: str
    events: list[str]
    channels: list[str]
    roles: list[str]
    payload: dict[str, Any]
    timestamp: str
    seq: int = 0
    cursor: str | None = None
    user_id: str | None = None
    permissions_changed: bool = False
    controls: Controls = field(default=NO_CONTROLS)
    origin: Origin | None = None  # the function execution that wrote it, if any
    # What a newer event replaces it as under the ``latest`` slow-consumer policy, when that is
    # not its resource: a topic message supersedes its publisher's previous one of the same name.
    supersedes: str | None = None
    created: float = 0.0  # unix time of the commit (for the commit-to-delivery latency metric)

    def data(self) -> dict[str, Any]:
        """The event frame's ``data`` without ``subscriptions``."""
        d: dict[str, Any] = {"events": self.events, "channels": self.channels, "timestamp": self.timestamp,
             "payload": self.payload}
        if self.cursor is not None:
            d["cursor"] = self.cursor
        return d

    @property
    def resource(self) -> str:
        """The resource this event is about (its most specific name without the action), or what
        it supersedes; a newer event of the same resource replaces it under ``latest``."""
        if self.supersedes is not None:
            return self.supersedes
        primary = self.events[0]
        for action in (".create", ".update", ".upsert", ".delete"):
            i = primary.rfind(action)
            if i > 0:
                return primary[:i]
        return primary

    def frame_prefix(self) -> str:
        """The encoded event frame up to (and including) ``"subscriptions":``."""
        body: str = protocol.dumps(self.data())
        return '{"type":"event","data":' + body[:-1] + ',"subscriptions":'


class SplitFrame(tuple[bytes, bytes]):
    """An encoded event frame in two parts, ``SplitFrame((prefix, suffix))``: the prefix shared
    by every connection (encoded once per event) and the connection's own suffix (its
    subscription ids). A transport can write both without joining them; ``text()`` joins them
    where one string is needed. (No ``__new__`` of our own: tuple's C constructor is cheaper,
    and one is built per delivery.)"""

    __slots__ = ()

    def text(self) -> str:
        return (self[0] + self[1]).decode()


# What a connection's sink is given: a ``SplitFrame`` for live events, a ``str`` otherwise.
Frame = str | SplitFrame


def suffix_of(subscription_ids: list[str]) -> bytes:
    return ('["' + '","'.join(subscription_ids) + '"]}}').encode()


def encode_frame(prefix: str, subscription_ids: list[str]) -> str:
    # Subscription ids are CustomIds ([A-Za-z0-9._-], checked by the session): they need no
    # JSON escaping, so joining them is exact and several times cheaper than a JSON encoder.
    return prefix + '["' + '","'.join(subscription_ids) + '"]}}'


_SCOPES = {"tablesdb": "rows.read", "databases": "rows.read", "buckets": "files.read", "functions": "executions.read",
           "teams": "teams.read", "users": "users.read", "presences": "presences.read", "topics": "topics.read"}


def scope_of(event: Event) -> str:
    """The API-key scope needed to receive an event over a key-authenticated connection."""
    return _SCOPES.get(event.events[0].split(".", 1)[0], "events.read")


def key_may_receive(scopes: frozenset[str] | None, event: Event) -> bool:
    """Whether a connection with these key scopes (None: not a key) may receive the event: the
    same rule for live delivery and for replay from the log."""
    return scopes is None or "*" in scopes or scope_of(event) in scopes
