"""What the attack tests share: a watch on /v1/health while an attack runs, realtime helpers,
and scoped API keys."""

from __future__ import annotations

import json
import threading
import time
from contextlib import ExitStack

import httpx
from websockets.sync.client import connect


class Responsive:
    """Polls ``/v1/health`` from a thread while the block runs; ``worst`` is the slowest answer
    (seconds). ``assert_prompt()`` fails when any answer took longer than ``limit`` or failed."""

    def __init__(self, server, limit: float = 2.0) -> None:
        self.url = f"{server.endpoint}/health"
        self.limit = limit
        self.worst = 0.0
        self.answers = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        with httpx.Client(timeout=self.limit * 5) as c:
            while not self._stop.is_set():
                t = time.monotonic()
                try:
                    ok = c.get(self.url).status_code == 200
                except httpx.HTTPError as e:
                    ok = False
                    self.failures.append(repr(e))
                self.worst = max(self.worst, time.monotonic() - t)
                self.answers += ok
                self._stop.wait(0.05)

    def __enter__(self) -> Responsive:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        deadline = time.monotonic() + self.limit * 5
        while not self.answers and not self.failures and time.monotonic() < deadline:
            time.sleep(0.02)  # a short attack: the first answer must still come, and promptly
        self._stop.set()
        self._thread.join(timeout=30)

    def assert_prompt(self) -> None:
        assert not self.failures, self.failures
        assert self.answers > 0, "/v1/health never answered during the attack"
        assert self.worst < self.limit, f"/v1/health took {self.worst:.2f}s during the attack"


def recv(ws, timeout: float = 5.0) -> dict:
    return json.loads(ws.recv(timeout=timeout))


def drain(ws, quiet: float = 0.6) -> list[dict]:
    """Every frame that arrives until none has for ``quiet`` seconds."""
    frames = []
    while True:
        try:
            frames.append(recv(ws, quiet))
        except TimeoutError:
            return frames


def realtime(server, headers: dict | None = None):
    """A realtime connection and its ``connected`` frame."""
    ws = connect(f"ws://127.0.0.1:{server.port}/v1/realtime?project={server.project}",
                 additional_headers=headers or {}, max_size=2 ** 22)
    return ws, recv(ws)


def subscribe(ws, *items: dict) -> dict:
    ws.send(json.dumps({"type": "subscribe", "data": list(items)}))
    return recv(ws)


def make_key(server, scopes: list[str], using: str | None = None) -> httpx.Response:
    """POST /v1/keys with the server's key, or with ``using``."""
    headers = {"X-Appwrite-Project": server.project, "X-Appwrite-Key": using or server.api_key}
    return httpx.post(f"{server.endpoint}/keys", json={"name": "k", "scopes": scopes}, headers=headers, timeout=10)


def keyed(server, secret: str) -> httpx.Client:
    return httpx.Client(base_url=server.endpoint, timeout=10,
                        headers={"X-Appwrite-Project": server.project, "X-Appwrite-Key": secret})


def both_stores(request, tmp_path):
    """A fresh server on the store named by the fixture's param ("sqlite" or "postgres");
    ``server = pytest.fixture(params=BACKENDS)(both_stores)`` in a test module."""
    from tests.server.conftest import _start

    with ExitStack() as stack:
        srv = _start(request.param, tmp_path / "data", stack)
        yield srv
        srv.stop()


def anonymous(server) -> httpx.Client:
    """A client with a new anonymous session (free to make: what an attacker starts from)."""
    with server.guest() as g:
        r = g.post("/account/sessions/anonymous", json={})
        assert r.status_code == 201, r.text
        token = json.loads(r.headers["x-fallback-cookies"])[f"a_session_{server.project}"]
    return httpx.Client(base_url=server.endpoint, timeout=10,
                        headers={"X-Appwrite-Project": server.project, "X-Appwrite-Session": token})
