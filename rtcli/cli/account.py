"""`rtcli signup|login|logout|whoami`: a user account and its session, kept in the profile.

`rtcli login` keeps the session token in the current profile (the config file is mode 0600),
bound to the endpoint and project it was made on; every later command, `rtcli subscribe`
included, sends it as ``X-Appwrite-Session`` there. When an API key is configured too, the key
acts (as the server decides), and the commands say so.

Passwords are prompted without echo on a terminal; when stdin is not a terminal (a pipe, a
script), the password is the first line read from it (nothing is echoed there either).
"""

# No `from __future__ import annotations` here: typer reads these signatures at start-up, and
# string annotations would cost a compile+eval each (~15 ms over all commands).

import sys
from typing import Annotated, Any

import typer

from rtcli.cli import output
from rtcli.cli.common import JsonOpt, api, ask, ask_new_password, state, trim_httpx_imports, want_json

EmailArg = Annotated[str | None, typer.Argument(metavar="EMAIL", help="Email address (prompted when absent).",
                                                show_default=False)]


def register(app: typer.Typer) -> None:
    app.command("signup")(signup)
    app.command("login")(login)
    app.command("logout")(logout)
    app.command("whoami")(whoami)


def _key_note(settings: Any) -> str:
    return (f"an API key is configured ({settings.sources.get('key')}) and acts instead of the session, "
            "as the server decides; remove it (RTCLI_KEY, --key, `rtcli profile set --unset key`) to act as the user")


def _save_login(settings: Any, token: str, email: str, user_id: str) -> str:
    from rtcli.client.config import ConfigError, ProfileStore, config_path

    store = ProfileStore(config_path())
    try:
        store.update(settings.profile, {"session": token, "session_endpoint": settings.endpoint,
                                        "session_project": settings.project, "session_email": email,
                                        "session_user": user_id})
    except (ConfigError, OSError) as e:
        output.fail(f"logged in, but the session could not be saved: {e}")
    return str(store.path)


def _forget_login(settings: Any) -> None:
    from rtcli.client.config import SESSION_KEYS, ConfigError, ProfileStore, config_path

    try:
        ProfileStore(config_path()).update(settings.profile, {}, unset=SESSION_KEYS)
    except (ConfigError, OSError) as e:
        output.fail(f"the session could not be removed from the profile: {e}")


def _stored_token(settings: Any) -> str | None:
    """The profile's session token, also when it is bound to another endpoint or project."""
    if settings.session:
        return settings.session
    from rtcli.client.config import ProfileStore, config_path

    return (ProfileStore(config_path()).get(settings.profile) or {}).get("session")


def _revoke(settings: Any) -> str | None:
    """End the stored session on the server it belongs to; None when done, else why not."""
    trim_httpx_imports()
    from rtcli.client.account import Account
    from rtcli.client.api import ApiClient
    from rtcli.errors import AppwriteError, RtcliError

    login = settings.login
    endpoint = login["endpoint"] or settings.endpoint
    project = login["project"] or settings.project
    try:
        with ApiClient(endpoint, project, session=_stored_token(settings)) as client:
            Account(client, project).delete_session("current")
    except AppwriteError as e:
        if e.code == 401 or e.type == "user_session_not_found":
            return "the server no longer knew the session (expired or revoked)"
        return f"{e.message} ({e.type}, {e.code})"
    except RtcliError as e:
        return output.describe_error(e)
    return None


def signup(
    ctx: typer.Context, email: EmailArg = None,
    name: Annotated[str | None, typer.Option("--name", metavar="NAME", help="Your name.")] = None,
    user_id: Annotated[str | None, typer.Option("--id", metavar="ID", help="User ID (default: a new unique ID).")] = None,
    do_login: Annotated[bool, typer.Option("--login/--no-login", help="Log in right after (default).")] = True,
    json_: JsonOpt = False,
) -> None:
    """Create a user account (email and password), then log in: rtcli signup me@example.com --name Me"""
    from rtcli.cli.common import unique_id

    trim_httpx_imports()  # before any client module imports httpx (see common.py)
    from rtcli.client.account import Account

    settings = state(ctx).settings()
    email = email or ask("Email")
    password = ask_new_password()
    uid = user_id or unique_id()
    user = api(ctx, lambda c: Account(c, settings.project).create(uid, email, password, name), key=False, session=False)
    as_json = want_json(ctx, json_)
    if not do_login:
        if as_json:
            output.emit_json(user)
        else:
            output.info(f"signed up {user.get('email')} (user {user.get('$id')}); "
                        f"log in with `rtcli login {user.get('email')}`")
        return
    _, token = api(ctx, lambda c: Account(c, settings.project).create_email_session(email, password),
                   key=False, session=False)
    if settings.login is not None:
        _revoke(settings)  # the profile holds one session: end the one it replaces
    _save_login(settings, token, str(user.get("email") or email), str(user.get("$id")))
    if as_json:
        output.emit_json(user)
        return
    output.info(f"signed up and logged in as {user.get('email')} (user {user.get('$id')}) "
                f"on {settings.endpoint}, project {settings.project}")
    if settings.key:
        output.warn(_key_note(settings))


def login(ctx: typer.Context, email: EmailArg = None, json_: JsonOpt = False) -> None:
    """Log in with email and password; the session is kept in the current profile."""
    trim_httpx_imports()
    from rtcli.client.account import Account

    settings = state(ctx).settings()
    email = email or ask("Email")
    password = ask("Password", hide=True)
    session, token = api(ctx, lambda c: Account(c, settings.project).create_email_session(email, password),
                         key=False, session=False)
    previous = settings.login
    if previous is not None and _revoke(settings) is None:  # the profile holds one session
        output.info(f"ended the previous session ({previous['email'] or previous['user']})")
    path = _save_login(settings, token, email.strip().lower(), str(session.get("userId")))
    if want_json(ctx, json_):
        output.emit_json(session)
        return
    output.info(f"logged in as {email.strip().lower()} (user {session.get('userId')}) on {settings.endpoint}, "
                f"project {settings.project}; session saved in profile {settings.profile!r} ({path})")
    if settings.key:
        output.warn(_key_note(settings))


def logout(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """End the session on the server and forget it here."""
    settings = state(ctx).settings()
    login = settings.login
    if login is None:
        output.info(f"not logged in (profile {settings.profile!r})")
        return
    why = _revoke(settings)
    _forget_login(settings)
    who = login["email"] or login["user"] or "the session"
    if why is not None:
        output.warn(f"forgot {who} here, but could not end the session on the server: {why}")
    if want_json(ctx, json_):
        output.emit_json({"loggedOut": login["email"] or None, "revoked": why is None})
        return
    output.info(f"logged out {who}")


def whoami(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Say who the commands act as: a guest, an API key, or a user (email and ID)."""
    from rtcli.cli.profile import mask

    settings = state(ctx).settings()
    login = settings.login
    result: dict[str, Any] = {"actor": "guest", "endpoint": settings.endpoint, "project": settings.project,
                              "profile": settings.profile, "user": None, "key": None, "session": None}
    if login is not None:
        result["session"] = {"email": login["email"], "userId": login["user"],
                             "endpoint": login["endpoint"] or settings.endpoint,
                             "project": login["project"] or settings.project,
                             "applies": bool(settings.session), "valid": None}
    notes: list[str] = []
    if settings.key:
        _check_key(ctx)
        result.update(actor="key", key=mask(settings.key), keySource=settings.sources.get("key"))
        if settings.session:
            notes.append(f"a session for {login['email']} is also stored; the key acts, as the server decides "
                         f"(remove the key to act as {login['email']})")
    elif settings.session:
        user = _account(ctx)
        result["session"]["valid"] = user is not None
        if user is not None:
            result.update(actor="user", user={"$id": user.get("$id"), "email": user.get("email"),
                                              "name": user.get("name")})
        else:
            notes.append(f"the stored session for {login['email']} is no longer valid; `rtcli login` again")
    if login is not None and not settings.session:
        notes.append(f"a session for {login['email']} is stored for {result['session']['endpoint']} "
                     f"(project {result['session']['project']}); it is not sent here")
    if want_json(ctx, json_):
        output.emit_json(result)
        return
    where = f"on {settings.endpoint}, project {settings.project}"
    if result["actor"] == "user":
        u = result["user"]
        name = f", {u['name']}" if u.get("name") else ""
        sys.stdout.write(f"user {u['email']} (id {u['$id']}{name}) {where}\n")
    elif result["actor"] == "key":
        sys.stdout.write(f"API key {result['key']} (from {result['keySource']}) {where}: acts as the server\n")
    else:
        sys.stdout.write(f"guest {where}\n")
    for note in notes:
        output.info(f"note: {note}")


def _check_key(ctx: typer.Context) -> None:
    """Fail when the server refuses the configured key. A valid key reading /account gets 401
    general_unauthorized_scope (a key has no account); an unknown key gets user_unauthorized."""
    trim_httpx_imports()
    from rtcli.client.account import Account
    from rtcli.errors import AppwriteError

    def probe(client: Any) -> None:
        try:
            Account(client, "").get()
        except AppwriteError as e:
            if e.type != "general_unauthorized_scope":
                raise

    api(ctx, probe, session=False)


def _account(ctx: typer.Context) -> dict | None:
    """The session's account, or None when the server no longer accepts the session."""
    trim_httpx_imports()
    from rtcli.client.account import Account
    from rtcli.errors import AppwriteError

    def get(client: Any) -> dict | None:
        try:
            return Account(client, "").get()
        except AppwriteError as e:
            if e.code == 401:
                return None
            raise

    return api(ctx, get, key=False)
