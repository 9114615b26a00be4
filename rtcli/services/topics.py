"""Topic use cases: manage topics, and publish messages to them (see core/topics.py).

Publishing takes the path of a row write: authorize, then write (a durable topic's message is
an event appended to the log in its own transaction, handed to the broker after commit), or,
for an ephemeral topic, hand the event straight to the broker, which carries it to every node's
hub and never stores it.

Authorization: an API key needs ``topics.write`` to publish or manage and ``topics.read`` to
read topics; users and guests go by the topic's permissions. A caller refused leaks nothing:
one that may not see the topic at all gets 404 as if it did not exist; one that may receive but
not publish (or not manage) gets 401.

Topics are read on every publish, so each node keeps them in memory. A change is an event in
the log (on no realtime channel, readable only by API keys), and every node forgets its copy
when that event reaches it (``changed``), as it reloads API keys: a change holds cluster-wide
within a moment.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

from rtcli import ids
from rtcli.core import permissions
from rtcli.core.event import Controls, Event
from rtcli.core.ports import Broker, Store, Transaction
from rtcli.core.repositories import TopicRepository
from rtcli.core.queries import parse_many, plan as list_plan
from rtcli.core.topics import (
    DEFAULT_MAX_MESSAGE_SIZE, PERMISSION_ACTIONS, TopicAction, Message, Published, PublishRequest, Topic, TopicMode,
    message_channels, message_event_names, parse_publish, topic_event_names, topic_id,
)
from rtcli.errors import AppwriteError, invalid
from rtcli.services.context import Ctx
from rtcli.services.ratelimit import RateLimiter
from rtcli.settings import DEFAULTS

CACHE_SIZE = 10_000  # topics kept in memory per node; past it the cache starts over


@dataclass(frozen=True)
class PublishLimits:
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE  # bytes of a message's JSON data
    per_user_per_second: int = DEFAULTS.publish_rate_user  # messages per user (a guest: per address) on one node; 0 = no limit


@dataclass(frozen=True)
class TopicPage:
    total: int
    topics: list[Topic] = field(default_factory=list)

    def model(self) -> dict[str, Any]:
        return {"total": self.total, "topics": [t.model() for t in self.topics]}


def _not_found(tid: str) -> AppwriteError:
    return AppwriteError("topic_not_found", f"Topic with the requested ID '{tid}' could not be found.")


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 128:
        raise invalid("Invalid `name` param: a string of 1-128 characters.")
    return value


class Topics:
    def __init__(self, store: Store, repo: TopicRepository, broker: Broker, limits: PublishLimits) -> None:
        self.store = store
        self.repo = repo
        self.broker = broker
        self.limits = limits
        self._rate = RateLimiter(limits.per_user_per_second, window=1.0)
        self._cache: dict[tuple[str, str], Topic] = {}
        self._changes = 0  # bumped by every change: a read that overlapped one is not cached

    # --- the per-node copy of the topics -------------------------------------------------

    async def _topic(self, project: str, tid: str) -> Topic | None:
        key = (project, tid)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        before = self._changes
        found = await self.repo.get(project, tid)
        if found is not None and before == self._changes:
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
            self._cache[key] = found
        return found

    def _forget(self, project: str, tid: str) -> None:
        self._changes += 1
        self._cache.pop((project, tid), None)

    def changed(self, event: Event) -> None:
        """Every dispatched event passes here: a topic's change makes this node forget its copy."""
        if not event.channels and event.events[0].startswith("topics."):
            tid = event.payload.get("$id")
            if isinstance(tid, str):
                self._forget(event.project, tid)

    # --- authorization -------------------------------------------------------------------

    @staticmethod
    def _may(ctx: Ctx, topic: Topic, action: TopicAction) -> bool:
        return ctx.actor.is_key or ctx.actor.can(topic.roles(action))

    async def _visible(self, ctx: Ctx, tid: str, tx: Transaction | None = None) -> Topic:
        """The topic if the caller may see it (a key with the scope; anyone it grants anything)."""
        topic = await (self.repo.get(ctx.project, tid, tx) if tx else self._topic(ctx.project, tid))
        if topic is None or not ctx.actor.can(frozenset(topic.visible_roles)):
            raise _not_found(tid)
        return topic

    def _permissions(self, ctx: Ctx, value: Any) -> tuple[str, ...]:
        perms = permissions.parse_list(value, PERMISSION_ACTIONS)
        ctx.assert_can_grant(perms)
        return tuple(perms)

    def _event(self, ctx: Ctx, topic: Topic, action: str) -> Event:
        # On no realtime channel and for no role: subscribers of topics.<id> get messages only,
        # so a pipe of them never mixes in anything else. The log, `rtcli events list` (a key)
        # and function triggers see it; every node forgets its copy of the topic on it.
        return Event(project=ctx.project, events=topic_event_names(topic.id, action), channels=[], roles=[],
                     payload=topic.model(), timestamp=ids.format_datetime(), user_id=ctx.actor.user_id)

    # --- management ----------------------------------------------------------------------

    async def create(self, ctx: Ctx, body: dict[str, Any]) -> Topic:
        ctx.require_key("topics.write")
        tid = topic_id(body.get("topicId"))
        now = ids.format_datetime()
        topic = Topic(project=ctx.project, id=tid, name=_name(body.get("name") or tid),
                      mode=TopicMode.parse(body.get("mode", TopicMode.DURABLE.value)),
                      permissions=self._permissions(ctx, body.get("permissions")), created_at=now, updated_at=now)
        async with self.store.transaction(ctx.actor.origin) as tx:
            await self.repo.insert(tx, topic)
            await tx.append_event(self._event(ctx, topic, "create"))
        self._forget(ctx.project, tid)
        return topic

    async def get(self, ctx: Ctx, tid: str) -> Topic:
        ctx.require_scope("topics.read")
        return await self._visible(ctx, tid)

    async def list(self, ctx: Ctx, queries: list[str]) -> TopicPage:
        ctx.require_scope("topics.read")
        p = list_plan(parse_many(queries))
        if p.filters or p.orders or p.cursor:
            raise AppwriteError("general_query_invalid", "Topics can be listed with limit and offset queries only.")
        visible_to = None if ctx.actor.is_key else sorted(ctx.actor.roles | {"any"})
        total, topics = await self.repo.list(ctx.project, p.limit, p.offset, visible_to)
        return TopicPage(total, topics)

    async def update(self, ctx: Ctx, tid: str, body: dict[str, Any]) -> Topic:
        ctx.require_scope("topics.write")
        async with self.store.transaction(ctx.actor.origin) as tx:
            topic = await self._visible(ctx, tid, tx)
            if not self._may(ctx, topic, "update"):
                raise AppwriteError("user_unauthorized", "The current user may not change this topic.")
            changes: dict[str, Any] = {"updated_at": ids.format_datetime()}
            if body.get("name") is not None:
                changes["name"] = _name(body["name"])
            if body.get("mode") is not None:
                changes["mode"] = TopicMode.parse(body["mode"])
            if body.get("permissions") is not None:
                changes["permissions"] = self._permissions(ctx, body["permissions"])
            topic = replace(topic, **changes)
            await self.repo.update(tx, topic)
            await tx.append_event(self._event(ctx, topic, "update"))
        self._forget(ctx.project, tid)
        return topic

    async def delete(self, ctx: Ctx, tid: str) -> None:
        ctx.require_scope("topics.write")
        async with self.store.transaction(ctx.actor.origin) as tx:
            topic = await self._visible(ctx, tid, tx)
            if not self._may(ctx, topic, "delete"):
                raise AppwriteError("user_unauthorized", "The current user may not delete this topic.")
            await self.repo.delete(tx, ctx.project, tid)
            await tx.append_event(self._event(ctx, topic, "delete"))
        self._forget(ctx.project, tid)

    # --- publishing ----------------------------------------------------------------------

    async def publish_body(self, ctx: Ctx, tid: str, body: dict[str, Any], address: str) -> Published:
        """POST /v1/topics/{topicId}/messages: ``data``, optional ``event`` and ``messageId``."""
        request = parse_publish(tid, body, self.limits.max_message_size)
        return await self.publish(ctx, request, address)

    async def publish(self, ctx: Ctx, request: PublishRequest, address: str,
                      connection: str | None = None) -> Published:
        """Publish as ``ctx``'s actor. ``connection``: the realtime connection it came from, which
        does not receive the message when the request says ``self: false``."""
        ctx.require_scope("topics.write")
        topic = await self._topic(ctx.project, request.topic_id)
        if topic is None or not self._may(ctx, topic, "create"):
            if topic is not None and ctx.actor.can(topic.roles("read")):
                raise AppwriteError("user_unauthorized", "The current user may receive this topic's messages "
                                    "but not publish to it.")
            raise _not_found(request.topic_id)
        if not ctx.actor.is_key and not self._rate.hit(f"{ctx.project}\x00{ctx.actor.user_id or address}"):
            who = "user" if ctx.actor.user_id else "address (guests)"
            raise AppwriteError("general_rate_limit_exceeded", f"Too many messages published: the limit is "
                                f"{self.limits.per_user_per_second} a second per {who}. Slow down and retry.")
        now = ids.format_datetime()
        message = Message(request.message_id, topic.id, request.data, request.event, ctx.actor.user_id, now)
        # Under the `latest` policy a message replaces its publisher's previous one of the same
        # name (a cursor's newest position); a publisher known by no user or connection (a guest
        # or a key over REST) has each message stand alone.
        publisher = ctx.actor.user_id and f"user:{ctx.actor.user_id}" or connection
        event = Event(project=ctx.project, events=message_event_names(topic.id, message.id),
                      channels=message_channels(topic.id, message.event), roles=topic.read_roles,
                      payload=message.payload(), timestamp=now, user_id=ctx.actor.user_id,
                      controls=Controls(exclude=None if request.echo else connection),
                      supersedes=f"topics.{topic.id}.events.{message.event or ''}.{publisher}" if publisher else None)
        if topic.mode is TopicMode.DURABLE:
            async with self.store.transaction(ctx.actor.origin) as tx:
                await tx.append_event(event)
        else:
            event.created = time.time()
            self.broker.publish_live(event)
        return Published(message.id, topic.id, event.cursor, now)
