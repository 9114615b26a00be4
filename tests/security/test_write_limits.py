"""A user's own account and presence writes are rate-limited (each is an event in the log, with
the whole record): an anonymous session writing prefs as fast as it could filled the log."""

from __future__ import annotations

import time

from tests.security.probe import anonymous


def _burst(client, method: str, path: str, body: dict, n: int) -> list[int]:
    return [client.request(method, path, json=body).status_code for _ in range(n)]


def test_a_users_own_writes_are_limited_per_second(shared_server):
    with anonymous(shared_server) as user:
        uid = user.get("/account").json()["$id"]
        statuses = _burst(user, "PATCH", "/account/prefs", {"prefs": {"x": "y" * 1000}}, 30)
        assert statuses.count(200) >= 5 and 429 in statuses, statuses
        refused = user.patch("/account/prefs", json={"prefs": {}})
        if refused.status_code == 429:
            body = refused.json()
            assert body["type"] == "general_rate_limit_exceeded" and "per user" in body["message"], body
        time.sleep(1.1)  # one budget for both kinds of write: a new second for the presences
        presences = _burst(user, "PUT", f"/presences/p-{uid}", {"status": "here"}, 30)
        assert 429 in presences and presences.count(200) >= 1, presences
        time.sleep(1.1)  # a new second: the budget is back
        assert user.patch("/account/prefs", json={"prefs": {"ok": True}}).status_code == 200
        assert user.get("/account/prefs").json() == {"ok": True}
    # The operator's keys are not limited.
    with shared_server.admin() as admin:
        assert set(_burst(admin, "PUT", f"/presences/k-{uid}", {"userId": uid, "status": "s"}, 30)) == {200}


def test_many_users_of_one_address_share_its_budget(shared_server):
    users = [anonymous(shared_server) for _ in range(8)]
    try:
        statuses = [u.patch("/account/name", json={"name": f"n{i}"}).status_code
                    for _ in range(8) for i, u in enumerate(users)]  # 8 a user: each within its own budget
        assert 429 in statuses, statuses  # but 64 from one address in a second are too many
    finally:
        for u in users:
            u.close()
