"""`rtcli signup|login|logout|whoami`, `rtcli team|member|key`, through the real entry point
against a real server: the password read from stdin (and without echo on a terminal), the
session kept in the profile and sent by every command, `rtcli subscribe` included."""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.test_cli import heavy_in, modules_after, rtcli_cmd
from tests.test_cli_subscribe import Subscriber

PASSWORD = "correct horse battery"


def run(*argv: str, env: dict, input: str | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([*rtcli_cmd(), *argv], env=env, input=input, capture_output=True, text=True,
                          timeout=timeout)


def ok(*argv: str, env: dict, input: str | None = None) -> subprocess.CompletedProcess:
    r = run(*argv, env=env, input=input)
    assert r.returncode == 0, (argv, r.stdout, r.stderr)
    return r


def ok_json(*argv: str, env: dict, input: str | None = None):
    r = ok(*argv, "--json", env=env, input=input)
    return json.loads(r.stdout) if r.stdout.strip() else None


def user_env(server, config: Path) -> dict:
    """A CLI environment with no API key and its own config dir (so its own login)."""
    return server.cli_env(config, key=False)


def email(name: str) -> str:
    return f"{name}-{os.urandom(3).hex()}@example.com"


def stored(env: dict) -> dict:
    return json.loads((Path(env["RTCLI_CONFIG_DIR"]) / "config.json").read_text())["profiles"]["default"]


@pytest.fixture
def env(shared_server, tmp_path):
    return user_env(shared_server, tmp_path / "config")


def test_signup_login_whoami_logout(shared_server, env):
    assert ok("whoami", env=env).stdout == f"guest on {shared_server.endpoint}, project default\n"
    addr = email("alice")

    r = ok("signup", addr, "--name", "Alice", "--no-login", env=env, input=PASSWORD + "\n")
    assert r.stdout == "" and f"signed up {addr}" in r.stderr
    assert ok_json("whoami", env=env)["actor"] == "guest"

    r = ok("login", addr, env=env, input=PASSWORD + "\n")
    assert f"logged in as {addr}" in r.stderr and r.stdout == ""
    path = Path(env["RTCLI_CONFIG_DIR"]) / "config.json"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    profile = stored(env)
    token = profile["session"]
    assert profile["session_email"] == addr and profile["session_endpoint"] == shared_server.endpoint
    # The profile commands name the login, never print the token.
    assert ok_json("profile", "show", env=env)["login"] == addr
    listed = ok_json("profile", "list", env=env)
    assert listed["default"]["session_email"] == addr and token not in json.dumps(listed)

    me = ok_json("whoami", env=env)
    assert me["actor"] == "user" and me["user"]["email"] == addr and me["user"]["name"] == "Alice"
    assert me["session"]["applies"] is True and me["session"]["valid"] is True
    line = ok("whoami", env=env).stdout
    assert line.startswith(f"user {addr} (id {me['user']['$id']}, Alice) on {shared_server.endpoint}")

    # The session acts on other commands: a user may create a team and becomes its owner.
    team = ok_json("team", "create", "--name", "Alice's", env=env)
    members = ok_json("member", "list", "--team", team["$id"], env=env)["memberships"]
    assert [(m["userEmail"], m["roles"]) for m in members] == [(addr, ["owner"])]

    # A key, when configured too, wins (as on the server), and whoami says so.
    keyed = {**env, "RTCLI_KEY": shared_server.api_key}
    r = ok("whoami", env=keyed)
    assert r.stdout.startswith("API key test… (from env)") and "acts as the server" in r.stdout
    assert f"a session for {addr} is also stored; the key acts" in r.stderr
    assert ok_json("whoami", env=keyed)["actor"] == "key"
    # A key the server does not know is an error.
    bad = run("whoami", env={**env, "RTCLI_KEY": "nope"})
    assert bad.returncode == 1 and "user_unauthorized" in bad.stderr

    # The session is bound to its endpoint: pointed elsewhere, it is not sent (guest, offline is fine).
    elsewhere = {**env, "RTCLI_ENDPOINT": f"http://127.0.0.1:{free_port()}/v1"}
    r = ok("whoami", env=elsewhere)
    assert r.stdout.startswith("guest on ") and "it is not sent here" in r.stderr

    r = ok("logout", env=env)
    assert f"logged out {addr}" in r.stderr
    assert "session" not in stored(env)
    assert ok_json("whoami", env=env)["actor"] == "guest"
    # The server ended the session too.
    with httpx.Client(base_url=shared_server.endpoint, headers={"X-Appwrite-Project": "default",
                                                                 "X-Appwrite-Session": token}) as c:
        assert c.get("/account").status_code == 401
    assert "not logged in" in ok("logout", env=env).stderr


def test_signup_logs_in_and_bad_passwords(shared_server, env):
    addr = email("carol")
    r = ok("signup", addr, env=env, input=PASSWORD + "\n")
    assert f"signed up and logged in as {addr}" in r.stderr
    assert ok_json("whoami", env=env)["user"]["email"] == addr
    first = stored(env)["session"]

    r = run("login", addr, env=env, input="wrong password\n")
    assert r.returncode == 1 and "user_invalid_credentials" in r.stderr and r.stdout == ""
    assert "acted as" not in r.stderr and "RTCLI_KEY" not in r.stderr, r.stderr  # a wrong password, not a wrong identity
    assert stored(env)["session"] == first  # a failed login keeps the session

    # Logging in again replaces the session and ends the one it replaces.
    r = ok("login", addr.upper(), env=env, input=PASSWORD + "\n")
    assert "ended the previous session" in r.stderr
    assert stored(env)["session"] != first
    with httpx.Client(base_url=shared_server.endpoint, headers={"X-Appwrite-Project": "default",
                                                                 "X-Appwrite-Session": first}) as c:
        assert c.get("/account").status_code == 401

    short = run("signup", email("dave"), env=env, input="short\n")
    assert short.returncode == 2 and short.stderr == "error: the password must be 8 to 256 characters long, not 5\n"
    taken = run("signup", addr, env=env, input=PASSWORD + "\n")
    assert taken.returncode == 1 and "user_already_exists" in taken.stderr
    empty = run("login", addr, env=env, input="")
    assert empty.returncode == 2 and "stdin is empty" in empty.stderr
    # The email is prompted too when not given: first line email, second the password.
    r = ok("login", env=env, input=f"{addr}\n{PASSWORD}\n")
    assert f"logged in as {addr}" in r.stderr


def test_password_prompt_does_not_echo(shared_server, tmp_path):
    """On a terminal the password is prompted (typer, hide_input) and never echoed."""
    pty = pytest.importorskip("pty")
    env = user_env(shared_server, tmp_path / "config")
    addr = email("erin")
    pid, fd = pty.fork()
    if pid == 0:  # the child: its controlling terminal is the pty
        os.execvpe(rtcli_cmd()[0], [*rtcli_cmd(), "signup", addr, "--no-login"], env)
    seen = b""

    def read_until(needle: bytes, timeout: float = 20) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while needle not in seen:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise AssertionError(f"no {needle!r} in {seen!r}")
            try:
                chunk = os.read(fd, 1024)
            except OSError:
                chunk = b""
            if not chunk:
                raise AssertionError(f"EOF before {needle!r} in {seen!r}")
            seen += chunk

    try:
        read_until(b"Password (8 to 256 characters): ")  # the rule, before the password
        os.write(fd, PASSWORD.encode() + b"\n")
        read_until(b"Repeat for confirmation: ")
        os.write(fd, PASSWORD.encode() + b"\n")
        read_until(b"signed up")
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, seen
    assert PASSWORD.encode() not in seen
    # The account exists, with that password.
    r = httpx.post(f"{shared_server.endpoint}/account/sessions/email", json={"email": addr, "password": PASSWORD},
                   headers={"X-Appwrite-Project": "default"})
    assert r.status_code == 201, r.text


def test_logged_in_subscribe_receives_only_its_private_rows(shared_server, tmp_path):
    db = "priv_" + os.urandom(3).hex()
    with shared_server.admin() as admin:
        assert admin.post("/tablesdb", json={"databaseId": db, "name": db}).status_code == 201
        # No table-level read: only each row's own permissions grant it (row security).
        assert admin.post(f"/tablesdb/{db}/tables", json={"tableId": "t", "name": "t", "rowSecurity": True,
                                                           "permissions": []}).status_code == 201
    envs, ids = {}, {}
    for name in ("alice", "bob"):
        envs[name] = user_env(shared_server, tmp_path / name)
        ok("signup", email(name), env=envs[name], input=PASSWORD + "\n")
        ids[name] = ok_json("whoami", env=envs[name])["user"]["$id"]
    channel = f"tablesdb.{db}.tables.t.rows"
    subs = {name: Subscriber(["--json", channel], envs[name]) for name in envs}
    try:
        for sub in subs.values():
            sub.wait_err("subscribed")
        with shared_server.admin() as admin:
            for rid, owner in (("for_alice", "alice"), ("for_bob", "bob")):
                r = admin.post(f"/tablesdb/{db}/tables/t/rows", json={
                    "rowId": rid, "data": {"owner": owner}, "permissions": [f'read("user:{ids[owner]}")']})
                assert r.status_code == 201, r.text
        assert subs["alice"].json_line()["payload"]["$id"] == "for_alice"
        assert subs["bob"].json_line()["payload"]["$id"] == "for_bob"
        subs["alice"].no_line(0.5)
        subs["bob"].no_line(0.5)
    finally:
        for sub in subs.values():
            sub.kill()
    # A guest (no session) is refused nothing but sees nothing of these rows over REST either.
    guest = user_env(shared_server, tmp_path / "guest")
    assert ok_json("row", "list", "--db", db, "--table", "t", env=guest)["total"] == 0
    assert ok_json("row", "list", "--db", db, "--table", "t", env=envs["alice"])["total"] == 1


def test_team_and_member_commands(shared_server, env):
    keyed = {**env, "RTCLI_KEY": shared_server.api_key}
    tid = "team_" + os.urandom(3).hex()
    team = ok_json("team", "create", tid, "--name", "Editors", env=keyed)
    assert (team["$id"], team["name"], team["total"]) == (tid, "Editors", 0)
    assert ok_json("team", "get", tid, env=keyed)["name"] == "Editors"
    assert tid in [t["$id"] for t in ok_json("team", "list", env=keyed)["teams"]]
    assert f"\n{tid}\tEditors\t" in ok("team", "list", env=keyed).stdout

    addr = email("bob")
    ok("signup", addr, "--name", "Bob", "--no-login", env=env, input=PASSWORD + "\n")
    m = ok_json("member", "add", "--team", tid, "--email", addr, "-r", "editor,viewer", env=keyed)
    assert m["roles"] == ["editor", "viewer"] and m["confirm"] is True and m["userEmail"] == addr
    listed = ok_json("member", "list", "--team", tid, env=keyed)["memberships"]
    assert [x["$id"] for x in listed] == [m["$id"]]
    assert addr in ok("member", "list", "--team", tid, env={**keyed, "COLUMNS": "200"}).stdout
    assert ok_json("member", "update", "--team", tid, m["$id"], "-r", "owner", env=keyed)["roles"] == ["owner"]
    again = run("member", "add", "--team", tid, "--user", m["userId"], env=keyed)
    assert again.returncode == 1 and "team_invite_already_exists" in again.stderr
    assert "removed membership" in ok("member", "remove", "--team", tid, m["$id"], env=keyed).stdout
    assert ok_json("member", "list", "--team", tid, env=keyed)["total"] == 0

    neither = run("member", "add", "--team", tid, env=keyed)
    assert neither.returncode == 2 and "--user ID or --email EMAIL" in neither.stderr
    assert "deleted team" in ok("team", "delete", tid, env=keyed).stdout
    gone = run("team", "get", tid, env=keyed)
    assert gone.returncode == 1 and "team_not_found" in gone.stderr
    # A guest may not list teams.
    assert run("team", "list", env=env).returncode == 1


def test_key_commands(shared_server, env):
    keyed = {**env, "RTCLI_KEY": shared_server.api_key}
    r = ok("key", "create", "--name", "ci", "-s", "events.read", "-s", "teams.read", env=keyed)
    assert "secret" in r.stdout and "shown only now" in r.stderr
    created = ok_json("key", "create", "--name", "ci2", "-s", "events.read,teams.read", env=keyed)
    secret = created["secret"]
    assert secret.startswith("rtk_") and created["scopes"] == ["events.read", "teams.read"]
    listed = ok_json("key", "list", env=keyed)["keys"]
    assert created["$id"] in [k["$id"] for k in listed] and all("secret" not in k for k in listed)

    scoped = {**env, "RTCLI_KEY": secret}
    assert ok_json("whoami", env=scoped)["actor"] == "key"
    assert run("team", "list", env=scoped).returncode == 0
    denied = run("db", "list", env=scoped)
    assert denied.returncode == 1 and "general_unauthorized_scope" in denied.stderr
    assert run("key", "list", env=scoped).returncode == 1  # keys.write is not among its scopes

    assert "deleted key" in ok("key", "delete", created["$id"], env=keyed).stdout
    revoked = run("team", "list", env=scoped)
    assert revoked.returncode == 1 and "user_unauthorized" in revoked.stderr
    bad = run("key", "create", "--name", "x", "-s", "nope", env=keyed)
    assert bad.returncode == 1 and "scopes" in bad.stderr


def test_whoami_imports_nothing_heavy(shared_server, env, tmp_path):
    ok("signup", email("fay"), env=env, input=PASSWORD + "\n")
    code, modules = modules_after(["whoami"], env, tmp_path)
    assert code in (0, None)
    assert heavy_in(modules) == []
    assert "httpx" in modules and "pydantic" not in modules and "websockets" not in modules
    # httpx's command line and trio stay out (common.trim_httpx_imports), as for `row create`.
    assert "pygments" not in modules and "rich.syntax" not in modules and "trio._core" not in modules
