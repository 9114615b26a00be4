"""Who a command acts as and where it goes, through the real entry point: endpoint mistakes,
an empty RTCLI_KEY, refusals that name the credentials used, and `rtcli doctor`."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.test_cli import offline_env, rtcli_cmd, run  # noqa: F401  (fixture)


@pytest.fixture
def env(server, tmp_path):
    return server.cli_env(tmp_path / "config")


@pytest.mark.parametrize("where, value, message", [
    ("env", "127.0.0.1:8787/v1", "RTCLI_ENDPOINT '127.0.0.1:8787/v1' is not a URL: use http://127.0.0.1:8787/v1"),
    ("env", "localhost:8787", "RTCLI_ENDPOINT 'localhost:8787' is not a URL: use http://localhost:8787/v1"),
    ("env", "http://127.0.0.1:8787", "RTCLI_ENDPOINT 'http://127.0.0.1:8787' does not end in /v1, the API's path: "
                                     "use http://127.0.0.1:8787/v1"),
    ("flag", "https://example.com/", "--endpoint 'https://example.com' does not end in /v1, the API's path: "
                                     "use https://example.com/v1"),
])
def test_endpoint_mistakes_say_the_fix(offline_env, where, value, message):  # noqa: F811
    argv = ["--endpoint", value] if where == "flag" else []
    r = run(*argv, "db", "list", env={**offline_env, **({"RTCLI_ENDPOINT": value} if where == "env" else {})})
    assert (r.returncode, r.stdout, r.stderr) == (2, "", f"error: {message}\n")


def test_profile_set_refuses_an_endpoint_every_command_would_refuse(offline_env):  # noqa: F811
    r = run("profile", "set", "--endpoint", "127.0.0.1:18902", env=offline_env)
    assert (r.returncode, r.stderr) == (2, "error: --endpoint '127.0.0.1:18902' is not a URL: "
                                           "use http://127.0.0.1:18902/v1\n")
    assert run("profile", "show", env=offline_env).returncode == 0  # nothing was saved to break it
    # One saved before this check (by hand, or by an older rtcli) names the command that fixes it.
    env = {k: v for k, v in offline_env.items() if k != "RTCLI_ENDPOINT"}
    config = Path(env["RTCLI_CONFIG_DIR"]) / "config.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('{"profiles": {"default": {"endpoint": "127.0.0.1:18902"}}}')
    r = run("db", "list", env=env)
    assert r.returncode == 2 and r.stderr.endswith(
        "use http://127.0.0.1:18902/v1 (`rtcli profile set default --endpoint http://127.0.0.1:18902/v1`)\n"), r.stderr


def make_user(server, tmp_path, env: dict) -> tuple[dict, str]:
    """``env`` with no key and a logged-in user (by `rtcli signup`)."""
    email = f"u{os.urandom(3).hex()}@example.com"
    user_env = {k: v for k, v in env.items() if k != "RTCLI_KEY"}
    r = subprocess.run([*rtcli_cmd(), "signup", email], env=user_env, input="password123\n", capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return user_env, email


def test_refusals_say_who_the_command_acted_as(server, env, tmp_path):
    guest = {k: v for k, v in env.items() if k != "RTCLI_KEY"}
    r = run("db", "list", env={**guest, "RTCLI_KEY": ""})
    assert r.returncode == 1
    assert r.stderr == (
        "warning: RTCLI_KEY is set but empty (did a `$(cat …)` fail?): the command runs without an API key\n"
        'error: User (role: guests) missing scopes (["databases.read"]) (general_unauthorized_scope, 401); '
        "acted as a guest (no API key, no login): set RTCLI_KEY=$(cat .rtcli/api-key) (or --key), or `rtcli login`\n")

    user_env, email = make_user(server, tmp_path, env)
    r = run("db", "list", env=user_env)
    assert r.returncode == 1
    assert r.stderr.endswith(
        f"(general_unauthorized_scope, 401); acted as the stored session of {email} (profile 'default'): "
        "set RTCLI_KEY=$(cat .rtcli/api-key) (or --key) for server access; a key wins over the session\n")

    key = json.loads(run("key", "create", "--name", "rows", "-s", "rows.read", "--json", env=env).stdout)["secret"]
    r = run("db", "create", "x", env={**env, "RTCLI_KEY": key})
    assert r.returncode == 1
    assert r.stderr.endswith("; acted as the API key from RTCLI_KEY: use a key with that scope "
                             "(`rtcli key create -s SCOPE`) or the server's key (.rtcli/api-key)\n")

    # A key the server does not know at all: not a scope to add.
    r = run("db", "list", env={**env, "RTCLI_KEY": "rtk_" + "0" * 32})
    assert r.returncode == 1
    assert "The API key is not valid for this project." in r.stderr
    assert r.stderr.endswith("acted as the API key from RTCLI_KEY: this server does not know that key "
                             "(another server's, or from before a restart with another --api-key?): use the key "
                             "in the server's data directory (.rtcli/api-key), and `rtcli doctor` to check\n")


def doctor(env: dict) -> tuple[int, list[str]]:
    r = run("doctor", env=env)
    # Timings vary: "answers in 12 ms" -> "answers in N ms".
    return r.returncode, [re.sub(r"\d+ ms", "N ms", line) for line in r.stdout.splitlines()]


def test_doctor_all_well(server, env):
    code, lines = doctor(env)
    assert code == 0
    assert lines == [
        f"rtcli doctor: {server.endpoint}, project default, profile default",
        f"  ok    endpoint  {server.endpoint} answers in N ms",
        "  ok    server    version 0.1.0 (Appwrite API 1.9.6)",
        "  ok    clock     within 5 s of the server's",
        "  ok    project   'default' exists",
        "  ok    identity  the API key from RTCLI_KEY: accepted",
        f"  ok    realtime  ws://127.0.0.1:{server.port}/v1/realtime handshake in N ms",
    ]


def test_doctor_as_a_guest_warns_without_failing(server, env):
    code, lines = doctor({k: v for k, v in env.items() if k != "RTCLI_KEY"})
    assert code == 0
    assert lines[5:7] == [
        "  warn  identity  a guest (no API key, no login)",
        "                  -> set RTCLI_KEY=$(cat .rtcli/api-key) (or --key) for server access, or `rtcli login`"]


@pytest.mark.parametrize("change, failing", [
    ({"RTCLI_PROJECT": "nope"}, ["  fail  project   'nope' does not exist on this server",
                                 "                  -> set --project / RTCLI_PROJECT (rtcli serve --project ID makes one)"]),
    ({"RTCLI_KEY": "wrong"}, ["  fail  identity  the API key from RTCLI_KEY: refused (user_unauthorized)",
                              "                  -> use the server's key (.rtcli/api-key) or one from `rtcli key create`"]),
])
def test_doctor_fails_with_what_to_do(server, env, change, failing):
    code, lines = doctor({**env, **change})
    assert code == 1
    assert failing[0] in lines, lines
    at = lines.index(failing[0])
    assert lines[at:at + 2] == failing


def test_doctor_without_a_server(offline_env):  # noqa: F811
    code, lines = doctor(offline_env)
    endpoint = offline_env["RTCLI_ENDPOINT"]
    assert code == 1
    assert lines[1:] == [f"  fail  endpoint  {endpoint}: connection refused",
                         "                  -> start a server with `rtcli serve`, or set --endpoint / RTCLI_ENDPOINT"]
