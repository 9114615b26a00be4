"""`rtcli subscribe CHANNEL…`: stream realtime events, readable or as JSON lines.

stdout carries only events: with ``--json`` exactly one JSON object per event per line (the event
frame's ``data`` unchanged), flushed after each line. Everything else goes to stderr, in
particular a line starting with ``subscribed`` each time the server confirms the subscription
(scripts and tests wait for it), ``reconnected`` after a reconnect, and warnings when a resume
was not possible or a channel names a topic, database or table that does not exist. Ctrl-C
(SIGINT) and SIGTERM stop it with exit 0, in a terminal or as a background job of a script; so
do ``--count N`` once N events are printed, ``--timeout S`` without ``--count``, and the reader
of a piped stdout going away (``rtcli subscribe … --json | head -1``). A fatal server error
(1008), a rejected subscription, a ``--since`` the server cannot replay from, or ``--timeout``
before ``--count`` events exits 1.
"""

# No `from __future__ import annotations` here: typer reads these signatures at start-up, and
# string annotations would cost a compile+eval each (~15 ms over all commands).

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rtcli.cli import args, output
from rtcli.cli.common import QueryOpt, state, want_json
from rtcli.cli.since import refusal
from rtcli.client.summary import summarize

if TYPE_CHECKING:
    import asyncio

    from rtcli.client.api import ApiClient
    from rtcli.client.config import Settings
    from rtcli.client.realtime import Event

ACTION_STYLE = {"create": "green", "update": "yellow", "upsert": "cyan", "delete": "red"}
MESSAGE_EVENT_STYLE = "magenta"
SUMMARY_WIDTH = 80
READER_CHECK_INTERVAL = 0.25  # seconds between checks that a piped stdout still has a reader
CHECK_TIMEOUT = 3.0  # seconds a channel check may take, per request, and before the first confirmation


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

    malformed = []
    for channel in channels:  # subscribed anyway: warned, since a typo would otherwise show nothing, forever
        if problem := check(channel):
            output.warn(problem)
            malformed.append(channel)
    settings = state(ctx).settings()
    as_json = want_json(ctx, json_)
    import asyncio  # lazy: ~30 ms that `rtcli --help` should not pay

    _stop_on_signals()
    named = [channel for channel in channels if channel not in malformed]
    run = _run(settings, channels, queries, since_value, policy, as_json, count, named=named)
    try:
        code = asyncio.run(_bounded(_while_read(run), timeout, count))
    except KeyboardInterrupt:
        code = 0
    # A reader that goes away while an event is written (`| head -1`) ends it too: see main.RtcliGroup.
    raise typer.Exit(code)


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


async def _while_read(run: Coroutine[Any, Any, int]) -> int:
    """``run``, ended with exit 0 once stdout is a pipe whose reader has gone: a stream that
    waits for events would otherwise only notice when it writes the next one, which may be never
    (``x=$(rtcli subscribe … --json | head -1)`` would hang)."""
    import asyncio
    from contextlib import suppress

    if not output.stdout_is_pipe():
        return await run
    task = asyncio.ensure_future(run)
    try:
        while not output.stdout_reader_gone():
            done, _ = await asyncio.wait({task}, timeout=READER_CHECK_INTERVAL)
            if done:
                return task.result()
    finally:
        if not task.done():
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
    output.quiet_stdout()
    return 0


async def _run(settings: Any, channels: list[str], queries: list[str], since: str | None, policy: str | None,
               as_json: bool, count: int | None = None, *, named: list[str] | None = None) -> int:
    """The stream; ``named`` are the channels whose topics, databases and tables are looked up
    meanwhile (a warning for those that do not exist, before the first ``subscribed`` line)."""
    from rtcli.client.realtime import (
        ConnectionState, Event, Gap, RealtimeClient, RealtimeFatal, ServerError, StateChange, Subscribed,
    )

    checked = _start_checks(settings, named or [])
    client = RealtimeClient(settings.endpoint, settings.project, key=settings.key, session=settings.session)
    await client.subscribe(channels, queries, since=since, policy=policy)
    printer = _json_line if as_json else _Pretty().line
    who = _acting(settings)
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
                if not confirmed and checked is not None:
                    await _settle(checked)
                confirmed = True
                for sub in item.subscriptions:
                    note = ""
                    if sub.get("resumed") is True:
                        note = " (resumed)" if item.reconnect else " (replaying the log first)"
                    output.info(f"subscribed to {', '.join(sub.get('channels') or [])} "
                                f"(id {sub.get('subscriptionId')}){who}{note}")
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


def _acting(settings: "Settings") -> str:
    """Who the subscription acts as, for the ``subscribed`` line: nothing for an API key, which
    receives everything; a guest or a user receives only what permissions let them read."""
    if settings.key:
        return ""
    if settings.session and settings.login is not None:
        return f" as {settings.login['email'] or settings.login['user'] or 'a signed-in user'}"
    return " as a guest"


# --- channels naming what does not exist ----------------------------------------------------------
# A channel is accepted whether or not its topic, database or table exists, and one naming a typo
# stays silent forever. They are looked up while the stream connects, and the first `subscribed`
# line waits for the answers (at most CHECK_TIMEOUT), so that a warning comes before it.


def topic_ids(channels: list[str]) -> list[str]:
    """The topics that ``topics.<id>`` and ``topics.<id>.events.<name>`` channels name (not patterns)."""
    found = []
    for channel in channels:
        parts = channel.split(".")
        if len(parts) in (2, 4) and parts[0] == "topics" and parts[1] not in ("*", ">") and parts[1] not in found:
            found.append(parts[1])
    return found


class Container(StrEnum):
    """What a channel's second ID names: a table, or a collection in the legacy Databases form
    (the same thing on this server, spelled as the channel spells it)."""

    TABLE = "table"
    COLLECTION = "collection"


@dataclass
class TableRef:
    id: str
    container: Container
    channels: list[str]


@dataclass
class DatabaseRef:
    """A database a channel names, the channels naming it, and the tables they name in it."""

    id: str
    channels: list[str]
    tables: dict[str, TableRef]


def database_refs(channels: list[str]) -> list[DatabaseRef]:
    """The databases and tables that ``tablesdb.<db>.tables.<t>…``, ``databases.<db>.tables.<t>…``
    and ``databases.<db>.collections.<c>…`` channels name; a ``*`` or ``>`` names none."""
    found: dict[str, DatabaseRef] = {}
    for channel in channels:
        parts = channel.split(".")
        if len(parts) < 2 or parts[0] not in ("tablesdb", "databases") or parts[1] in ("*", ">"):
            continue
        db = found.setdefault(parts[1], DatabaseRef(parts[1], [], {}))
        db.channels.append(channel)
        if len(parts) > 3 and parts[2] in ("tables", "collections") and parts[3] not in ("*", ">"):
            container = Container.COLLECTION if parts[2] == "collections" else Container.TABLE
            db.tables.setdefault(parts[3], TableRef(parts[3], container, [])).channels.append(channel)
    return list(found.values())


def _start_checks(settings: "Settings", channels: list[str]) -> "asyncio.Future[list[str]] | None":
    """Look up the topics, databases and tables ``channels`` name, in a thread (the stream does
    not wait for it); the future's result, the warnings, is printed as soon as it is known.
    Databases and tables only with an API key: nobody else may read them, so there is no verdict."""
    import asyncio
    import threading

    topics = topic_ids(channels)
    databases = database_refs(channels) if settings.key else []
    if not topics and not databases:
        return None
    from rtcli.cli.common import trim_httpx_imports

    trim_httpx_imports()  # here: it edits sys.modules, which the thread should not race with
    loop = asyncio.get_running_loop()
    found: asyncio.Future[list[str]] = loop.create_future()
    found.add_done_callback(_print_problems)

    def work() -> None:
        problems = _problems(settings, topics, databases)
        try:
            loop.call_soon_threadsafe(_resolve, found, problems)
        except RuntimeError:
            pass  # the stream has ended (its loop is closed): nobody left to tell

    threading.Thread(target=work, name="channel-check", daemon=True).start()
    return found


def _resolve(found: "asyncio.Future[list[str]]", problems: list[str]) -> None:
    if not found.done():
        found.set_result(problems)


def _print_problems(found: "asyncio.Future[list[str]]") -> None:
    if not found.cancelled():
        for problem in found.result():
            output.warn(problem)


async def _settle(found: "asyncio.Future[list[str]]") -> None:
    """Wait for the checks' warnings, so that they come before the first ``subscribed`` line;
    events wait in the socket meanwhile, at most CHECK_TIMEOUT."""
    import asyncio

    await asyncio.wait({found}, timeout=CHECK_TIMEOUT)


def _problems(settings: "Settings", topics: list[str], databases: list[DatabaseRef]) -> list[str]:
    from rtcli.client.api import ApiClient
    from rtcli.errors import RtcliError

    problems: list[str] = []
    try:
        with ApiClient(settings.endpoint, settings.project, settings.key, settings.session,
                       timeout=CHECK_TIMEOUT) as client:
            _topic_problems(client, settings, topics, problems)
            _table_problems(client, databases, problems)
    except RtcliError:
        pass  # the server is not reachable: the stream says so, and retries
    return problems


def _topic_problems(client: "ApiClient", settings: "Settings", topics: list[str], problems: list[str]) -> None:
    from rtcli.cli.common import acting_as
    from rtcli.client.topics import Topics
    from rtcli.errors import AppwriteError

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
            problems.append(f"{problem}: topics.{tid} shows nothing until {until} (`rtcli topic list`)")


def _table_problems(client: "ApiClient", databases: list[DatabaseRef], problems: list[str]) -> None:
    """One request per table named (per database where none is): a missing one costs one more,
    for the IDs that could have been meant. A refusal (a key without the databases.read scope)
    ends the checks without a verdict."""
    from functools import partial

    from rtcli.client.api import TablesDB
    from rtcli.errors import AppwriteError

    service = TablesDB(client)
    for db in databases:
        try:
            if not db.tables:
                service.get(db.id)
            for table in db.tables.values():
                try:
                    service.get_table(db.id, table.id)
                except AppwriteError as e:
                    if e.type != "table_not_found":
                        raise
                    known = _ids(partial(service.list_tables, db.id, [_LIST_LIMIT]), "tables")
                    problems.append(f"{table.container} {table.id!r} does not exist in database {db.id!r}: "
                                    f"{_until_created(table.channels)}"
                                    f"{_meant(table.id, known, f'rtcli table list --db {db.id}')}")
        except AppwriteError as e:
            if e.type != "database_not_found":
                return
            known = _ids(lambda: service.list([_LIST_LIMIT]), "databases")
            problems.append(f"database {db.id!r} does not exist: {_until_created(db.channels)}"
                            f"{_meant(db.id, known, 'rtcli db list')}")


_LIST_LIMIT = '{"method":"limit","values":[100]}'  # the IDs a typo is compared with


def _ids(fetch: Callable[[], dict[str, Any]], kind: str) -> list[str]:
    """The IDs in a list response, or none if it cannot be read (the warning still stands)."""
    from rtcli.errors import AppwriteError

    try:
        return [str(item.get("$id")) for item in fetch().get(kind) or []]
    except AppwriteError:
        return []


def _until_created(channels: list[str]) -> str:
    return f"{', '.join(channels)} {'shows' if len(channels) == 1 else 'show'} nothing until it is created"


def _meant(wrong: str, known: list[str], command: str) -> str:
    """``; did you mean 'x'?`` for the closest known ID, else where to see them all."""
    import difflib

    close = difflib.get_close_matches(wrong, known, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else f" (`{command}`)"


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
    # A topic message's own event name says more than its action, which is always create.
    return local_time(event.timestamp), event.message_event or event.action or "event", resource, text


class _Pretty:
    """One colored line per event; rich is imported on first use."""

    def __init__(self) -> None:
        self.console = output.console(highlight=False, soft_wrap=True)

    def line(self, event: "Event") -> None:
        from rich.markup import escape

        when, action, resource, text = describe(event)
        style = ACTION_STYLE.get(action, MESSAGE_EVENT_STYLE)
        self.console.print(f"[dim]{when}[/] [{style}]{escape(action):<6}[/] [bold]{escape(resource)}[/] {escape(text)}")
        self.console.file.flush()
