"""The per-connection realtime protocol state machine (sans-I/O).

``RealtimeSession.receive(text)`` takes one incoming text frame and returns what to do: frames
to send, a close, or a request for I/O the adapter must perform and report back (verify a
session token; replay the event log for a subscription). The adapter (server/realtime.py) only
moves bytes, owns timers, and handles one message at a time so that ``authentication`` followed
at once by ``subscribe`` is applied in order (the SDKs send unsubscribe and subscribe back to back).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rtcli import ids, protocol
from rtcli.core import channels as chan
from rtcli.core.event import KEY_ROLE, SplitFrame, suffix_of
from rtcli.core.hub import Held, Hub, HubConnection, Subscription
from rtcli.core.permissions import Actor, ActorKind
from rtcli.core.queries import RealtimeQueries, compile_subscription
from rtcli.core.topics import DEFAULT_MAX_MESSAGE_SIZE, PublishRequest, parse_publish, publish_error
from rtcli.core.url_subscriptions import UrlSubscription
from rtcli.errors import AppwriteError
from rtcli.settings import DEFAULTS


@dataclass
class Send:
    frame: dict[str, Any]


@dataclass
class Close:
    code: int
    reason: str = ""


@dataclass
class Authenticate:
    """The adapter must verify ``token`` and call ``session.authenticated(actor, account)``."""

    token: str


@dataclass
class Replay:
    """The adapter must replay the log after ``since`` for ``subscription`` (rtcli extension),
    then call ``session.replay_done()``. Live frames are held meanwhile."""

    subscription: Subscription
    since: str
    upto: int  # the hub's last dispatched position when the replay was asked for


@dataclass
class SetPresence:
    """The adapter must upsert the connection's presence and answer with its model."""

    data: dict[str, Any]


@dataclass
class Publish:
    """The adapter must publish ``request`` as the connection's actor, then send the
    acknowledgement, or an error frame (``core.topics.publish_error``)."""

    request: PublishRequest


Output = Send | Close | Authenticate | Replay | SetPresence | Publish


@dataclass
class Limits:
    """Per-connection limits. Appwrite allows 32 messages a minute; we are not stricter."""

    messages_per_minute: int = DEFAULTS.messages_per_minute
    subscriptions: int = DEFAULTS.max_subscriptions
    channels_per_subscription: int = 100
    queries_per_subscription: int = 100
    # Query values all the connection's subscriptions hold together (queries.cost): the hub
    # evaluates every subscription of a connection on each event of its channels, so this
    # bounds what one connection costs per event, and what its queries keep in memory.
    query_values: int = 10_000
    # Publishing to topics has limits of its own (and does not count in messages_per_minute):
    # typing indicators and cursors send several messages a second.
    publishes_per_second: int = DEFAULTS.publish_rate
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    # Log positions the replays (since) of one subscribe message may cover together: a replay
    # reads every row of that range, readable or not.
    replay_events: int = DEFAULTS.replay_limit


@dataclass
class AddressQueryCosts:
    """The query values the realtime connections of each client address hold together. A
    connection's own budget (``Limits.query_values``) is multiplied by the connections one
    address may open (``--max-connections-per-ip``): this bounds what one address makes the
    hub evaluate per event, whatever number of connections it spreads its queries over."""

    limit: int = 100_000  # 0: no bound per address
    by_address: dict[str, dict[str, int]] = field(default_factory=dict)

    def others(self, address: str, conn_id: str) -> int:
        """What the address's other connections hold."""
        costs = self.by_address.get(address, {})
        return sum(costs.values()) - costs.get(conn_id, 0)

    def record(self, address: str, conn_id: str, cost: int) -> None:
        if cost:
            self.by_address.setdefault(address, {})[conn_id] = cost
        else:
            self.forget(address, conn_id)

    def forget(self, address: str, conn_id: str) -> None:
        costs = self.by_address.get(address)
        if costs is not None:
            costs.pop(conn_id, None)
            if not costs:
                del self.by_address[address]


def connection_roles(actor: Actor) -> frozenset[str]:
    """The roles a connection is indexed under in the hub."""
    return frozenset({KEY_ROLE}) if actor.is_key else actor.roles


def _error(code: int, message: str) -> Send:
    return Send(protocol.error_frame(code, message))


def _invalid(message: str) -> Send:
    return _error(protocol.CODE_INVALID_MESSAGE, message)


@dataclass(slots=True)
class RealtimeSession:
    hub: Hub
    conn: HubConnection
    actor: Actor
    limits: Limits = field(default_factory=Limits)
    _window_start: float = 0.0
    _window_count: int = 0
    _publish_window: float = 0.0
    _publish_count: int = 0
    # Channels as the client asked for them, per subscription id (to rebind on authentication).
    _requested: dict[str, list[str]] = field(default_factory=dict)
    # Subscriptions resumed from a position past what this node had dispatched (another node
    # was ahead): id -> that position. Held live frames at or below it are not sent to them.
    _floors: dict[str, int] = field(default_factory=dict)
    # The query values of every connection of the client's address (None: not counted).
    address_costs: AddressQueryCosts | None = None
    address: str = ""

    @property
    def user_id(self) -> str | None:
        # The hub may change a connection's user (a revoked session), so ask the connection.
        return self.conn.user_id

    def connected(self, account: dict[str, Any] | None,
                  url_subs: dict[int, UrlSubscription] | None = None) -> list[Output]:
        """The first frame. In URL mode (channels, and maybe queries, in the URL: see
        core.url_subscriptions), subscribe at once, one subscription per slot; an invalid query
        is fatal (1008), as in Appwrite."""
        data: dict[str, Any] = {"channels": [], "subscriptions": [], "user": account}
        if not url_subs:
            return [Send({"type": protocol.CONNECTED, "data": data})]
        if len(url_subs) > self.limits.subscriptions:
            return self._refuse_url(f"Too many subscriptions: the limit is {self.limits.subscriptions} per connection.")
        planned: list[tuple[int, list[str], RealtimeQueries]] = []
        for index, url_sub in url_subs.items():
            if len(url_sub.queries) > self.limits.queries_per_subscription:
                return self._refuse_url(f"At most {self.limits.queries_per_subscription} queries per subscription.")
            if len(url_sub.channels) > self.limits.channels_per_subscription:
                return self._refuse_url(f"At most {self.limits.channels_per_subscription} channels per subscription.")
            try:
                compiled = compile_subscription(url_sub.queries)
            except AppwriteError as e:
                return self._refuse_url(e.message)
            planned.append((index, url_sub.channels, compiled))
        too_costly = self._over_query_budget({}, [compiled for _, _, compiled in planned])
        if too_costly:
            return self._refuse_url(too_costly)
        mapping: dict[int, str] = {}
        for index, channels, compiled in planned:
            sub_id = ids.unique()
            converted = chan.convert_subscribed(channels, self.user_id)
            self._requested[sub_id] = list(channels)
            self.hub.subscribe(self.conn, Subscription(sub_id, converted, compiled.normalised, compiled.matcher,
                                                       cost=compiled.cost))
            data["channels"] = list(dict.fromkeys([*data["channels"], *converted]))
            mapping[index] = sub_id
        self._count_costs()
        # PHP's json_encode: a list when the slots are 0..n-1, else an object keyed by slot.
        data["subscriptions"] = (list(mapping.values()) if list(mapping) == list(range(len(mapping)))
                                 else {str(k): v for k, v in mapping.items()})
        return [Send({"type": protocol.CONNECTED, "data": data})]

    @staticmethod
    def _refuse_url(message: str) -> list[Output]:
        return [_error(protocol.CODE_POLICY_VIOLATION, message), Close(protocol.CODE_POLICY_VIOLATION)]

    def _rate_limited(self, now: float) -> bool:
        if now - self._window_start >= 60:
            self._window_start, self._window_count = now, 0
        self._window_count += 1
        return self._window_count > self.limits.messages_per_minute

    def receive(self, text: str | bytes, now: float) -> list[Output]:
        """Handle one incoming frame."""
        if len(text) > protocol.MAX_INCOMING_FRAME:
            return [_error(protocol.CODE_MESSAGE_TOO_BIG,
                           f"Message is too large: the limit is {protocol.MAX_INCOMING_FRAME} bytes.")]
        try:
            msg = protocol.loads(text)
        except ValueError:
            msg = None
        if isinstance(msg, dict) and msg.get("type") == protocol.PUBLISH:
            return self._publish(msg.get("data"), now)
        if self._rate_limited(now):
            return [_error(protocol.CODE_TRY_AGAIN, "Too many messages.")]
        if msg is None:
            return [_invalid("Message format is not valid.")]
        if not isinstance(msg, dict) or ("type" not in msg and "data" not in msg):
            return [_invalid("Message format is not valid.")]
        kind = msg.get("type")
        if not isinstance(kind, str) or kind not in protocol.CLIENT_TYPES:
            return [_invalid("Message type is not valid.")]
        data = msg.get("data")
        if kind == protocol.PING:
            return [Send({"type": protocol.PONG})]
        if kind == protocol.SUBSCRIBE:
            return self._subscribe(data)
        if kind == protocol.UNSUBSCRIBE:
            return self._unsubscribe(data)
        if kind == protocol.AUTHENTICATION:
            token = data.get("session") if isinstance(data, dict) else None
            if not isinstance(token, str) or not token:
                return [_invalid("Payload is not valid. Session is required")]
            if len(token) > 2048:
                return [_invalid("Session is not valid.")]
            return [Authenticate(token)]
        if not isinstance(data, dict):
            return [_invalid("Payload is not valid. Status is required")]
        if not isinstance(data.get("status"), str) or not data["status"]:
            return [_invalid("Payload is not valid. Status is required")]
        if self.actor.kind is not ActorKind.USER or not self.conn.user_id:
            return [_error(protocol.CODE_UNAUTHORIZED, "User must be authorized")]
        return [SetPresence(data)]

    def _publish(self, data: Any, now: float) -> list[Output]:
        """A ``publish`` frame (rtcli extension): checked here, carried out by the adapter."""
        message_id = data.get("messageId") if isinstance(data, dict) else None
        message_id = message_id if isinstance(message_id, str) and len(message_id) <= 36 else None
        if now - self._publish_window >= 1:
            self._publish_window, self._publish_count = now, 0
        self._publish_count += 1
        if 0 < self.limits.publishes_per_second < self._publish_count:
            return [Send(publish_error(None, protocol.CODE_TRY_AGAIN, "Too many messages published: the limit is "
                                       f"{self.limits.publishes_per_second} a second per connection.", message_id))]
        try:
            request = parse_publish(data.get("topic") if isinstance(data, dict) else None, data,
                                    self.limits.max_message_size)
        except AppwriteError as e:
            code = protocol.CODE_MESSAGE_TOO_BIG if e.code == 413 else protocol.CODE_INVALID_MESSAGE
            return [Send(publish_error(e, code, e.message, message_id))]
        return [Publish(request)]

    # --- subscribe / unsubscribe ---------------------------------------------------------

    def _subscribe(self, data: Any) -> list[Output]:
        if data is None:
            return [_invalid("Payload is not valid. Items is required")]
        if not isinstance(data, list):
            return [_invalid("items: Value must be a valid array of subscription objects.")]
        planned: dict[str, tuple[list[str], RealtimeQueries, str | None, protocol.Policy]] = {}
        for item in data:
            if not isinstance(item, dict):
                return [_invalid("items: each item must be an object.")]
            channels = item.get("channels")
            if channels is None:
                return [_invalid("items: channels is not present in payload.")]
            if not isinstance(channels, list) or not channels or not all(isinstance(c, str) and c for c in channels):
                return [_invalid("items: channels must be a non-empty list of strings.")]
            bad = next((c for c in channels if chan.is_pattern(c) and not chan.valid_pattern(c)), None)
            if bad is not None:
                return [_invalid(f"items: invalid channel pattern '{bad}': '*' stands for one segment, "
                                 "'>' for the trailing ones and must come last.")]
            if len(channels) > self.limits.channels_per_subscription:
                return [_invalid(f"items: at most {self.limits.channels_per_subscription} channels per subscription.")]
            queries = item.get("queries", [])
            if not isinstance(queries, list):
                return [_invalid("items: queries must be a list.")]
            if len(queries) > self.limits.queries_per_subscription:
                return [_invalid(f"items: at most {self.limits.queries_per_subscription} queries per subscription.")]
            sub_id = item.get("subscriptionId")
            if sub_id is None:
                sub_id = ids.unique()
            elif not ids.is_custom_id(sub_id):
                return [_invalid("items: subscriptionId must contain at most 36 chars. Valid chars are a-z, A-Z, "
                                 "0-9, period, hyphen, and underscore. Can't start with a special char.")]
            try:
                policy = protocol.Policy(item.get("policy", protocol.Policy.CLOSE))
            except (ValueError, TypeError):
                return [_invalid(f"items: policy must be one of: {', '.join(protocol.Policy)}.")]
            since = item.get("since")
            if since is not None and (not isinstance(since, str) or not since or len(since) > 128):
                return [_invalid("items: since must be a cursor, 'beginning' or an ISO 8601 date.")]
            try:
                compiled = compile_subscription(queries)
            except AppwriteError as e:
                return [_invalid(e.message)]
            planned.pop(sub_id, None)  # duplicate ids in one batch: the last one wins
            planned[sub_id] = (channels, compiled, since, policy)
        new = sum(1 for s in planned if s not in self.conn.subscriptions)
        if len(self.conn.subscriptions) + new > self.limits.subscriptions:
            return [_invalid(f"Too many subscriptions: the limit is {self.limits.subscriptions} per connection.")]
        too_costly = self._over_query_budget(planned, [compiled for _, compiled, _, _ in planned.values()])
        if too_costly:
            return [_invalid(too_costly)]

        out: list[Output] = []
        replies = []
        for sub_id, (channels, compiled, since, policy) in planned.items():
            converted = chan.convert_subscribed(channels, self.user_id)
            normalised = compiled.normalised
            sub = Subscription(sub_id, converted, normalised, compiled.matcher, policy, compiled.cost)
            self._requested[sub_id] = list(channels)
            self.hub.subscribe(self.conn, sub)
            reply: dict[str, Any] = {"subscriptionId": sub_id, "channels": converted, "queries": normalised}
            if policy is not protocol.Policy.CLOSE:
                reply["policy"] = policy
            if since is not None:
                self.conn.holding += 1
                out.append(Replay(sub, since, self.hub.last_seq.get(self.conn.project, 0)))
            replies.append(reply)
        self._count_costs()
        # Order in the reply follows the input order (by last occurrence of each id).
        out.insert(0, Send(protocol.response_frame(protocol.SUBSCRIBE, subscriptions=replies)))
        return out

    def _over_query_budget(self, replaced: dict[str, Any], added: list[RealtimeQueries]) -> str | None:
        """Why the connection's subscriptions, ``replaced`` (by id) by ``added``, would hold
        too many query values; None when they would not."""
        kept = sum(sub.cost for sid, sub in self.conn.subscriptions.items() if sid not in replaced)
        total = kept + sum(compiled.cost for compiled in added)
        if total > self.limits.query_values:
            return (f"Too many query values: the subscriptions of one connection may hold at most "
                    f"{self.limits.query_values:,} query values together (these would make {total:,}).")
        shared = self.address_costs
        if shared is not None and shared.limit and shared.others(self.address, self.conn.id) + total > shared.limit:
            return (f"Too many query values from this address: the realtime connections of one address may "
                    f"hold at most {shared.limit:,} query values together; close some subscriptions first.")
        return None

    def _count_costs(self) -> None:
        """After the subscriptions changed: what this connection holds, in its address's count."""
        if self.address_costs is not None:
            self.address_costs.record(self.address, self.conn.id,
                                      sum(sub.cost for sub in self.conn.subscriptions.values()))

    def closed(self) -> None:
        """The connection is gone: its queries no longer count for its address."""
        if self.address_costs is not None:
            self.address_costs.forget(self.address, self.conn.id)

    def _unsubscribe(self, data: Any) -> list[Output]:
        if data is None:
            return [_invalid("Payload is not valid. Items is required")]
        if not isinstance(data, list) or not data:
            return [_invalid("items: Value must be a valid array of {subscriptionId} objects.")]
        for item in data:
            if not isinstance(item, dict) or not isinstance(item.get("subscriptionId"), str) or not item["subscriptionId"]:
                return [_invalid("items: each item needs a non-empty string subscriptionId.")]
        results = []
        for item in data:
            sid = item["subscriptionId"]
            removed = self.hub.unsubscribe(self.conn, sid)
            self._requested.pop(sid, None)
            results.append({"subscriptionId": sid, "removed": removed})
        self._count_costs()
        return [Send(protocol.response_frame(protocol.UNSUBSCRIBE, subscriptions=results))]

    # --- results of I/O the adapter performed -----------------------------------------------

    def authenticated(self, actor: Actor | None, account: dict[str, Any] | None) -> list[Output]:
        """Apply a verified session: move subscriptions to the user's roles, rebind ``account``."""
        if actor is None:
            return [_invalid("Session is not valid.")]
        self.actor = actor
        self.hub.set_roles(self.conn, connection_roles(actor), actor.user_id)
        for sub_id, requested in self._requested.items():
            sub = self.conn.subscriptions.get(sub_id)
            if sub is not None:
                converted = chan.convert_subscribed(requested, actor.user_id)
                if converted != sub.channels:
                    self.hub.subscribe(self.conn, Subscription(sub_id, converted, sub.queries, sub.matcher, sub.policy,
                                                               sub.cost))
        return [Send(protocol.response_frame(protocol.AUTHENTICATION, user=account))]

    def policy(self, ids: list[str]) -> protocol.Policy:
        """The overflow policy for a frame: 'close' wins, then 'drop', then 'latest'."""
        found = {self.conn.subscriptions[i].policy for i in ids if i in self.conn.subscriptions}
        for p in protocol.Policy:
            if p in found:
                return p
        return protocol.Policy.CLOSE

    def replay_done(self, floor: tuple[str, int] | None = None) -> list[Held]:
        """End one replay; when none is left, return the held live frames to send, in order.

        ``floor``: (subscription id, position) when the subscription resumed from a position
        this node's hub had not dispatched yet; the adapter waits until it has, so that every
        frame at or below the position is among the held ones, and they are dropped for it."""
        if floor is not None:
            self._floors[floor[0]] = floor[1]
        self.conn.holding -= 1
        if self.conn.holding:
            return []
        held, self.conn.held = self.conn.held, []
        if self._floors:
            floors, self._floors = self._floors, {}
            held = [kept for item in held or [] if (kept := _above(item, floors)) is not None]
        return held or []


def _above(item: Held, floors: dict[str, int]) -> Held | None:
    """A held frame without the subscriptions that already have its position (None: no one left)."""
    frame, seq, resource, sub_ids = item
    if not sub_ids or type(frame) is not SplitFrame:  # the hub holds only split event frames
        return item
    keep = [i for i in sub_ids if seq > floors.get(i, -1)]
    if len(keep) == len(sub_ids):
        return item
    if not keep:
        return None
    return SplitFrame((frame[0], suffix_of(keep))), seq, resource, keep
