"""`rtcli user …` through the real entry point against a real server: a server's key manages the
project's users (the password read from stdin), and a CLI without a key is told what it lacks."""

from __future__ import annotations

import json
import secrets
import subprocess

from tests.test_cli import heavy_in, modules_after, rtcli_cmd


def run(*argv: str, env: dict, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*rtcli_cmd(), *argv], env=env, input=input, capture_output=True, text=True, timeout=30)


def ok_json(*argv: str, env: dict, input: str | None = None):
    r = run(*argv, "--json", env=env, input=input)
    assert r.returncode == 0, (argv, r.stdout, r.stderr)
    return json.loads(r.stdout) if r.stdout.strip() else None


def test_user_commands(shared_server, tmp_path):
    env = shared_server.cli_env(tmp_path / "cfg")
    tag = secrets.token_hex(3)
    email = f"ann-{tag}@example.com"
    u = ok_json("user", "create", f"ann{tag}", "--email", email, "--name", f"Ann {tag}", "--password",
                env=env, input="secret-pass-1\n")
    assert u["$id"] == f"ann{tag}" and u["email"] == email and u["hash"] == "argon2"
    with shared_server.guest() as g:  # the password from stdin is the user's
        assert g.post("/account/sessions/email", json={"email": email, "password": "secret-pass-1"}).status_code == 201
    ok_json("user", "create", "--email", f"bob-{tag}@example.com", "--name", f"Bob {tag}", env=env)

    listed = ok_json("user", "list", "-s", tag, env=env)
    assert listed["total"] == 2
    one = ok_json("user", "list", "-s", tag, "-q", f"name=Ann {tag}", env=env)
    assert [x["$id"] for x in one["users"]] == [f"ann{tag}"]
    table = run("user", "list", "-s", tag, env={**env, "COLUMNS": "200"})
    assert table.returncode == 0 and f"ann{tag}" in table.stdout and "active" in table.stdout

    changed = ok_json("user", "update", f"ann{tag}", "--name", "Ann B", "--label", "vip", "--label", "beta",
                      "--prefs", '{"theme": "dark"}', "--verified", "--status", "blocked", env=env)
    assert changed["name"] == "Ann B" and changed["labels"] == ["vip", "beta"] and changed["prefs"] == {"theme": "dark"}
    assert changed["emailVerification"] is True and changed["status"] is False
    blocked = ok_json("user", "list", "-s", tag, "-q", '{"method":"equal","attribute":"status","values":[false]}',
                      env=env)
    assert [x["$id"] for x in blocked["users"]] == [f"ann{tag}"]
    assert ok_json("user", "get", f"ann{tag}", env=env)["name"] == "Ann B"

    with shared_server.admin() as a:
        a.post(f"/users/ann{tag}/sessions").raise_for_status()
    assert ok_json("user", "sessions", f"ann{tag}", env=env)["total"] == 2  # the sign-in above, and this one
    run("user", "sessions", f"ann{tag}", "--delete", env=env).check_returncode()
    assert ok_json("user", "sessions", f"ann{tag}", env=env)["total"] == 0

    r = run("user", "update", f"ann{tag}", env=env)
    assert r.returncode == 2 and "nothing to change" in r.stderr
    r = run("user", "delete", f"ann{tag}", env=env)
    assert r.returncode == 0 and f"deleted user ann{tag}" in r.stdout
    r = run("user", "get", f"ann{tag}", env=env)
    assert r.returncode == 1 and "user_not_found" in r.stderr and r.stdout == ""
    with shared_server.admin() as a:
        assert a.get(f"/users/ann{tag}").status_code == 404

    # Without a key the server refuses, and the error says which scope is missing.
    r = run("user", "list", env=shared_server.cli_env(tmp_path / "nokey", key=False))
    assert r.returncode == 1 and "users.read" in r.stderr


def test_user_list_imports_nothing_heavy(shared_server, tmp_path):
    code, modules = modules_after(["user", "list"], shared_server.cli_env(tmp_path / "cfg"), tmp_path)
    assert code == 0 and heavy_in(modules) == []
