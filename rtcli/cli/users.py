"""`rtcli user …`: the project's users, as a server manages them (needs an API key with users.*).

Passwords are never command-line arguments (other processes could read them): ``--password``
prompts without echo on a terminal, or reads the first line of stdin in a script.
"""

# No `from __future__ import annotations` here: typer reads these signatures at start-up, and
# string annotations would cost a compile+eval each (~15 ms over all commands).

import json
from typing import Annotated, Any

import typer

from rtcli.cli import args, output
from rtcli.cli.common import IdOpt, JsonOpt, QueryOpt, api, ask_new_password, pick_id, want_json

user_app = typer.Typer(help="Users of the project (create, find, change, block, delete; needs an API key).",
                       no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")


UserArg = Annotated[str | None, typer.Argument(metavar="ID", help="The user ID (or --id).", show_default=False)]
NameOpt = Annotated[str | None, typer.Option("--name", metavar="NAME", help="Display name.")]
EmailOpt = Annotated[str | None, typer.Option("--email", metavar="EMAIL", help="Email address.")]
PhoneOpt = Annotated[str | None, typer.Option("--phone", metavar="NUMBER", help="Phone number, as +15555550100.")]
PasswordOpt = Annotated[bool, typer.Option("--password", help="Set a password (prompted, or one line of stdin).")]

USER_COLUMNS = ["$id", "name", "email", "status", "labels", "$createdAt"]
SESSION_COLUMNS = ["$id", "provider", "ip", "expire"]


def _users(client: Any) -> Any:
    from rtcli.client.account import Users  # lazy: it imports httpx

    return Users(client)


def _row(u: dict) -> dict:
    return {**u, "status": "active" if u.get("status") else "blocked"}


@user_app.command("create")
def user_create(
    ctx: typer.Context,
    user_id: Annotated[str | None, typer.Argument(metavar="ID", help="The ID (default: a new unique ID).",
                                                  show_default=False)] = None,
    id_: IdOpt = None, email: EmailOpt = None, name: NameOpt = None, phone: PhoneOpt = None,
    password: PasswordOpt = False, json_: JsonOpt = False,
) -> None:
    """Create a user: rtcli user create --email ann@example.com --name Ann --password"""
    uid = pick_id(user_id, id_, "user", required=False)
    secret = ask_new_password() if password else None
    result = api(ctx, lambda c: _users(c).create(uid, email, secret, name, phone))
    output.render(result, want_json(ctx, json_))


@user_app.command("list")
def user_list(
    ctx: typer.Context, query: QueryOpt = None,
    search: Annotated[str | None, typer.Option("--search", "-s", metavar="TEXT",
                                               help="Words to find in the ID, email, phone or name.")] = None,
    json_: JsonOpt = False,
) -> None:
    """List users: rtcli user list -s ann -q status=false"""
    queries = [args.parse_query(q) for q in query or []]
    result = api(ctx, lambda c: _users(c).list(queries, search))
    output.render_list(result, want_json(ctx, json_), "users", USER_COLUMNS, _row)


@user_app.command("get")
def user_get(ctx: typer.Context, user_id: UserArg = None, id_: IdOpt = None, json_: JsonOpt = False) -> None:
    """Show one user."""
    uid = pick_id(user_id, id_, "user", required=True)
    output.render(api(ctx, lambda c: _users(c).get(uid)), want_json(ctx, json_))


@user_app.command("update")
def user_update(
    ctx: typer.Context, user_id: UserArg = None, id_: IdOpt = None, name: NameOpt = None, email: EmailOpt = None,
    phone: PhoneOpt = None, password: PasswordOpt = False,
    status: Annotated[str | None, typer.Option("--status", metavar="active|blocked",
                                               help="Block the user (its sessions stop working) or unblock it.")] = None,
    label: Annotated[list[str] | None, typer.Option(
        "--label", "-l", metavar="LABEL", help="Replace the labels (roles label:LABEL); repeatable; '' for none.")] = None,
    prefs: Annotated[str | None, typer.Option("--prefs", metavar="JSON", help="Replace the preferences object.")] = None,
    verified: Annotated[bool | None, typer.Option("--verified/--unverified", help="Email verification.",
                                                  show_default=False)] = None,
    json_: JsonOpt = False,
) -> None:
    """Change a user, one call per field given: rtcli user update ID --name Ann --label vip --status blocked"""
    uid = pick_id(user_id, id_, "user", required=True)
    changes: list[tuple[str, dict]] = []
    if name is not None:
        changes.append(("name", {"name": name}))
    if email is not None:
        changes.append(("email", {"email": email}))
    if phone is not None:
        changes.append(("phone", {"number": phone}))
    if password:
        changes.append(("password", {"password": ask_new_password("New password")}))
    if status is not None:
        if status not in ("active", "blocked"):
            output.fail("--status is 'active' or 'blocked'", code=2)
        changes.append(("status", {"status": status == "active"}))
    if label is not None:
        changes.append(("labels", {"labels": [x for x in label if x]}))
    if prefs is not None:
        try:
            value = json.loads(prefs)
        except ValueError:
            output.fail("--prefs must be a JSON object, like '{\"theme\": \"dark\"}'", code=2)
        changes.append(("prefs", {"prefs": value}))
    if verified is not None:
        changes.append(("verification", {"emailVerification": verified}))
    if not changes:
        output.fail("nothing to change: give --name, --email, --phone, --password, --status, --label, --prefs "
                    "or --verified", code=2)

    def run(client: Any) -> dict:
        users = _users(client)
        for field, body in changes:
            users.update(uid, field, body)
        return users.get(uid)

    output.render(api(ctx, run), want_json(ctx, json_))


@user_app.command("delete")
def user_delete(ctx: typer.Context, user_id: UserArg = None, id_: IdOpt = None, json_: JsonOpt = False) -> None:
    """Delete a user with its sessions and memberships."""
    uid = pick_id(user_id, id_, "user", required=True)
    api(ctx, lambda c: _users(c).delete(uid))
    output.done(f"deleted user {uid}", want_json(ctx, json_))


@user_app.command("sessions")
def user_sessions(
    ctx: typer.Context, user_id: UserArg = None, id_: IdOpt = None,
    delete: Annotated[bool, typer.Option("--delete", help="Sign the user out everywhere instead.")] = False,
    json_: JsonOpt = False,
) -> None:
    """List a user's sessions, or delete them all with --delete."""
    uid = pick_id(user_id, id_, "user", required=True)
    if delete:
        api(ctx, lambda c: _users(c).delete_sessions(uid))
        output.done(f"deleted the sessions of user {uid}", want_json(ctx, json_))
        return
    output.render_list(api(ctx, lambda c: _users(c).list_sessions(uid)), want_json(ctx, json_), "sessions",
                       SESSION_COLUMNS)
