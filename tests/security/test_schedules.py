"""Scheduled executions (``scheduledAt``) against a real server: a date must be valid, in the
future and at most a year ahead; waiting ones hold no place in the queue of pending executions and
are bounded per function and per caller; a deleted one never runs; a stored date the server cannot
read does not keep it from starting."""

from __future__ import annotations

import json
import re
import secrets
import shlex
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from rtcli.services.executions import MAX_SCHEDULED_PER_CALLER, MAX_SCHEDULED_PER_FUNCTION
from tests.conftest import start_server
from tests.security.web import assert_error

ECHO = Path(__file__).parents[1] / "server" / "functions" / "echo.py"
APPWRITE_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")


def _at(seconds: float, offset_hours: int = 0) -> str:
    when = datetime.now(UTC) + timedelta(seconds=seconds)
    return when.astimezone(timezone(timedelta(hours=offset_hours))).isoformat()


def _function(admin, command: str | None = None) -> str:
    fid = "sched" + secrets.token_hex(3)
    r = admin.post("/functions", json={"functionId": fid, "name": fid, "execute": ["any"],
                                       "command": command or f"{sys.executable} {ECHO}"})
    assert r.status_code == 201, r.text
    return fid


def _execution(client, fid: str, eid: str) -> dict:
    r = client.get(f"/functions/{fid}/executions/{eid}")
    assert r.status_code == 200, r.text
    return r.json()


def _wait_for(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def _finished(client, fid: str, eid: str) -> dict:
    return _wait_for(lambda: (e := _execution(client, fid, eid))["status"] in ("completed", "failed") and e)


@pytest.mark.parametrize("when", [
    lambda: "9999-12-31T23:59:59-14:00", lambda: "9999-01-01T00:00:00Z", lambda: "0001-01-01T00:00:00+14:00",
    lambda: "not a date", lambda: "", lambda: 1893456000, lambda: _at(2 * 366 * 86400)],
    ids=["offset-past-9999", "year-9999", "year-1", "words", "empty", "number", "two-years-ahead"])
def test_a_date_far_ahead_or_unreadable_is_refused(shared_server, when):
    with shared_server.admin() as a:
        fid = _function(a)
    with shared_server.guest() as g:
        r = g.post(f"/functions/{fid}/executions", json={"async": True, "scheduledAt": when()})
        body = assert_error(r, 400, "general_argument_invalid")
        assert "future" in body["message"] and "365 days" in body["message"]
    with shared_server.admin() as a:
        assert a.get(f"/functions/{fid}/executions").json()["total"] == 0


def test_a_past_date_is_refused(shared_server):
    with shared_server.admin() as a:
        fid = _function(a)
        for when in (_at(-3600), "2001-01-01T00:00:00Z"):
            assert_error(a.post(f"/functions/{fid}/executions", json={"async": True, "scheduledAt": when}), 400,
                         "general_argument_invalid")
        assert a.get(f"/functions/{fid}/executions").json()["total"] == 0


def test_a_stored_date_the_server_cannot_read_does_not_stop_it_starting(tmp_path):
    data = tmp_path / "data"
    server = start_server(data)
    try:
        with server.admin() as a:
            fid = _function(a)
            ids = []
            for _ in range(3):
                r = a.post(f"/functions/{fid}/executions", json={"async": True, "scheduledAt": _at(3600)})
                assert r.status_code == 202, r.text
                ids.append(r.json()["$id"])
        server.stop()
        unreadable, too_far, fine = ids
        with sqlite3.connect(data / "rtcli.db") as db:
            for eid, when in ((unreadable, "10000-01-01T13:59:59.000+00:00"), (too_far, "9999-01-01T00:00:00.000+00:00")):
                db.execute("UPDATE executions SET model=json_set(model, '$.scheduledAt', ?) WHERE id=?", (when, eid))
        db.close()
        server = start_server(data, port=server.port)
        with server.admin() as a:
            for eid in (unreadable, too_far):
                e = _execution(a, fid, eid)
                assert e["status"] == "failed" and "date" in e["errors"], e
            assert _execution(a, fid, fine)["status"] == "scheduled"
            r = a.post(f"/functions/{fid}/executions", json={"async": True})
            assert r.status_code == 202, r.text
            assert _finished(a, fid, r.json()["$id"])["status"] == "completed"
        assert "is not a date the server accepts" in server.log_path.read_text()
    finally:
        server.stop()


def test_waiting_scheduled_executions_do_not_block_the_queue_and_are_bounded(shared_server):
    later = _at(3600)
    with shared_server.admin() as a:
        fid = _function(a)
        for _ in range(MAX_SCHEDULED_PER_FUNCTION):
            r = a.post(f"/functions/{fid}/executions", json={"async": True, "scheduledAt": later})
            assert r.status_code == 202, r.text
        past_bound = a.post(f"/functions/{fid}/executions", json={"async": True, "scheduledAt": later})
        assert "scheduled executions waiting" in assert_error(past_bound, 429, "general_rate_limit_exceeded")["message"]
        now = a.post(f"/functions/{fid}/executions", json={"async": True, "body": "now"})
        assert now.status_code == 202, now.text
        done = _finished(a, fid, now.json()["$id"])
        assert done["status"] == "completed" and json.loads(done["responseBody"])["body"] == "now"

        open_to_guests = _function(a)
    with shared_server.guest() as g:
        for _ in range(MAX_SCHEDULED_PER_CALLER):
            r = g.post(f"/functions/{open_to_guests}/executions", json={"async": True, "scheduledAt": later})
            assert r.status_code == 202, r.text
        more = g.post(f"/functions/{open_to_guests}/executions", json={"async": True, "scheduledAt": later})
        assert_error(more, 429, "general_rate_limit_exceeded")
        right_away = g.post(f"/functions/{open_to_guests}/executions", json={"async": True})
        assert right_away.status_code == 202, right_away.text
    with shared_server.admin() as a:
        # the guests' bound is theirs: the function's other callers may still schedule it
        r = a.post(f"/functions/{open_to_guests}/executions", json={"async": True, "scheduledAt": later})
        assert r.status_code == 202, r.text
        assert _finished(a, open_to_guests, right_away.json()["$id"])["status"] == "completed"


def test_a_deleted_scheduled_execution_never_runs(shared_server, tmp_path):
    ran = tmp_path / "ran.log"
    with shared_server.admin() as a:
        fid = _function(a, f'echo "$RTCLI_EXECUTION_ID" >> {shlex.quote(str(ran))}')
        when = _at(2)
        deleted, kept = (a.post(f"/functions/{fid}/executions", json={"async": True, "scheduledAt": when}).json()["$id"]
                         for _ in range(2))
        assert a.delete(f"/functions/{fid}/executions/{deleted}").status_code == 204
        assert _finished(a, fid, kept)["status"] == "completed"
        time.sleep(1.0)
        assert ran.read_text().split() == [kept]
        assert a.get(f"/functions/{fid}/executions/{deleted}").status_code == 404


def test_a_scheduled_execution_runs_when_due_while_others_wait(tmp_path):
    """Executions scheduled for later take no place in a small queue: one due soon still runs. Its
    date, sent with an offset, is kept in UTC."""
    server = start_server(tmp_path / "data", extra=["--max-execution-queue", "2"])
    try:
        with server.admin() as a:
            fid = _function(a)
            for _ in range(3):
                r = a.post(f"/functions/{fid}/executions", json={"async": True, "scheduledAt": _at(3600)})
                assert r.status_code == 202, r.text
        with server.guest() as g:
            sent = _at(2, offset_hours=-14)
            r = g.post(f"/functions/{fid}/executions", json={"async": True, "body": "soon", "scheduledAt": sent})
            assert r.status_code == 202, r.text
            assert r.json()["status"] == "scheduled"
            stored = r.json()["scheduledAt"]
            assert APPWRITE_DATE.match(stored), stored
            assert abs(datetime.fromisoformat(stored) - datetime.fromisoformat(sent)) < timedelta(milliseconds=1)
            eid = r.json()["$id"]
        with server.admin() as a:
            assert _execution(a, fid, eid)["status"] == "scheduled"
            done = _finished(a, fid, eid)
        assert done["status"] == "completed" and done["trigger"] == "schedule", done
        assert json.loads(done["responseBody"])["body"] == "soon"
        assert datetime.fromisoformat(done["$updatedAt"]) >= datetime.fromisoformat(done["scheduledAt"])
    finally:
        server.stop()
