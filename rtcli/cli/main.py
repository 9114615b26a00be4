"""The `rtcli` command: global options, command groups, and the console-script entry point.

Start-up cost matters (`rtcli --help` < 200 ms): only typer and the light command modules are
imported here; httpx, websockets, rich tables and the server stack load inside the commands that
need them.
"""

# No `from __future__ import annotations` here: typer reads these signatures at start-up, and
# string annotations would cost a compile+eval each (~15 ms over all commands).

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from rtcli import __version__
from rtcli.cli import coerce, functions, helpfmt, monitor, profile, serve, storage, subscribe, tablesdb
from rtcli.cli import account, doctor, events, indexes, output, replay, teams, topics, users
from rtcli.cli.common import CliState

coerce.install()  # simple parameters skip typer's pydantic coercion (see coerce.py for why)
helpfmt.install()  # click's help forms, without typer's type labels (see helpfmt.py)


def _read_signatures_once() -> None:
    """typer reads every command's signature (inspect.signature, get_type_hints, a copy of each
    parameter) twice while it builds the command tree, once for the parameters and once for
    the callback: ~6 ms of every start-up, `rtcli --help` included. Both readings are the same
    and neither changes it, so the second is the first. An unfamiliar typer is left as is."""
    import typer.main as typer_main

    read = getattr(typer_main, "get_params_from_function", None)
    if read is None:
        return
    seen: dict[Any, Any] = {}

    def read_once(func: Any) -> Any:
        if func not in seen:
            seen[func] = read(func)
        return seen[func]

    typer_main.get_params_from_function = read_once


_read_signatures_once()


class RtcliGroup(TyperGroup):
    """The root command. A reader that stops reading (`rtcli events list | head -1`) is not an
    error: exit 0 quietly, where click would say nothing and exit 1."""

    def invoke(self, ctx: typer.Context) -> Any:  # not click.Context: importing click alone costs ~30 ms
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            output.quiet_stdout()
            raise typer.Exit(0) from None


app = typer.Typer(
    name="rtcli",
    cls=RtcliGroup,
    help="A realtime backend (Appwrite REST + Realtime compatible) and its client, in one program.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion, --show-completion (bash, zsh, fish, PowerShell)
    pretty_exceptions_enable=False,
    # Plain click help: typer's rich help imports rich.markdown, pygments and markdown-it
    # (~120 ms), which alone would break the 200 ms budget for `rtcli --help`.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"rtcli {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    endpoint: Annotated[str | None, typer.Option(
        "--endpoint", metavar="URL", help="API endpoint, ending in /v1. [env RTCLI_ENDPOINT; default: http://127.0.0.1:8787/v1]",
        show_default=False)] = None,
    project: Annotated[str | None, typer.Option(
        "--project", metavar="ID", help="Project ID. [env RTCLI_PROJECT; default 'default']", show_default=False)] = None,
    key: Annotated[str | None, typer.Option(
        "--key", metavar="KEY", help="API key (acts as the server). [env RTCLI_KEY]", show_default=False)] = None,
    profile_name: Annotated[str | None, typer.Option(
        "--profile", metavar="NAME", help="Named profile to read settings from. [env RTCLI_PROFILE; default 'default']",
        show_default=False)] = None,
    json_: Annotated[bool, typer.Option("--json", help="JSON output for every command.")] = False,
    version: Annotated[bool, typer.Option("--version", "-V", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Settings precedence: flag > environment > profile > default."""
    ctx.obj = CliState(flags={"endpoint": endpoint, "project": project, "key": key, "profile": profile_name},
                       json=json_)


subscribe.register(app)
monitor.register(app)
tablesdb.register(app)
indexes.register(app)
storage.register(app)
functions.register(app)
account.register(app)
teams.register(app)
users.register(app)
topics.register(app)
events.register(app)
replay.register(app)
profile.register(app)
doctor.register(app)
serve.register(app)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="rtcli")


if __name__ == "__main__":
    main()
