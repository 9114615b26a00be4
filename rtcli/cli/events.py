"""`rtcli events list`, `rtcli explain`, `rtcli presence list`: the event log and why an event
did or did not reach someone (rtcli extensions to the Appwrite API).

`events list` prints events like `rtcli subscribe` does (one line each; with ``--json`` one event
``data`` object per line, with its ``cursor``) and ends with a line on stderr naming the cursor to
read on from, so ``rtcli events list --since <that cursor>`` continues where it stopped.
"""

# No `from __future__ import annotations` here: typer reads these signatures at start-up, and
# string annotations would cost a compile+eval each (~15 ms over all commands).

import sys
from typing import Annotated, Any

import typer

from rtcli.cli import args, output, since as since_forms
from rtcli.cli.common import JsonOpt, QueryOpt, api, want_json

events_app = typer.Typer(help="The event log (every event, in order, with its cursor).", no_args_is_help=True)
presence_app = typer.Typer(help="Presences: who is here, with a status.", no_args_is_help=True)

PRESENCE_COLUMNS = ["$id", "userId", "status", "source", "expiresAt", "$updatedAt"]


def register(app: typer.Typer) -> None:
    app.add_typer(events_app, name="events")
    app.command("explain")(explain)
    app.add_typer(presence_app, name="presence")


@events_app.command("list")
def events_list(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option(
        "--since", metavar="WHEN",
        help=f"{since_forms.HELP}. Default: the latest events.",
    )] = None,
    limit: Annotated[int | None, typer.Option("--limit", metavar="N", help="At most N events (server default 100, max 1000).")]
    = None,
    channel: Annotated[list[str] | None, typer.Option("--channel", "-c", metavar="CHANNEL",
                                                      help="Only events on this channel, repeatable.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Read on page after page to the end of the log.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Read the event log: rtcli events list --since 10m -c rows"""
    from rtcli.client.realtime import Event

    since_value = args.parse_since(since)
    if limit is not None and limit < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--limit")
    as_json = want_json(ctx, json_)
    if as_json:
        printer: Any = lambda ev: output.emit_json(ev.data)  # noqa: E731
    else:
        from rtcli.cli.subscribe import _Pretty

        printer = _Pretty().line

    def read(client: Any) -> tuple[int, dict]:
        from rtcli.client.events import Events

        count, page = 0, {}
        pages = Events(client).pages(since_value, limit, channel or ())
        for page in pages:
            for data in page.get("events") or []:
                printer(Event(data))
                count += 1
            if not all_:
                break
        return count, page

    count, last = api(ctx, read)  # a reader that goes away (`| head -1`): see main.RtcliGroup
    cursor = last.get("cursor")
    if last.get("more"):
        output.info(f"{count} event(s); more after them: rtcli events list --since {cursor}")
    elif cursor:
        output.info(f"{count} event(s); the end of the log (cursor {cursor})")
    else:
        output.info(f"{count} event(s); the log is empty")


def explain(
    ctx: typer.Context,
    cursor: Annotated[str, typer.Argument(metavar="EVENT_CURSOR", help="The event's cursor (from --json output).",
                                          show_default=False)],
    user: Annotated[str | None, typer.Option("--user", metavar="ID", help="As this user (with its roles now).")] = None,
    key: Annotated[bool, typer.Option("--key", help="As an API key connection.")] = False,
    guest: Annotated[bool, typer.Option("--guest", help="As a guest (no session).")] = False,
    channel: Annotated[str | None, typer.Option("--channel", "-c", metavar="CHANNEL",
                                                help="The channel (or pattern) subscribed to.")] = None,
    query: QueryOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Why an event did or did not reach a subscriber (needs an API key with events.read).

    rtcli explain c1.9594a941.1042 --user u1 -c rows -q 'n>=2'"""
    if [bool(user), key, guest].count(True) != 1:
        raise typer.BadParameter("say who subscribes: --user ID, --key or --guest (one of them)", param_hint="--user")
    queries = [args.parse_query(q) for q in query or []]

    def ask(client: Any) -> dict:
        from rtcli.client.events import Events

        return Events(client).explain(cursor, user=user, key=key, channel=channel, queries=queries)

    result = api(ctx, ask)
    if want_json(ctx, json_):
        output.emit_json(result)
        return
    sys.stdout.write("".join(line + "\n" for line in verdict_lines(result)))


def verdict_lines(r: dict) -> list[str]:
    """The explain response as aligned ``label  yes/no  reason`` lines, the verdict last."""
    from rtcli.client.events import explain_checks

    lines = []
    for label, passed, text in explain_checks(r):
        mark = "" if passed is None or label in ("verdict", "dropped") else ("yes " if passed else "no  ")
        lines.append(f"{label:<11} {mark}{text}")
    return lines


@presence_app.command("list")
def presence_list(ctx: typer.Context, query: QueryOpt = None, json_: JsonOpt = False) -> None:
    """List the presences you may read."""
    queries = [args.parse_query(q) for q in query or []]

    def get(client: Any) -> dict:
        from rtcli.client.events import Presences

        return Presences(client).list(queries)

    output.render_list(api(ctx, get), want_json(ctx, json_), "presences", PRESENCE_COLUMNS)
