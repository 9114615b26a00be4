"""A real browser: examples/chat in headless Chromium against `rtcli serve`.

Two browser contexts (two users, no shared cookies or storage) sign up and sign in through the
page, which uses the official Web SDK (`appwrite` 27.0.0, its unbundled ESM build). A message
sent in one appears live in the other, both ways; a private note (a row created with no
permissions) appears for its author only, live and after a reload.

Origins: the page comes from serve.py on http://localhost:<static port>; the API is on
another port, so every call is cross-origin (CORS preflights, credentials, exposed headers).

- User A talks to http://localhost:<api port>/v1: same site as the page (ports do not count),
  so the browser stores and sends the `a_session_default` cookie, also on the WebSocket
  handshake, and the server's `connected` frame already names the user: the **cookie path**.
- User B talks to http://127.0.0.1:<api port>/v1: a different site, so the cookie is a
  third-party cookie. Chromium runs with third-party cookies blocked, so B's session lives
  only in localStorage.cookieFallback (from the exposed X-Fallback-Cookies header): REST calls
  carry `X-Fallback-Cookies`, `connected.user` is null and the SDK sends an `authentication`
  frame: the **fallback path**.

The driver checks which path each user really took and fails if it is not the expected one.

Needs /usr/bin/chromium (Debian package `chromium`), node >= 20, `npm ci --prefix tests/browser`
(playwright-core) and `npm ci --prefix tests/compat` (the SDK). Skipped without them, except
under CI=true, where it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.services import unavailable

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
BROWSER_DIR = ROOT / "tests" / "browser"
CHAT_DIR = ROOT / "examples" / "chat"
SDK_MODULES = ROOT / "tests" / "compat" / "node_modules"
CHROMIUM = os.environ.get("RTCLI_CHROMIUM", "/usr/bin/chromium")
DRIVER_TIMEOUT = 180  # seconds for the whole browser run

pytestmark = pytest.mark.browser


def _unavailable(reason: str):
    unavailable(reason, "the browser end-to-end test", ".ci/run installs chromium with apt-get and playwright-core "
                "with `npm ci --prefix tests/browser`")


@pytest.fixture(scope="module")
def node_bin() -> str:
    node = shutil.which("node")
    if node is None:
        _unavailable("node is not installed")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    if not (BROWSER_DIR / "node_modules" / "playwright-core" / "package.json").is_file():
        _unavailable("tests/browser/node_modules/playwright-core is missing; run `npm ci --prefix tests/browser`")
    if not (SDK_MODULES / "appwrite" / "dist" / "esm" / "sdk.js").is_file():
        _unavailable("tests/compat/node_modules/appwrite is missing; run `npm ci --prefix tests/compat`")
    return node


def _setup_chat(server) -> None:
    """Database `chat`, table `messages`: signed-in users may create rows; who may read a row is
    decided by the row itself (rowSecurity). The table deliberately grants no read: a table-level
    read("users") would let every user read every row, private notes included."""
    with server.admin() as admin:
        for path, body in [
            ("/tablesdb", {"databaseId": "chat", "name": "Chat"}),
            ("/tablesdb/chat/tables", {"tableId": "messages", "name": "Messages",
                                       "permissions": ['create("users")'], "rowSecurity": True}),
            ("/tablesdb/chat/tables/messages/columns/string", {"key": "text", "size": 1000, "required": True}),
            ("/tablesdb/chat/tables/messages/columns/string", {"key": "author", "size": 128, "required": True}),
            ("/tablesdb/chat/tables/messages/columns/string", {"key": "authorId", "size": 36, "required": True}),
        ]:
            r = admin.post(path, json=body)
            assert r.status_code in (201, 202), f"POST {path} -> {r.status_code} {r.text}"
        # The typing indicator's topic: live only, signed-in users publish and receive.
        r = admin.post("/topics", json={"topicId": "typing", "mode": "ephemeral",
                                        "permissions": ['read("users")', 'create("users")']})
        assert r.status_code == 201, r.text


@pytest.fixture
def static_site(tmp_path):
    """examples/chat/serve.py (the page + the SDK from node_modules) on its own port."""
    port = free_port()
    log = open(tmp_path / "static.log", "ab")
    proc = subprocess.Popen([sys.executable, str(CHAT_DIR / "serve.py"), "--port", str(port),
                             "--node-modules", str(SDK_MODULES)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            if proc.poll() is not None:
                pytest.fail(f"serve.py exited with {proc.returncode}: {(tmp_path / 'static.log').read_text()}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/vendor/json-bigint.js", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("serve.py did not start in 15 s")
            time.sleep(0.05)
        yield f"http://localhost:{port}/"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def _tail(text: str, lines: int = 40) -> str:
    parts = text.splitlines()
    return ("[...]\n" if len(parts) > lines else "") + "\n".join(parts[-lines:])


def test_two_users_chat_live_and_private_note_stays_private(node_bin, server, static_site, tmp_path):
    _setup_chat(server)
    out = tmp_path / "browser"
    users = []
    for key, name, api_host, auth in [("A", "Alice", "localhost", "cookie"), ("B", "Bob", "127.0.0.1", "fallback")]:
        endpoint = f"http://{api_host}:{server.port}/v1"
        users.append({
            "key": key, "name": name, "email": f"{name.lower()}@example.com", "password": f"{name}-password-1",
            "apiOrigin": f"http://{api_host}:{server.port}", "auth": auth,
            "url": f"{static_site}?" + str(httpx.QueryParams({"endpoint": endpoint, "project": server.project})),
        })
    config = {"chromium": CHROMIUM, "out": str(out), "liveTimeoutMs": 10_000, "absentWaitMs": 3_000, "users": users}

    env = dict(os.environ)
    env.pop("NODE_OPTIONS", None)
    env["TMPDIR"] = str(tmp_path)  # playwright's fresh user-data-dir for launch() goes here
    try:
        proc = subprocess.run([node_bin, str(BROWSER_DIR / "chat_e2e.mjs"), json.dumps(config)], cwd=BROWSER_DIR,
                              env=env, capture_output=True, text=True, timeout=DRIVER_TIMEOUT)
        stdout, stderr, rc = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        stderr = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        rc = f"timeout after {DRIVER_TIMEOUT} s"

    summary = {}
    for line in stdout.splitlines():
        if line.startswith("SUMMARY "):
            summary = json.loads(line[len("SUMMARY "):])
    shots = [str(out / f"{u['key']}.png") for u in users]
    failure = next((ln for ln in stdout.splitlines() if ln.startswith("FAIL: ")), "")
    assert rc == 0 and summary.get("ok"), (
        f"browser run failed (exit {rc}): {failure}\n"
        f"screenshots: {', '.join(shots)}\n"
        f"traces (console, HTTP >= 400, WebSocket frames): {out}/<A|B>-trace.json\n"
        f"driver steps done: {summary.get('steps')}\n"
        f"--- driver stderr ---\n{_tail(stderr)}\n"
        f"--- rtcli serve log ---\n{_tail(server.log())}"
    )

    # The server's own view agrees with what the pages showed.
    with server.admin() as admin:
        rows = admin.get("/tablesdb/chat/tables/messages/rows").json()["rows"]
        typing = admin.get("/events", params={"since": "beginning", "channels[]": "topics.typing"}).json()
    by_author = {u["key"]: summary["users"][u["key"]]["userId"] for u in users}
    notes = [r for r in rows if r["$permissions"] and 'read("users")' not in r["$permissions"]]
    assert len(rows) == 4 and len(notes) == 1, rows
    assert notes[0]["$permissions"] == [f'read("user:{by_author["A"]}")', f'update("user:{by_author["A"]}")',
                                        f'delete("user:{by_author["A"]}")'], notes[0]
    assert typing["events"] == [], "typing messages are ephemeral: never in the log"
    for key in by_author:
        assert summary["users"][key]["pageErrors"] == [], (key, summary["users"][key]["pageErrors"], shots)
