"""The `rtcli` command line, through its real entry point in a subprocess.

Covers TablesDB round trips, `--json` output, errors on stderr with exit codes, profiles, the
start-up rules (`rtcli --help` and a one-shot `rtcli row create` never import the server or TUI
stack) and the pure argument parsing and rendering helpers. `rtcli subscribe` is in
test_cli_subscribe.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from rtcli.cli import args, output
from rtcli.cli.subscribe import SUMMARY_WIDTH, describe
from rtcli.client.realtime import Event
from tests.conftest import free_port

HEAVY = ("textual", "uvicorn", "aiosqlite", "starlette")


def rtcli_cmd() -> list[str]:
    """The installed console script next to this interpreter, else `python -m rtcli`."""
    script = Path(sys.executable).with_name("rtcli")
    return [str(script)] if script.exists() else [sys.executable, "-m", "rtcli"]


def run(*argv: str, env: dict, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([*rtcli_cmd(), *argv], env=env, capture_output=True, text=True, timeout=timeout)


def ok_json(*argv: str, env: dict):
    r = run(*argv, "--json", env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout) if r.stdout.strip() else None


@pytest.fixture
def env(shared_server, tmp_path):
    return shared_server.cli_env(tmp_path / "config")


@pytest.fixture
def offline_env(tmp_path):
    """No server: an endpoint on a port nobody listens on."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("RTCLI_")}
    e.update(RTCLI_CONFIG_DIR=str(tmp_path / "config"), RTCLI_ENDPOINT=f"http://127.0.0.1:{free_port()}/v1",
             NO_COLOR="1")
    return e


# --- round trips ----------------------------------------------------------------------------------


def test_database_round_trip(env):
    db = ok_json("db", "create", "cli_db", "--name", "CLI DB", env=env)
    assert db["$id"] == "cli_db" and db["name"] == "CLI DB" and db["type"] == "tablesdb"
    assert ok_json("db", "get", "--id", "cli_db", env=env)["name"] == "CLI DB"
    assert "cli_db" in [d["$id"] for d in ok_json("db", "list", env=env)["databases"]]
    generated = ok_json("db", "create", "unique()", env=env)  # a new unique one, asked for
    assert len(generated["$id"]) == 20
    assert ok_json("db", "delete", generated["$id"], env=env) is None
    r = run("db", "get", generated["$id"], env=env)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.startswith("error: ") and "(database_not_found, 404)" in r.stderr


def test_table_and_column_round_trip(env):
    ok_json("db", "create", "tdb", env=env)
    t = ok_json("table", "create", "--db", "tdb", "posts", "--name", "Posts", "-p", "read:any",
                "-p", 'create("users")', "--row-security", env=env)
    assert t["$id"] == "posts" and t["rowSecurity"] is True
    assert set(t["$permissions"]) == {'read("any")', 'create("users")'}
    assert ok_json("table", "get", "--db", "tdb", "posts", env=env)["name"] == "Posts"
    assert [x["$id"] for x in ok_json("table", "list", "--db", "tdb", env=env)["tables"]] == ["posts"]

    col = ok_json("column", "create", "--db", "tdb", "--table", "posts", "--key", "title", "--type", "string",
                  "--size", "64", "--required", env=env)
    assert (col["key"], col["type"], col["size"], col["required"]) == ("title", "string", 64, True)
    ok_json("column", "create", "--db", "tdb", "--table", "posts", "--key", "n", "--type", "integer",
            "--default", "5", "--min", "0", "--max", "10", env=env)
    kind = ok_json("column", "create", "--db", "tdb", "--table", "posts", "--key", "kind", "--type", "enum",
                   "--elements", "a,b", env=env)
    assert kind["elements"] == ["a", "b"]
    ok_json("column", "create", "--db", "tdb", "--table", "posts", "--key", "tags", "--type", "string",
            "--array", env=env)
    cols = ok_json("column", "list", "--db", "tdb", "--table", "posts", env=env)
    assert [c["key"] for c in cols["columns"]] == ["title", "n", "kind", "tags"]
    assert next(c for c in cols["columns"] if c["key"] == "n")["default"] == 5

    assert ok_json("table", "delete", "--db", "tdb", "posts", env=env) is None
    assert run("table", "get", "--db", "tdb", "posts", env=env).returncode == 1


@pytest.fixture
def table(shared_server):
    """A fresh table with columns title (string) and n (integer), readable by anyone.

    Made over REST directly: the CLI's own db/table/column commands are tested above, and
    three fewer subprocesses per test keep the suite quick."""
    db = "rows_" + os.urandom(3).hex()
    with shared_server.admin() as admin:
        assert admin.post("/tablesdb", json={"databaseId": db, "name": db}).status_code == 201
        assert admin.post(f"/tablesdb/{db}/tables",
                          json={"tableId": "t", "name": "t", "permissions": ['read("any")']}).status_code == 201
        assert admin.post(f"/tablesdb/{db}/tables/t/columns/string",
                          json={"key": "title", "size": 255, "required": False}).status_code == 202
        assert admin.post(f"/tablesdb/{db}/tables/t/columns/integer",
                          json={"key": "n", "required": False}).status_code == 202
    return ["--db", db, "--table", "t"]


def test_row_round_trip(env, table):
    row = ok_json("row", "create", *table, "--id", "r1", "title=hello world", "n=1", env=env)
    assert (row["$id"], row["title"], row["n"]) == ("r1", "hello world", 1)
    assert isinstance(row["$sequence"], str) and row["$tableId"] == "t"
    row2 = ok_json("row", "create", *table, "--data", '{"title": "second", "n": 7}', "-p", "read:any", env=env)
    assert len(row2["$id"]) == 20 and row2["$permissions"] == ['read("any")']
    # key=value pairs override --data; values parse as JSON when they can.
    row3 = ok_json("row", "create", *table, "--id", "r3", "--data", '{"title": "x", "n": 1}', "n=3",
                   "title=007", env=env)
    assert (row3["title"], row3["n"]) == ("007", 3)

    assert ok_json("row", "get", *table, "--id", "r1", env=env)["title"] == "hello world"
    listed = ok_json("row", "list", *table, env=env)
    assert listed["total"] == 3 and {r["$id"] for r in listed["rows"]} == {"r1", row2["$id"], "r3"}
    assert {r["$id"] for r in ok_json("row", "list", *table, "-q", "n>=3", env=env)["rows"]} == {row2["$id"], "r3"}
    q = '{"method":"equal","attribute":"title","values":["hello world"]}'
    assert [r["$id"] for r in ok_json("row", "list", *table, "--query", q, env=env)["rows"]] == ["r1"]
    assert len(ok_json("row", "list", *table, "--limit", "1", env=env)["rows"]) == 1

    updated = ok_json("row", "update", *table, "--id", "r1", "n=2", env=env)
    assert (updated["n"], updated["title"]) == (2, "hello world")
    upserted = ok_json("row", "upsert", *table, "--id", "r9", "title=up", "n=9", env=env)
    assert upserted["$id"] == "r9"
    assert ok_json("row", "increment", *table, "--id", "r9", "--column", "n", "--value", "2", env=env)["n"] == 11
    assert ok_json("row", "decrement", *table, "--id", "r9", "--column", "n", env=env)["n"] == 10

    assert ok_json("row", "delete", *table, "--id", "r1", env=env) is None
    r = run("row", "get", *table, "--id", "r1", env=env)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.strip() == "error: Row with the requested ID 'r1' could not be found. (row_not_found, 404)"


def test_pretty_output_is_a_table(env, table):
    r = run("row", "create", *table, "--id", "p1", "title=pretty", "n=4", env=env)
    assert r.returncode == 0, r.stderr
    assert "p1" in r.stdout and "pretty" in r.stdout and not r.stdout.lstrip().startswith("{")
    r = run("row", "list", *table, env=env)
    assert r.returncode == 0 and "p1" in r.stdout and r.stderr == "1 of 1 rows\n"  # the caption: stderr in a pipe
    r = run("row", "delete", *table, "--id", "p1", env=env)
    assert r.returncode == 0 and "deleted row p1" in r.stdout


def test_global_json_flag(env, table):
    r = run("--json", "row", "create", *table, "--id", "g1", "n=1", env=env)
    assert r.returncode == 0 and json.loads(r.stdout)["$id"] == "g1"


# --- errors ---------------------------------------------------------------------------------------


def test_api_error_goes_to_stderr(env, table):
    ok_json("row", "create", *table, "--id", "dup", env=env)
    r = run("row", "create", *table, "--id", "dup", "--json", env=env)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.startswith("error: ") and "(row_already_exists, 409)" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_unauthorized_without_key(env):
    del env["RTCLI_KEY"]
    r = run("db", "create", "guestdb", env=env)
    assert r.returncode == 1 and ", 401)" in r.stderr


@pytest.mark.parametrize("argv, needle", [
    (["row", "create", "--db", "d"], "--table"),
    (["row", "create", "--db", "d", "--table", "t", "--data", "{nope"], "not valid JSON"),
    (["row", "create", "--db", "d", "--table", "t", "--data", "[1]"], "JSON object"),
    (["row", "create", "--db", "d", "--table", "t", "r1", "novalue"], "key=value"),
    (["row", "list", "--db", "d", "--table", "t", "-q", "what?"], "--query"),
    (["row", "update", "--db", "d", "--table", "t", "--id", "x"], "nothing to update"),
    (["column", "create", "--db", "d", "--table", "t", "--key", "k", "--type", "blob"], "--type"),
    (["column", "create", "--db", "d", "--table", "t", "--key", "k", "--type", "enum"], "--elements"),
    (["db", "get"], "missing the database ID"),
    (["db", "get", "a", "--id", "b"], "two different"),
    (["subscribe", "rows", "--since", " "], "--since"),
    (["subscribe", "rows", "--policy", "sometimes"], "--policy"),
    (["--profile", "ghost", "db", "list"], "no profile named 'ghost'"),
])
def test_usage_errors_exit_2(offline_env, argv, needle):
    r = run(*argv, env=offline_env)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert needle in r.stderr and r.stdout == ""


def test_connection_refused_is_explained(offline_env):
    r = run("row", "create", "--db", "d", "--table", "t", "n=1", env=offline_env)
    assert r.returncode == 1 and r.stdout == ""
    line = r.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert offline_env["RTCLI_ENDPOINT"] in line and "connection refused" in line and "rtcli serve" in line


# --- profiles -------------------------------------------------------------------------------------


def test_profiles(offline_env, shared_server, tmp_path):
    e = dict(offline_env)
    r = run("profile", "set", "--endpoint", shared_server.endpoint, "--key", shared_server.api_key, env=e)
    assert r.returncode == 0, r.stderr
    path = Path(e["RTCLI_CONFIG_DIR"]) / "config.json"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    # The env endpoint (a dead port) beats the profile; without it, the profile's is used.
    assert run("db", "list", env=e).returncode == 1
    del e["RTCLI_ENDPOINT"]
    assert run("db", "list", env=e).returncode == 0
    # A flag beats everything.
    assert run("--endpoint", offline_env["RTCLI_ENDPOINT"], "db", "list", env=e).returncode == 1

    assert run("profile", "set", "other", "--project", "p2", env=e).returncode == 0
    shown = ok_json("profile", "show", env=e)
    assert shown["endpoint"] == shared_server.endpoint and shown["sources"]["endpoint"] == "profile"
    assert shown["key"] != shared_server.api_key and shown["key"].endswith("…")  # masked
    other = ok_json("--profile", "other", "profile", "show", env={**e, "RTCLI_PROJECT": "from-env"})
    assert other["profile"] == "other" and other["project"] == "from-env" and other["sources"]["project"] == "env"
    table = run("--profile", "other", "profile", "show", env=e)  # no key at all: said in words, not Python's None
    assert table.returncode == 0 and "key\tnone  (default)" in table.stdout and "None" not in table.stdout, table.stdout
    listed = ok_json("profile", "list", env=e)
    assert set(listed) == {"default", "other"} and listed["other"] == {"project": "p2"}
    r = run("profile", "list", env={**e, "RTCLI_PROFILE": "other"})
    assert "other" in r.stdout and "default" in r.stdout
    assert run("profile", "delete", "other", env=e).returncode == 0
    assert run("profile", "delete", "other", env=e).returncode == 1
    assert run("profile", "set", env=e).returncode == 2


# --- start-up: help, imports, time ---------------------------------------------------------------

WRAPPER = """
import json, os, sys
sys.argv = ["rtcli", *json.loads(os.environ["ARGV"])]
from rtcli.cli.main import main
try:
    main()
except SystemExit as e:
    code = e.code
else:
    code = 0
with open(os.environ["MODULES_OUT"], "w") as f:
    json.dump({"code": code, "modules": sorted(sys.modules)}, f)
"""


def modules_after(argv: list[str], env: dict, tmp_path: Path) -> tuple[object, set[str]]:
    out = tmp_path / "modules.json"
    r = subprocess.run([sys.executable, "-c", WRAPPER], env={**env, "ARGV": json.dumps(argv), "MODULES_OUT": str(out)},
                       capture_output=True, text=True, timeout=30)
    assert out.exists(), r.stderr
    data = json.loads(out.read_text())
    return data["code"], set(data["modules"])


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY or m.startswith("rtcli.server")
                  or m.startswith("rtcli.store") or m.startswith("rtcli.services") or m.startswith("rtcli.core"))


def test_help_imports_nothing_heavy(offline_env, tmp_path):
    code, modules = modules_after(["--help"], offline_env, tmp_path)
    assert code == 0
    assert heavy_in(modules) == []
    # Not even the client's transports: help needs neither.
    assert "httpx" not in modules and "websockets" not in modules and "asyncio" not in modules
    assert "orjson" not in modules  # the wire codec: only what talks to a server needs it
    if "typer._click" in modules:  # a typer that carries its own click: the package is a second copy
        assert "click" not in modules


def test_row_create_imports_nothing_heavy(env, table, tmp_path):
    code, modules = modules_after(["row", "create", *table, "n=1", "--json"], env, tmp_path)
    assert code in (0, None)
    assert heavy_in(modules) == []
    assert "httpx" in modules  # it did talk to the server
    # Start-up budget guards (see rtcli/cli/coerce.py and common.trim_httpx_imports).
    assert "pydantic" not in modules
    assert "pygments" not in modules and "rich.syntax" not in modules and "trio._core" not in modules


def test_help_lists_the_commands(offline_env):
    r = run("--help", env=offline_env)
    assert r.returncode == 0
    for command in ("subscribe", "monitor", "db", "table", "column", "row", "profile", "serve"):
        assert f"  {command} " in r.stdout
    assert run("row", "--help", env=offline_env).returncode == 0
    assert run("--version", env=offline_env).stdout.startswith("rtcli ")


# --- pure helpers ---------------------------------------------------------------------------------


def test_parse_data_and_values():
    assert args.parse_data(None, []) is None
    assert args.parse_data('{"a": 1}', ["b=true", "c=x y", "d=[1,2]", "e=", "f=a=b"]) == {
        "a": 1, "b": True, "c": "x y", "d": [1, 2], "e": "", "f": "a=b"}
    assert args.parse_data(None, ["n=1.5", "s=\"1\"", "z=null"]) == {"n": 1.5, "s": "1", "z": None}


@pytest.mark.parametrize("text, expected", [
    ("n=1", {"method": "equal", "attribute": "n", "values": [1]}),
    ("n!=x", {"method": "notEqual", "attribute": "n", "values": ["x"]}),
    ("n>=2", {"method": "greaterThanEqual", "attribute": "n", "values": [2]}),
    ("n<=2", {"method": "lessThanEqual", "attribute": "n", "values": [2]}),
    ("n>2", {"method": "greaterThan", "attribute": "n", "values": [2]}),
    ("n<2", {"method": "lessThan", "attribute": "n", "values": [2]}),
    ("tag=[\"a\",\"b\"]", {"method": "equal", "attribute": "tag", "values": ["a", "b"]}),
    ("$id=r1", {"method": "equal", "attribute": "$id", "values": ["r1"]}),
    ("msg=a<b", {"method": "equal", "attribute": "msg", "values": ["a<b"]}),
    ('{"method": "limit", "values": [3]}', {"method": "limit", "values": [3]}),
])
def test_parse_query(text, expected):
    assert json.loads(args.parse_query(text)) == expected


@pytest.mark.parametrize("bad", ["nothing", "{}", '{"attribute":"x"}', "{bad json", "=1"])
def test_parse_query_rejects(bad):
    with pytest.raises(typer.BadParameter):
        args.parse_query(bad)


def test_parse_permission_and_defaults():
    assert args.parse_permission("read:any") == 'read("any")'
    assert args.parse_permission("update:user:u1") == 'update("user:u1")'
    assert args.parse_permission('write("team:t/owner")') == 'write("team:t/owner")'
    with pytest.raises(typer.BadParameter):
        args.parse_permission("any")
    assert args.parse_default("integer", "5") == 5 and args.parse_default("float", "1.5") == 1.5
    assert args.parse_default("boolean", "TRUE") is True and args.parse_default("string", "5") == "5"
    with pytest.raises(typer.BadParameter):
        args.parse_default("integer", "five")
    assert args.parse_elements("a, b,,c") == ["a", "b", "c"]


def test_describe_event_line():
    ev = Event({"events": ["tablesdb.d.tables.t.rows.r1.update", "tablesdb.*.tables.*.rows.*.update"],
                "channels": ["rows"], "timestamp": "2026-11-28T01:00:00.123+00:00",
                "payload": {"$id": "r1", "$sequence": "1", "title": "two words", "n": 2, "ok": True, "tags": ["a"]}})
    when, action, resource, text = describe(ev)
    assert len(when) == 12 and when.endswith(".123")
    assert (action, resource) == ("update", "tablesdb.d.tables.t.rows.r1")
    assert text == 'title="two words" n=2 ok=true tags=["a"]'
    long = Event({"events": ["tablesdb.d.tables.t.rows.r2.create"], "payload": {"$id": "r2", "s": "x" * 200}})
    assert describe(long)[3].endswith("…") and len(describe(long)[3]) == SUMMARY_WIDTH == 80
    # A file event leads with the file's name, type and size, as the monitor's summary does.
    upload = Event({"events": ["buckets.b.files.f1.create"],
                    "payload": {"$id": "f1", "chunksTotal": 1, "sizeOriginal": 3, "mimeType": "text/plain", "name": "a.txt"}})
    assert describe(upload)[3] == "name=a.txt mimeType=text/plain sizeOriginal=3 chunksTotal=1"
    # A resource path that does not end with the payload's id gets the id appended.
    acct = Event({"events": ["users.u1.sessions.s1.create"], "payload": {"$id": "s1"}})
    assert describe(acct)[2] == "users.u1.sessions.s1"


@pytest.mark.parametrize("annotation, raw, expected", [
    (str, "x", "x"),
    (int | None, "5", 5),
    (float, "1.5", 1.5),
    (bool | None, True, True),
    (list[str] | None, ("a", "b"), ["a", "b"]),
])
def test_fast_coercion(annotation, raw, expected):
    from rtcli.cli.coerce import simple_converter
    from typer.models import OptionInfo

    convert = simple_converter(annotation, OptionInfo())
    assert convert is not None and convert(raw) == expected


def test_fast_coercion_leaves_the_rest_to_typer():
    from rtcli.cli.coerce import simple_converter
    from typer.models import OptionInfo

    assert simple_converter(Path, OptionInfo()) is None
    assert simple_converter(int, OptionInfo(min=1)) is None
    assert simple_converter(int | str, OptionInfo()) is None
    with pytest.raises(ValueError, match="not an integer"):
        simple_converter(int, OptionInfo())("1.5")


def test_error_description():
    from rtcli.client.api import ConnectionFailed
    from rtcli.errors import AppwriteError

    e = AppwriteError("row_not_found", "Row with the requested ID 'x' could not be found.", code=404)
    assert output.describe_error(e) == "Row with the requested ID 'x' could not be found. (row_not_found, 404)"
    text = output.describe_error(ConnectionFailed("http://h:1/v1", "connection refused"))
    assert "http://h:1/v1" in text and "rtcli serve" in text


def test_cli_uses_only_allowed_packages():
    """rtcli.cli and rtcli.client import no server-side package at module level (the layering rule;
    lazy imports inside a command, like `serve`'s, are how the heavy stacks get loaded)."""
    import re

    root = Path(__file__).resolve().parents[1] / "rtcli"
    forbidden = ("rtcli.server", "rtcli.core", "rtcli.store", "rtcli.services", "rtcli.broker", "rtcli.tui",
                 "textual", "uvicorn", "aiosqlite", "starlette")
    for package in ("cli", "client"):
        for path in (root / package).glob("*.py"):
            text = path.read_text()
            for name in forbidden:
                assert not re.search(rf"^(import|from) {re.escape(name)}\b", text, re.M), (path, name)


def test_console_script_is_installed():
    assert shutil.which("rtcli") or Path(sys.executable).with_name("rtcli").exists()
