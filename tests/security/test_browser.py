"""The browser attacks in a real browser (headless Chromium): a developer signed in to a local
`rtcli serve` visits a hostile site. Its page posts to the API with the developer's cookie,
opens the realtime endpoint, does both again from a sandboxed iframe (``Origin: null``), and
the developer follows a link to an HTML file an attacker uploaded. None of it may act as the
developer; the same script on a localhost page (another port: same site) still works.

Needs /usr/bin/chromium, node, and ``npm ci --prefix tests/browser`` (playwright-core): skipped
without them, except under CI=true, where it fails."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import start_server
from tests.services import unavailable

ROOT = Path(__file__).resolve().parents[2]
PLAYWRIGHT = ROOT / "tests" / "browser" / "node_modules" / "playwright-core" / "index.mjs"
CHROMIUM = os.environ.get("RTCLI_CHROMIUM", "/usr/bin/chromium")
DRIVER = Path(__file__).parent / "hostile_page.mjs"
VICTIM = {"email": "developer@example.com", "password": "developer-password"}
# What the uploaded page would do on the API's origin with the developer's cookie.
PLANTED = (b"<!doctype html><title>planted</title><script>fetch('/v1/tablesdb/db/tables/t/rows?project=default',"
           b"{method:'POST',credentials:'include',headers:{'Content-Type':'text/plain'},"
           b"body:JSON.stringify({rowId:'unique()',data:{text:'planted'}})}).then(()=>document.title='ran')</script>")


@pytest.fixture
def node_bin() -> str:
    node = shutil.which("node")
    if node is None:
        unavailable("node is not installed", "the browser security test")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        unavailable(f"{CHROMIUM} is missing (apt-get install chromium)", "the browser security test")
    if not PLAYWRIGHT.is_file():
        unavailable("tests/browser/node_modules/playwright-core is missing; run `npm ci --prefix tests/browser`",
                    "the browser security test")
    return node


def test_hostile_site_gets_nothing_from_a_signed_in_developer(node_bin, tmp_path):
    srv = start_server(tmp_path / "data")
    try:
        with srv.admin() as a:
            assert a.post("/tablesdb", json={"databaseId": "db", "name": "DB"}).status_code == 201
            assert a.post("/tablesdb/db/tables", json={"tableId": "t", "name": "T", "permissions":
                                                       ['create("users")', 'read("users")']}).status_code == 201
            assert a.post("/storage/buckets", json={"bucketId": "up", "name": "Up", "permissions": ['read("any")']}).status_code == 201
            planted = a.post("/storage/buckets/up/files", data={"fileId": "planted"},
                             files={"file": ("page.html", PLANTED, "text/html")})
            assert planted.status_code == 201, planted.text
        with srv.guest() as g:
            assert g.post("/account", json={"userId": "unique()", **VICTIM}).status_code == 201

        api = f"http://localhost:{srv.port}"
        config = {"chromium": CHROMIUM, "playwright": str(PLAYWRIGHT), "api": api, "project": srv.project, **VICTIM,
                  "pages": {"hostile": "evil.example", "friendly": "localhost"},  # friendly: a local dev server
                  "view": f"{api}/v1/storage/buckets/up/files/planted/view?project={srv.project}"}
        env = {**os.environ, "TMPDIR": str(tmp_path)}
        env.pop("NODE_OPTIONS", None)
        proc = subprocess.run([node_bin, str(DRIVER), json.dumps(config)], capture_output=True, text=True,
                              timeout=120, env=env)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        assert proc.returncode == 0 and lines, f"driver failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        result = json.loads(lines[0][len("RESULT "):])
        friendly = result["origins"]["friendly"]

        assert result["signIn"] == 201
        assert {c["name"]: c["sameSite"] for c in result["cookies"]} == {
            "a_session_default": "Lax", "a_session_default_legacy": "Lax"}, result["cookies"]

        hostile, ok = result["pages"]["hostile"], result["pages"]["friendly"]
        # the hostile page: no answer to read, no row, no connection as the developer
        assert "status" not in hostile["post"], hostile["post"]  # CORS hid the answer
        for attempt in (hostile["socket"], hostile["sandboxed"], ok["sandboxed"]):
            assert attempt["seen"] and attempt["seen"][0]["type"] == "error", attempt
            assert attempt["seen"][0]["data"]["code"] == 1008 and "Invalid Origin" in attempt["seen"][0]["data"]["message"]
            assert all(f["type"] != "connected" for f in attempt["seen"])
        # the friendly page, same script, same browser: works as the developer
        assert ok["post"]["status"] == 201, ok["post"]
        assert ok["socket"]["seen"][0]["type"] == "connected", ok["socket"]
        assert ok["socket"]["seen"][0]["data"]["user"]["email"] == VICTIM["email"]

        # the planted page was not rendered: downloaded, its script never ran
        assert result["view"].get("title") != "ran", result["view"]
        with srv.admin() as a:
            rows = a.get("/tablesdb/db/tables/t/rows").json()["rows"]
        assert [r["text"] for r in rows] == [friendly], rows
        with srv.guest() as g:
            assert g.get("/health").status_code == 200
    finally:
        srv.stop()
