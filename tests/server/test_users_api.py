"""The Users API (/v1/users) against a real server, on SQLite and PostgreSQL: users made by a
server key (plain or imported password hashes), queries and search, every update, sessions,
tokens and JWTs, and the events each change sends to that user's `account` channel alone."""

from __future__ import annotations

import hashlib
import json
import secrets

import bcrypt
import httpx
import pytest
from websockets.sync.client import connect

from tests.server.test_realtime import nothing, recv


def uid() -> str:
    return "u" + secrets.token_hex(6)


def mail(tag: str) -> str:
    return f"{tag}-{secrets.token_hex(3)}@example.com"


def login(server, email: str, password: str) -> httpx.Response:
    with server.guest() as g:
        return g.post("/account/sessions/email", json={"email": email, "password": password})


def session_client(server, token: str) -> httpx.Client:
    return httpx.Client(base_url=server.endpoint, timeout=10,
                        headers={"X-Appwrite-Project": server.project, "X-Appwrite-Session": token})


def rt(server, token: str | None = None, channels=("account",), since: str | None = None):
    headers = {"X-Appwrite-Session": token} if token else {}
    ws = connect(f"ws://127.0.0.1:{server.port}/v1/realtime?project={server.project}", additional_headers=headers)
    assert recv(ws)["type"] == "connected"
    sub = {"subscriptionId": "s", "channels": list(channels), "queries": []}
    if since:
        sub["since"] = since
    ws.send(json.dumps({"type": "subscribe", "data": [sub]}))
    assert recv(ws)["type"] == "response"
    return ws


def new_user(admin, password: str | None = "password123", **extra) -> dict:
    body = {"userId": extra.pop("userId", uid()), "email": extra.pop("email", mail("u")), **extra}
    if password is not None:
        body["password"] = password
    r = admin.post("/users", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def server_session(server, user_id: str) -> str:
    with server.admin() as a:
        r = a.post(f"/users/{user_id}/sessions")
    assert r.status_code == 201, r.text
    assert r.json()["provider"] == "server" and r.json()["secret"]
    return r.json()["secret"]


def test_create_get_list_and_models(shared_server):
    with shared_server.admin() as a:
        u = new_user(a, name="Ann Lee", phone="+15555550100")
        assert u["name"] == "Ann Lee" and u["status"] is True and u["labels"] == [] and u["prefs"] == {}
        assert u["hash"] == "argon2" and u["password"].startswith("$argon2id$") and u["phone"] == "+15555550100"
        assert u["hashOptions"]["type"] == "argon2" and u["passwordUpdate"] == u["registration"]
        assert a.get(f"/users/{u['$id']}").json() == u
        bare = new_user(a, password=None, email=None)
        assert bare["email"] == "" and bare["password"] == "" and bare["passwordUpdate"] == ""
        # Taken id, email or phone: 409; bad input: 400; unknown id: 404.
        for dup in ({"userId": u["$id"]}, {"userId": uid(), "email": u["email"]},
                    {"userId": uid(), "phone": "+15555550100"}):
            r = a.post("/users", json=dup)
            assert r.status_code == 409 and r.json()["type"] == "user_already_exists", r.text
        for bad in ({"userId": "-bad"}, {"userId": uid(), "email": "nope"}, {"userId": uid(), "password": "short"},
                    {"userId": uid(), "phone": "5551234"}, {"userId": uid(), "name": "x" * 129}):
            r = a.post("/users", json=bad)
            assert r.status_code == 400 and r.json()["type"] == "general_argument_invalid", (bad, r.text)
        r = a.get("/users/nobody")
        assert r.status_code == 404 and r.json()["type"] == "user_not_found"

        tag = secrets.token_hex(3)
        made = [new_user(a, name=f"Zed {tag} {i}", email=mail(f"zed{tag}{i}")) for i in range(3)]
        found = a.get("/users", params={"search": f"zed {tag}"}).json()
        assert found["total"] == 3 and [x["$id"] for x in found["users"]] == [m["$id"] for m in made]
        q = a.get("/users", params={"search": tag, "queries[0]": json.dumps(
            {"method": "equal", "attribute": "name", "values": [f"Zed {tag} 1"]})}).json()
        assert [x["$id"] for x in q["users"]] == [made[1]["$id"]]
        desc = a.get("/users", params={"search": tag, "queries[0]": json.dumps(
            {"method": "orderDesc", "attribute": "name"}), "queries[1]": json.dumps(
            {"method": "limit", "values": [2]})}).json()
        assert desc["total"] == 3 and [x["$id"] for x in desc["users"]] == [made[2]["$id"], made[1]["$id"]]
        after = a.get("/users", params={"search": tag, "queries[0]": json.dumps(
            {"method": "cursorAfter", "values": [made[0]["$id"]]})}).json()
        assert [x["$id"] for x in after["users"]] == [made[1]["$id"], made[2]["$id"]]
        a.patch(f"/users/{made[0]['$id']}/status", json={"status": False}).raise_for_status()
        blocked = a.get("/users", params={"search": tag, "queries[0]": json.dumps(
            {"method": "equal", "attribute": "status", "values": [False]})}).json()
        assert [x["$id"] for x in blocked["users"]] == [made[0]["$id"]]
        a.put(f"/users/{made[2]['$id']}/labels", json={"labels": ["gold", "beta"]}).raise_for_status()
        gold = a.get("/users", params={"search": tag, "queries[0]": json.dumps(
            {"method": "contains", "attribute": "labels", "values": ["gold"]})}).json()
        assert [x["$id"] for x in gold["users"]] == [made[2]["$id"]]
        untotalled = a.get("/users", params={"search": tag, "total": "false"}).json()
        assert untotalled["total"] == 0 and len(untotalled["users"]) == 3
        for bad in ({"method": "equal", "attribute": "password", "values": ["x"]},
                    {"method": "cursorAfter", "values": ["nobody"]}):
            r = a.get("/users", params={"queries[0]": json.dumps(bad)})
            assert r.status_code == 400, r.text
        assert a.get("/users", params={"search": "x" * 257}).status_code == 400


def test_every_update_and_delete(shared_server):
    with shared_server.admin() as a:
        u = new_user(a)
        other = new_user(a)
        base = f"/users/{u['$id']}"
        assert a.patch(base + "/name", json={"name": "New Name"}).json()["name"] == "New Name"
        email = mail("changed")
        changed = a.patch(base + "/email", json={"email": email.upper()}).json()
        assert changed["email"] == email and changed["emailVerification"] is False
        r = a.patch(base + "/email", json={"email": other["email"]})
        assert r.status_code == 409 and r.json()["type"] == "user_email_already_exists"
        assert a.patch(base + "/phone", json={"number": "+4930123456"}).json()["phone"] == "+4930123456"
        assert a.patch(base + "/verification", json={"emailVerification": True}).json()["emailVerification"] is True
        assert a.patch(base + "/verification/phone", json={"phoneVerification": True}).json()["phoneVerification"]
        assert a.put(base + "/labels", json={"labels": ["vip", "beta", "vip"]}).json()["labels"] == ["vip", "beta"]
        assert a.put(base + "/labels", json={"labels": ["no-dash"]}).status_code == 400
        assert a.patch(base + "/prefs", json={"prefs": {"theme": "dark"}}).json() == {"theme": "dark"}
        assert a.get(base + "/prefs").json() == {"theme": "dark"}
        assert a.patch(base + "/status", json={"status": "no"}).status_code == 400
        # A new password replaces the old one; an empty one removes it.
        assert login(shared_server, email, "password123").status_code == 201
        a.patch(base + "/password", json={"password": "another-pass"}).raise_for_status()
        assert login(shared_server, email, "password123").status_code == 401
        assert login(shared_server, email, "another-pass").status_code == 201
        cleared = a.patch(base + "/password", json={"password": ""}).json()
        assert cleared["password"] == "" and login(shared_server, email, "another-pass").status_code == 401
        assert a.get(base + "/name").status_code == 404
        assert a.delete(base).status_code == 204
        assert a.get(base).json()["type"] == "user_not_found"
        assert a.delete(base).status_code == 404


@pytest.mark.parametrize("kind", ["bcrypt", "md5", "sha", "phpass", "scrypt", "scrypt-modified", "argon2"])
def test_imported_hashes_sign_in(shared_server, kind):
    password = "user1password"
    body: dict = {}
    if kind == "bcrypt":
        body["password"] = bcrypt.hashpw(password.encode(), bcrypt.gensalt(8)).decode().replace("$2b$", "$2y$")
    elif kind == "md5":
        body["password"] = hashlib.md5(password.encode()).hexdigest()
    elif kind == "sha":
        body.update(password=hashlib.sha256(password.encode()).hexdigest(), passwordVersion="sha256")
    elif kind == "phpass":
        body["password"] = "$P$6IM3CRwOqH060IuHvLzz6SM4KHuQ931"  # passlib's phpass of "correct horse battery"
        password = "correct horse battery"
    elif kind == "scrypt":
        body.update(password=hashlib.scrypt(password.encode(), salt=b"pepper", n=1024, r=8, p=1, dklen=64).hex(),
                    passwordSalt="pepper", passwordCpu=1024, passwordMemory=8, passwordParallel=1, passwordLength=64)
    elif kind == "scrypt-modified":  # the test vector of Firebase's scrypt
        body.update(password="lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==",
                    passwordSalt="42xEC+ixf3L2lw==", passwordSaltSeparator="Bw==",
                    passwordSignerKey="jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==")
    else:
        from argon2 import PasswordHasher

        body["password"] = PasswordHasher(time_cost=2, memory_cost=8192, parallelism=2).hash(password)
    email = mail(kind)
    with shared_server.admin() as a:
        r = a.post(f"/users/{kind}", json={"userId": uid(), "email": email, "name": kind, **body})
        assert r.status_code == 201, r.text
        assert r.json()["hash"] == {"scrypt-modified": "scryptMod"}.get(kind, kind)
        assert r.json()["hashOptions"]["type"] == r.json()["hash"]
        assert login(shared_server, email, password + "x").status_code == 401
        assert login(shared_server, email, password).status_code == 201
        # Signed in once, the password is hashed again with argon2id; it still signs in.
        again = a.get(f"/users/{r.json()['$id']}").json()
        assert again["hash"] == "argon2" and again["password"].startswith("$argon2id$")
        assert login(shared_server, email, password).status_code == 201
        if kind != "md5":  # a malformed hash or unbounded cost is refused
            bad = a.post(f"/users/{kind}", json={"userId": uid(), "email": mail(kind), **body, "password": "nothash"})
            assert bad.status_code == 400 and bad.json()["type"] == "general_argument_invalid", bad.text
    if kind == "scrypt":
        with shared_server.admin() as a:
            r = a.post("/users/scrypt", json={"userId": uid(), "email": mail(kind), **body, "passwordCpu": 2**24})
            assert r.status_code == 400 and "passwordCpu" in r.json()["message"]


def test_scopes(shared_server):
    with shared_server.admin() as a:
        u = new_user(a)
        reader = a.post("/keys", json={"name": "r", "scopes": ["users.read"]}).json()["secret"]
        other = a.post("/keys", json={"name": "o", "scopes": ["rows.read"]}).json()["secret"]
    token = server_session(shared_server, u["$id"])
    with session_client(shared_server, token) as c:
        r = c.get("/users")
        assert r.status_code == 401 and r.json()["type"] == "general_unauthorized_scope"
        assert "users.read" in r.json()["message"]
    for key, method, path, status in ((reader, "GET", "/users", 200), (reader, "POST", "/users", 401),
                                      (other, "GET", f"/users/{u['$id']}", 401)):
        with httpx.Client(base_url=shared_server.endpoint, headers={
                "X-Appwrite-Project": "default", "X-Appwrite-Key": key}) as k:
            r = k.request(method, path, json={"userId": uid()} if method == "POST" else None)
            assert r.status_code == status, (method, path, r.text)


def test_events_reach_only_the_user_and_replay(shared_server):
    with shared_server.admin() as a:
        ann, bob = new_user(a), new_user(a)
    ann_token, bob_token = server_session(shared_server, ann["$id"]), server_session(shared_server, bob["$id"])
    ann_ws, bob_ws = rt(shared_server, ann_token), rt(shared_server, bob_token)
    guest_ws = rt(shared_server, None, channels=("account", f"account.{ann['$id']}"))
    key_ws = connect(f"ws://127.0.0.1:{shared_server.port}/v1/realtime?project=default",
                     additional_headers={"X-Appwrite-Key": shared_server.api_key})
    try:
        with shared_server.admin() as a:
            a.patch(f"/users/{ann['$id']}/name", json={"name": "Ann 2"}).raise_for_status()
        ev = recv(ann_ws)["data"]
        aid = ann["$id"]
        assert ev["events"][0] == f"users.{aid}.update.name" and "users.*.update" in ev["events"]
        assert sorted(ev["channels"]) == sorted(["account", f"account.{aid}", "account.update",
                                                 f"account.{aid}.update"])
        assert ev["payload"]["name"] == "Ann 2" and "password" not in ev["payload"]
        first = ev["cursor"]
        nothing(bob_ws)
        nothing(guest_ws)
        with shared_server.admin() as a:
            a.put(f"/users/{aid}/labels", json={"labels": ["gold"]}).raise_for_status()
            a.patch(f"/users/{aid}/prefs", json={"prefs": {"a": 1}}).raise_for_status()
            s = a.post(f"/users/{aid}/sessions").json()
            a.delete(f"/users/{aid}/sessions/{s['$id']}").raise_for_status()
            t = a.post(f"/users/{aid}/tokens", json={"length": 8, "expire": 120}).json()
        names = [recv(ann_ws)["data"]["events"][0] for _ in range(5)]
        assert names == [f"users.{aid}.update.labels", f"users.{aid}.update.prefs",
                         f"users.{aid}.sessions.{s['$id']}.create", f"users.{aid}.sessions.{s['$id']}.delete",
                         f"users.{aid}.tokens.{t['$id']}.create"]
        nothing(bob_ws)
        nothing(guest_ws)
        # Replay from the log: the same events, to the same user only.
        again = rt(shared_server, ann_token, since=first)
        replayed = [recv(again)["data"]["events"][0] for _ in range(5)]
        assert replayed == names
        again.close()
        late_bob = rt(shared_server, bob_token, since=first)
        nothing(late_bob)
        late_bob.close()
    finally:
        for ws in (ann_ws, bob_ws, guest_ws, key_ws):
            ws.close()


def test_sessions_tokens_and_jwts(shared_server):
    with shared_server.admin() as a:
        u = new_user(a, phone=f"+1555{secrets.randbelow(10**7):07d}")
        token = server_session(shared_server, u["$id"])
        with session_client(shared_server, token) as c:
            me = c.get("/account").json()
            # The account is the same user the Users API shows, phone included.
            assert me["$id"] == u["$id"] and me["phone"] == u["phone"] and me["phoneVerification"] is False
        listed = a.get(f"/users/{u['$id']}/sessions").json()
        assert listed["total"] == 1 and listed["sessions"][0]["current"] is False
        jwt = a.post(f"/users/{u['$id']}/jwts", json={"sessionId": "recent", "duration": 60}).json()["jwt"]
        with httpx.Client(base_url=shared_server.endpoint,
                          headers={"X-Appwrite-Project": "default", "X-Appwrite-JWT": jwt}) as j:
            assert j.get("/account").json()["$id"] == u["$id"]
        assert a.post(f"/users/{u['$id']}/jwts", json={"sessionId": "nope"}).status_code == 404
        a.delete(f"/users/{u['$id']}/sessions").raise_for_status()
        with session_client(shared_server, token) as c:
            assert c.get("/account").status_code == 401
        assert a.get(f"/users/{u['$id']}/sessions").json()["total"] == 0
        assert a.delete(f"/users/{u['$id']}/sessions/nope").json()["type"] == "user_session_not_found"
        # A token is exchanged for a session once, before it expires.
        t = a.post(f"/users/{u['$id']}/tokens", json={"length": 12}).json()
        assert len(t["secret"]) == 12 and t["userId"] == u["$id"]
        assert a.post(f"/users/{u['$id']}/tokens", json={"length": 2}).status_code == 400
    with shared_server.guest() as g:
        assert g.post("/account/sessions/token", json={"userId": u["$id"], "secret": "wrong"}).status_code == 401
        s = g.post("/account/sessions/token", json={"userId": u["$id"], "secret": t["secret"]})
        assert s.status_code == 201 and s.json()["provider"] == "token", s.text
    with shared_server.guest() as g:  # (a client without the session's cookie)
        again = g.post("/account/sessions/token", json={"userId": u["$id"], "secret": t["secret"]})
        assert again.status_code == 401 and again.json()["type"] == "user_invalid_token"


def test_labels_block_and_delete_act_on_live_connections(shared_server):
    db = "l" + secrets.token_hex(3)
    with shared_server.admin() as a:
        a.post("/tablesdb", json={"databaseId": db, "name": db}).raise_for_status()
        a.post(f"/tablesdb/{db}/tables", json={"tableId": "t", "name": "t",
                                               "permissions": ['read("label:vip")']}).raise_for_status()
        u = new_user(a)
    token = server_session(shared_server, u["$id"])
    ws = rt(shared_server, token, channels=("account", f"tablesdb.{db}.tables.t.rows"))

    def row(n: int) -> None:
        with shared_server.admin() as a:
            a.post(f"/tablesdb/{db}/tables/t/rows", json={"rowId": f"r{n}", "data": {"n": n}}).raise_for_status()

    try:
        row(1)
        nothing(ws)  # not a vip yet
        with shared_server.admin() as a:
            a.put(f"/users/{u['$id']}/labels", json={"labels": ["vip"]}).raise_for_status()
        assert recv(ws)["data"]["events"][0].endswith(".update.labels")
        row(2)
        assert recv(ws)["data"]["payload"]["$id"] == "r2"  # the new label holds on the live connection
        with shared_server.admin() as a:
            a.patch(f"/users/{u['$id']}/status", json={"status": False}).raise_for_status()
        blocked = recv(ws)["data"]
        assert blocked["events"][0].endswith(".update.status") and blocked["payload"]["status"] is False
        row(3)
        nothing(ws)  # a blocked user's connection reads nothing
        with session_client(shared_server, token) as c:
            assert c.get("/account").status_code == 401
        with shared_server.admin() as a:
            a.patch(f"/users/{u['$id']}/status", json={"status": True}).raise_for_status()
        assert recv(ws)["data"]["payload"]["status"] is True
        row(4)
        assert recv(ws)["data"]["payload"]["$id"] == "r4"
        with shared_server.admin() as a:
            a.delete(f"/users/{u['$id']}").raise_for_status()
        gone = recv(ws)["data"]
        assert gone["events"][0] == f"users.{u['$id']}.delete"
        row(5)
        nothing(ws)
        with session_client(shared_server, token) as c:
            assert c.get("/account").status_code == 401
    finally:
        ws.close()


def test_memberships_of_a_user(shared_server):
    with shared_server.admin() as a:
        u = new_user(a)
        team = "t" + secrets.token_hex(3)
        a.post("/teams", json={"teamId": team, "name": "T"}).raise_for_status()
        a.post(f"/teams/{team}/memberships", json={"userId": u["$id"], "roles": ["editor"]}).raise_for_status()
        ms = a.get(f"/users/{u['$id']}/memberships").json()
        assert ms["total"] == 1 and ms["memberships"][0]["teamId"] == team and ms["memberships"][0]["roles"] == ["editor"]


# Imported hashes whose one check would cost seconds of CPU (any guest who knows the email can
# ask for checks): refused when imported. Fake digests: only their costs are read.
_ARGON2 = "$argon2id$v=19$m={m},t={t},p={p}$c29tZXNhbHRzb21lc2FsdA$" + "A" * 43
_BCRYPT = "$2y${cost:02d}$" + "a" * 53


@pytest.mark.parametrize("kind, body, accepted", [
    ("argon2", {"password": _ARGON2.format(m=262144, t=16, p=1)}, False),  # 5 s a check
    ("argon2", {"password": _ARGON2.format(m=262144, t=4, p=1)}, False),  # past 256 MiB x 3 passes
    ("argon2", {"password": _ARGON2.format(m=65536, t=3, p=32)}, False),  # lanes
    ("argon2", {"password": _ARGON2.format(m=262144, t=3, p=4)}, True),  # libsodium's "moderate"
    ("argon2", {"password": _ARGON2.format(m=19456, t=2, p=1)}, True),  # OWASP's
    ("bcrypt", {"password": _BCRYPT.format(cost=14)}, False),
    ("bcrypt", {"password": _BCRYPT.format(cost=13)}, True),
    ("scrypt", {"password": "ab" * 32, "passwordSalt": "s", "passwordCpu": 65536, "passwordMemory": 8,
                "passwordParallel": 16, "passwordLength": 64}, False),  # 16 times the memory bound's time
    ("scrypt", {"password": "ab" * 32, "passwordSalt": "s", "passwordCpu": 65536, "passwordMemory": 8,
                "passwordParallel": 1, "passwordLength": 64}, True),
])
def test_imported_hash_costs_are_bounded(shared_server, kind, body, accepted):
    with shared_server.admin() as a:
        r = a.post(f"/users/{kind}", json={"userId": uid(), "email": mail(f"cost-{kind}"), "name": kind, **body})
    if accepted:
        assert r.status_code == 201, r.text
    else:
        assert r.status_code == 400 and r.json()["type"] == "general_argument_invalid", r.text
