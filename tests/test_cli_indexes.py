"""`rtcli index …` and the text column types through the real entry point against a real server."""

from __future__ import annotations

import json
import secrets
import subprocess

from tests.test_cli import rtcli_cmd


def run(*argv: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([*rtcli_cmd(), *argv], env=env, capture_output=True, text=True, timeout=30)


def ok_json(*argv: str, env: dict):
    r = run(*argv, "--json", env=env)
    assert r.returncode == 0, (argv, r.stdout, r.stderr)
    return json.loads(r.stdout) if r.stdout.strip() else None


def test_index_commands(shared_server, tmp_path):
    env = shared_server.cli_env(tmp_path / "cfg")
    db = "c" + secrets.token_hex(3)
    ok_json("db", "create", db, env=env)
    ok_json("table", "create", "--db", db, "posts", env=env)
    col = ok_json("column", "create", "--db", db, "--table", "posts", "--key", "slug", "--type", "varchar",
                  "--size", "40", env=env)
    assert col["type"] == "varchar" and col["size"] == 40
    assert run("column", "create", "--db", db, "--table", "posts", "--key", "x", "--type", "varchar",
               env=env).returncode == 2  # a varchar needs its size
    assert ok_json("column", "create", "--db", db, "--table", "posts", "--key", "body", "--type", "text",
                   env=env)["size"] == 65535
    where = ("--db", db, "--table", "posts")
    made = ok_json("index", "create", *where, "by_slug", "-c", "slug", "--type", "unique", env=env)
    assert made["type"] == "unique" and made["columns"] == ["slug"] and made["status"] == "available"
    ok_json("index", "create", *where, "text", "-c", "body", "--type", "fulltext", env=env)
    listed = ok_json("index", "list", *where, env=env)
    assert [i["key"] for i in listed["indexes"]] == ["by_slug", "text"]
    table = run("index", "list", *where, env={**env, "COLUMNS": "200"})
    assert table.returncode == 0 and "by_slug" in table.stdout and "fulltext" in table.stdout
    assert ok_json("index", "get", *where, "text", env=env)["columns"] == ["body"]

    ok_json("row", "create", *where, "a", "slug=hello", "body=hello world", env=env)
    r = run("row", "create", *where, "b", "slug=hello", env=env)
    assert r.returncode == 1 and "row_unique_constraint_violation" in r.stderr
    found = ok_json("row", "list", *where, "-q", '{"method":"search","attribute":"body","values":["world"]}', env=env)
    assert [x["$id"] for x in found["rows"]] == ["a"]

    r = run("index", "create", *where, "nope", env=env)
    assert r.returncode == 2 and "--column" in r.stderr
    r = run("index", "delete", *where, "by_slug", env=env)
    assert r.returncode == 0 and "deleted index by_slug" in r.stdout
    r = run("index", "get", *where, "by_slug", env=env)
    assert r.returncode == 1 and "column_index_not_found" in r.stderr
