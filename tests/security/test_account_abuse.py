"""Abuse of the account and team endpoints by any caller who can sign up: memory kept by a sign-in
attempt, what an invitation tells about other users, what a key-managing key may revoke, and how
long a failed sign-in takes."""

from __future__ import annotations

import secrets
import statistics
import time
import tracemalloc

import httpx

from rtcli.services.ratelimit import RateLimiter
from tests.security.probe import anonymous, keyed, make_key
from tests.server.test_users import signup

# --- the rate limiter's memory -------------------------------------------------------------------


def test_the_limiter_drops_expired_windows_and_still_counts_live_ones():
    limiter = RateLimiter(3, window=10.0, max_keys=100)
    assert [limiter.hit("a", now=0.0) for _ in range(4)] == [True, True, True, False]
    for i in range(20):
        assert limiter.hit(f"k{i}", now=1.0 + i / 10)
    assert len(limiter) == 21
    # Once their windows have passed, the keys are gone without waiting for the cap.
    assert limiter.hit("late", now=20.0)
    assert len(limiter) == 1
    # "a" starts again with a full budget; a refused attempt is not counted.
    assert [limiter.hit("a", now=21.0) for _ in range(4)] == [True, True, True, False]
    assert limiter.hit("a", now=31.5) and len(limiter) == 1  # "late" (at 20.0) has expired too


def test_the_limiter_holds_at_most_its_cap_and_no_caller_string():
    limiter = RateLimiter(2, window=60.0, max_keys=50)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for i in range(200):  # 200 distinct 100 KB keys within one window
            assert limiter.hit(f"{i}:" + "x" * 100_000, now=float(i) / 100)
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(limiter) == 50
    assert kept - before < 200_000, f"the limiter kept {kept - before} bytes"
    # The newest keys are the ones kept, and are still limited.
    newest = "199:" + "x" * 100_000
    assert [limiter.hit(newest, now=2.0), limiter.hit(newest, now=2.0)] == [True, False]


def test_a_huge_email_is_refused_before_the_limiter(server):
    def attempt(g: httpx.Client, i: int) -> None:
        t = time.monotonic()
        r = g.post("/account/sessions/email", json={"email": f"{i}{'a' * 1_000_000}@example.com", "password": "x"})
        assert r.status_code == 400 and r.json()["type"] == "general_argument_invalid", r.text[:300]
        assert "320" in r.json()["message"]
        assert time.monotonic() - t < 2.0

    with server.guest() as g:
        for i in range(5):  # the first large bodies grow the allocator's pools once
            attempt(g, i)
        rss_before = server.rss_kb()
        for i in range(5, 25):
            attempt(g, i)
        grown = server.rss_kb() - rss_before
        # 20 distinct 1 MB emails went in: none of them is kept.
        assert grown < 8_000, f"the server grew by {grown} KB"
        # Beside it: the address's budget was not spent on them, and sign-in answers as usual.
        uid, _, user = signup(server, "after")
        user.close()



# --- invitations ---------------------------------------------------------------------------------


def test_an_invitation_tells_nothing_of_the_invitee(shared_server):
    alice_id, _, alice = signup(shared_server, "Alice")
    alice_email = alice.get("/account").json()["email"]
    alice.close()
    unknown = f"nobody-{secrets.token_hex(3)}@example.com"
    with anonymous(shared_server) as mallory:
        tid = mallory.post("/teams", json={"teamId": "unique()", "name": "probe"}).json()["$id"]
        members = f"/teams/{tid}/memberships"
        known = mallory.post(members, json={"email": alice_email.upper(), "roles": ["x"]})
        # A registered email: the inviter gets back what it gave, never the user's name.
        assert known.status_code == 201, known.text
        k = known.json()
        assert (k["userEmail"], k["userName"]) == (alice_email, alice_email)
        assert k["confirm"] is False and k["userAccessedAt"] == ""
        assert mallory.delete(f"{members}/{k['$id']}").status_code == 204
        # An unknown one is not made into a user by a session (anyone could take any email
        # before its owner signs up): not found, and no user holds it afterwards.
        missing = mallory.post(members, json={"email": unknown, "roles": ["x"]})
        assert missing.status_code == 404 and missing.json()["type"] == "user_not_found", missing.text
        # By user ID: the membership names no email or name of that user.
        by_id = mallory.post(members, json={"userId": alice_id, "roles": ["x"]})
        assert by_id.status_code == 201, by_id.text
        assert (by_id.json()["userName"], by_id.json()["userEmail"]) == ("", "")
        for view in (mallory.get(members).text, mallory.get(f"{members}/{by_id.json()['$id']}").text,
                     mallory.get("/events", params={"since": "beginning", "limit": 1000}).text):
            assert alice_email not in view and '"Alice"' not in view
        deleted = mallory.delete(f"{members}/{by_id.json()['$id']}")
        assert deleted.status_code == 204
    # Beside it: an API key sees who the invitees are.
    with shared_server.admin() as a:
        assert a.get("/users", params={"search": unknown}).json()["total"] == 0
        invited = a.post(members, json={"email": unknown, "roles": ["x"]})  # a key makes the invitee
        assert invited.status_code == 201 and invited.json()["userEmail"] == unknown, invited.text
        listed = a.get(members).json()["memberships"]
        assert {(x["userEmail"], x["userName"]) for x in listed} >= {(unknown, unknown)}
        by_key = a.post(members, json={"userId": alice_id, "roles": ["x"]}).json()
        assert (by_key["userEmail"], by_key["userName"]) == (alice_email, "Alice")


# --- keys ----------------------------------------------------------------------------------------


def test_a_key_revokes_only_keys_within_its_own_scopes(shared_server):
    manager = make_key(shared_server, ["keys.write", "rows.read"]).json()["secret"]
    stronger = make_key(shared_server, ["users.read"]).json()["$id"]
    everything = make_key(shared_server, ["*"]).json()["$id"]
    weaker = make_key(shared_server, ["rows.read"]).json()["$id"]
    with keyed(shared_server, manager) as k:
        server_key = k.delete("/keys/server")
        assert server_key.status_code == 400, server_key.text
        assert "server key cannot be deleted" in server_key.json()["message"]
        assert "--api-key" in server_key.json()["message"]
        for key_id in (stronger, everything):
            r = k.delete(f"/keys/{key_id}")
            assert r.status_code == 401 and r.json()["type"] == "general_unauthorized_scope", r.text
            assert "subset" in r.json()["message"]
        assert k.delete(f"/keys/{weaker}").status_code == 204
        left = {x["$id"] for x in k.get("/keys").json()["keys"]}
    assert {"server", stronger, everything} <= left and weaker not in left
    with shared_server.admin() as a:
        assert a.get("/keys").status_code == 200  # the server key still works
        assert a.delete(f"/keys/{stronger}").status_code == 204
        assert a.delete("/keys/server").status_code == 400  # not even by itself


# --- sign-in timing ------------------------------------------------------------------------------


def test_a_failed_sign_in_takes_as_long_for_an_unknown_email(server):
    _, _, user = signup(server, "timed")
    email = user.get("/account").json()["email"]
    user.close()

    def attempt(g: httpx.Client, address: str) -> float:
        t = time.perf_counter()
        r = g.post("/account/sessions/email", json={"email": address, "password": "wrong-password"})
        elapsed = time.perf_counter() - t
        assert r.status_code == 401 and r.json()["type"] == "user_invalid_credentials", r.text
        return elapsed

    with server.guest() as g:
        attempt(g, f"warm-{secrets.token_hex(3)}@example.com")
        known, unknown = [], []
        for _ in range(5):
            known.append(attempt(g, email))
            unknown.append(attempt(g, f"none-{secrets.token_hex(3)}@example.com"))
    # Both go through the slow password hash (tens of milliseconds); a lookup alone takes ~1 ms.
    assert statistics.median(unknown) >= 0.3 * statistics.median(known), (known, unknown)
