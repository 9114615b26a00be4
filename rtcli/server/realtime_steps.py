"""What a realtime connection does beyond moving bytes: the opening lookups (project, origin,
credentials) and carrying out the session's outputs in order (frames, closes, authentication,
presence, publishes, replays from the event log).

Each step is given what it works on: the connection's ``Outbox`` (``push``: live, never blocks;
``put``: replay, waits for room; ``close``), its ``RealtimeSession``, and the server's
``Collaborators``, which the composition root (server/app.py) builds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import cookie_parser

from rtcli import protocol
from rtcli.core.event import KEY_ROLE, Event, encode_frame, key_may_receive
from rtcli.core.hub import Hub, HubConnection
from rtcli.core.session import Authenticate, Close, Output, Publish, RealtimeSession, Replay, Send, SetPresence
from rtcli.core.permissions import GUEST, Actor
from rtcli.core.ports import Store
from rtcli.core.topics import publish_error
from rtcli.errors import AppwriteError
from rtcli.server.auth import authenticate
from rtcli.server.http import project_of
from rtcli.server.metrics import Metrics
from rtcli.server.origins import OriginPolicy
from rtcli.server.outbox import Outbox
from rtcli.services.account import account_model
from rtcli.services.auth import Auth
from rtcli.services.context import Ctx
from rtcli.services.eventlog import EventLog
from rtcli.services.presence import Presence
from rtcli.services.projects import Projects
from rtcli.services.topics import Topics
from rtcli.services.visibility import LogVisibility

REPLAY_PAGE = 500
# Work a replay does between two yields to the event loop, in query values compared (each
# subscription tried on an event counts its queries' cost, at least 1): a page of events tried
# against costly queries would otherwise hold the loop, and every other connection, for a second.
REPLAY_SLICE = 20_000
# A subscriber may resume on a node a little behind the one it left (each node delivers the log
# as it reads it): live frames wait at most this long for this node to catch up.
CATCH_UP_S = 10.0


@dataclass(frozen=True, slots=True)
class Collaborators:
    """What realtime connections use beyond their socket, shared by all of them."""

    store: Store
    hub: Hub
    metrics: Metrics
    projects: Projects
    auth: Auth
    origins: OriginPolicy
    presence: Presence
    topics: Topics
    events: EventLog


@dataclass(frozen=True, slots=True)
class Admitted:
    """Who opened a connection, once the opening lookups passed."""

    project: str
    actor: Actor
    account: dict[str, Any] | None  # the Account model, for a user


async def admit(deps: Collaborators, out: Outbox, headers: Mapping[str, str], query: QueryParams) -> Admitted | None:
    """The opening lookups: the project, the origin, the credentials. None when refused (an
    error frame, then a close)."""
    project = project_of(headers, query)
    if not project or project not in deps.projects.known:
        fatal(out, protocol.CODE_POLICY_VIOLATION, "Missing or unknown project ID")
        return None
    origin = headers.get("origin")
    if not deps.origins.allows(origin):
        host = origin.split("://", 1)[-1] if origin else ""
        fatal(out, protocol.CODE_POLICY_VIOLATION, f"Invalid Origin. Register your new client ({host}) "
              "as a new Web platform on your project console dashboard")
        return None
    try:
        actor, account = await authenticate(deps.projects, deps.auth, project, headers,
                                             cookie_parser(headers.get("cookie", "")), query)
    except AppwriteError as e:
        # An invalid JWT or key: Appwrite sends the error (401) and disconnects.
        fatal(out, e.code, e.message)
        return None
    return Admitted(project, actor, account)


def fatal(out: Outbox, code: int, message: str) -> None:
    """Error frame, then a real close frame: 1008 (the SDK stops reconnecting) for what retrying
    cannot fix, 1013 (try again later; the SDK reconnects) when the server is unavailable."""
    out.push(protocol.dumps(protocol.error_frame(code, message)))
    out.close(protocol.CODE_TRY_AGAIN if 500 <= code < 1000 else protocol.CODE_POLICY_VIOLATION)


async def may_read(conn: HubConnection, event: Event, visible: LogVisibility) -> bool:
    """The live dispatch rule, for replay: a key connection by its scopes, others by role, with
    the current read permissions of the event's table or bucket (services.visibility)."""
    if KEY_ROLE in conn.roles:
        return key_may_receive(conn.scopes, event)
    return await visible.readable(conn.roles, event)


def perform_now(outputs: list[Output], out: Outbox) -> None:
    """Carry out outputs that need no I/O (frames to send, a close)."""
    for output in outputs:
        if type(output) is Send:
            out.push(protocol.dumps(output.frame))
        elif type(output) is Close:
            out.close(output.code, output.reason)


async def perform(session: RealtimeSession, outputs: list[Output], out: Outbox, address: str,
                  deps: Collaborators) -> None:
    """Carry out a session's outputs in order (``address``: the client's, for publish limits)."""
    replays = [o for o in outputs if isinstance(o, Replay)]
    resolved: dict[str, tuple[int | None, str | None]] = {}
    budget = session.limits.replay_events  # log positions one message's replays may cover together
    for r in replays:
        pos, reason = await deps.store.resolve_since(session.conn.project, r.since)
        if pos is not None:
            span = await deps.store.span(pos, r.upto, budget + 1) if r.upto > pos else 0
            if span > budget:
                pos, reason = None, (f"more than {session.limits.replay_events} events to replay in one subscribe "
                                     "message; read them with GET /v1/events, then subscribe with since set to "
                                     "its last cursor")
            else:
                budget -= span
        resolved[r.subscription.id] = pos, reason
        deps.metrics.counts["resumed" if pos is not None else "not_resumed"] += 1
    for output in outputs:
        if isinstance(output, Send):
            frame = output.frame
            if replays and frame.get("type") == protocol.RESPONSE and frame["data"].get("to") == protocol.SUBSCRIBE:
                for item in frame["data"]["subscriptions"]:
                    if item["subscriptionId"] in resolved:
                        pos, reason = resolved[item["subscriptionId"]]
                        item["resumed"] = pos is not None
                        if reason:
                            item["reason"] = reason
            out.push(protocol.dumps(frame))
        elif isinstance(output, Close):
            out.close(output.code, output.reason)
        elif isinstance(output, Authenticate):
            found = await deps.auth.from_session_token(session.conn.project, output.token)
            if found:
                actor, user = found
                session.conn.session_id = actor.session_id
                await perform(session, session.authenticated(actor, account_model(user)), out, address, deps)
            else:
                await perform(session, session.authenticated(None, None), out, address, deps)
        elif isinstance(output, SetPresence):
            try:
                model = await deps.presence.from_connection(
                    session.conn.project, session.actor, session.conn.id, output.data)
            except AppwriteError as e:
                out.push(protocol.dumps(protocol.error_frame(
                    e.code if e.code == 401 else protocol.CODE_INVALID_MESSAGE, e.message)))
            else:
                out.push(protocol.dumps({"type": protocol.RESPONSE, "data": {"to": protocol.PRESENCE,
                                                                            "presence": model}}))
        elif isinstance(output, Publish):
            out.push(protocol.dumps(await publish(session, output, address, deps)))
        elif isinstance(output, Replay):
            if replays:  # the first one replays them all, merged: one pass over the log, in its order
                await replay(session, [(r, p) for r in replays if (p := resolved[r.subscription.id][0]) is not None],
                             out, deps)
                replays = []
            pos, _ = resolved[output.subscription.id]
            floor = None
            if pos is not None and pos > output.upto:  # resumed past what this node has dispatched: another node is ahead
                await caught_up(deps.hub, pos)
                floor = (output.subscription.id, pos)
            overflowed = session.conn.held_overflow  # more live events than the queue holds came meanwhile
            held = session.replay_done(floor)
            if overflowed:
                out.close_slow_consumer("slow consumer: too many live events during the replay, resume from your cursor")
            for held_frame, seq, resource, ids in held:
                out.push(held_frame, seq, resource, ids)
            out.send_gap()  # what the policy "drop" skipped while they were held, if anything


def actor_now(session: RealtimeSession) -> Actor:
    """Who the connection acts as now: the hub re-roles a connection when its user's memberships
    change, and makes it a guest when its session is revoked, after the session took its actor."""
    actor, conn = session.actor, session.conn
    if actor.is_key:
        return actor
    if conn.user_id is None:
        return GUEST
    return replace(actor, roles=conn.roles, user_id=conn.user_id)


async def publish(session: RealtimeSession, message: Publish, address: str, deps: Collaborators) -> dict[str, Any]:
    """Publish to a topic as the connection's actor: the acknowledgement, or the error frame."""
    request = message.request
    try:
        published = await deps.topics.publish(Ctx(session.conn.project, actor_now(session)), request,
                                              address, session.conn.id)
    except AppwriteError as e:
        return publish_error(e, e.code, e.message, request.message_id)
    return protocol.response_frame(protocol.PUBLISH, message=published.model())


async def caught_up(hub: Hub, pos: int, timeout: float = CATCH_UP_S) -> None:
    """Wait until this node's hub has dispatched ``pos`` (live frames are held meanwhile), so that
    the events a resumed subscriber already has can be told from the ones it has not."""
    deadline = asyncio.get_running_loop().time() + timeout
    while max(hub.last_seq.values(), default=0) < pos and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.005)


async def replay(session: RealtimeSession, items: list[tuple[Replay, int]], out: Outbox, deps: Collaborators) -> None:
    """Send the logged events that match the replayed subscriptions and may be read now: for
    each, those in (after, upto]. One pass in log order for all the subscriptions of a subscribe
    message, each event once with every subscription it matches, as live delivery sends it:
    a client with several subscriptions sees the replay in the order of the log."""
    if not items:
        return
    conn = session.conn
    pos, upto = min(after for _, after in items), max(r.upto for r, _ in items)
    visible = deps.events.visibility()
    work = 0
    while pos < upto and out.closing is None and not out.lost and not conn.held_overflow:
        page = await deps.store.read_events(conn.project, pos, upto, REPLAY_PAGE)
        if not page:
            break
        for ev in page:
            pos = ev.seq
            work += len(items)
            if work >= REPLAY_SLICE:
                work = 0
                await asyncio.sleep(0)
            subs = [r.subscription for r, after in items
                    if after < ev.seq <= r.upto and r.subscription.on_channels(ev.channels)]
            if not subs or not await may_read(conn, ev, visible):
                continue
            work += sum(max(1, sub.cost) for sub in subs)
            ids = [sub.id for sub in subs if sub.accepts(ev.payload)]
            if ids:
                await out.put(encode_frame(ev.frame_prefix(), ids))
        deps.metrics.counts["replayed"] += len(page)
