"""How the CLI takes its arguments, through the real entry point: IDs are positional everywhere
(``--id`` still works), amounts are ``--by``, and a new database, table or bucket is never
given an ID nobody chose."""

from __future__ import annotations

import pytest

from tests.test_cli import ok_json, run
from tests.test_cli import env, offline_env, table  # noqa: F401  (fixtures)


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
    (["row", "get"], "error: missing the row ID: rtcli row get --db {db} --table t ROW_ID\n"),
    (["row", "delete"], "error: missing the row ID: rtcli row delete --db {db} --table t ROW_ID\n"),
    (["row", "update", "n=1"], "error: missing the row ID: rtcli row update --db {db} --table t ROW_ID [KEY=VALUE]...\n"),
    (["row", "get", "r1", "--id", "r2"], "error: two different row IDs given: 'r1' and --id 'r2'\n"),
])
def test_row_id_mistakes_are_usage_errors(env, table, argv, message):  # noqa: F811
    r = run(*argv[:2], *table, *argv[2:], env=env)
    assert (r.returncode, r.stdout, r.stderr) == (2, "", message.format(db=table[1]))


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


# --- global options after the command -------------------------------------------------------------


@pytest.mark.parametrize("argv, message", [
    (["db", "list", "--key", "K"], "--key is a global option: put it before the command: rtcli --key KEY db list …"),
    (["db", "--key", "K", "list"], "--key is a global option: put it before the command: rtcli --key KEY db …"),
    (["subscribe", "rows", "--project", "default"],
     "--project is a global option: put it before the command: rtcli --project ID subscribe …"),
    (["row", "list", "--db", "d", "--table", "t", "--endpoint=http://127.0.0.1:1/v1"],
     "--endpoint is a global option: put it before the command: rtcli --endpoint URL row list …"),
    (["table", "list", "--db", "d", "--profile", "work"],
     "--profile is a global option: put it before the command: rtcli --profile NAME table list …"),
    (["db", "get", "main", "-V"], "-V is a global option: put it before the command: rtcli -V db get …"),
    (["serve", "--endpoint", "http://127.0.0.1:1/v1"],
     "--endpoint is a global option of the client commands; `rtcli serve` does not read it "
     "(its own options: rtcli serve -h)"),
])
def test_a_global_option_after_the_command_says_where_it_goes(offline_env, argv, message):  # noqa: F811
    r = run(*argv, env=offline_env)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr.splitlines()[-1] == f"Error: {message}", r.stderr


def test_a_command_option_named_like_a_global_one_is_the_commands(offline_env):  # noqa: F811
    """`column create --key` is the column's key and `explain --key` a flag: both parse (the
    commands get as far as the missing server); the same commands name a global option they
    lack, and a truly unknown option is click's error."""
    column = ["column", "create", "--db", "d", "--table", "t", "--key", "title", "--type", "string"]
    for argv in (column, ["explain", "c1.0.1", "--key"], ["--key", "K", "db", "list"]):
        r = run(*argv, env=offline_env)
        assert r.returncode == 1 and "cannot reach" in r.stderr, (argv, r.stderr)
    r = run(*column, "--project", "p", env=offline_env)
    assert r.returncode == 2 and r.stderr.splitlines()[-1] == (
        "Error: --project is a global option: put it before the command: rtcli --project ID column create …")
    r = run("db", "list", "--nope", env=offline_env)
    assert r.returncode == 2 and r.stderr.splitlines()[-1] == "Error: No such option: --nope"


# --- query shorthand --------------------------------------------------------------------------------


FORMS = "n=1 (or n==1), n!=1, n>1, n>=1, n<1, n<=1"


def test_double_equals_is_equal_and_a_text_like_an_operator_is_json(env, table):  # noqa: F811
    for rid, n in (("a", 1), ("b", 2)):
        ok_json("row", "create", *table, rid, f"n={n}", f"title={rid}", env=env)
    assert [r["$id"] for r in ok_json("row", "list", *table, "-q", "n==2", env=env)["rows"]] == ["b"]
    ok_json("row", "create", *table, "arrow", 'title=">x"', env=env)
    assert [r["$id"] for r in ok_json("row", "list", *table, "-q", 'title=">x"', env=env)["rows"]] == ["arrow"]


@pytest.mark.parametrize("query, message", [
    ("n=>2", "'n=>2': no such operator (did you mean n>=2?); the comparisons are " + FORMS
     + "; a text value that starts with > is given as a JSON string: n='\">2\"'"),
    ("n>>2", "'n>>2': no such operator; the comparisons are " + FORMS
     + "; a text value that starts with > is given as a JSON string: n>'\">2\"'"),
    ("n===2", "'n===2': no such operator; the comparisons are " + FORMS
     + "; a text value that starts with = is given as a JSON string: n=='\"=2\"'"),
])
def test_a_leftover_operator_is_refused(offline_env, query, message):  # noqa: F811
    r = run("row", "list", "--db", "d", "--table", "t", "-q", query, env=offline_env)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr.splitlines()[-1] == f"Error: Invalid value for --query: {message}", r.stderr


# --- row data ---------------------------------------------------------------------------------------


def test_a_lone_word_is_not_silently_an_empty_row(env, table):  # noqa: F811
    r = run("row", "create", *table, "text", env=env)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr.splitlines()[-1] == (
        "Error: Invalid value for DATA: no data given: pass KEY=VALUE pairs or --data JSON (--data '{}' for an "
        "empty row); 'text' is taken as the row ID, or is it a pair without =value?"), r.stderr
    assert run("row", "get", *table, "text", env=env).returncode == 1  # nothing was created
    empty = ok_json("row", "create", *table, "empty", "--data", "{}", env=env)
    assert empty["$id"] == "empty"


@pytest.mark.parametrize("pair, meant", [("text = hi", "text=hi"), ("title =a b", "'title=a b'"), (" n=1", "n=1")])
def test_spaces_around_a_key_are_refused(offline_env, pair, meant):  # noqa: F811
    r = run("row", "create", "--db", "d", "--table", "t", pair, env=offline_env)
    assert (r.returncode, r.stdout) == (2, "")
    key = pair.partition("=")[0]
    assert r.stderr.splitlines()[-1] == (f"Error: Invalid value for DATA: {pair!r}: the key {key!r} has spaces "
                                         f"around it; write {meant} (no spaces around =)"), r.stderr
