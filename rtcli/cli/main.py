"""The `rtcli` command: global options, command groups, and the console-script entry point.

Start-up cost matters (`rtcli --help` < 200 ms): only typer and the light command modules are
imported here; httpx, websockets, rich tables and the server stack load inside the commands that
need them.
"""

# No `from __future__ import annotations` here: typer reads these signatures at start-up, and
# string annotations would cost a compile+eval each (~15 ms over all commands).

import inspect
import sys
from dataclasses import dataclass
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


# The click that typer runs on: its own copy in recent releases (importing click itself would cost
# ~30 ms), click in older ones. typer.BadParameter is that click's, so its module has the rest.
_click_errors = sys.modules[typer.BadParameter.__module__]
NoSuchOption: Any = _click_errors.NoSuchOption
UsageError: Any = _click_errors.UsageError


@dataclass(frozen=True)
class GlobalOption:
    """An option of the root command, as a hint spells it: ``--key KEY``, ``--json``."""

    names: tuple[str, ...]
    metavar: str | None  # None for a flag

    def usage(self, typed: str) -> str:
        return typed if self.metavar is None else f"{typed} {self.metavar}"


# Commands that run the server rather than talk to one: the client settings mean nothing to them.
SERVER_COMMANDS = frozenset({"serve"})


def global_options(ctx: typer.Context) -> list[GlobalOption]:
    """The options `root` declares (not typer's completion options, which stand alone)."""
    declared = inspect.signature(root).parameters
    return [GlobalOption(tuple(p.opts), None if getattr(p, "is_flag", False) else p.metavar)
            for p in ctx.command.params if p.name in declared and p.opts]


def misplaced_global(ctx: typer.Context, error: Any) -> Exception | None:
    """The usage error for a global option given after a command that has no option of that
    name (`rtcli db list --key K`): click would only list the command's own options, which
    reads as if the option did not exist at all."""
    option = next((o for o in global_options(ctx) if error.option_name in o.names), None)
    if option is None or error.ctx is None:
        return None
    typed = error.option_name
    command = error.ctx.command_path.removeprefix(ctx.command_path).strip()
    if command in SERVER_COMMANDS:
        return UsageError(f"{typed} is a global option of the client commands; `{error.ctx.command_path}` does not "
                          f"read it (its own options: {error.ctx.command_path} -h)", ctx=error.ctx)
    fixed = " ".join(filter(None, (ctx.command_path, option.usage(typed), command)))
    return UsageError(f"{typed} is a global option: put it before the command: {fixed} …", ctx=error.ctx)


class RtcliGroup(TyperGroup):
    """The root command. A reader that stops reading (`rtcli events list | head -1`) is not an
    error: exit 0 quietly, where click would say nothing and exit 1. A global option after the
    command is named as such (see ``misplaced_global``)."""

    def invoke(self, ctx: typer.Context) -> Any:  # not click.Context: importing click alone costs ~30 ms
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            output.quiet_stdout()
            raise typer.Exit(0) from None
        except NoSuchOption as e:
            raise misplaced_global(ctx, e) or e from None


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
