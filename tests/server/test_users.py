"""Users against a real server: accounts, sessions, JWTs, teams, keys, and what each may receive."""

from __future__ import annotations

import base64
import json
import secrets

import httpx
import pytest
import websockets.exceptions
from websockets.sync.client import connect

from tests.conftest import start_server
from tests.server.test_realtime import nothing, recv


def signup(server, name: str) -> tuple[str, str, httpx.Client]:
    """Create a user and sign in; returns (user id, session token, a client sending the session)."""
    email = f"{name}-{secrets.token_hex(3)}@example.com"
    with server.guest() as g:
        r = g.post("/account", json={"userId": "unique()", "email": email, "password": "password123", "name": name})
        assert r.status_code == 201, r.text
        uid = r.json()["$id"]
        s = g.post("/account/sessions/email", json={"email": email, "password": "password123"})
        assert s.status_code == 201, s.text
        assert s.json()["secret"] == "" and s.json()["current"] is True
        token = json.loads(s.headers["x-fallback-cookies"])[f"a_session_{server.project}"]
        assert s.cookies.get(f"a_session_{server.project}") == token
    client = httpx.Client(base_url=server.endpoint, timeout=10,
                          headers={"X-Appwrite-Project": server.project, "X-Appwrite-Session": token})
    return uid, token, client


def rt(server, headers=None, query=""):
    ws = connect(f"ws://127.0.0.1:{server.port}/v1/realtime?project={server.project}{query}",
                 additional_headers=headers or {})
    return ws, recv(ws)


def sub(ws, *channels, sid="s"):
    ws.send(json.dumps({"type": "subscribe", "data": [{"subscriptionId": sid, "channels": list(channels), "queries": []}]}))
    return recv(ws)


@pytest.fixture
def users_table(shared_server):
    db = "u" + secrets.token_hex(3)
    with shared_server.admin() as a:
        a.post("/tablesdb", json={"databaseId": db, "name": db}).raise_for_status()
        a.post(f"/tablesdb/{db}/tables", json={"tableId": "notes", "name": "n", "rowSecurity": True,
                                               "permissions": ['create("users")']}).raise_for_status()
    return db


def test_account_lifecycle(shared_server):
    uid, token, c = signup(shared_server, "ann")
    me = c.get("/account").json()
    assert me["$id"] == uid and me["name"] == "ann" and me["status"] is True and me["emailVerification"] is False
    assert c.patch("/account/name", json={"name": "Ann B"}).json()["name"] == "Ann B"
    assert c.patch("/account/prefs", json={"prefs": {"theme": "dark"}}).json()["prefs"] == {"theme": "dark"}
    bad = c.patch("/account/password", json={"password": "newpassword1", "oldPassword": "nope"})
    assert bad.status_code == 401 and bad.json()["type"] == "user_invalid_credentials"
    assert c.patch("/account/password", json={"password": "newpassword1", "oldPassword": "password123"}).status_code == 200
    sessions = c.get("/account/sessions").json()
    assert sessions["total"] == 1 and sessions["sessions"][0]["current"] is True
    jwt = c.post("/account/jwts", json={}).json()["jwt"]
    with httpx.Client(base_url=shared_server.endpoint, headers={"X-Appwrite-Project": "default", "X-Appwrite-JWT": jwt}) as j:
        assert j.get("/account").json()["$id"] == uid
    d = c.delete("/account/sessions/current")
    assert d.status_code == 204 and d.headers["x-fallback-cookies"] == "[]"
    gone = c.get("/account")
    assert gone.status_code == 401 and gone.json()["type"] == "general_unauthorized_scope"
    with httpx.Client(base_url=shared_server.endpoint, headers={"X-Appwrite-Project": "default", "X-Appwrite-JWT": jwt}) as j:
        assert j.get("/account").json()["type"] == "user_jwt_invalid"  # its session is gone


def test_signup_and_login_errors(shared_server):
    with shared_server.guest() as g:
        email = f"dup-{secrets.token_hex(3)}@example.com"
        assert g.post("/account", json={"userId": "unique()", "email": email, "password": "password123"}).status_code == 201
        dup = g.post("/account", json={"userId": "unique()", "email": email, "password": "password123"})
        assert dup.status_code == 409 and dup.json()["type"] == "user_already_exists"
        short = g.post("/account", json={"userId": "unique()", "email": "x" + email, "password": "short"})
        assert short.status_code == 400 and short.json()["type"] == "general_argument_invalid"
        wrong = g.post("/account/sessions/email", json={"email": email, "password": "wrongpassword"})
        assert wrong.status_code == 401 and wrong.json()["type"] == "user_invalid_credentials"
        anon = g.post("/account/sessions/anonymous", json={})
        assert anon.status_code == 201 and anon.json()["provider"] == "anonymous"


def test_session_creation_is_rate_limited(tmp_path):
    # SQLite only: the limiter is in each node's memory (services/ratelimit.py), not in the store.
    server = start_server(tmp_path / "data")
    try:
        with server.guest() as g:
            codes = [g.post("/account/sessions/email", json={"email": "nobody@example.com", "password": "whatever12"}).status_code
                     for _ in range(12)]
        assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]
    finally:
        server.stop()


def test_passwords_and_secrets_are_hashed(shared_server):
    import sqlite3

    uid, token, c = signup(shared_server, "hash")
    secret = json.loads(base64.b64decode(token))["secret"]
    if shared_server.database:  # PostgreSQL: read the same tables through psql
        from tests.services import pg_query

        pw = pg_query(shared_server.database, f"SELECT password_hash FROM users WHERE id='{uid}'").strip()
        sh = pg_query(shared_server.database, f"SELECT secret_hash FROM sessions WHERE user_id='{uid}'").strip()
        dump = "\n".join(pg_query(shared_server.database, f"SELECT row_to_json(t)::text FROM {t} t")
                         for t in ("users", "sessions", "api_keys", "events", "meta"))
    else:
        db = sqlite3.connect(shared_server.data_dir / "rtcli.db")
        pw, = db.execute("SELECT password_hash FROM users WHERE id=?", (uid,)).fetchone()
        sh, = db.execute("SELECT secret_hash FROM sessions WHERE user_id=?", (uid,)).fetchone()
        dump = "\n".join(db.iterdump())
    assert pw.startswith("$argon2id$") and "password123" not in dump
    assert secret not in dump and sh != secret
    assert shared_server.api_key not in dump


def test_private_rows_reach_only_their_owner(shared_server, users_table):
    db = users_table
    a_id, a_token, a = signup(shared_server, "a")
    b_id, b_token, b = signup(shared_server, "b")
    ch = f"tablesdb.{db}.tables.notes.rows"
    ws_a, hello_a = rt(shared_server, {"Cookie": f"a_session_default={a_token}"})  # cookie on the handshake
    assert hello_a["data"]["user"]["$id"] == a_id
    ws_b, hello_b = rt(shared_server, {"X-Fallback-Cookies": json.dumps({"a_session_default": b_token})})
    assert hello_b["data"]["user"]["$id"] == b_id
    ws_g, hello_g = rt(shared_server)
    assert hello_g["data"]["user"] is None
    for ws in (ws_a, ws_b, ws_g):
        sub(ws, ch)
    row = a.post(f"/tablesdb/{db}/tables/notes/rows", json={"rowId": "unique()", "data": {"text": "mine"}})
    assert row.status_code == 201 and row.json()["$permissions"] == [
        f'read("user:{a_id}")', f'update("user:{a_id}")', f'delete("user:{a_id}")']
    assert recv(ws_a)["data"]["payload"]["text"] == "mine"
    nothing(ws_b)
    nothing(ws_g, 0.1)
    assert b.get(f"/tablesdb/{db}/tables/notes/rows/{row.json()['$id']}").status_code == 404
    assert b.get(f"/tablesdb/{db}/tables/notes/rows").json()["total"] == 0
    # B may not grant a role it does not hold
    forged = b.post(f"/tablesdb/{db}/tables/notes/rows", json={"rowId": "unique()", "data": {},
                                                               "permissions": [f'read("user:{a_id}")']})
    assert forged.status_code == 401 and forged.json()["type"] == "user_unauthorized"
    for ws in (ws_a, ws_b, ws_g):
        ws.close()


def test_authentication_message_and_jwt(shared_server, users_table):
    db = users_table
    a_id, a_token, a = signup(shared_server, "auth")
    ch = f"tablesdb.{db}.tables.notes.rows"
    ws, hello = rt(shared_server)
    sub(ws, ch, "account")
    ws.send(json.dumps({"type": "authentication", "data": {"session": a_token}}))
    reply = recv(ws)
    assert reply["data"]["to"] == "authentication" and reply["data"]["user"]["$id"] == a_id
    a.post(f"/tablesdb/{db}/tables/notes/rows", json={"rowId": "unique()", "data": {"n": 1}})
    assert recv(ws)["data"]["payload"]["n"] == 1  # the guest subscription moved to A's roles
    a.patch("/account/name", json={"name": "renamed"})
    ev = recv(ws)["data"]
    assert f"users.{a_id}.update.name" in ev["events"] and f"account.{a_id}" in ev["channels"]
    ws.close()
    jwt = a.post("/account/jwts", json={}).json()["jwt"]
    ws, hello = rt(shared_server, query=f"&jwt={jwt}")
    assert hello["data"]["user"]["$id"] == a_id
    ws.close()
    ws = connect(f"ws://127.0.0.1:{shared_server.port}/v1/realtime?project=default&jwt=not.a.jwt")
    err = recv(ws)
    assert err["type"] == "error" and err["data"]["code"] == 401
    with pytest.raises(websockets.exceptions.ConnectionClosed):
        ws.recv(timeout=2)
    assert ws.close_code == 1008


def test_tampered_or_deleted_session_is_a_guest(shared_server, users_table):
    db = users_table
    a_id, a_token, a = signup(shared_server, "tamper")
    data = json.loads(base64.b64decode(a_token))
    data["secret"] = data["secret"][:-1] + ("0" if data["secret"][-1] != "0" else "1")
    tampered = base64.b64encode(json.dumps(data).encode()).decode()
    with httpx.Client(base_url=shared_server.endpoint, headers={"X-Appwrite-Project": "default", "X-Appwrite-Session": tampered}) as t:
        assert t.get("/account").status_code == 401
    ws, hello = rt(shared_server, {"X-Appwrite-Session": tampered})
    assert hello["data"]["user"] is None
    ws.send(json.dumps({"type": "authentication", "data": {"session": tampered}}))
    assert recv(ws)["data"] == {"code": 1003, "message": "Session is not valid."}
    ws.close()
    # A live connection whose session is deleted stops receiving the user's events.
    ws, hello = rt(shared_server, {"X-Appwrite-Session": a_token})
    sub(ws, f"tablesdb.{db}.tables.notes.rows")
    assert a.post("/account/jwts", json={}).status_code == 201
    assert a.delete("/account/sessions/current").status_code == 204
    with httpx.Client(base_url=shared_server.endpoint, headers={"X-Appwrite-Project": "default"}) as admin:
        admin.headers["X-Appwrite-Key"] = shared_server.api_key
        admin.post(f"/tablesdb/{db}/tables/notes/rows", json={"rowId": "unique()", "data": {"after": 1},
                                                               "permissions": [f'read("user:{a_id}")']})
    nothing(ws)
    ws.close()


def test_jwt_of_another_project_is_refused(tmp_path, backend_args):
    server = start_server(tmp_path / "data", extra=["--project", "other", *backend_args])
    try:
        uid, token, c = signup(server, "x")
        jwt = c.post("/account/jwts", json={}).json()["jwt"]
        with httpx.Client(base_url=server.endpoint, headers={"X-Appwrite-Project": "other", "X-Appwrite-JWT": jwt}) as o:
            r = o.get("/account")
            assert r.status_code == 401 and r.json()["type"] == "user_jwt_invalid"
        ws = connect(f"ws://127.0.0.1:{server.port}/v1/realtime?project=other&jwt={jwt}")
        assert recv(ws)["data"]["code"] == 401
    finally:
        server.stop()


def test_team_rows_follow_membership_on_the_same_connection(shared_server):
    db = "team" + secrets.token_hex(3)
    a_id, a_token, a = signup(shared_server, "owner")
    b_id, b_token, b = signup(shared_server, "member")
    admin = shared_server.admin()
    admin.post("/tablesdb", json={"databaseId": db, "name": db})
    admin.post(f"/tablesdb/{db}/tables", json={"tableId": "t", "name": "t", "rowSecurity": True})
    team = a.post("/teams", json={"teamId": "unique()", "name": "Crew"})
    assert team.status_code == 201 and team.json()["total"] == 1
    tid = team.json()["$id"]
    ws_b, _ = rt(shared_server, {"X-Appwrite-Session": b_token})
    sub(ws_b, f"tablesdb.{db}.tables.t.rows", "memberships")
    m = admin.post(f"/teams/{tid}/memberships", json={"roles": ["editor"], "userId": b_id})
    assert m.status_code == 201 and m.json()["confirm"] is True
    ev = recv(ws_b)["data"]  # B's roles were refreshed before its own membership event matched
    assert ev["payload"]["userId"] == b_id and f"teams.{tid}.memberships.{m.json()['$id']}.create" in ev["events"]
    perms = [f'read("team:{tid}")']
    admin.post(f"/tablesdb/{db}/tables/t/rows", json={"rowId": "one", "data": {}, "permissions": perms})
    assert recv(ws_b)["data"]["payload"]["$id"] == "one"
    assert b.get("/teams").json()["total"] == 1
    assert b.delete(f"/teams/{tid}").json()["type"] == "user_unauthorized"  # not an owner
    assert a.delete(f"/teams/{tid}/memberships/{m.json()['$id']}").status_code == 204
    admin.post(f"/tablesdb/{db}/tables/t/rows", json={"rowId": "two", "data": {}, "permissions": perms})
    nothing(ws_b)  # same connection, no longer a member
    ws_b.close()
    admin.close()


def test_api_key_scopes(shared_server, users_table):
    db = users_table
    with shared_server.admin() as admin:
        k = admin.post("/keys", json={"name": "reader", "scopes": ["rows.read"]})
        assert k.status_code == 201 and k.json()["secret"]
        secret = k.json()["secret"]
        listed = admin.get("/keys").json()
        assert secret not in json.dumps(listed)
    with httpx.Client(base_url=shared_server.endpoint, headers={"X-Appwrite-Project": "default", "X-Appwrite-Key": secret}) as r:
        assert r.get(f"/tablesdb/{db}/tables/notes/rows").status_code == 200
        w = r.post(f"/tablesdb/{db}/tables/notes/rows", json={"rowId": "unique()", "data": {}})
        assert w.status_code == 401 and w.json()["type"] == "general_unauthorized_scope"
        assert r.post("/tablesdb", json={"databaseId": "nope", "name": "n"}).json()["type"] == "general_unauthorized_scope"
    # A scoped key may open a realtime connection and receives what its scopes allow.
    ws, hello = rt(shared_server, {"X-Appwrite-Key": secret})
    sub(ws, "rows")
    with shared_server.admin() as admin:
        admin.post(f"/tablesdb/{db}/tables/notes/rows", json={"rowId": "unique()", "data": {"k": 1}})
    assert recv(ws)["data"]["payload"]["k"] == 1
    ws.close()


def test_deleted_key_is_refused_at_once(shared_server, users_table):
    """A key's actor is remembered between requests; creating or deleting a key forgets it."""
    db = users_table
    with shared_server.admin() as admin:
        made = [admin.post("/keys", json={"name": f"k{i}", "scopes": ["rows.read"]}).json() for i in range(2)]
    clients = [httpx.Client(base_url=shared_server.endpoint,
                            headers={"X-Appwrite-Project": "default", "X-Appwrite-Key": k["secret"]}) for k in made]
    try:
        for _ in range(3):  # the same key again and again, as a server calls
            assert all(c.get(f"/tablesdb/{db}/tables/notes/rows").status_code == 200 for c in clients)
        with shared_server.admin() as admin:
            assert admin.delete(f"/keys/{made[0]['$id']}").status_code == 204
        gone = clients[0].get(f"/tablesdb/{db}/tables/notes/rows")
        assert gone.status_code == 401 and gone.json()["type"] == "user_unauthorized"
        assert clients[1].get(f"/tablesdb/{db}/tables/notes/rows").status_code == 200
    finally:
        for c in clients:
            c.close()


def test_remembered_key_is_refused_by_another_project(tmp_path, backend_args):
    srv = start_server(tmp_path / "data", extra=["--project", "other", *backend_args])
    try:
        with httpx.Client(base_url=srv.endpoint, headers={"X-Appwrite-Key": srv.api_key}) as c:
            for _ in range(2):
                assert c.get("/tablesdb", headers={"X-Appwrite-Project": "default"}).status_code == 200
                r = c.get("/tablesdb", headers={"X-Appwrite-Project": "other"})
                assert r.status_code == 401 and r.json()["type"] == "user_unauthorized"
    finally:
        srv.stop()


def test_cors_and_origin(shared_server):
    with shared_server.guest() as g:
        pre = g.options("/account", headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST",
                                             "Access-Control-Request-Headers": "x-appwrite-project,x-fallback-cookies"})
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == "http://localhost:5173"
        assert pre.headers["access-control-allow-credentials"] == "true"
        r = g.get("/health", headers={"Origin": "http://localhost:5173"})
        assert "X-Fallback-Cookies" in r.headers["access-control-expose-headers"]
        assert "access-control-allow-origin" not in g.get("/health", headers={"Origin": "https://evil.example"}).headers
        refused = g.options("/account", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "PATCH"})
        assert refused.status_code == 403 and refused.json()["type"] == "general_unknown_origin", refused.text
        assert "--allow-origin https://evil.example" in refused.json()["message"]
        odd = g.options("/account", headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "PATCH",
                                             "Access-Control-Request-Headers": "x-not-allowed"})
        assert odd.status_code == 400 and set(odd.json()) == {"message", "code", "type", "version"}, odd.text
        plain = g.get("/health")  # no Origin (a server, the CLI): only Vary, as Starlette's CORS does
        assert plain.headers["vary"] == "Origin" and "access-control-allow-origin" not in plain.headers
    ws = connect(f"ws://127.0.0.1:{shared_server.port}/v1/realtime?project=default",
                 additional_headers={"Origin": "https://evil.example"})
    err = recv(ws)
    assert err["data"]["code"] == 1008 and "Invalid Origin" in err["data"]["message"]
