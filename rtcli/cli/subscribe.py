"""`rtcli subscribe CHANNEL…`: stream realtime events, readable or as JSON lines.

stdout carries only events: with ``--json`` exactly one JSON object per event per line (the event
frame's ``data`` unchanged), flushed after each line. Everything else goes to stderr, in
particular a line starting with ``subscribed`` each time the server confirms the subscription
(scripts and tests wait for it), ``reconnected`` after a reconnect, and warnings when a resume
was not possible. Ctrl-C (SIGINT) and SIGTERM stop it with exit 0, in a terminal or as a
background job of a script; so do ``--count N`` once N events are printed and ``--timeout S``
without ``--count``. A fatal server error (1008), a rejected subscription, a ``--since`` the
server cannot replay from, or ``--timeout`` before ``--count`` events exits 1.
"""

# No `from __future__ import annotations` here: typer reads these signatures at start-up, and
# string annotations would cost a compile+eval each (~15 ms over all commands).

from typing import TYPE_CHECKING, Annotated, Any

import typer

from rtcli.cli import args, output
from rtcli.cli.common import QueryOpt, state, want_json
from rtcli.cli.since import refusal
from rtcli.client.summary import summarize

if TYPE_CHECKING:
    from rtcli.client.realtime import Event

ACTION_STYLE = {"create": "green", "update": "yellow", "upsert": "cyan", "delete": "red"}
SUMMARY_WIDTH = 80


def register(app: typer.Typer) -> None:
    app.command("subscribe")(subscribe)


def subscribe(
    ctx: typer.Context,
    channels: Annotated[list[str], typer.Argument(metavar="CHANNEL", help="Channels, e.g. tablesdb.DB.tables.T.rows, rows, files.",
                                                  show_default=False)],
    query: QueryOpt = None,
    since: Annotated[str | None, typer.Option(
        "--since", metavar="WHEN", help="Replay first: 'beginning', a duration (30s, 10m, 2h, 1d), an ISO datetime, or a cursor.",
    )] = None,
    policy: Annotated[str | None, typer.Option(
        "--policy", metavar="POLICY", help="When this client is too slow: close (default; reconnect and resume), "
                                            "drop (skip events, warn) or latest (keep the newest per resource).",
    )] = None,
    count: Annotated[int | None, typer.Option(
        "--count", metavar="N", min=1, help="Exit (0) after N events.", show_default=False)] = None,
    timeout: Annotated[float | None, typer.Option(
        "--timeout", metavar="S", min=0.0, help="Stop after S seconds: exit 0, or 1 if --count events have not come.",
        show_default=False)] = None,
    json_: Annotated[bool, typer.Option("--json", help="One JSON object per event per line (the event's data).")]
    = False,
) -> None:
    """Stream events from CHANNEL(s) until Ctrl-C, reconnecting and resuming when the server goes away."""
    queries = [args.parse_query(q) for q in query or []]
    since_value = args.parse_since(since)
    from rtcli.protocol import Policy  # not at import: it loads orjson, which `rtcli --help` does not need
    from rtcli.protocol.channels import check

    if policy is not None and policy not in tuple(Policy):
        raise typer.BadParameter("must be close, drop or latest", param_hint="--policy")

    for channel in channels:  # subscribed anyway: warned, since a typo would otherwise show nothing, forever
        if problem := check(channel):
            output.warn(problem)
    settings = state(ctx).settings()
    _warn_unknown_topics(settings, channels)
    as_json = want_json(ctx, json_)
    import asyncio  # lazy: ~30 ms that `rtcli --help` should not pay

    _stop_on_signals()
    try:
        code = asyncio.run(_bounded(_run(settings, channels, queries, since_value, policy, as_json, count),
                                    timeout, count))
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code)  # a reader that goes away (`| head -1`) ends it too: see main.RtcliGroup


def _stop_on_signals() -> None:
    """SIGINT and SIGTERM both stop the stream cleanly. Set explicitly: a shell running a script
    starts background jobs (`rtcli subscribe … &`) with SIGINT ignored, and Python keeps an
    ignored SIGINT ignored; SIGTERM would otherwise kill the process before stdout is flushed."""
    import signal

    signal.signal(signal.SIGINT, signal.default_int_handler)  # asyncio.run then cancels the stream
    signal.signal(signal.SIGTERM, lambda signum, frame: signal.raise_signal(signal.SIGINT))


async def _bounded(run: Any, timeout: float | None, count: int | None) -> int:
    """``run`` stopped after ``timeout`` seconds: exit 0, unless --count events were still awaited."""
    import asyncio

    if timeout is None:
        return await run
    try:
        async with asyncio.timeout(timeout):
            return await run
    except TimeoutError:
        if count is None:
            return 0
        output.error(f"timed out after {timeout:g} s before {count} event(s) came")
        return 1


async def _run(settings: Any, channels: list[str], queries: list[str], since: str | None, policy: str | None,
               as_json: bool, count: int | None = None) -> int:
    from rtcli.client.realtime import (
        ConnectionState, Event, Gap, RealtimeClient, RealtimeFatal, ServerError, StateChange, Subscribed,
    )

    client = RealtimeClient(settings.endpoint, settings.project, key=settings.key, session=settings.session)
    await client.subscribe(channels, queries, since=since, policy=policy)
    printer = _json_line if as_json else _Pretty().line
    confirmed = False
    failures = 0  # consecutive failed attempts, to word the retry message
    printed = 0
    try:
        async for item in client.stream():
            if isinstance(item, Event):
                printer(item)
                printed += 1
                if printed == count:
                    return 0
            elif isinstance(item, StateChange):
                if item.state is ConnectionState.CONNECTED:
                    failures = 0
                    if item.reconnect:
                        output.info("reconnected")
                elif item.state is ConnectionState.RECONNECTING:
                    if item.reconnect and failures == 0:
                        why = "" if item.error == "connection lost" else f" ({item.error})"
                        output.info(f"connection lost{why}, reconnecting in {item.delay:.1f} s…")
                    else:
                        hint = " Is `rtcli serve` running?" if item.error == "connection refused" else ""
                        output.info(f"cannot connect to {client.url} ({item.error}).{hint} "
                                    f"Retrying in {item.delay:.1f} s…")
                    failures += 1
            elif isinstance(item, Subscribed):
                if since is not None and not item.reconnect and (refused := refusal(since, item)):
                    output.error(refused)  # see rtcli.cli.since: live events alone would look like no history
                    return 1
                confirmed = True
                for sub in item.subscriptions:
                    note = ""
                    if sub.get("resumed") is True:
                        note = " (resumed)" if item.reconnect else " (replaying the log first)"
                    output.info(f"subscribed to {', '.join(sub.get('channels') or [])} "
                                f"(id {sub.get('subscriptionId')}){note}")
                for sub in item.not_resumed():
                    reason = sub.get("reason") or "the server could not replay from that point"
                    output.warn(f"could not resume: {reason}; events may have been missed")
            elif isinstance(item, Gap):
                output.warn(f"the server dropped {item.dropped} event(s) because this client was too slow")
            elif isinstance(item, ServerError):
                if not confirmed:
                    output.error(f"{item.message} ({item.code})")
                    return 1
                output.warn(f"server error: {item.message} ({item.code})")
    except RealtimeFatal as e:
        # Protocol codes (1008…) help when reporting a problem; HTTP statuses are already in the text.
        output.error(f"{e} ({e.code})" if e.code and e.code >= 1000 else str(e))
        return 1
    return 0


def topic_ids(channels: list[str]) -> list[str]:
    """The topics that ``topics.<id>`` and ``topics.<id>.events.<name>`` channels name (not patterns)."""
    found = []
    for channel in channels:
        parts = channel.split(".")
        if len(parts) in (2, 4) and parts[0] == "topics" and parts[1] not in ("*", ">") and parts[1] not in found:
            found.append(parts[1])
    return found


def _warn_unknown_topics(settings: Any, channels: list[str]) -> None:
    """A topic channel is accepted whether or not the topic exists, and one the caller cannot see
    stays silent forever: say so (subscribed anyway, as the topic may be created later)."""
    topics = topic_ids(channels)
    if not topics:
        return
    from rtcli.cli.common import acting_as, trim_httpx_imports

    trim_httpx_imports()
    from rtcli.client.api import ApiClient
    from rtcli.client.topics import Topics
    from rtcli.errors import AppwriteError, RtcliError

    try:
        with ApiClient(settings.endpoint, settings.project, settings.key, settings.session, timeout=5) as client:
            for tid in topics:
                try:
                    Topics(client).get(tid)
                except AppwriteError as e:
                    if e.type != "topic_not_found":
                        continue  # not allowed to read topics, or a server without them: no verdict
                    if settings.key:
                        problem, until = f"topic {tid!r} does not exist", "it is created"
                    else:
                        problem = f"no topic {tid!r} that {acting_as(settings)} may see"
                        until = "it is created or its permissions let you read it"
                    output.warn(f"{problem}: topics.{tid} shows nothing until {until} (`rtcli topic list`)")
    except RtcliError:
        pass  # the server is not reachable: the stream says so, and retries


def _json_line(event: "Event") -> None:
    output.emit_json(event.data)


def describe(event: "Event") -> tuple[str, str, str, str]:
    """(time, action, resource path, summary) for one event line."""
    from rtcli.client.stream import local_time  # not at import: `rtcli --help` imports this module

    resource = event.resource or ",".join(event.channels)
    rid = event.payload.get("$id")
    if isinstance(rid, str) and rid and not resource.endswith("." + rid):
        resource = f"{resource} {rid}"
    text = summarize(event.payload, resource, width=SUMMARY_WIDTH)
    return local_time(event.timestamp), event.action or "event", resource, text


class _Pretty:
    """One colored line per event; rich is imported on first use."""

    def __init__(self) -> None:
        self.console = output.console(highlight=False, soft_wrap=True)

    def line(self, event: "Event") -> None:
        from rich.markup import escape

        when, action, resource, text = describe(event)
        style = ACTION_STYLE.get(action, "magenta")
        self.console.print(f"[dim]{when}[/] [{style}]{action:<6}[/] [bold]{escape(resource)}[/] {escape(text)}")
        self.console.file.flush()
