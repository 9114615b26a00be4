"""What every command shares: the global options' state, reusable option types, the API call wrapper."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from typer.core import TyperCommand

from rtcli.client.config import ConfigError, Settings, resolve_settings
from rtcli.cli import output
from rtcli.errors import AppwriteError, RtcliError

if TYPE_CHECKING:
    from rtcli.client.api import ApiClient, TablesDB

T = TypeVar("T")


@dataclass
class CliState:
    """The global options as given (None when absent); settings are resolved on first use."""

    flags: dict[str, str | None] = field(default_factory=dict)
    json: bool = False
    _settings: Settings | None = None

    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = resolve_settings(self.flags)
            except ConfigError as e:
                output.fail(str(e), code=2)
            for warning in self._settings.warnings:
                output.warn(warning)
        return self._settings


def state(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj


def want_json(ctx: typer.Context, flag: bool) -> bool:
    """``--json`` given on the command or globally (``rtcli --json row list …``)."""
    return flag or state(ctx).json


def call(ctx: typer.Context, fn: Callable[[TablesDB], T]) -> T:
    """Run ``fn`` with a TablesDB service for the resolved settings; API and connection errors
    are printed as one line on stderr and exit 1."""
    settings = state(ctx).settings()
    trim_httpx_imports()
    from rtcli.client.api import ApiClient, TablesDB  # lazy: httpx is the costliest import of a one-shot

    try:
        with ApiClient(settings.endpoint, settings.project, settings.key, settings.session) as client:
            return fn(TablesDB(client))
    except RtcliError as e:
        fail_as(e, settings)


def api(ctx: typer.Context, fn: Callable[[ApiClient], T], *, key: bool = True, session: bool = True) -> T:
    """Like ``call``, with the ApiClient itself. ``key=False`` / ``session=False`` leave that
    credential out (signup and login go as a guest, whoami reads the account with the session)."""
    settings = state(ctx).settings()
    trim_httpx_imports()
    from rtcli.client.api import ApiClient

    try:
        with ApiClient(settings.endpoint, settings.project, settings.key if key else None,
                       settings.session if session else None) as client:
            return fn(client)
    except RtcliError as e:
        fail_as(e, settings, key=key, session=session)


KEY_SOURCES = {"flag": "--key", "env": "RTCLI_KEY", "profile": "the profile's key"}


def acting_as(settings: Settings, *, key: bool = True, session: bool = True) -> str:
    """Who a request went as, in words: the API key (and where it came from), the stored
    session of a user, or a guest."""
    if key and settings.key:
        return f"the API key from {KEY_SOURCES.get(settings.sources.get('key', ''), 'the settings')}"
    if session and settings.session and settings.login is not None:
        return f"the stored session of {settings.login['email'] or settings.login['user'] or 'a user'} " \
               f"(profile {settings.profile!r})"
    return "a guest (no API key, no login)"


def auth_advice(settings: Settings, *, key: bool = True, session: bool = True,
                exc: AppwriteError | None = None) -> str:
    if key and settings.key and exc is not None and exc.type == "user_unauthorized" and "API key" in exc.message:
        # Not a scope: the server does not know the key at all.
        return ("this server does not know that key (another server's, or from before a restart with "
                "another --api-key?): use the key in the server's data directory (.rtcli/api-key), "
                "and `rtcli doctor` to check")
    if key and settings.key:
        return "use a key with that scope (`rtcli key create -s SCOPE`) or the server's key (.rtcli/api-key)"
    if session and settings.session:
        return "set RTCLI_KEY=$(cat .rtcli/api-key) (or --key) for server access; a key wins over the session"
    return "set RTCLI_KEY=$(cat .rtcli/api-key) (or --key), or `rtcli login`"


def fail_as(exc: RtcliError, settings: Settings, *, key: bool = True, session: bool = True) -> NoReturn:
    """``output.fail``; a refusal (401) also says who the command acted as and what to do."""
    # A wrong email or password is a refusal of what was typed, not of who the command acted as.
    if isinstance(exc, AppwriteError) and exc.code == 401 and exc.type != "user_invalid_credentials":
        output.fail(f"{output.describe_error(exc)}; acted as {acting_as(settings, key=key, session=session)}: "
                    f"{auth_advice(settings, key=key, session=session, exc=exc)}")
    output.fail(exc)


def trim_httpx_imports() -> None:
    """Keep ``import httpx`` from loading what a one-shot sync request never uses.

    - ``httpx/__init__`` imports ``httpx._main`` (click, rich.progress, rich.syntax, pygments) just
      to expose ``httpx.main``, the httpx command line: about 40 % of httpx's import time.
    - ``httpcore`` imports ``trio`` at import time whenever it is installed, to pick async locks
      for code running under trio; rtcli's REST client is sync and never runs under trio, and
      importing trio costs more than httpx itself.

    This process is rtcli's CLI, so it registers a stand-in for the first and blocks the second
    (``sys.modules[name] = None`` makes ``import trio`` raise ImportError, which httpcore handles).
    Both are no-ops once httpx or trio are imported, and harmless if a future httpx changes.
    """

    if "httpx" in sys.modules:
        return
    if "httpx._main" not in sys.modules:
        import types

        stub = types.ModuleType("httpx._main")

        def main(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("the httpx command line is not loaded in the rtcli process")

        stub.main = main  # type: ignore[attr-defined]
        sys.modules["httpx._main"] = stub
    sys.modules.setdefault("trio", None)  # type: ignore[arg-type]


def ask(label: str, *, hide: bool = False, confirm: bool = False) -> str:
    """A prompted value (on stderr, so stdout stays clean); one line of stdin when it is no terminal."""
    if sys.stdin.isatty():
        return typer.prompt(label, hide_input=hide, confirmation_prompt=confirm, err=True)
    line = sys.stdin.readline()
    if not line:
        output.fail(f"no {label.lower()} given (stdin is empty)", code=2)
    return line.rstrip("\r\n")


PASSWORD_LENGTH = (8, 256)  # the server's rule for a new password, as in Appwrite


def ask_new_password(label: str = "Password") -> str:
    """A new password: the rule is in the prompt, before it is typed, and checked here, so a
    short one is asked again at once (on a terminal) instead of refused after the confirmation."""
    low, high = PASSWORD_LENGTH
    rule = f"{low} to {high} characters"

    def check(value: str) -> str:
        if not low <= len(value) <= high:
            raise typer.BadParameter(f"the password must be {rule} long, not {len(value)}")
        return value

    if sys.stdin.isatty():
        return typer.prompt(f"{label} ({rule})", hide_input=True, confirmation_prompt=True, err=True,
                            value_proc=check)
    try:
        return check(ask(label))
    except typer.BadParameter as e:
        output.fail(e.message, code=2)


# --- option types shared by several commands ------------------------------------------------------

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the raw JSON response (for scripts).")]
DbOpt = Annotated[str, typer.Option("--db", metavar="ID", help="Database ID.", show_default=False)]
TableOpt = Annotated[str, typer.Option("--table", metavar="ID", help="Table ID.", show_default=False)]
PermissionOpt = Annotated[
    list[str] | None,
    typer.Option("--permission", "-p", metavar="PERMISSION",
                 help='Permission, repeatable: read("any") or the short read:any.'),
]
QueryOpt = Annotated[
    list[str] | None,
    typer.Option("--query", "-q", metavar="QUERY",
                 help='Query JSON ({"method":"equal","attribute":"n","values":[1]}) '
                      "or a comparison like n=1, n>=2; repeatable."),
]
# IDs are positional arguments; --id is kept, hidden, for scripts written with it.
IdOpt = Annotated[str | None, typer.Option("--id", metavar="ID", help="The ID (instead of the argument).", hidden=True)]


class IdCommand(TyperCommand):
    """A command whose ID argument must be given, although click sees it as optional: the hidden
    ``--id`` may give it instead (see ``IdOpt``). The usage line shows what people must type,
    ``ROW_ID`` rather than ``[ROW_ID]``; ``pick_id`` says when it is missing."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            shown = param.get_usage_pieces(ctx)
            if param.param_type_name == "argument" and param.nargs == 1 and not param.required:
                shown = [piece.removeprefix("[").removesuffix("]") for piece in shown]
            pieces.extend(shown)
        return pieces


def missing_id(what: str, usage: str | None = None) -> NoReturn:
    """The one wording for an ID not given: the command's form when the caller knows it."""
    output.fail(f"missing the {what} ID: {usage or 'give it as the argument'}", code=2)


def pick_id(argument: str | None, option: str | None, what: str, *, required: bool,
            usage: str | None = None) -> str:
    """The ID given as argument or as ``--id`` (both forms are accepted); a new one when optional.
    ``usage`` is the command's form, shown when a required ID is missing."""
    if argument and option and argument != option:
        output.fail(f"two different {what} IDs given: {argument!r} and --id {option!r}", code=2)
    value = argument or option
    if value:
        return value
    if required:
        missing_id(what, usage)
    return unique_id()


def pick_new_id(argument: str | None, option: str | None, what: str, example: str) -> str:
    """The ID of a new container (database, table, bucket): required, since a random one would
    have to be looked up before every later command; ``unique()`` asks for a generated one, as
    in the SDKs."""
    value = pick_id(argument, option, what, required=False) if (argument or option) else None
    if value is None:
        output.fail(f"missing the {what} ID: give one, as in `{example}`, or unique() for a generated one",
                    code=2)
    return unique_id() if value == "unique()" else value


def unique_id() -> str:
    from rtcli import ids

    return ids.unique()


def maybe(values: list[Any] | None) -> list[Any] | None:
    """typer gives [] or None for an absent repeatable option; the API wants None (do not send)."""
    return list(values) if values else None
