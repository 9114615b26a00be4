"""The REST routes are looked up by path shape (server/routing.py): the route chosen must be the
one Starlette's scan of every route in order chooses, for every route the server declares."""

from __future__ import annotations

import re

import pytest
from starlette.routing import Match, Mount

from rtcli.server.app import ServeConfig, build_app
from rtcli.server.routing import SegmentIndex

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _scan(routes, scope):
    """Starlette's Router.app choice: the first full match, else the first partial one."""
    partial = None
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.FULL:
            return match, child.get("route", route), child.get("path_params")
        if match is Match.PARTIAL and partial is None:
            partial = match, child.get("route", route), child.get("path_params")
    return partial or (Match.NONE, None, None)


@pytest.fixture(scope="module")
def v1(tmp_path_factory):
    app = build_app(ServeConfig(data_dir=tmp_path_factory.mktemp("routing"), api_key="k" * 32))
    mount = next(r for r in app.routes if isinstance(r, Mount) and r.path == "/v1")
    (index,) = mount.routes
    assert isinstance(index, SegmentIndex)
    return mount, index


def _paths(index: SegmentIndex) -> set[str]:
    """Each declared route with its parameters filled in, and near misses around it."""
    paths = {"", "/", "/nothing", "/nothing/at/all", "/topics", "/topics/", "//topics"}
    for route in index.routes:
        filled = re.sub(r"\{[^}]+\}", "x", route.path.replace("{path:path}", "a/b"))
        paths |= {filled, filled + "/", filled + "/y", filled.rstrip("/") + "//y", filled.replace("/x", "/")}
    return paths


def test_the_index_chooses_the_route_the_scan_chooses(v1):
    mount, index = v1
    checked = 0
    for path in sorted(_paths(index)):
        for method in METHODS:
            scope = {"type": "http", "path": "/v1" + path, "root_path": "", "method": method}
            match, child = mount.matches(scope)
            if match is not Match.FULL:
                continue  # "/v1" alone: not under the mount
            scope.update(child)
            assert _scan(mount.routes, scope) == _scan(index.routes, scope), (method, path)
            checked += 1
    assert checked > 1000


def test_a_publish_is_matched_against_its_own_routes_only(v1):
    _, index = v1
    scope = {"type": "http", "path": "/topics/t1/messages", "root_path": "", "method": "POST"}
    seen: list[str] = []
    for route in index.routes:
        original = route.matches
        route.matches = lambda s, r=route, o=original: (seen.append(r.path), o(s))[1]  # type: ignore[method-assign]
    try:
        match, child = index.matches(scope)
    finally:
        for route in index.routes:
            del route.matches
    assert match is Match.FULL and child["route"].path == "/topics/{topic}/messages"
    assert child["path_params"] == {"topic": "t1"}
    assert seen == ["/topics/{topic}/messages"]


def test_served_routes_answer_as_before(server):
    """Through the real server: routes of the first and of the last module, and a path no
    route declares (the catch-all's Appwrite answer)."""
    with server.admin() as c:
        assert c.get("/health").json()["status"] == "pass"
        assert c.post("/topics", json={"topicId": "t1", "permissions": ['read("any")']}).status_code == 201
        r = c.post("/topics/t1/messages", json={"data": {"n": 1}})
        assert r.status_code == 201 and r.json()["topicId"] == "t1"
        assert c.get("/topics/t1").json()["$id"] == "t1"
        unknown = c.get("/nothing/here")
        assert unknown.status_code == 404 and unknown.json()["type"] == "general_route_not_found"
