"""The subscription hub: indexes live subscriptions and fans events out to them.

Two indexes, each paid once: ``(project, channel) -> {connection}`` (a subscription costs one
entry per channel, whatever its connection's roles) and ``(project, role) -> {connection}`` (a
connection costs one entry per role when it connects or its roles change, whatever it
subscribes to). An event readable by ``any`` visits the subscribers of its channels. Any other
event intersects the two: it walks whichever side is smaller, the subscribers of a channel
(keeping those holding one of the event's roles) or the holders of the event's roles (keeping
those subscribed to the channel). So a private event on a busy channel touches its few readers,
and a connection with thousands of team roles costs no more to subscribe than a guest.

Each event is encoded once: the frame up to its ``subscriptions`` list is a shared prefix, and
each connection gets that prefix plus its own list of matching subscription ids.

No I/O here: a connection's ``sink`` is a plain callable supplied by the adapter (it enqueues
bytes on a bounded queue and never blocks).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from collections.abc import Callable, Iterable
from itertools import repeat
from typing import Any

from rtcli.core.channels import is_pattern, pattern_match
from rtcli.core.event import KEY_ROLE, Event, Frame, SplitFrame, scope_of, suffix_of
from rtcli.core.queries import Matcher

log = logging.getLogger("rtcli.hub")
Held = tuple[Frame, int, str, list[str]]  # (frame, seq, resource, subscription ids) kept during a replay


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
    cost: int = 0  # the values its queries hold (queries.cost): the connection's budget counts them

    def accepts(self, payload: dict[str, Any]) -> bool:
        return self.matcher is None or self.matcher(payload)

    def on_channels(self, channels: list[str]) -> bool:
        """Whether one of its channels (or channel patterns) matches one of ``channels``."""
        mine = self.channels
        return any(c in channels if not is_pattern(c) else any(pattern_match(c, ch) for ch in channels) for c in mine)


@dataclass(eq=False, slots=True)
class HubConnection:
    """One live connection as the hub sees it.

    ``sink(frame, seq, resource, ids)`` delivers an encoded frame (a ``SplitFrame`` for live
    events, a ``str`` otherwise); while ``holding`` (a replay is under way), deliveries are
    kept in ``held`` instead and released in order afterwards. At most the hub's ``max_held``
    of them: past that ``held_full(held, entry)`` decides (the subscriptions' overflow policy:
    True when it dropped the entry or put it in the place of another); otherwise, or without
    it, they are dropped, ``held`` becomes None (``held_overflow``) and the adapter closes the
    connection as a slow consumer (the client resumes from its cursor).
    """

    id: str
    project: str
    roles: frozenset[str]
    sink: Callable[[Frame, int, str, list[str]], None]
    user_id: str | None = None
    session_id: str | None = None
    scopes: frozenset[str] | None = None  # for API-key connections: what they may receive
    on_roles: Callable[[], None] | None = None  # told when the hub changes this connection's roles
    held_full: Callable[[list[Held], Held], bool] | None = None  # see above
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    by_channel: dict[str, list[Subscription]] = field(default_factory=dict)
    patterns: dict[str, None] = field(default_factory=dict)  # the subscribed channel patterns
    holding: int = 0
    held: list[Held] | None = field(default_factory=list)
    # channel -> (ids, encoded suffix) for the channels whose subscriptions have no query:
    # then the ids an event gets through that channel never depend on the event. Built on
    # first use, dropped whenever the connection's subscriptions or roles change.
    plain: dict[str, tuple[list[str], bytes]] | None = None

    @property
    def held_overflow(self) -> bool:
        return self.held is None


Conns = dict[HubConnection, None]


class _Subscribers:
    """The connections subscribed to one channel (or pattern), and apart, those of them that are
    API keys: keys read every event (their scopes are checked at delivery), so a private event
    takes them as they are and looks among the others by role."""

    __slots__ = ("conns", "keyed")

    def __init__(self) -> None:
        self.conns: Conns = {}
        self.keyed: Conns = {}

    def add(self, conn: HubConnection) -> None:
        self.conns[conn] = None
        if KEY_ROLE in conn.roles:
            self.keyed[conn] = None

    def discard(self, conn: HubConnection) -> None:
        self.conns.pop(conn, None)
        self.keyed.pop(conn, None)


class _Node(_Subscribers):
    """A node of the pattern trie: one channel segment ("*" and ">" included)."""

    __slots__ = ("children",)

    def __init__(self) -> None:
        super().__init__()
        self.children: dict[str, _Node] = {}


class Hub:
    """Subscription index and fan-out. Single-threaded (one event loop); no awaits inside.

    Exact channels are looked up in a dict; channel patterns (``*``, ``>``) in a trie walked
    once per event channel, so patterns too cost in proportion to what can match. Trie nodes
    go when their last subscriber does.
    """

    def __init__(self, max_held: int = 0) -> None:
        self.max_held = max_held  # live frames held per connection during a replay (0: no limit)
        self._subscribers: dict[tuple[str, str], _Subscribers] = {}  # (project, exact channel) -> subscribers
        self._holders: dict[tuple[str, str], Conns] = {}  # (project, role) -> connections holding it
        self._patterns: dict[str, _Node] = {}
        self.connections: dict[str, HubConnection] = {}
        self.by_user: dict[tuple[str, str], Conns] = {}
        # The highest log position dispatched so far, per project: a replay covers the log up
        # to this position, and live events after it are held until the replay is done.
        self.last_seq: dict[str, int] = {}
        self.dispatched = 0
        self.delivered = 0

    # --- connections -------------------------------------------------------------------

    def add(self, conn: HubConnection) -> None:
        self.connections[conn.id] = conn
        self._index_holder(conn)

    def _index_holder(self, conn: HubConnection) -> None:
        for role in conn.roles:
            self._holders.setdefault((conn.project, role), {})[conn] = None
        if conn.user_id:
            self.by_user.setdefault((conn.project, conn.user_id), {})[conn] = None

    def _unindex_holder(self, conn: HubConnection) -> None:
        for role in conn.roles:
            _discard(self._holders, (conn.project, role), conn)
        if conn.user_id:
            _discard(self.by_user, (conn.project, conn.user_id), conn)

    def remove(self, conn: HubConnection) -> None:
        for sub in list(conn.subscriptions.values()):
            self._unindex(conn, sub)
        conn.subscriptions.clear()
        conn.by_channel.clear()
        if self.connections.pop(conn.id, None) is not None:
            self._unindex_holder(conn)

    def set_roles(self, conn: HubConnection, roles: frozenset[str], user_id: str | None) -> None:
        """Give a connection new roles (its subscriptions stay where they are, unless it stops or
        starts being an API key)."""
        self._unindex_holder(conn)
        was_key = KEY_ROLE in conn.roles
        conn.roles = roles
        conn.user_id = user_id
        self._index_holder(conn)
        if was_key != (KEY_ROLE in roles):
            for ch in conn.by_channel:
                subs = self._node(conn.project, ch, False) if ch in conn.patterns else \
                    self._subscribers.get((conn.project, ch))
                if subs is not None:
                    subs.discard(conn)
                    subs.add(conn)

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

    def _reindex(self, conn: HubConnection, sub: Subscription) -> None:
        conn.plain = None
        for ch in sub.channels:
            subs = conn.by_channel.setdefault(ch, [])
            subs.append(sub)
            if len(subs) == 1:
                if is_pattern(ch):
                    conn.patterns[ch] = None
                    node = self._node(conn.project, ch, True)
                    assert node is not None
                    node.add(conn)
                else:
                    subscribers = self._subscribers.get((conn.project, ch))
                    if subscribers is None:
                        subscribers = self._subscribers[(conn.project, ch)] = _Subscribers()
                    subscribers.add(conn)

    def _node(self, project: str, pattern: str, create: bool) -> _Node | None:
        node = self._patterns.setdefault(project, _Node()) if create else self._patterns.get(project)
        for seg in pattern.split("."):
            if node is None:
                return None
            node = node.children.setdefault(seg, _Node()) if create else node.children.get(seg)
        return node

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
            if ch in conn.patterns:
                del conn.patterns[ch]
                self._unindex_pattern(conn, ch)
            else:
                subscribers = self._subscribers.get((conn.project, ch))
                if subscribers is not None:
                    subscribers.discard(conn)
                    if not subscribers.conns:
                        del self._subscribers[(conn.project, ch)]

    def _unindex_pattern(self, conn: HubConnection, pattern: str) -> None:
        """Remove a connection from a pattern's node, then the nodes left with nothing below."""
        root = self._patterns.get(conn.project)
        if root is None:
            return
        path: list[tuple[_Node, str, _Node]] = []  # (parent, segment, node) from the root down
        node = root
        for seg in pattern.split("."):
            child = node.children.get(seg)
            if child is None:
                return
            path.append((node, seg, child))
            node = child
        node.discard(conn)
        for parent, seg, child in reversed(path):
            if child.conns or child.children:
                break
            del parent.children[seg]
        if not root.children:
            del self._patterns[conn.project]

    # --- matching and fan-out ----------------------------------------------------------

    def _pattern_buckets(self, project: str, channels: list[str]) -> list[tuple[str, _Subscribers]]:
        """(pattern, subscribers) of every subscribed pattern that matches one of the channels."""
        root = self._patterns.get(project)
        if root is None:
            return []
        found: list[tuple[str, _Subscribers]] = []

        def walk(node: _Node, parts: list[str], i: int, path: list[str]) -> None:
            if i == len(parts):
                if node.conns:
                    found.append((".".join(path), node))
                return
            tail = node.children.get(">")
            if tail is not None and tail.conns:
                found.append((".".join([*path, ">"]), tail))
            for key in (parts[i], "*"):
                child = node.children.get(key)
                if child is not None:
                    walk(child, parts, i + 1, [*path, key])

        for ch in channels:
            walk(root, ch.split("."), 0, [])
        return found

    def _hits(self, event: Event) -> Iterable[tuple[HubConnection, list[str]]]:
        """Each connection that may receive the event, with the channels (or patterns) it is
        subscribed through, as ``(connection, keys)`` pairs.

        The common case of fan-out, an event readable by ``any`` whose subscribers all came
        through one channel, walks that channel's subscribers as they are, with no
        per-connection bookkeeping at all."""
        project = event.project
        buckets: list[tuple[str, _Subscribers]] = [
            (ch, subs) for ch in event.channels if (subs := self._subscribers.get((project, ch)))]
        if self._patterns:
            buckets += self._pattern_buckets(project, event.channels)
        if not buckets:
            return ()
        hits: dict[HubConnection, list[str]] = {}
        if "any" in event.roles:
            if len(buckets) == 1:
                ch, subs = buckets[0]
                return zip(subs.conns, repeat([ch]))
            for key, subs in buckets:
                for conn in subs.conns:
                    keys = hits.get(conn)
                    if keys is None:
                        hits[conn] = [key]
                    elif key not in keys:
                        keys.append(key)
            return hits.items()
        granted = set(event.roles)
        readers = [holders for role in granted if (holders := self._holders.get((project, role)))]
        n_readers = sum(map(len, readers))
        for key, subs in buckets:
            found: list[HubConnection] = list(subs.keyed)
            if n_readers:
                bucket = subs.conns
                if len(bucket) <= n_readers:  # fewer subscribers than readers: filter the subscribers
                    found += [conn for conn in bucket if not conn.roles.isdisjoint(granted)]
                else:  # filter the readers (one holding two of the roles comes twice: deduplicated below)
                    found += [conn for holders in readers for conn in holders if conn in bucket]
            for conn in found:
                keys = hits.get(conn)
                if keys is None:
                    hits[conn] = [key]
                elif key not in keys:
                    keys.append(key)
        return hits.items()

    def candidates(self, event: Event) -> dict[HubConnection, None]:
        """Connections subscribed to one of the event's channels under a role that may read it."""
        return {conn: None for conn, _ in self._hits(event)}

    @staticmethod
    def _ids(conn: HubConnection, keys: list[str], payload: dict[str, Any]) -> list[str]:
        """Ids of the subscriptions under ``keys`` that accept the payload, in order of first
        appearance. Each subscription is evaluated once, however many of the event's channels
        it is subscribed through: its queries are the costly part."""
        ids: list[str] = []
        seen: set[str] = set()
        by_channel = conn.by_channel
        for key in keys:
            for sub in by_channel.get(key, ()):
                sid = sub.id
                if sid in seen:
                    continue
                seen.add(sid)
                matcher = sub.matcher
                if matcher is None or matcher(payload):
                    ids.append(sid)
        return ids

    def matching_ids(self, conn: HubConnection, event: Event) -> list[str]:
        """Ids of the connection's subscriptions that match the event (each listed once)."""
        keys = [ch for ch in event.channels if ch in conn.by_channel]
        keys += [p for p in conn.patterns if any(pattern_match(p, ch) for ch in event.channels)]
        return self._ids(conn, keys, event.payload)

    def _apply_controls(self, event: Event) -> None:
        controls = event.controls
        if controls.refresh_roles is not None:
            uid, roles = controls.refresh_roles
            for conn in list(self.by_user.get((event.project, uid), ())):
                self.set_roles(conn, roles, uid)
                if conn.on_roles:
                    conn.on_roles()
        if controls.revoke_session is not None and event.user_id:
            for conn in list(self.by_user.get((event.project, event.user_id), ())):
                if conn.session_id == controls.revoke_session:
                    conn.session_id = None
                    self.set_roles(conn, frozenset({"guests"}), None)
                    if conn.on_roles:
                        conn.on_roles()

    def dispatch(self, event: Event) -> int:
        """Deliver one event to every matching connection; returns the number of frames."""
        controls = event.controls
        if controls.refresh_roles is not None or controls.revoke_session is not None:
            self._apply_controls(event)
        if event.seq:
            self.last_seq[event.project] = max(self.last_seq.get(event.project, 0), event.seq)
        self.dispatched += 1
        prefix = None
        n = 0
        hits = self._hits(event)
        if controls.exclude is not None:  # a topic message whose publisher asked not to get it back
            hits = [hit for hit in hits if hit[0].id != controls.exclude]
        # The hot loop of fan-out: per connection, ideally two dict lookups and the sink call.
        for conn, keys in hits:
            if prefix is None:  # encoded once, only for an event that has an audience
                prefix = event.frame_prefix().encode()
                resource, seq, scope, payload = event.resource, event.seq, scope_of(event), event.payload
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
                self._hold(conn, (frame, seq, resource, ids))
            else:
                try:
                    conn.sink(frame, seq, resource, ids)
                except Exception:  # one broken connection must not cost the others this event
                    log.exception("delivery to %s failed", conn.id)
                    continue
            n += 1
        self.delivered += n
        return n

    def _hold(self, conn: HubConnection, entry: Held) -> None:
        held = conn.held
        if held is None:
            return  # overflowed: the connection is about to be closed
        if self.max_held and len(held) >= self.max_held:
            if conn.held_full is None or not conn.held_full(held, entry):
                conn.held = None
        else:
            held.append(entry)

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


def _discard(index: dict[tuple[str, str], Conns], key: tuple[str, str], conn: HubConnection) -> None:
    conns = index.get(key)
    if conns is not None:
        conns.pop(conn, None)
        if not conns:
            del index[key]
