"""`rtcli team|member|key …`: teams, their memberships, and the project's API keys."""

# No `from __future__ import annotations` here: typer reads these signatures at start-up, and
# string annotations would cost a compile+eval each (~15 ms over all commands).

from typing import Annotated, Any

import typer

from rtcli.cli import args, output
from rtcli.cli.common import IdOpt, JsonOpt, QueryOpt, api, pick_id, trim_httpx_imports, want_json

team_app = typer.Typer(help="Teams (a user who creates one becomes its owner).", no_args_is_help=True)
member_app = typer.Typer(help="Memberships of a team.", no_args_is_help=True)
key_app = typer.Typer(help="API keys of the project, with scopes (needs a key with keys.write).",
                      no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(team_app, name="team")
    app.add_typer(member_app, name="member")
    app.add_typer(key_app, name="key")


TeamIdArg = Annotated[str | None, typer.Argument(metavar="ID", help="The team ID (or --id).", show_default=False)]
TeamOpt = Annotated[str, typer.Option("--team", metavar="ID", help="Team ID.", show_default=False)]
RoleOpt = Annotated[list[str] | None, typer.Option(
    "--role", "-r", metavar="ROLE", help="A role in the team, repeatable (or comma-separated): owner, editor…")]
MembershipArg = Annotated[str, typer.Argument(metavar="MEMBERSHIP", help="Membership ID (see `rtcli member list`).",
                                              show_default=False)]

TEAM_COLUMNS = ["$id", "name", "total", "$createdAt"]
MEMBER_COLUMNS = ["$id", "userId", "userEmail", "roles", "confirm"]
KEY_COLUMNS = ["$id", "name", "scopes", "$createdAt"]


def _split(values: list[str] | None) -> list[str]:
    """Repeatable values that may also be comma-separated: -r a -r b,c -> [a, b, c]."""
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


def _teams(client: Any) -> Any:
    from rtcli.client.account import Teams  # lazy: it imports httpx

    return Teams(client)


# --- teams ----------------------------------------------------------------------------------------


@team_app.command("create")
def team_create(
    ctx: typer.Context,
    team_id: Annotated[str | None, typer.Argument(metavar="ID", help="The ID (default: a new unique ID).",
                                                  show_default=False)] = None,
    id_: IdOpt = None,
    name: Annotated[str | None, typer.Option("--name", metavar="NAME", help="Display name (default: the ID).")] = None,
    role: RoleOpt = None, json_: JsonOpt = False,
) -> None:
    """Create a team: rtcli team create editors --name Editors"""
    tid = pick_id(team_id, id_, "team", required=False)
    roles = _split(role) or None
    output.render(api(ctx, lambda c: _teams(c).create(tid, name or tid, roles)), want_json(ctx, json_))


@team_app.command("list")
def team_list(ctx: typer.Context, query: QueryOpt = None, json_: JsonOpt = False) -> None:
    """List the teams (a user sees the teams it belongs to; a key sees all)."""
    queries = [args.parse_query(q) for q in query or []]
    result = api(ctx, lambda c: _teams(c).list(queries))
    output.render_list(result, want_json(ctx, json_), "teams", TEAM_COLUMNS)


@team_app.command("get")
def team_get(ctx: typer.Context, team_id: TeamIdArg = None, id_: IdOpt = None, json_: JsonOpt = False) -> None:
    """Show one team."""
    tid = pick_id(team_id, id_, "team", required=True)
    output.render(api(ctx, lambda c: _teams(c).get(tid)), want_json(ctx, json_))


@team_app.command("delete")
def team_delete(ctx: typer.Context, team_id: TeamIdArg = None, id_: IdOpt = None, json_: JsonOpt = False) -> None:
    """Delete a team and its memberships."""
    tid = pick_id(team_id, id_, "team", required=True)
    api(ctx, lambda c: _teams(c).delete(tid))
    output.done(f"deleted team {tid}", want_json(ctx, json_))


# --- memberships ----------------------------------------------------------------------------------


@member_app.command("add")
def member_add(
    ctx: typer.Context, team: TeamOpt,
    user: Annotated[str | None, typer.Option("--user", metavar="ID", help="The user's ID.")] = None,
    email: Annotated[str | None, typer.Option("--email", metavar="EMAIL", help="The user's email.")] = None,
    role: RoleOpt = None, json_: JsonOpt = False,
) -> None:
    """Add a user to a team: rtcli member add --team editors --email bob@example.com -r editor

    With an API key the membership is confirmed at once; a team owner's is an invitation."""
    if bool(user) == bool(email):
        raise typer.BadParameter("give the member as --user ID or --email EMAIL (one of them)", param_hint="--user")
    roles = _split(role)
    result = api(ctx, lambda c: _teams(c).create_membership(team, roles, user_id=user, email=email))
    output.render(result, want_json(ctx, json_))
    if not want_json(ctx, json_) and result and not result.get("confirm"):
        output.info("invited: the membership counts once the user accepts (the invitation is in the server log)")


@member_app.command("list")
def member_list(ctx: typer.Context, team: TeamOpt, query: QueryOpt = None, json_: JsonOpt = False) -> None:
    """List the members of a team."""
    queries = [args.parse_query(q) for q in query or []]
    result = api(ctx, lambda c: _teams(c).list_memberships(team, queries))
    output.render_list(result, want_json(ctx, json_), "memberships", MEMBER_COLUMNS)


@member_app.command("update")
def member_update(ctx: typer.Context, team: TeamOpt, membership: MembershipArg, role: RoleOpt = None,
                  json_: JsonOpt = False) -> None:
    """Replace a member's roles: rtcli member update --team editors MEMBERSHIP -r owner -r editor"""
    roles = _split(role)
    result = api(ctx, lambda c: _teams(c).update_membership(team, membership, roles))
    output.render(result, want_json(ctx, json_))


@member_app.command("remove")
def member_remove(ctx: typer.Context, team: TeamOpt, membership: MembershipArg, json_: JsonOpt = False) -> None:
    """Remove a member from a team."""
    api(ctx, lambda c: _teams(c).delete_membership(team, membership))
    output.done(f"removed membership {membership} from team {team}", want_json(ctx, json_))


# --- API keys -------------------------------------------------------------------------------------


@key_app.command("create")
def key_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", metavar="NAME", help="What the key is for.", show_default=False)],
    scope: Annotated[list[str], typer.Option(
        "--scope", "-s", metavar="SCOPE",
        help="A scope, repeatable (or comma-separated): rows.read, rows.write, events.read, … or * for all.",
        show_default=False)],
    json_: JsonOpt = False,
) -> None:
    """Create an API key; its secret is shown this once: rtcli key create --name ci -s rows.read -s rows.write"""
    trim_httpx_imports()  # before rtcli.client imports httpx
    from rtcli.client.account import Keys

    result = api(ctx, lambda c: Keys(c).create(name, _split(scope)))
    if want_json(ctx, json_):
        output.emit_json(result)
        return
    output.render(result, False)
    output.info("the secret is shown only now: keep it (e.g. `rtcli profile set NAME --key SECRET`)")


@key_app.command("list")
def key_list(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """List the project's API keys (never their secrets)."""
    trim_httpx_imports()  # before rtcli.client imports httpx
    from rtcli.client.account import Keys

    output.render_list(api(ctx, lambda c: Keys(c).list()), want_json(ctx, json_), "keys", KEY_COLUMNS)


@key_app.command("delete")
def key_delete(ctx: typer.Context, key_id: Annotated[str, typer.Argument(metavar="ID", help="Key ID (not the secret).",
                                                                          show_default=False)],
               json_: JsonOpt = False) -> None:
    """Delete an API key; requests with it are refused from now on."""
    trim_httpx_imports()  # before rtcli.client imports httpx
    from rtcli.client.account import Keys

    api(ctx, lambda c: Keys(c).delete(key_id))
    output.done(f"deleted key {key_id}", want_json(ctx, json_))
