"""JSON objects a client gives to be kept (account, team and user prefs, presence metadata)
are bounded in size and nesting like row data: deep or huge ones are a 400, never a 500, and
nothing of them is stored."""

from __future__ import annotations

import json

import pytest

from tests.server.test_users import signup


def _deep(levels: int) -> dict:
    # Built as text: json.loads, not Python recursion, makes the value the client sends.
    return json.loads('{"a":' * levels + "1" + "}" * levels)


@pytest.mark.parametrize("value", [_deep(300), _deep(65), {"big": "x" * 5_000_000}, [1, 2]],
                         ids=["300 deep", "65 deep", "5 MB", "not an object"])
def test_prefs_and_metadata_refuse_deep_huge_or_wrong_objects(shared_server, value):
    uid, _, user = signup(shared_server, "prefs")
    with user, shared_server.admin() as admin:
        tid = user.post("/teams", json={"teamId": "unique()", "name": "t"}).json()["$id"]
        for client, method, path, body in (
                (user, "PATCH", "/account/prefs", {"prefs": value}),
                (user, "PUT", f"/teams/{tid}/prefs", {"prefs": value}),
                (admin, "PATCH", f"/users/{uid}/prefs", {"prefs": value}),
                (admin, "PUT", "/presences/p-1", {"userId": uid, "status": "here", "metadata": value})):
            r = client.request(method, path, json=body)
            assert r.status_code == 400, (path, r.status_code, r.text[:300])
            assert r.json()["type"] == "general_argument_invalid", r.text[:300]
        assert user.get("/account/prefs").json() == {}
        assert user.get(f"/teams/{tid}/prefs").json() == {}


def test_prefs_within_the_bounds_are_kept(shared_server):
    _, _, user = signup(shared_server, "fine")
    with user:
        tid = user.post("/teams", json={"teamId": "unique()", "name": "t"}).json()["$id"]
        prefs = {"theme": "dark", "nested": _deep(60), "text": "é" * 20_000}
        assert user.patch("/account/prefs", json={"prefs": prefs}).status_code == 200
        assert user.get("/account/prefs").json() == prefs
        assert user.put(f"/teams/{tid}/prefs", json={"prefs": prefs}).status_code == 200
        assert user.get(f"/teams/{tid}/prefs").json() == prefs
