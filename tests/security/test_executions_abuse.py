"""Executions a guest can ask for, against a real server: synchronous ones share the bound of
executions waiting or running (``--max-execution-queue``) with asynchronous ones, so a flood of
them is refused at once instead of piling up bodies in memory; an execution's body, path and
headers are bounded and checked before anything is stored or run."""

from __future__ import annotations

import json
import secrets
import shlex
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from rtcli.services.execution_input import MAX_BODY, MAX_HEADERS, MAX_HEADERS_SIZE, MAX_PATH
from tests.conftest import start_server

# Reports what the command got: the size of its body, its path and its headers.
_REPORT = ("import json, os, sys; print(json.dumps({'bytes': len(sys.stdin.buffer.read()), "
           "'path': os.environ['RTCLI_PATH'], 'headers': json.loads(os.environ['RTCLI_HEADERS'])}))")



def _function(admin: httpx.Client, command: str) -> str:
    fid = "abuse" + secrets.token_hex(3)
    r = admin.post("/functions", json={"functionId": fid, "name": fid, "command": command, "execute": ["any"],
                                       "timeout": 30})
    assert r.status_code == 201, r.text
    return fid


def _refused(r: httpx.Response, status: int, type_: str) -> dict:
    """An Appwrite error of this status and type (what came instead, cut short: it may echo megabytes)."""
    assert r.status_code == status and r.json()["type"] == type_, r.text[:300]
    return r.json()


def _total(admin: httpx.Client, fid: str) -> int:
    r = admin.get(f"/functions/{fid}/executions")
    assert r.status_code == 200, r.text
    return r.json()["total"]


# --- a flood of synchronous executions ------------------------------------------------------------


def test_a_flood_of_synchronous_executions_is_refused_at_once_and_memory_stays_bounded(tmp_path):
    """40 guests at once each ask for a synchronous run of a slow function with a body of almost
    MAX_BODY, three times over: past the 3 the queue takes (a few more as admitted ones end while the
    others are still sending), each is refused with a 503 at once, and the server does not grow with
    the rounds (before, every one waited its turn with its body in memory)."""
    server = start_server(tmp_path / "data", extra=["--max-executions", "1", "--max-execution-queue", "3"])
    body = "b" * (MAX_BODY - 1000)

    def ask(fid: str) -> tuple[int, float, str]:
        t = time.monotonic()
        try:
            with server.guest() as g:
                r = g.post(f"/functions/{fid}/executions", json={"body": body}, timeout=15)
            return r.status_code, time.monotonic() - t, r.text[:300]
        except httpx.TimeoutException:
            return 0, time.monotonic() - t, "timed out"

    try:
        with server.admin() as a:
            fid = _function(a, "sleep 2")
        rss: list[int] = []
        rounds = []
        with ThreadPoolExecutor(max_workers=40) as pool:
            for _ in range(3):
                rounds.append(list(pool.map(ask, [fid] * 40)))
                rss.append(server.rss_kb())
        # The first round grows the allocator's pools once; the next two must not add to them.
        grown = rss[-1] - rss[0]
        assert grown < 40_000, f"the server grew by {grown} KB over two rounds of 40 bodies of 1 MB"
        for answers in rounds:
            refused = [(took, text) for status, took, text in answers if status == 503]
            assert len(refused) >= 40 - 6, [(s, t) for s, _, t in answers if s != 503]
            assert all(s in (201, 503) for s, _, _ in answers), answers
            assert max(took for took, _ in refused) < 8.0, refused
            message = json.loads(refused[0][1])
            assert message["type"] == "general_service_unavailable", message
            assert "--max-execution-queue" in message["message"] and "try again later" in message["message"]
        with server.admin() as a:
            # Refused ones left nothing behind; the admitted ones ran. Beside it: the queue takes work again.
            assert _total(a, fid) == sum(s == 201 for answers in rounds for s, _, _ in answers)
            r = a.post(f"/functions/{fid}/executions", json={"async": True})
            assert r.status_code == 202, r.text
    finally:
        server.stop()


def _run_now(server, fid: str) -> httpx.Response:
    with server.guest() as g:
        return g.post(f"/functions/{fid}/executions", json={}, timeout=15)


def test_synchronous_runs_take_the_room_of_asynchronous_ones(tmp_path):
    """A queue of 2 with one asynchronous run going and one synchronous run waiting for the slot is
    full: one more asynchronous run is refused; once both are done there is room again."""
    server = start_server(tmp_path / "data", extra=["--max-executions", "1", "--max-execution-queue", "2"])
    try:
        with server.admin() as a, server.guest() as g, ThreadPoolExecutor(max_workers=1) as pool:
            fid = _function(a, "sleep 2")
            assert g.post(f"/functions/{fid}/executions", json={"async": True}).status_code == 202
            answer = pool.submit(_run_now, server, fid)
            deadline = time.monotonic() + 5
            while a.get("/health/queue/functions").json()["size"] < 1:  # the synchronous run waits
                assert time.monotonic() < deadline, "the synchronous execution never waited for the slot"
                time.sleep(0.05)
            refused = g.post(f"/functions/{fid}/executions", json={"async": True})
            body = _refused(refused, 503, "general_service_unavailable")
            assert "--max-execution-queue" in body["message"]
            assert answer.result().status_code == 201
            assert g.post(f"/functions/{fid}/executions", json={"async": True}).status_code == 202
    finally:
        server.stop()


# --- what an execution may carry -----------------------------------------------------------------


def _headers(count: int, size: int) -> dict[str, str]:
    """``count`` headers whose names and values take ``size`` bytes in all."""
    names = [f"h{i:02d}" for i in range(count)]
    room = size - sum(len(n) for n in names)
    values = ["v" * (room // count)] * count
    values[-1] += "v" * (room - sum(len(v) for v in values))
    return dict(zip(names, values, strict=True))


_AT_LIMIT = _headers(MAX_HEADERS, MAX_HEADERS_SIZE)
_WIDE = "é" * (MAX_BODY // 2)  # MAX_BODY bytes in UTF-8, half as many characters

# (what is sent beyond the limit, the part of the message that names it, the same at the limit)
CASES = {
    "headers-size": ({"headers": _headers(10, MAX_HEADERS_SIZE + 1)}, str(MAX_HEADERS_SIZE),
                     {"headers": _AT_LIMIT}),
    "headers-huge": ({"headers": {"x": "a" * 9_000_000}}, str(MAX_HEADERS_SIZE), {"headers": {"x": "a" * 8000}}),
    "headers-count": ({"headers": {f"h{i}": "v" for i in range(MAX_HEADERS + 1)}}, str(MAX_HEADERS),
                      {"headers": {f"h{i}": "v" for i in range(MAX_HEADERS)}}),
    "header-name-nul": ({"headers": {"x\x00y": "v"}}, "NUL", {"headers": {"x-y": "v"}}),
    "header-value-nul": ({"headers": {"x": "a\x00b"}}, "NUL", {"headers": {"x": "a b"}}),
    "header-value-newline": ({"headers": {"x": "a\r\nSet-Cookie: y=1"}}, "LF", {"headers": {"x": "a; y=1"}}),
    "header-value-number": ({"headers": {"x": 1}}, "strings", {"headers": {"x": "1"}}),
    "path-long": ({"path": "/" + "p" * MAX_PATH}, str(MAX_PATH), {"path": "/" + "p" * (MAX_PATH - 1)}),
    "path-nul": ({"path": "/a\x00b"}, "control", {"path": "/a?b=%00"}),
    "body-long": ({"body": "b" * (MAX_BODY + 1)}, str(MAX_BODY), {"body": "b" * MAX_BODY}),
    "body-wide": ({"body": _WIDE + "b"}, str(MAX_BODY), {"body": _WIDE}),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_oversize_or_broken_execution_input_is_refused_and_nothing_is_stored(shared_server, case):
    over, named, at_limit = case
    with shared_server.admin() as a:
        fid = _function(a, f"{shlex.quote(sys.executable)} -c {shlex.quote(_REPORT)}")
    with shared_server.guest() as g:
        for asked in ({}, {"async": True}):
            body = _refused(g.post(f"/functions/{fid}/executions", json={**over, **asked}), 400,
                                "general_argument_invalid")
            assert named in body["message"], body
        with shared_server.admin() as a:
            assert _total(a, fid) == 0
        # The same at the limit runs, and the command gets it whole.
        r = g.post(f"/functions/{fid}/executions", json=at_limit)
        assert r.status_code == 201, r.text[:300]
    with shared_server.admin() as a:
        e = a.get(f"/functions/{fid}/executions/{r.json()['$id']}").json()
        assert e["status"] == "completed", e["errors"]
    got = json.loads(e["responseBody"])
    if "body" in at_limit:
        assert got["bytes"] == len(at_limit["body"].encode())
    assert got["path"] == at_limit.get("path", "/")
    assert got["headers"] == at_limit.get("headers", {})


def test_a_scheduled_execution_is_bounded_as_any(shared_server):
    """A scheduled execution keeps its body in memory and its headers in the database until its
    date: the same bounds apply, and a refused one is not scheduled."""
    with shared_server.admin() as a:
        fid = _function(a, "true")
    when = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    with shared_server.guest() as g:
        for over in ({"headers": {"x": "a" * (MAX_HEADERS_SIZE + 1)}}, {"body": "b" * (MAX_BODY + 1)},
                     {"path": "/" + "p" * MAX_PATH}):
            r = g.post(f"/functions/{fid}/executions", json={"async": True, "scheduledAt": when, **over})
            _refused(r, 400, "general_argument_invalid")
    with shared_server.admin() as a:
        assert _total(a, fid) == 0
