"""`rtcli function …` and `rtcli execution …`: functions (commands on the server's machine) and runs.

`function run` prints the execution's response body on stdout, exactly as the function wrote
it, and its status and duration on stderr; it exits 1 when the execution failed. With
``--json`` stdout carries the execution JSON instead (with ``--async``, one document per status
change, the final execution last).
"""

# No `from __future__ import annotations` here: typer reads these signatures at start-up, and
# string annotations would cost a compile+eval each (~15 ms over all commands).

import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from rtcli.cli import args, output
from rtcli.cli.common import JsonOpt, QueryOpt, call, state, want_json

if TYPE_CHECKING:
    from rtcli.client.functions import Functions

T = TypeVar("T")

function_app = typer.Typer(help="Functions: commands the server runs on its machine.", no_args_is_help=True)
execution_app = typer.Typer(help="Executions of a function.", no_args_is_help=True)

FUNCTION_COLUMNS = ["$id", "name", "command", "events", "execute", "timeout", "enabled"]
EXECUTION_COLUMNS = ["$id", "trigger", "status", "code", "duration", "$createdAt"]
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD")


def register(app: typer.Typer) -> None:
    app.add_typer(function_app, name="function")
    app.add_typer(execution_app, name="execution")


def _call(ctx: typer.Context, fn: "Callable[[Functions], T]") -> T:
    """``common.call`` with the Functions service (errors: one line on stderr, exit 1)."""

    def run(tables: Any) -> T:
        from rtcli.client.functions import Functions

        return fn(Functions(tables.client))

    return call(ctx, run)


def _with_code(item: dict) -> dict:
    return {**item, "code": item.get("responseStatusCode")}  # a short column for executions


def _list_or_none(values: list[str] | None) -> list[str] | None:
    """A repeatable option: None when absent; ``''`` alone means an empty list (to clear it)."""
    if not values:
        return None
    return [v for v in values if v != ""]


FunctionArg = Annotated[str, typer.Argument(metavar="FUNCTION_ID", help="Function ID.", show_default=False)]
NameOpt = Annotated[str | None, typer.Option("--name", metavar="NAME", help="Display name (default: the ID).")]
EventsOpt = Annotated[list[str] | None, typer.Option(
    "--events", metavar="PATTERN",
    help="Run on each event with this name, e.g. 'tablesdb.*.tables.messages.rows.*.create' (repeatable).")]
TimeoutOpt = Annotated[int | None, typer.Option("--timeout", metavar="S",
                                                help="Seconds, a whole number, before the run is killed (1-900; default 15).")]
ExecuteOpt = Annotated[list[str] | None, typer.Option(
    "--execute", metavar="ROLE", help="Who may run it besides API keys: any, users, guests, user:ID, team:ID (repeatable).")]
CommandOpt = Annotated[str, typer.Option(
    "--command", metavar="COMMAND", help='What to run: a shell command line, run by /bin/sh -c on the server '
                                         '(pipes, $VARS, && work), e.g. "python3 handler.py". Request body on stdin, '
                                         "response body from stdout; a non-zero exit fails the execution.",
    show_default=False)]


# --- functions --------------------------------------------------------------------------------


@function_app.command("create")
def function_create(
    ctx: typer.Context,
    function_id: Annotated[str, typer.Argument(metavar="ID", help="Function ID.", show_default=False)],
    command: CommandOpt,
    name: NameOpt = None, events: EventsOpt = None, timeout: TimeoutOpt = None, execute: ExecuteOpt = None,
    cwd: Annotated[str | None, typer.Option(
        "--cwd", metavar="DIR",
        help="Working directory of the command ON THE SERVER'S MACHINE, where it runs. Default: the current "
             "directory, made absolute (right when the server runs here).")] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it disabled.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Create a function: rtcli function create greet --command "python3 handler.py" --execute users

    The command runs on the server's machine (not this one), with the request body on stdin;
    stdout becomes the response body. See README "Functions are local commands"."""
    directory = os.path.abspath(cwd if cwd is not None else os.getcwd())
    result = _call(ctx, lambda f: f.create(function_id, name or function_id, command,
                                           events=_list_or_none(events), timeout=timeout,
                                           execute=_list_or_none(execute), cwd=directory,
                                           enabled=False if disabled else None))
    output.render(result, want_json(ctx, json_))


@function_app.command("update")
def function_update(
    ctx: typer.Context, function_id: FunctionArg,
    command: Annotated[str | None, typer.Option("--command", metavar="COMMAND", help="What to run.")] = None,
    name: NameOpt = None, events: EventsOpt = None, timeout: TimeoutOpt = None, execute: ExecuteOpt = None,
    cwd: Annotated[str | None, typer.Option(
        "--cwd", metavar="DIR", help="Working directory on the server's machine (made absolute here).")] = None,
    enabled: Annotated[bool | None, typer.Option("--enabled/--disabled", help="Let it run, or not.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Change a function; only the options given change. --events '' or --execute '' clears that list."""
    fields = dict(command=command, name=name, events=_list_or_none(events), timeout=timeout,
                  execute=_list_or_none(execute), cwd=os.path.abspath(cwd) if cwd is not None else None,
                  enabled=enabled)
    if all(v is None for v in fields.values()):
        raise typer.BadParameter("nothing to change: give --command, --name, --events, --timeout, --execute, "
                                 "--cwd or --enabled/--disabled", param_hint="OPTIONS")
    output.render(_call(ctx, lambda f: f.update(function_id, **fields)), want_json(ctx, json_))


@function_app.command("list")
def function_list(ctx: typer.Context, query: QueryOpt = None, json_: JsonOpt = False) -> None:
    """List functions."""
    queries = [args.parse_query(q) for q in query or []]
    output.render_list(_call(ctx, lambda f: f.list(queries)), want_json(ctx, json_), "functions", FUNCTION_COLUMNS,
                       _with_code)


@function_app.command("get")
def function_get(ctx: typer.Context, function_id: FunctionArg, json_: JsonOpt = False) -> None:
    """Show one function."""
    output.render(_call(ctx, lambda f: f.get(function_id)), want_json(ctx, json_))


@function_app.command("delete")
def function_delete(ctx: typer.Context, function_id: FunctionArg, json_: JsonOpt = False) -> None:
    """Delete a function and its executions."""
    _call(ctx, lambda f: f.delete(function_id))
    output.done(f"deleted function {function_id}", want_json(ctx, json_))


# --- run ----------------------------------------------------------------------------------------


def _read_body(body: str | None, body_file: str | None) -> str | None:
    if body is not None and body_file is not None:
        raise typer.BadParameter("give --body or --body-file, not both", param_hint="--body/--body-file")
    if body_file is None:
        return body
    try:
        data = sys.stdin.buffer.read() if body_file == "-" else open(body_file, "rb").read()
    except OSError as e:
        raise typer.BadParameter(f"cannot read {body_file}: {e.strerror}", param_hint="--body-file") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise typer.BadParameter("the body must be UTF-8 text", param_hint="--body-file") from None


def _headers(values: list[str] | None) -> dict[str, str] | None:
    if not values:
        return None
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint="--header")
        out[key.strip()] = value
    return out


def _status_line(e: dict) -> str:
    status = e.get("status")
    if status in ("completed", "failed"):
        duration = e.get("duration")
        took = f" in {duration:.3f} s" if isinstance(duration, (int, float)) else ""
        return f"{status} {e.get('responseStatusCode')}{took} (execution {e.get('$id')})"
    return f"{status} (execution {e.get('$id')})"


def _finish(e: dict, as_json: bool, json_emitted: bool = False) -> None:
    """Report a final execution: body or JSON on stdout, status (and errors) on stderr; exit 1 if failed."""
    failed = e.get("status") != "completed"
    if as_json:
        if not json_emitted:
            output.emit_json(e)
    else:
        body = e.get("responseBody") or ""
        sys.stdout.write(body)
        if body and not body.endswith("\n") and sys.stdout.isatty():
            sys.stdout.write("\n")
        sys.stdout.flush()
    if failed:
        output.error(_status_line(e))
        errors = (e.get("errors") or "").rstrip()
        logs = (e.get("logs") or "").rstrip()
        if errors:
            sys.stderr.write(f"errors:\n{errors}\n")
        if logs and not errors.endswith(logs):  # errors quote the end of stderr: do not print it twice
            sys.stderr.write(f"logs:\n{logs}\n")
        raise typer.Exit(1)
    output.info(_status_line(e))


@function_app.command("run")
def function_run(
    ctx: typer.Context, function_id: FunctionArg,
    body: Annotated[str | None, typer.Option("--body", metavar="TEXT", help="Request body (the command's stdin).")] = None,
    body_file: Annotated[str | None, typer.Option("--body-file", metavar="FILE", help="Read the body from FILE (- for stdin).")] = None,
    path: Annotated[str | None, typer.Option("--path", metavar="PATH", help="Request path (default /).")] = None,
    method: Annotated[str | None, typer.Option(
        "--method", metavar="METHOD", help="GET, POST (default), PUT, PATCH, DELETE, OPTIONS or HEAD.")] = None,
    header: Annotated[list[str] | None, typer.Option("--header", "-H", metavar="NAME=VALUE", help="Request header (repeatable).")] = None,
    asynchronous: Annotated[bool, typer.Option(
        "--async", help="Queue the execution on the server rather than hold the request open for it, then follow "
                        "its status until it ends (Ctrl-C stops following, not the run).")] = False,
    json_: JsonOpt = False,
) -> None:
    """Run a function: the response body goes to stdout, the status and duration to stderr.

    Exits 1 if the execution failed. --async follows the execution: over realtime with a user
    session, else (API keys get no execution events) by polling."""
    text = _read_body(body, body_file)
    headers = _headers(header)
    if method is not None and method.upper() not in METHODS:
        raise typer.BadParameter(f"must be one of {', '.join(METHODS)}", param_hint="--method")
    verb = method.upper() if method else None
    as_json = want_json(ctx, json_)
    if not asynchronous:
        result = _call(ctx, lambda f: f.create_execution(function_id, text, False, path, verb, headers))
        _finish(result, as_json)
        return
    settings = state(ctx).settings()
    from rtcli import ids

    created_after = ids.format_datetime(time.time() - 1.0)

    def follow(f: "Functions") -> dict:
        execution = f.create_execution(function_id, text, True, path, verb, headers)
        try:
            if settings.session and not settings.key:
                return _follow_realtime(f, execution, settings, created_after, as_json)
            return _show_changes(f.poll_execution(execution), as_json)
        except KeyboardInterrupt:
            output.info(f"stopped following; execution {execution['$id']} goes on "
                        f"(rtcli execution get {function_id} {execution['$id']})")
            raise typer.Exit(130) from None

    _finish(_call(ctx, follow), as_json, json_emitted=True)


def _show(e: dict, as_json: bool) -> None:
    if as_json:
        output.emit_json(e)
    elif e.get("status") not in ("completed", "failed"):  # the final line is _finish's
        output.info(_status_line(e))


def _show_changes(changes: Any, as_json: bool) -> dict:
    last: dict = {}
    for last in changes:
        _show(last, as_json)
    return last


def _follow_realtime(f: "Functions", execution: dict, settings: Any, created_after: str, as_json: bool) -> dict:
    import asyncio

    from rtcli.client.realtime import RealtimeFatal

    shown: list[dict] = []

    async def run() -> None:
        async for e in f.follow_execution(execution, endpoint=settings.endpoint, project=settings.project,
                                          session=settings.session, created_after=created_after):
            _show(e, as_json)
            shown.append(e)

    try:
        asyncio.run(run())
    except RealtimeFatal as e:
        output.warn(f"realtime refused ({e}); polling instead")
        rest = f.poll_execution(shown[-1] if shown else execution)
        if shown:
            next(rest)  # already shown
        return _show_changes(rest, as_json) or shown[-1]
    return shown[-1]


# --- executions ---------------------------------------------------------------------------------


@execution_app.command("list")
def execution_list(
    ctx: typer.Context, function_id: FunctionArg, query: QueryOpt = None,
    limit: Annotated[int | None, typer.Option("--limit", metavar="N", help="At most this many executions.")] = None,
    json_: JsonOpt = False,
) -> None:
    """List a function's executions: rtcli execution list greet -q status=failed"""
    queries = [args.parse_query(q) for q in query or []]
    if limit is not None:
        queries.append(args.limit_query(limit))
    output.render_list(_call(ctx, lambda f: f.list_executions(function_id, queries)), want_json(ctx, json_),
                       "executions", EXECUTION_COLUMNS, _with_code)


@execution_app.command("get")
def execution_get(
    ctx: typer.Context, function_id: FunctionArg,
    execution_id: Annotated[str, typer.Argument(metavar="EXECUTION_ID", help="Execution ID.", show_default=False)],
    json_: JsonOpt = False,
) -> None:
    """Show one execution (its logs and errors only to API keys)."""
    output.render(_call(ctx, lambda f: f.get_execution(function_id, execution_id)), want_json(ctx, json_))
