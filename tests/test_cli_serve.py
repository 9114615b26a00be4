"""`rtcli serve` as a person starts it: what it claims (port, data directory), what it prints,
and how it refuses to start, through the real entry point."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

from tests.conftest import free_port, start_server
from tests.test_cli import rtcli_cmd, run


def offline_env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("RTCLI_")}


def test_second_server_on_one_data_directory_refuses_at_once(tmp_path):
    first = start_server(tmp_path / "data")
    try:
        r = run("serve", "--data-dir", str(tmp_path / "data"), "--port", str(free_port()), env=offline_env())
        assert r.returncode == 1
        assert r.stderr == (f"error: the data directory {(tmp_path / 'data').resolve()} is in use by another "
                            f"rtcli serve (pid {first.proc.pid}, port {first.port}): stop that one, or give "
                            f"this one another --data-dir\n")
        # The same port as well: the data directory is named first, since it says who holds both.
        r = run("serve", "--data-dir", str(tmp_path / "data"), "--port", str(first.port), env=offline_env())
        assert r.returncode == 1 and "in use by another rtcli serve" in r.stderr
        with first.admin() as admin:  # the first one is unharmed
            assert admin.get("/tablesdb").status_code == 200
    finally:
        first.stop(sig="kill")  # a crash: no chance to clean up
    # The kernel released the lock with the process: nothing stale stops the next start.
    again = start_server(tmp_path / "data")
    try:
        assert (tmp_path / "data" / "serve.lock").read_text().strip() == (
            f'{{"pid": {again.proc.pid}, "port": {again.port}}}')
    finally:
        again.stop()


def test_port_in_use_is_one_line_and_creates_nothing(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = run("serve", "--data-dir", str(tmp_path / "data"), "--port", str(port), env=offline_env())
    assert r.returncode == 1
    assert r.stderr == (f"error: port {port} is already in use on 127.0.0.1: choose another with --port "
                        f"(or stop what listens there)\n")
    assert not (tmp_path / "data").exists()


def test_a_data_dir_that_cannot_be_one_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("x")
    for where, why in ((tmp_path / "afile", "Not a directory"), (tmp_path / "afile" / "sub", "Not a directory")):
        r = run("serve", "--data-dir", str(where), "--port", "0", env=offline_env())
        assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
        assert r.stderr == (f"error: cannot use --data-dir {where}: {why}; give a directory this user may create "
                            "and write (it is made if missing)\n")


def test_impossible_port_and_limits_are_usage_errors(tmp_path):
    """--port 99999 used to serve on port 34463 (99999 mod 65536); a negative limit was taken as is."""
    for argv, option in ((["--port", "99999"], "--port"), (["--port", "-1"], "--port"),
                         (["--max-body", "-5"], "--max-body"), (["--max-file-size", "0"], "--max-file-size"),
                         (["--max-queue", "0"], "--max-queue"), (["--max-subscriptions", "-1"], "--max-subscriptions"),
                         (["--max-connections-per-ip", "-1"], "--max-connections-per-ip"),
                         (["--max-executions", "0"], "--max-executions")):
        r = run("serve", "--data-dir", str(tmp_path / "data"), *argv, env=offline_env(), timeout=20)
        assert r.returncode == 2 and f"Invalid value for '{option}'" in r.stderr, (argv, r.stderr)
    assert not (tmp_path / "data").exists()


def test_try_block_pastes_as_printed_for_any_port(tmp_path):
    """The printed lines, pasted into a shell elsewhere, reach this server with its key."""
    port = free_port()
    assert port != 8787
    srv = start_server(tmp_path / "data", port=port, api_key=None)
    try:
        lines = srv.log().splitlines()
        block = lines[lines.index("try, in another terminal:") + 1:]
        assert block == [
            f"  export RTCLI_ENDPOINT=http://127.0.0.1:{port}/v1 RTCLI_KEY=$(cat {(tmp_path / 'data').resolve()}/api-key)",
            "  rtcli db create main --name Main",
        ]
        bin_dir = tmp_path / "bin"  # `rtcli` on PATH, running this checkout
        bin_dir.mkdir()
        (bin_dir / "rtcli").write_text(f'#!/bin/sh\nexec {" ".join(rtcli_cmd())} "$@"\n')
        (bin_dir / "rtcli").chmod(stat.S_IRWXU)
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        env = offline_env()
        env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", RTCLI_CONFIG_DIR=str(tmp_path / "config"),
                   NO_COLOR="1")
        r = subprocess.run(["sh", "-c", "\n".join(line.strip() for line in block)], cwd=elsewhere, env=env,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        with srv.admin() as admin:
            assert admin.get("/tablesdb/main").json()["name"] == "Main"
    finally:
        srv.stop()


def test_try_block_with_a_given_key_and_a_wildcard_host(tmp_path):
    port = free_port()
    srv = start_server(tmp_path / "data", port=port, extra=["--host", "0.0.0.0"])
    try:
        lines = srv.log().splitlines()
        assert lines[lines.index("try, in another terminal:") + 1] == (
            f"  export RTCLI_ENDPOINT=http://127.0.0.1:{port}/v1 RTCLI_KEY={srv.api_key}")
    finally:
        srv.stop()


def test_help_lists_serve_without_starting(tmp_path):
    r = subprocess.run([sys.executable, "-m", "rtcli", "serve", "--help"], capture_output=True, text=True,
                       cwd=tmp_path, timeout=30)
    assert r.returncode == 0 and "--data-dir" in r.stdout
    assert not Path(tmp_path / ".rtcli").exists()


def test_every_serve_option_defaults_to_the_server_setting():
    """A default of `rtcli serve` is written once, in rtcli.settings: each option's default is the
    setting's, and each setting is an option (but the few the server keeps fixed)."""
    import dataclasses

    import typer.main

    from rtcli.cli.main import app
    from rtcli.settings import DEFAULTS, NOT_OPTIONS, OPTION_NAMES, ServeConfig

    command = typer.main.get_command(app).commands["serve"]
    options = {p.name: p.default for p in command.params}
    settings = {OPTION_NAMES.get(f.name, f.name): getattr(DEFAULTS, f.name)
                for f in dataclasses.fields(ServeConfig) if f.name not in NOT_OPTIONS}
    assert options == settings
    assert set(options).isdisjoint(NOT_OPTIONS)
    # The options' types are the settings' (an enum option is the settings' own enum).
    for f in dataclasses.fields(ServeConfig):
        if f.name not in NOT_OPTIONS and isinstance(getattr(DEFAULTS, f.name), (int, float, str)):
            assert type(options[OPTION_NAMES.get(f.name, f.name)]) is type(getattr(DEFAULTS, f.name)), f.name


def test_limits_default_to_the_server_settings():
    """The per-connection, per-team and publishing limits, built without arguments (as tests and
    benchmarks do), are the server's defaults."""
    from rtcli.core.session import Limits
    from rtcli.services.teams import TeamLimits
    from rtcli.services.topics import PublishLimits
    from rtcli.settings import DEFAULTS

    limits = Limits()
    assert (limits.messages_per_minute, limits.subscriptions, limits.publishes_per_second, limits.max_message_size,
            limits.replay_events) == (DEFAULTS.messages_per_minute, DEFAULTS.max_subscriptions, DEFAULTS.publish_rate,
                                      DEFAULTS.max_message_size, DEFAULTS.replay_limit)
    assert (TeamLimits().teams_per_user, TeamLimits().roles_per_membership) == (
        DEFAULTS.max_teams_per_user, DEFAULTS.max_roles_per_membership)
    assert (PublishLimits().max_message_size, PublishLimits().per_user_per_second) == (
        DEFAULTS.max_message_size, DEFAULTS.publish_rate_user)
