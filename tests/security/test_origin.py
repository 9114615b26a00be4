"""Cross-site request forgery and WebSocket hijacking: a page on a site the server does not
allow, or a sandboxed page (``Origin: null``), must neither open a realtime connection as the
user whose cookie the browser attaches nor make REST writes with it. Localhost pages and the
origins given with ``--allow-origin`` keep working."""

from __future__ import annotations

import sys

import pytest
from websockets.exceptions import ConnectionClosed

from tests.conftest import start_server
from tests.security.probe import realtime, subscribe
from tests.security.web import FOREIGN, LOCAL, assert_error, browser_request, session_token

APP = "https://app.example.com"  # allowed with --allow-origin
ROW = b'{"rowId":"unique()","data":{"text":"forged"}}'


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("origin") / "data", extra=["--allow-origin", APP])
    with srv.admin() as a:
        assert a.post("/tablesdb", json={"databaseId": "db", "name": "DB"}).status_code == 201
        assert a.post("/tablesdb/db/tables", json={"tableId": "t", "name": "T",
                                                   "permissions": ['create("users")', 'read("users")']}).status_code == 201
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def marker_function(server, tmp_path_factory):
    """A function users may run; each run appends a line to a file."""
    marker = tmp_path_factory.mktemp("runs") / "runs.txt"
    command = f"{sys.executable} -c \"open({str(marker)!r}, 'a').write('ran\\n')\""
    with server.admin() as a:
        r = a.post("/functions", json={"functionId": "mark", "name": "mark", "command": command, "execute": ["users"]})
        assert r.status_code == 201, r.text
    return marker


def _rows(server) -> int:
    with server.admin() as a:
        return a.get("/tablesdb/db/tables/t/rows").json()["total"]


def _teams(server) -> int:
    with server.admin() as a:
        return a.get("/teams").json()["total"]


@pytest.mark.parametrize("origin", [FOREIGN, "null", "http://localhost.evil.example"])
def test_foreign_page_cannot_write_with_the_cookie(server, marker_function, origin):
    token = session_token(server, f"victim-{abs(hash(origin))}@example.com")
    rows, teams = _rows(server), _teams(server)
    for method, path, body in [("POST", "/tablesdb/db/tables/t/rows", ROW),
                               ("POST", "/functions/mark/executions", b'{"body":"x"}'),
                               ("POST", "/teams", b'{"teamId":"unique()","name":"forged"}'),
                               ("POST", "/account/jwts", b"{}"),
                               ("DELETE", "/account/sessions/current", b"")]:
        body_ = assert_error(browser_request(server, method, path, origin, token, body), 403, "general_unknown_origin")
        assert "--allow-origin" in body_["message"]
    assert _rows(server) == rows and _teams(server) == teams
    assert not marker_function.exists()
    # the session is intact: its owner, without Origin (the CLI) or from localhost, still uses it
    assert browser_request(server, "GET", "/account", None, token).status_code == 200


@pytest.mark.parametrize("origin", [LOCAL, "http://127.0.0.1:5173", APP])
def test_allowed_page_writes_with_the_cookie(server, marker_function, origin):
    token = session_token(server, f"owner-{abs(hash(origin))}@example.com")
    rows, teams = _rows(server), _teams(server)
    r = browser_request(server, "POST", "/tablesdb/db/tables/t/rows", origin, token, ROW)
    assert r.status_code == 201, r.text
    assert r.headers["access-control-allow-origin"] == origin
    assert browser_request(server, "POST", "/teams", origin, token, b'{"teamId":"unique()","name":"ok"}').status_code == 201
    ran = browser_request(server, "POST", "/functions/mark/executions", origin, token, b'{"body":"x"}')
    assert ran.status_code == 201 and ran.json()["status"] == "completed", ran.text
    assert _rows(server) == rows + 1 and _teams(server) == teams + 1
    assert "ran" in marker_function.read_text()
    marker_function.unlink()


def test_api_key_is_not_a_browser_page(server):
    with server.admin() as a:
        r = a.post("/tablesdb/db/tables/t/rows", content=ROW, headers={"Origin": FOREIGN})
        assert r.status_code == 201, r.text


@pytest.mark.parametrize("origin", ["null", FOREIGN])
def test_foreign_page_cannot_open_realtime_as_the_user(server, origin):
    token = session_token(server, f"ws-{abs(hash(origin))}@example.com")
    ws, first = realtime(server, {"Origin": origin, "Cookie": f"a_session_{server.project}={token}"})
    with ws:
        assert first["type"] == "error" and first["data"]["code"] == 1008, first
        assert "Invalid Origin" in first["data"]["message"]
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)  # nothing more: the server closes
        assert closed.value.rcvd.code == 1008


def test_local_page_opens_realtime_as_the_user(server):
    token = session_token(server, "ws-local@example.com")
    ws, first = realtime(server, {"Origin": LOCAL, "Cookie": f"a_session_{server.project}={token}"})
    with ws:
        assert first["type"] == "connected" and first["data"]["user"]["email"] == "ws-local@example.com"
        ack = subscribe(ws, {"subscriptionId": "s", "channels": ["account"], "queries": []})
        assert ack["type"] == "response", ack


def test_null_origin_allowed_when_configured(tmp_path):
    srv = start_server(tmp_path / "data", extra=["--allow-origin", "null"])
    try:
        token = session_token(srv, "sandboxed@example.com")
        ws, first = realtime(srv, {"Origin": "null", "Cookie": f"a_session_{srv.project}={token}"})
        with ws:
            assert first["type"] == "connected" and first["data"]["user"]["email"] == "sandboxed@example.com"
        assert browser_request(srv, "POST", "/teams", "null", token, b'{"teamId":"unique()","name":"ok"}').status_code == 201
        # * means any real origin, never the opaque one
    finally:
        srv.stop()


def test_wildcard_origin_does_not_include_null(tmp_path):
    srv = start_server(tmp_path / "data", extra=["--allow-origin", "*"])
    try:
        token = session_token(srv, "wild@example.com")
        assert browser_request(srv, "POST", "/teams", FOREIGN, token, b'{"teamId":"unique()","name":"ok"}').status_code == 201
        assert_error(browser_request(srv, "POST", "/teams", "null", token, b'{"teamId":"unique()","name":"x"}'),
                     403, "general_unknown_origin")
        ws, first = realtime(srv, {"Origin": "null"})
        with ws:
            assert first["type"] == "error" and first["data"]["code"] == 1008
    finally:
        srv.stop()
