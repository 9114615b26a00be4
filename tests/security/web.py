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
    """A client holding a fresh user's session cookie (as a browser would)."""
    c = httpx.Client(base_url=server.endpoint, headers={"X-Appwrite-Project": server.project}, timeout=10)
    assert c.post("/account", json={"userId": "unique()", "email": email, "password": password}).status_code == 201
    r = c.post("/account/sessions/email", json={"email": email, "password": password})
    assert r.status_code == 201, r.text
    return c
