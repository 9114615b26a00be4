"""The subscription hub: indexes live subscriptions and fans events out to them.

Index: ``(project, channel) -> role -> {connection}``. A connection is stored under each of its
roles, so an event touches only the connections subscribed to one of its channels under a role
that may read it; an event readable by ``any`` touches every role bucket of its channels. The
cost of an event is proportional to its candidate subscribers, never to all connections.

Each event is encoded once: the frame up to its ``subscriptions`` list is a shared prefix, and
each connection gets that prefix plus its own list of matching subscription ids.

No I/O here: a connection's ``sink`` is a plain callable supplied by the adapter (it enqueues
bytes on a bounded queue and never blocks).
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from itertools import repeat
from dataclasses import dataclass, field
from collections.abc import Callable

from rtcli import protocol
from rtcli.core.channels import is_pattern, pattern_match
from rtcli.core.queries import Matcher

log = logging.getLogger("rtcli.hub")

# Pseudo-role under which API-key connections are indexed: they may read every event.
KEY_ROLE = "#key"

# The function execution (id, trigger depth) on whose behalf the current request writes, if
# any: set by the HTTP adapter for an execution's key, stamped on events by the store. It lets
# the trigger guard stop a function from triggering itself.
event_origin: ContextVar[tuple[str, int] | None] = ContextVar("event_origin", default=None)


@dataclass(slots=True)
class Event:
    """A published event. ``roles`` are the roles that may read it (``any`` admits everyone;
    an empty list admits only API-key connections). ``seq`` is its position in the event log."""

    project: str
    events: list[str]
    channels: list[str]
    roles: list[str]
    payload: dict
    timestamp: str
    seq: int = 0
    cursor: str | None = None
    user_id: str | None = None
    permissions_changed: bool = False
    # Applied by the hub before matching (not part of the frame): a user's fresh roles after a
    # membership change, and a session whose connections fall back to guests.
    refresh_roles: tuple[str, frozenset[str]] | None = None
    revoke_session: str | None = None
    # The project's API keys changed: every node reloads them (they are kept in memory).
    reload_keys: bool = False
    origin: tuple[str, int] | None = None  # (function id, depth) when written by an execution
    exclude: str | None = None  # the connection that published it and asked not to receive it
    created: float = 0.0  # unix time of the commit (for the commit-to-delivery latency metric)

    def data(self) -> dict:
        """The event frame's ``data`` without ``subscriptions``."""
        d = {"events": self.events, "channels": self.channels, "timestamp": self.timestamp,
             "payload": self.payload}
        if self.cursor is not None:
            d["cursor"] = self.cursor
        return d

    @property
    def resource(self) -> str:
        """The resource this event is about (its most specific name without the action)."""
        primary = self.events[0]
        for action in (".create", ".update", ".upsert", ".delete"):
            i = primary.rfind(action)
            if i > 0:
                return primary[:i]
        return primary

    def frame_prefix(self) -> str:
        """The encoded event frame up to (and including) ``"subscriptions":``."""
        body = protocol.dumps(self.data())
        return '{"type":"event","data":' + body[:-1] + ',"subscriptions":'


class SplitFrame(tuple):
    """An encoded event frame in two parts, ``SplitFrame((prefix, suffix))``: the prefix shared
    by every connection (encoded once per event) and the connection's own suffix (its
    subscription ids). A transport can write both without joining them; ``text()`` joins them
    where one string is needed. (No ``__new__`` of our own: tuple's C constructor is cheaper,
    and one is built per delivery.)"""

    __slots__ = ()

    def text(self) -> str:
        return (self[0] + self[1]).decode()


def suffix_of(subscription_ids: list[str]) -> bytes:
    return ('["' + '","'.join(subscription_ids) + '"]}}').encode()


def encode_frame(prefix: str, subscription_ids: list[str]) -> str:
    # Subscription ids are CustomIds ([A-Za-z0-9._-], checked by the session): they need no
    # JSON escaping, so joining them is exact and several times cheaper than a JSON encoder.
    return prefix + '["' + '","'.join(subscription_ids) + '"]}}'


@dataclass(slots=True, eq=False)
class Subscription:
    id: str
    channels: list[str]
    queries: list[str]
    matcher: Matcher | None = None
    # What to do when the connection cannot keep up (rtcli extension): "close" (default; the
    # client resumes from its cursor), "drop" (skip events, then send a gap marker) or
    # "latest" (keep only the newest queued event per resource).
    policy: str = "close"

    def accepts(self, payload: dict) -> bool:
        return self.matcher is None or self.matcher(payload)

    def on_channels(self, channels: list[str]) -> bool:
        """Whether one of its channels (or channel patterns) matches one of ``channels``."""
        mine = self.channels
        return any(c in channels if not is_pattern(c) else any(pattern_match(c, ch) for ch in channels) for c in mine)


@dataclass(eq=False, slots=True)
class HubConnection:
    """One live connection as the hub sees it.

    ``sink(frame, seq, resource, ids)`` delivers an encoded frame (a ``SplitFrame`` for live
    events, a ``str`` otherwise); while ``holding`` (a replay
    is under way), deliveries are kept in ``held`` instead and released in order afterwards.
    """

    id: str
    project: str
    roles: frozenset[str]
    sink: Callable[[str, int, str, list[str]], None]
    user_id: str | None = None
    session_id: str | None = None
    scopes: frozenset[str] | None = None  # for API-key connections: what they may receive
    on_roles: Callable[[], None] | None = None  # told when the hub changes this connection's roles
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    by_channel: dict[str, list[Subscription]] = field(default_factory=dict)
    patterns: dict[str, None] = field(default_factory=dict)  # the subscribed channel patterns
    holding: int = 0
    held: list[tuple[str, int, str, list[str]]] = field(default_factory=list)
    # channel -> (ids, encoded suffix) for the channels whose subscriptions have no query:
    # then the ids an event gets through that channel never depend on the event. Built on
    # first use, dropped whenever the connection's subscriptions or roles change.
    plain: dict[str, tuple[list[str], bytes]] | None = None

    def deliver(self, frame: str, seq: int, resource: str, ids: list[str]) -> None:
        if self.holding:
            self.held.append((frame, seq, resource, ids))
        else:
            self.sink(frame, seq, resource, ids)

    def index_roles(self) -> frozenset[str]:
        return self.roles


class _Node:
    """A node of the pattern trie: one channel segment ("*" and ">" included)."""

    __slots__ = ("children", "by_role")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.by_role: dict[str, dict[HubConnection, None]] = {}


class Hub:
    """Subscription index and fan-out. Single-threaded (one event loop); no awaits inside.

    Exact channels are looked up in a dict; channel patterns (``*``, ``>``) in a trie walked
    once per event channel, so patterns too cost in proportion to what can match.
    """

    def __init__(self) -> None:
        self._index: dict[tuple[str, str], dict[str, dict[HubConnection, None]]] = {}
        # (project, exact channel) -> every connection subscribed to it, whatever its roles:
        # an event readable by ``any`` visits each connection once, not once per role bucket.
        self._all: dict[tuple[str, str], dict[HubConnection, None]] = {}
        self._patterns: dict[str, _Node] = {}
        self.connections: dict[str, HubConnection] = {}
        self.by_user: dict[tuple[str, str], dict[HubConnection, None]] = {}
        # The highest log position dispatched so far, per project: a replay covers the log up
        # to this position, and live events after it are held until the replay is done.
        self.last_seq: dict[str, int] = {}
        self.dispatched = 0
        self.delivered = 0

    # --- connections -------------------------------------------------------------------

    def add(self, conn: HubConnection) -> None:
        self.connections[conn.id] = conn
        self._index_user(conn)

    def _index_user(self, conn: HubConnection) -> None:
        if conn.user_id:
            self.by_user.setdefault((conn.project, conn.user_id), {})[conn] = None

    def _unindex_user(self, conn: HubConnection) -> None:
        if conn.user_id:
            conns = self.by_user.get((conn.project, conn.user_id))
            if conns is not None:
                conns.pop(conn, None)
                if not conns:
                    del self.by_user[(conn.project, conn.user_id)]

    def remove(self, conn: HubConnection) -> None:
        for sub in list(conn.subscriptions.values()):
            self._unindex(conn, sub)
        conn.subscriptions.clear()
        conn.by_channel.clear()
        self._unindex_user(conn)
        self.connections.pop(conn.id, None)

    def set_roles(self, conn: HubConnection, roles: frozenset[str], user_id: str | None) -> None:
        """Move a connection (and its subscriptions) to new roles, keeping subscription ids."""
        subs = list(conn.subscriptions.values())
        for sub in subs:
            self._unindex(conn, sub)
        self._unindex_user(conn)
        conn.roles = roles
        conn.user_id = user_id
        self._index_user(conn)
        # Rebuild the per-channel lists from scratch (they were emptied by _unindex).
        conn.by_channel.clear()
        for sub in subs:
            self._reindex(conn, sub)

    # --- subscriptions -----------------------------------------------------------------

    def subscribe(self, conn: HubConnection, sub: Subscription) -> None:
        """Add or replace (by id) a subscription of a connection."""
        old = conn.subscriptions.get(sub.id)
        if old is not None:
            self._unindex(conn, old)
        conn.subscriptions[sub.id] = sub
        self._reindex(conn, sub)

    def unsubscribe(self, conn: HubConnection, sub_id: str) -> bool:
        sub = conn.subscriptions.pop(sub_id, None)
        if sub is None:
            return False
        self._unindex(conn, sub)
        return True

    def _by_role(self, project: str, ch: str, create: bool) -> dict | None:
        """Where the connections subscribed to ``ch`` are indexed by role (a pattern's trie node)."""
        if not is_pattern(ch):
            return self._index.setdefault((project, ch), {}) if create else self._index.get((project, ch))
        node = self._patterns.setdefault(project, _Node()) if create else self._patterns.get(project)
        for seg in ch.split("."):
            if node is None:
                return None
            node = node.children.setdefault(seg, _Node()) if create else node.children.get(seg)
        return node.by_role if node is not None else None

    def _reindex(self, conn: HubConnection, sub: Subscription) -> None:
        conn.plain = None
        for ch in sub.channels:
            subs = conn.by_channel.setdefault(ch, [])
            subs.append(sub)
            if len(subs) == 1:
                if is_pattern(ch):
                    conn.patterns[ch] = None
                else:
                    self._all.setdefault((conn.project, ch), {})[conn] = None
                by_role = self._by_role(conn.project, ch, True)
                for role in conn.index_roles():
                    by_role.setdefault(role, {})[conn] = None

    def _unindex(self, conn: HubConnection, sub: Subscription) -> None:
        conn.plain = None
        for ch in sub.channels:
            subs = conn.by_channel.get(ch)
            if not subs:
                continue
            try:
                subs.remove(sub)
            except ValueError:
                continue
            if subs:
                continue
            del conn.by_channel[ch]
            conn.patterns.pop(ch, None)
            everyone = self._all.get((conn.project, ch))
            if everyone is not None:
                everyone.pop(conn, None)
                if not everyone:
                    del self._all[(conn.project, ch)]
            by_role = self._by_role(conn.project, ch, False)
            if by_role is None:
                continue
            for role in conn.index_roles():
                bucket = by_role.get(role)
                if bucket is not None:
                    bucket.pop(conn, None)
                    if not bucket:
                        del by_role[role]
            if not by_role and not is_pattern(ch):
                del self._index[(conn.project, ch)]
            # (empty trie nodes are left in place: bounded by the patterns ever used)

    # --- matching and fan-out ----------------------------------------------------------

    def _pattern_buckets(self, project: str, channels: list[str]) -> list[tuple[str, dict]]:
        """(pattern, by-role index) of every subscribed pattern that matches one of the channels."""
        root = self._patterns.get(project)
        if root is None:
            return []
        found: list[tuple[str, dict]] = []

        def walk(node: _Node, parts: list[str], i: int, path: list[str]) -> None:
            if i == len(parts):
                if node.by_role:
                    found.append((".".join(path), node.by_role))
                return
            tail = node.children.get(">")
            if tail is not None and tail.by_role:
                found.append((".".join([*path, ">"]), tail.by_role))
            for key in (parts[i], "*"):
                child = node.children.get(key)
                if child is not None:
                    walk(child, parts, i + 1, [*path, key])

        for ch in channels:
            walk(root, ch.split("."), 0, [])
        return found

    def _hits(self, event: Event):
        """Each connection that may receive the event, with the channels (or patterns) it is
        subscribed through, as ``(connection, keys)`` pairs. One pass over the index buckets:
        no per-connection scan of the event's channels.

        The common case of fan-out, an event readable by ``any`` whose subscribers all came
        through one channel, walks that channel's bucket as it is, with no per-connection
        bookkeeping at all."""
        everyone = "any" in event.roles
        project = event.project
        patterns = self._pattern_buckets(project, event.channels) if self._patterns else []
        if everyone and not patterns:
            found = [(ch, bucket) for ch in event.channels if (bucket := self._all.get((project, ch)))]
            if len(found) == 1:
                ch, bucket = found[0]
                return zip(bucket, repeat([ch]))
        hits: dict[HubConnection, list[str]] = {}
        roles = event.roles
        buckets_of = []
        for ch in event.channels:
            if everyone:
                bucket = self._all.get((project, ch))
                if bucket:
                    buckets_of.append((ch, (bucket,)))
            else:
                by_role = self._index.get((project, ch))
                if by_role:
                    buckets_of.append((ch, [by_role.get(role) for role in (*roles, KEY_ROLE)]))
        for key, by_role in patterns:
            buckets_of.append((key, by_role.values() if everyone else
                               [by_role.get(role) for role in (*roles, KEY_ROLE)]))
        for key, buckets in buckets_of:
            for bucket in buckets:
                if not bucket:
                    continue
                for conn in bucket:
                    keys = hits.get(conn)
                    if keys is None:
                        hits[conn] = [key]
                    elif key not in keys:  # a connection sits in one bucket per role
                        keys.append(key)
        return hits.items()

    def candidates(self, event: Event) -> dict[HubConnection, None]:
        """Connections subscribed to one of the event's channels under a role that may read it."""
        return {conn: None for conn, _ in self._hits(event)}

    @staticmethod
    def _ids(conn: HubConnection, keys: list[str], payload: dict) -> list[str]:
        ids: list[str] = []
        for key in keys:
            for sub in conn.by_channel.get(key, ()):
                if sub.id not in ids and sub.accepts(payload):
                    ids.append(sub.id)
        return ids

    def matching_ids(self, conn: HubConnection, event: Event) -> list[str]:
        """Ids of the connection's subscriptions that match the event (each listed once)."""
        keys = [ch for ch in event.channels if ch in conn.by_channel]
        keys += [p for p in conn.patterns if any(pattern_match(p, ch) for ch in event.channels)]
        return self._ids(conn, keys, event.payload)

    def _apply_controls(self, event: Event) -> None:
        if event.refresh_roles is not None:
            uid, roles = event.refresh_roles
            for conn in list(self.by_user.get((event.project, uid), ())):
                self.set_roles(conn, roles, uid)
                if conn.on_roles:
                    conn.on_roles()
        if event.revoke_session is not None and event.user_id:
            for conn in list(self.by_user.get((event.project, event.user_id), ())):
                if conn.session_id == event.revoke_session:
                    conn.session_id = None
                    self.set_roles(conn, frozenset({"guests"}), None)
                    if conn.on_roles:
                        conn.on_roles()

    def dispatch(self, event: Event) -> int:
        """Deliver one event to every matching connection; returns the number of frames."""
        if event.refresh_roles is not None or event.revoke_session is not None:
            self._apply_controls(event)
        if event.seq:
            self.last_seq[event.project] = max(self.last_seq.get(event.project, 0), event.seq)
        self.dispatched += 1
        prefix = None
        n = 0
        hits = self._hits(event)
        if event.exclude is not None:  # a topic message whose publisher asked not to get it back
            hits = [hit for hit in hits if hit[0].id != event.exclude]
        # The hot loop of fan-out: per connection, ideally two dict lookups and the sink call.
        for conn, keys in hits:
            if prefix is None:  # encoded once, only for an event that has an audience
                prefix = event.frame_prefix().encode()
                resource, seq, scope, payload = event.resource, event.seq, _scope_of(event), event.payload
            if conn.scopes is not None and "*" not in conn.scopes and scope not in conn.scopes:
                continue  # (key_may_receive, inlined on the hot path)
            cached = None
            if len(keys) == 1:
                plain = conn.plain
                cached = plain.get(keys[0]) if plain is not None else None
                if cached is None:
                    cached = self._plain(conn, keys[0])
            if cached is not None:
                ids, suffix = cached
            else:
                ids = self._ids(conn, keys, payload)
                if not ids:
                    continue
                suffix = suffix_of(ids)
            frame = SplitFrame((prefix, suffix))
            if conn.holding:
                conn.held.append((frame, seq, resource, ids))
            else:
                try:
                    conn.sink(frame, seq, resource, ids)
                except Exception:  # one broken connection must not cost the others this event
                    log.exception("delivery to %s failed", conn.id)
                    continue
            n += 1
        self.delivered += n
        return n

    @staticmethod
    def _plain(conn: HubConnection, key: str) -> tuple[list[str], bytes] | None:
        """The cache entry of one channel of a connection, if none of its subscriptions there
        has a query (the ids then never depend on the event)."""
        subs = conn.by_channel.get(key, ())
        if not subs or any(sub.matcher is not None for sub in subs):
            return None
        ids = list(dict.fromkeys(sub.id for sub in subs))
        entry = (ids, suffix_of(ids))
        if conn.plain is None:
            conn.plain = {}
        conn.plain[key] = entry
        return entry


_SCOPES = {"tablesdb": "rows.read", "databases": "rows.read", "buckets": "files.read", "functions": "executions.read",
           "teams": "teams.read", "users": "users.read", "presences": "presences.read", "topics": "topics.read"}


def _scope_of(event: Event) -> str:
    """The API-key scope needed to receive an event over a key-authenticated connection."""
    return _SCOPES.get(event.events[0].split(".", 1)[0], "events.read")


def key_may_receive(scopes: frozenset[str] | None, event: Event) -> bool:
    """Whether a connection with these key scopes (None: not a key) may receive the event: the
    same rule for live delivery and for replay from the log."""
    return scopes is None or "*" in scopes or _scope_of(event) in scopes
