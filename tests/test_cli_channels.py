"""Typos in what `rtcli subscribe` is given: a channel nothing is published on is warned about,
with the channel probably meant; a malformed query is a usage error. The channel grammar the
warning relies on is checked against the channels a real server publishes."""

from __future__ import annotations

import pytest

from rtcli.protocol.channels import check, matches_any
from tests.test_cli import offline_env, run  # noqa: F401  (fixture)


@pytest.mark.parametrize("channel, warning", [
    ("tablesdb.main.table.messages.rows",
     "no channel the server publishes on can match 'tablesdb.main.table.messages.rows': "
     "did you mean 'tablesdb.main.tables.messages.rows'?"),
    ("tablesdb.main.messages.rows",
     "no channel the server publishes on can match 'tablesdb.main.messages.rows': "
     "did you mean 'tablesdb.main.tables.messages.rows'?"),
    ("bucket.photos.files",
     "no channel the server publishes on can match 'bucket.photos.files': did you mean 'buckets.photos.files'?"),
    ("tablesdb main",
     "'tablesdb main' has a space: no channel has one (give each channel as its own argument, with dots "
     "between segments)"),
])
def test_typo_in_a_channel_is_warned_about(shared_server, tmp_path, channel, warning):
    r = run("subscribe", channel, "--timeout", "1", env=shared_server.cli_env(tmp_path / "config"))
    assert r.returncode == 0
    assert r.stderr.splitlines()[0] == f"warning: {warning}"
    assert r.stderr.splitlines()[1].startswith("subscribed to ")  # subscribed anyway: other servers may differ


def test_right_channels_and_patterns_pass_silently(shared_server, tmp_path):
    with shared_server.admin() as admin:  # a database and a table that exist: a missing one is warned about
        admin.post("/tablesdb", json={"databaseId": "main", "name": "main"})
        admin.post("/tablesdb/main/tables", json={"tableId": "messages", "name": "messages"})
    r = run("subscribe", "tablesdb.main.tables.messages.rows", "rows.create", "buckets.>",
            "tablesdb.*.tables.*.rows.*.delete", "account", "--timeout", "1",
            env=shared_server.cli_env(tmp_path / "config"))
    assert r.returncode == 0 and not [line for line in r.stderr.splitlines() if line.startswith("warning")]


@pytest.mark.parametrize("query, message", [
    ("n>=", "'n>=' has no value after >=: e.g. n>=2 (an empty string is n>='\"\"')"),
    ("n=", "'n=' has no value after =: e.g. n=2 (an empty string is n='\"\"')"),
    (">=2", "'>=2' is neither Query JSON nor a comparison: n=1 (or n==1), n!=1, n>1, n>=1, n<1, n<=1"),
])
def test_malformed_query_is_refused(offline_env, query, message):  # noqa: F811
    r = run("subscribe", "rows", "-q", query, env=offline_env)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.splitlines()[-1] == f"Error: Invalid value for --query: {message}"


def test_every_published_channel_fits_the_grammar(server):
    """Rows, files, teams and memberships, account and presences, executions: what the server
    really publishes, read back from its event log."""
    with server.admin() as a:
        assert a.post("/tablesdb", json={"databaseId": "d", "name": "d"}).status_code == 201
        assert a.post("/tablesdb/d/tables", json={"tableId": "t", "name": "t"}).status_code == 201
        assert a.post("/tablesdb/d/tables/t/rows", json={"rowId": "r", "data": {"n": 1}}).status_code == 201
        assert a.post("/storage/buckets", json={"bucketId": "b", "name": "b"}).status_code == 201
        assert a.post("/storage/buckets/b/files", data={"fileId": "f"},
                      files={"file": ("f.txt", b"hi")}).status_code == 201
        assert a.post("/teams", json={"teamId": "tm", "name": "tm"}).status_code == 201
        assert a.post("/functions", json={"functionId": "fn", "name": "fn", "command": "true"}).status_code == 201
        assert a.post("/functions/fn/executions", json={}).status_code == 201
        assert a.put("/presences/p", json={"userId": "u1", "status": "online"}).status_code == 200
    with server.guest() as g:
        assert g.post("/account", json={"userId": "u2", "email": "u2@example.com",
                                        "password": "password123"}).status_code == 201
    with server.admin() as a:
        events = a.get("/events", params={"since": "beginning", "limit": 1000}).json()["events"]
    channels = {c for e in events for c in e["channels"]}
    assert len(channels) >= 34
    assert [c for c in sorted(channels) if not matches_any(c)] == []
    assert check("tablesdb.d.tables.t.rows.r.create") is None
