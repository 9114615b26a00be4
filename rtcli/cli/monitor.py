"""`rtcli monitor [CHANNEL…]`: the live event stream in a Textual TUI.

Thin: parse the options, resolve the settings like every other command, hand over to
``rtcli.tui``. Textual is imported inside the command only, so `rtcli --help` stays fast and
never loads it. Each CHANNEL becomes its own subscription (with every ``--query``), so the
subscriptions panel counts them separately; with no CHANNEL the monitor watches rows, files and
executions. With stdout no terminal it refuses (exit 2) and points at `rtcli subscribe`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from rtcli.cli import args, since
from rtcli.cli.common import QueryOpt, state

if TYPE_CHECKING:
    from rtcli.client.config import Settings

DEFAULT_CHANNELS = ("rows", "files", "executions")
THEMES = {"dark": "textual-dark", "light": "textual-light", "ansi": "ansi-dark"}


def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor)


def monitor(
    ctx: typer.Context,
    channels: Annotated[list[str] | None, typer.Argument(
        metavar="CHANNEL", help="Channels, one subscription each (default: rows files executions).",
        show_default=False)] = None,
    query: QueryOpt = None,
    since: Annotated[str | None, typer.Option(
        "--since", metavar="WHEN", help=f"Replay first: {since.HELP}.",
    )] = None,
    buffer: Annotated[int, typer.Option(
        "--buffer", metavar="N", min=1, help="Events kept in memory; older ones leave the table.")] = 10_000,
    theme: Annotated[str | None, typer.Option(
        "--theme", metavar="THEME",
        help="dark (default), light, ansi-dark / ansi-light (the terminal's own colours), or any Textual theme.",
        show_default=False)] = None,
) -> None:
    """Watch events live in a full-screen TUI: filter, pause, inspect, and cause events (rows, files, functions)."""
    queries = [args.parse_query(q) for q in query or []]
    since_value = args.parse_since(since)
    settings = state(ctx).settings()
    subscriptions = [([channel], queries) for channel in (channels or DEFAULT_CHANNELS)]
    if since_value is not None:
        _check_since(settings, subscriptions, since_value)

    from rtcli.tui import use_frame_rate

    use_frame_rate()
    from textual.app import InvalidThemeError  # lazy: textual costs ~150 ms to import

    from rtcli.tui.app import MonitorApp

    try:
        app = MonitorApp.connect(settings, subscriptions, since=since_value, buffer=buffer,
                                 theme=THEMES.get(theme or "", theme))
    except InvalidThemeError:
        raise typer.BadParameter(f"no theme {theme!r}; try dark, light, ansi-dark or ansi-light",
                                 param_hint="--theme") from None
    _need_terminal()
    code = app.run()
    raise typer.Exit(code or 0)


def _need_terminal() -> None:
    """Exit 2 when stdout is no terminal: the TUI would write its screen's escape codes into a
    file or pipe and run until killed. Checked after the options, so that their errors come first."""
    import sys

    if not sys.stdout.isatty():
        from rtcli.cli import output

        output.fail("rtcli monitor needs a terminal; for a file or a pipe use `rtcli subscribe` "
                    "(with --json for one JSON object per line)", code=2)


def _check_since(settings: Settings, subscriptions: list[tuple[list[str], list[str]]], since: str) -> None:
    """Exit 1, as `rtcli subscribe` does, when the server cannot replay from ``since``: asked
    before the TUI starts, so the reason and the accepted forms stay on the terminal."""
    import asyncio

    from rtcli.cli import output
    from rtcli.cli.since import check

    if problem := asyncio.run(check(settings, subscriptions, since)):
        output.error(problem)
        raise typer.Exit(1)
