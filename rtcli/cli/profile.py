"""`rtcli profile set|show|list|delete`: named connection settings in the config file."""

# No `from __future__ import annotations` here: typer reads these signatures at start-up, and
# string annotations would cost a compile+eval each (~15 ms over all commands).

from typing import Annotated, Any

import typer

from rtcli.cli import output
from rtcli.cli.common import JsonOpt, state, want_json
from rtcli.client.config import ConfigError, ProfileStore, config_path, fix_endpoint

profile_app = typer.Typer(help="Named connection profiles (endpoint, project, key).", no_args_is_help=True)

NameArg = Annotated[str | None, typer.Argument(metavar="NAME", help="Profile name (default: the one in use, see --profile).",
                                               show_default=False)]


def register(app: typer.Typer) -> None:
    app.add_typer(profile_app, name="profile")


def _store() -> ProfileStore:
    return ProfileStore(config_path())


def _name(ctx: typer.Context, name: str | None) -> str:
    import os

    from rtcli.client.config import DEFAULT_PROFILE, PROFILE_ENV

    return name or state(ctx).flags.get("profile") or os.environ.get(PROFILE_ENV) or DEFAULT_PROFILE


def mask(key: Any) -> Any:
    """Show enough of a secret to recognise it, not to use it."""
    if not isinstance(key, str) or not key:
        return key
    return key[:4] + "…" if len(key) > 8 else "…"


@profile_app.command("set")
def profile_set(
    ctx: typer.Context, name: NameArg = None,
    endpoint: Annotated[str | None, typer.Option("--endpoint", metavar="URL", help="e.g. http://127.0.0.1:8787/v1")] = None,
    project: Annotated[str | None, typer.Option("--project", metavar="ID", help="Project ID.")] = None,
    key: Annotated[str | None, typer.Option("--key", metavar="KEY", help="API key (stored in the file, mode 0600).")] = None,
    unset: Annotated[list[str] | None, typer.Option("--unset", metavar="SETTING", help="Remove a setting, e.g. --unset key.")] = None,
) -> None:
    """Create or change a profile."""
    values = {k: v for k, v in {"endpoint": endpoint, "project": project, "key": key}.items() if v is not None}
    if not values and not unset:
        output.fail("nothing to set: give --endpoint, --project, --key or --unset", code=2)
    name = _name(ctx, name)
    if endpoint is not None and (fixed := fix_endpoint(endpoint.rstrip("/"))) != endpoint.rstrip("/"):
        # Saved as given, it would stop every later command (profile show and doctor included).
        what = "is not a URL" if "://" not in endpoint else "does not end in /v1, the API's path"
        output.fail(f"--endpoint {endpoint!r} {what}: use {fixed}", code=2)
    try:
        store = _store()
        store.update(name, values, tuple(unset or ()))
    except (ConfigError, OSError) as e:
        output.fail(str(e))
    output.info(f"profile {name!r} saved in {store.path}")


@profile_app.command("show")
def profile_show(ctx: typer.Context, name: NameArg = None, json_: JsonOpt = False) -> None:
    """Show the settings in effect (with where each comes from) for a profile."""
    st = state(ctx)
    if name:
        st.flags["profile"] = name
    settings = st.settings()
    result = {"profile": settings.profile, "endpoint": settings.endpoint, "project": settings.project,
              "key": mask(settings.key), "sources": settings.sources, "config": str(config_path())}
    if settings.login is not None:  # who `rtcli login` made this profile act as (never the token)
        where = "" if settings.session else f" (for {settings.login['endpoint']}, project {settings.login['project']})"
        result["login"] = f"{settings.login['email'] or settings.login['user']}{where}"
    if want_json(ctx, json_):
        output.emit_json(result)
        return
    sources = result.pop("sources")
    output.print_record({k: f"{'none' if v is None else v}  ({sources[k]})" if k in sources else v
                         for k, v in result.items()})


@profile_app.command("list")
def profile_list(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """List the saved profiles."""
    try:
        store = _store()
        profiles = {n: store.get(n) or {} for n in store.names()}
    except ConfigError as e:
        output.fail(str(e))
    if want_json(ctx, json_):
        output.emit_json({n: {k: mask(v) if k in ("key", "session") else v for k, v in p.items()}
                          for n, p in profiles.items()})
        return
    current = _name(ctx, None)
    items = [{"": "*" if n == current else "", "name": n, "endpoint": p.get("endpoint", ""),
              "project": p.get("project", ""), "key": mask(p.get("key")) or "",
              "login": p.get("session_email", "") if p.get("session") else ""} for n, p in profiles.items()]
    if not items:
        output.info(f"no profiles yet in {store.path}; create one with `rtcli profile set`")
        return
    output.print_table(items, ["", "name", "endpoint", "project", "key", "login"])


@profile_app.command("delete")
def profile_delete(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Profile name.")]) -> None:
    """Remove a profile."""
    try:
        removed = _store().delete(name)
    except (ConfigError, OSError) as e:
        output.fail(str(e))
    if not removed:
        output.fail(f"no profile named {name!r}")
    output.info(f"profile {name!r} deleted")
