"""What the browser-facing attack tests share: Appwrite's error shape, origins, sessions."""

from __future__ import annotations

import httpx

from tests.conftest import Server

FOREIGN = "https://evil.example"  # a site the server does not know
LOCAL = "http://localhost:3000"  # a local dev server: allowed by default


def assert_error(response: httpx.Response, status: int, type_: str | None = None) -> dict:
    """An Appwrite error body: {message, code, type, version}, with this status and type."""
    assert response.status_code == status, response.text
    body = response.json()
    assert {"message", "code", "type", "version"} <= body.keys(), body
    assert body["code"] == status
    if type_:
        assert body["type"] == type_, body
    return body


def signed_up(server: Server, email: str, password: str = "password123") -> httpx.Client:
    """A client that sends a fresh user's session cookie, as a browser would (httpx keeps
    ``Secure`` cookies for HTTPS only, browsers send them to localhost too)."""
    c = httpx.Client(base_url=server.endpoint, timeout=10, headers={
        "X-Appwrite-Project": server.project,
        "Cookie": f"a_session_{server.project}={session_token(server, email, password)}"})
    return c


def session_token(server: Server, email: str, password: str = "password123") -> str:
    """A fresh user's session token, the value of the ``a_session_<project>`` cookie."""
    with server.guest() as c:
        assert c.post("/account", json={"userId": "unique()", "email": email, "password": password}).status_code == 201
        r = c.post("/account/sessions/email", json={"email": email, "password": password})
        assert r.status_code == 201, r.text
        return r.cookies[f"a_session_{server.project}"]


def browser_request(server: Server, method: str, path: str, origin: str | None, token: str,
                    body: bytes = b"{}") -> httpx.Response:
    """What a page on ``origin`` can send without a CORS preflight: a ``text/plain`` body, the
    project in the query string, and the cookie the browser attaches."""
    headers = {"Content-Type": "text/plain", "Cookie": f"a_session_{server.project}={token}"}
    if origin is not None:
        headers["Origin"] = origin
    return httpx.request(method, f"{server.endpoint}{path}", params={"project": server.project},
                         content=body, headers=headers, timeout=10)
