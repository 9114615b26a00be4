"""Appwrite's Health API on a local server: public version probe, key-only checks with real answers."""

from __future__ import annotations

import httpx

from rtcli import APPWRITE_VERSION


def test_version_is_public(shared_server):
    """What the Appwrite CLI probes before anything else: no project, no key."""
    r = httpx.get(f"{shared_server.endpoint}/health/version", timeout=10)
    assert r.status_code == 200 and r.json() == {"version": APPWRITE_VERSION}
    assert httpx.get(f"{shared_server.endpoint}/health", timeout=10).json()["status"] == "pass"


def test_checks_need_a_key_with_health_read(shared_server):
    with shared_server.guest() as g:
        r = g.get("/health/db")
        assert r.status_code == 401 and r.json()["type"] == "general_unauthorized_scope"
    with shared_server.admin() as a:
        key = a.post("/keys", json={"name": "rows only", "scopes": ["rows.read"]}).json()["secret"]
    limited = httpx.get(f"{shared_server.endpoint}/health/db", timeout=10,
                        headers={"X-Appwrite-Project": "default", "X-Appwrite-Key": key})
    assert limited.status_code == 401 and "health.read" in limited.json()["message"]


def test_checks_answer_what_the_server_has(shared_server):
    with shared_server.admin() as a:
        db = a.get("/health/db").json()
        kind = "postgresql" if shared_server.database else "sqlite"
        assert db["total"] == 1 and db["statuses"][0]["name"] == f"database ({kind})"
        assert db["statuses"][0]["status"] == "pass" and db["statuses"][0]["ping"] >= 0
        assert a.get("/health/cache").json() == {"total": 0, "statuses": []}
        pubsub = a.get("/health/pubsub").json()
        assert pubsub["statuses"][0]["name"] == "pubsub (in-process)" and pubsub["statuses"][0]["status"] == "pass"
        for path in ("/health/storage", "/health/storage/local"):
            assert a.get(path).json()["status"] == "pass"
        assert not [p for p in (shared_server.data_dir / "files").iterdir() if p.name.startswith(".health")]
        assert a.get("/health/anti-virus").json() == {"version": "", "status": "disabled"}
        for name in ("functions", "webhooks", "databases", "deletes"):
            assert a.get(f"/health/queue/{name}").json() == {"size": 0}
        assert a.get("/health/queue/failed/v1-functions").json() == {"size": 0}
        full = a.get("/health/queue/functions", params={"threshold": "0"})
        assert full.status_code == 503 and full.json()["type"] == "health_queue_size_exceeded"
        assert a.get("/health/queue/nope").json()["type"] == "general_route_not_found"
        assert a.get("/health/queue/failed/nope").json()["type"] == "general_argument_invalid"
        assert a.get("/health/queue/mails", params={"threshold": "x"}).status_code == 400
        t = a.get("/health/time")
        if t.status_code == 200:  # with outbound UDP: the clock compared with pool.ntp.org
            assert set(t.json()) == {"remoteTime", "localTime", "diff"} and abs(t.json()["diff"]) <= 60
        else:  # without: said plainly, not a 500
            assert t.status_code == 503 and "time server" in t.json()["message"], t.text


def test_functions_runtimes_are_honest(shared_server):
    with shared_server.admin() as a:
        r = a.get("/functions/runtimes").json()
        assert r["total"] == 1 and r["runtimes"][0]["$id"] == "local"
        assert "server's machine" in r["runtimes"][0]["name"]
        spec = a.get("/functions/specifications").json()["specifications"][0]
        assert spec["slug"] == "local" and spec["cpus"] >= 1 and spec["memory"] > 0
