"""`rtcli topic …` (manage topics) and `rtcli publish TOPIC …` (publish messages to one).

`publish` prints one acknowledgement per message on stdout (``--json``: the server's JSON, one
line each) and exits 1 at the first refusal. With ``-`` it reads JSON lines from stdin, one
message each, so that a stream can be republished:
``rtcli subscribe topics.a --json | jq -c … | rtcli publish b -``. A line that is a whole
event (what ``rtcli subscribe --json`` prints) publishes its payload.
"""

# No `from __future__ import annotations` here: typer reads these signatures at start-up, and
# string annotations would cost a compile+eval each (~15 ms over all commands).

import json
import sys
from typing import Annotated, Any

import typer

from rtcli.cli import args, output
from rtcli.cli.common import JsonOpt, PermissionOpt, QueryOpt, api, maybe, trim_httpx_imports, want_json
from rtcli.errors import AppwriteError

topic_app = typer.Typer(help="Topics: streams to publish events to (durable: in the event log; ephemeral: live only).",
                        no_args_is_help=True)

TopicArg = Annotated[str, typer.Argument(metavar="ID", help="The topic ID.", show_default=False)]
NameOpt = Annotated[str | None, typer.Option("--name", metavar="NAME", help="Display name (default: the ID).")]
TOPIC_COLUMNS = ["$id", "name", "mode", "$permissions", "$createdAt"]


def register(app: typer.Typer) -> None:
    app.add_typer(topic_app, name="topic")
    app.command("publish")(publish)


def _topics(client: Any) -> Any:
    from rtcli.client.topics import Topics  # lazy: it imports httpx

    return Topics(client)


def _perms(permission: list[str] | None) -> list[str] | None:
    return maybe([args.parse_permission(p) for p in permission or []])


@topic_app.command("create")
def topic_create(
    ctx: typer.Context, topic_id: TopicArg, name: NameOpt = None,
    ephemeral: Annotated[bool, typer.Option("--ephemeral", help="Live only: messages are never stored or replayed "
                                                                "(default: durable, every message in the log).")] = False,
    permission: PermissionOpt = None, json_: JsonOpt = False,
) -> None:
    """Create a topic: rtcli topic create chat -p read:users -p create:users

    read = who receives its messages, create = who may publish, update/delete = who manages it.
    With no permission, only API keys may publish or receive."""
    trim_httpx_imports()
    mode = "ephemeral" if ephemeral else "durable"
    result = api(ctx, lambda c: _topics(c).create(topic_id, name, mode, _perms(permission)))
    output.render(result, want_json(ctx, json_))


@topic_app.command("list")
def topic_list(ctx: typer.Context, query: QueryOpt = None, json_: JsonOpt = False) -> None:
    """List the topics (a user sees those it may receive from, publish to or manage)."""
    trim_httpx_imports()
    queries = [args.parse_query(q) for q in query or []]
    output.render_list(api(ctx, lambda c: _topics(c).list(queries)), want_json(ctx, json_), "topics", TOPIC_COLUMNS)


@topic_app.command("get")
def topic_get(ctx: typer.Context, topic_id: TopicArg, json_: JsonOpt = False) -> None:
    """Show one topic."""
    trim_httpx_imports()
    output.render(api(ctx, lambda c: _topics(c).get(topic_id)), want_json(ctx, json_))


@topic_app.command("update")
def topic_update(
    ctx: typer.Context, topic_id: TopicArg, name: NameOpt = None,
    mode: Annotated[str | None, typer.Option("--mode", metavar="MODE", help="durable or ephemeral.")] = None,
    permission: PermissionOpt = None, json_: JsonOpt = False,
) -> None:
    """Change a topic's name, mode or permissions (-p replaces them all)."""
    if mode is not None and mode not in ("durable", "ephemeral"):
        raise typer.BadParameter("must be durable or ephemeral", param_hint="--mode")
    perms = _perms(permission)
    if name is None and mode is None and perms is None:
        raise typer.BadParameter("nothing to change: give --name, --mode or -p", param_hint="--name")
    trim_httpx_imports()
    output.render(api(ctx, lambda c: _topics(c).update(topic_id, name, mode, perms)), want_json(ctx, json_))


@topic_app.command("delete")
def topic_delete(ctx: typer.Context, topic_id: TopicArg, json_: JsonOpt = False) -> None:
    """Delete a topic (its durable messages stay in the event log until retention)."""
    trim_httpx_imports()
    api(ctx, lambda c: _topics(c).delete(topic_id))
    output.done(f"deleted topic {topic_id}", want_json(ctx, json_))


# --- publish ------------------------------------------------------------------------------------


def publish(
    ctx: typer.Context,
    topic: Annotated[str, typer.Argument(metavar="TOPIC", help="The topic ID.", show_default=False)],
    message: Annotated[list[str] | None, typer.Argument(
        metavar="[DATA | KEY=VALUE… | -]",
        help="The message: a JSON object, key=value pairs (values parsed as JSON when they parse), "
             "or - to read JSON lines from stdin, one message each.", show_default=False)] = None,
    event: Annotated[str | None, typer.Option("--event", metavar="NAME",
                                              help="An event name, for channels topics.TOPIC.events.NAME and queries.")] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print each acknowledgement as a JSON line.")] = False,
) -> None:
    """Publish a message to a topic: rtcli publish chat text=hello --event say

    Prints the acknowledgement (message ID, and the cursor of a durable topic's message); exits 1
    when the server refuses a message. `rtcli subscribe topics.TOPIC` receives them."""
    items = message or []
    as_json = want_json(ctx, json_)
    trim_httpx_imports()
    if items == ["-"]:
        api(ctx, lambda c: _publish_lines(_topics(c), topic, event, as_json))
        return
    data = _message(items)
    _acknowledge(api(ctx, lambda c: _send(_topics(c), topic, data, event)), topic, as_json)


CHANNEL_PREFIX = "topics."


def _send(topics: Any, topic: str, data: dict, event: str | None) -> dict:
    """One message; a topic the server does not know gets a hint: a channel typed for the ID
    (`topics.jobs`), or the command that creates it."""
    try:
        result: dict = topics.publish(topic, data, event)
        return result
    except AppwriteError as e:
        if e.type != "topic_not_found":
            raise
        if topic.startswith(CHANNEL_PREFIX) and len(topic) > len(CHANNEL_PREFIX):
            meant = topic.removeprefix(CHANNEL_PREFIX).split(".")[0]
            hint = f"publish takes the topic ID, not its channel: did you mean {meant!r}?"
        else:
            hint = f"create it with `rtcli topic create {topic}`, or see `rtcli topic list`"
        raise AppwriteError(e.type, f"{e.message.rstrip('.')}: {hint}", e.code) from None


def _message(items: list[str]) -> dict:
    if not items:
        raise typer.BadParameter("give the message: a JSON object, key=value pairs, or - for JSON lines on stdin",
                                 param_hint="DATA")
    if len(items) == 1 and items[0].lstrip().startswith("{"):
        return args.parse_data(items[0], hint="DATA") or {}
    if "-" in items:
        raise typer.BadParameter("- (read stdin) stands alone", param_hint="DATA")
    return args.parse_data(None, items) or {}


def _line_message(line: str, number: int) -> dict:
    try:
        value = json.loads(line)
    except ValueError as e:
        output.fail(f"stdin line {number} is not JSON ({e}); each line must be one JSON object", code=2)
    if isinstance(value, dict) and isinstance(value.get("payload"), dict) and "events" in value:
        value = value["payload"]  # an event line, as `rtcli subscribe --json` prints them
    if not isinstance(value, dict):
        output.fail(f"stdin line {number} is not a JSON object; a message is an object like {{\"text\": \"hi\"}}", code=2)
    return value


def _publish_lines(topics: Any, topic: str, event: str | None, as_json: bool) -> None:
    for number, line in enumerate(sys.stdin, 1):
        if line.strip():
            _acknowledge(_send(topics, topic, _line_message(line, number), event), topic, as_json)


def _acknowledge(ack: dict, topic: str, as_json: bool) -> None:
    if as_json:
        output.emit_json(ack)
        return
    cursor = ack.get("cursor")
    sys.stdout.write(f"published {ack.get('$id')} to {topic}" + (f" (cursor {cursor})" if cursor else " (ephemeral)")
                     + "\n")
    sys.stdout.flush()
