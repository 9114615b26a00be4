"""Credentials are attacker input too: a session header, a fallback cookie or a realtime
authentication message that is huge or nested thousands deep makes a guest (or an error frame),
never a server error or a dropped connection."""

from __future__ import annotations

import base64
import json

import httpx

from tests.security.probe import realtime, recv

DEEP = "[" * 20_000


def test_nested_or_huge_credentials_make_a_guest_not_a_server_error(shared_server):
    b64 = base64.b64encode(DEEP.encode()).decode()
    for headers in ({"X-Fallback-Cookies": DEEP}, {"X-Fallback-Cookies": json.dumps({"a": "x" * 100_000})},
                    {"X-Appwrite-Session": b64}, {"X-Appwrite-Session": base64.b64encode(b"[" * 600).decode()},
                    {"Cookie": f"a_session_{shared_server.project}={b64}"}):
        with httpx.Client(base_url=shared_server.endpoint, timeout=10,
                          headers={"X-Appwrite-Project": shared_server.project, **headers}) as c:
            r = c.get("/account")
            assert r.status_code == 401 and r.json()["type"] == "general_unauthorized_scope", (list(headers), r.text)
    # The session a browser sends after all that still works: nothing was left broken.
    with shared_server.guest() as g:
        assert g.get("/health/version").status_code == 200


def test_a_nested_realtime_session_is_refused_with_a_frame_and_the_socket_stays(shared_server):
    ws, _ = realtime(shared_server)
    for token in (base64.b64encode(b"[" * n).decode() for n in (700, 1500, 3000, 20_000)):
        ws.send(json.dumps({"type": "authentication", "data": {"session": token}}))
        frame = recv(ws)
        assert frame["type"] == "error", frame
    ws.send(json.dumps({"type": "ping"}))
    assert recv(ws)["type"] == "pong"
    ws.close()
