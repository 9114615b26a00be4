"""How the CLI takes its arguments, through the real entry point: IDs are positional everywhere
(``--id`` still works), amounts are ``--by``, and a new database, table or bucket is never
given an ID nobody chose."""

from __future__ import annotations

import pytest

from tests.test_cli import ok_json, run
from tests.test_cli import env, table  # noqa: F401  (fixtures)


def test_row_ids_are_positional(env, table):  # noqa: F811
    assert ok_json("row", "create", *table, "r1", "title=a", "n=1", env=env)["$id"] == "r1"
    assert ok_json("row", "get", *table, "r1", env=env)["title"] == "a"
    assert ok_json("row", "update", *table, "r1", "n=5", env=env)["n"] == 5
    assert ok_json("row", "increment", *table, "r1", "--column", "n", "--by", "2", env=env)["n"] == 7
    assert ok_json("row", "decrement", *table, "r1", "--column", "n", "--by", "3", env=env)["n"] == 4
    assert ok_json("row", "upsert", *table, "r2", "title=b", env=env)["$id"] == "r2"
    r = run("row", "delete", *table, "r1", env=env)
    assert (r.returncode, r.stdout) == (0, "deleted row r1\n")
    assert run("row", "get", *table, "r1", env=env).returncode == 1
    generated = ok_json("row", "create", *table, "title=c", env=env)  # no ID: rows get a new one
    assert len(generated["$id"]) == 20


@pytest.mark.parametrize("argv, message", [
    (["row", "get"], "error: missing the row ID (an argument or --id)\n"),
    (["row", "update", "n=1"], "error: missing the row ID: rtcli row … --db D --table T ROW_ID [key=value…]\n"),
    (["row", "get", "r1", "--id", "r2"], "error: two different row IDs given: 'r1' and --id 'r2'\n"),
])
def test_row_id_mistakes_are_usage_errors(env, table, argv, message):  # noqa: F811
    r = run(*argv[:2], *table, *argv[2:], env=env)
    assert (r.returncode, r.stdout, r.stderr) == (2, "", message)


@pytest.mark.parametrize("argv, message", [
    (["table", "create", "--db", "main"],
     "error: missing the table ID: give one, as in `rtcli table create --db main messages`, or unique() for a "
     "generated one\n"),
    (["db", "create", "--name", "Main"],
     "error: missing the database ID: give one, as in `rtcli db create main --name Main`, or unique() for a "
     "generated one\n"),
    (["bucket", "create"],
     "error: missing the bucket ID: give one, as in `rtcli bucket create photos`, or unique() for a generated one\n"),
])
def test_new_container_needs_an_id(env, argv, message):  # noqa: F811
    r = run(*argv, env=env)
    assert (r.returncode, r.stdout, r.stderr) == (2, "", message)


def test_unique_asks_for_a_generated_id(env):  # noqa: F811
    db = ok_json("db", "create", "unique()", env=env)["$id"]
    made = ok_json("table", "create", "--db", db, "unique()", env=env)
    assert len(db) == 20 and len(made["$id"]) == 20 and made["$id"] != db
