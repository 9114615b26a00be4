"""ReDoS: an email or URL crafted to make a backtracking pattern take quadratic time must be
refused at once, while other clients keep being served; ordinary values still pass."""

from __future__ import annotations

import time

import pytest

from tests.conftest import start_server
from tests.security.probe import Responsive
from tests.security.web import assert_error

# Long runs of a character both halves of the old patterns accepted, failing only at the end:
# 30 KB held the event loop for seconds.
EVIL_EMAIL = "a@" + "." * 30_000 + " "
EVIL_URL = "a://" + "a" * 30_000 + " "
STALL = 1.0  # seconds: far above a health answer under load, far below the old stall


def attacks(health: Responsive, rounds: int = 5, seconds: float = 3.0):
    """At least ``rounds`` attacks, and on until health has answered a few times meanwhile."""
    deadline = time.monotonic() + seconds
    n = 0
    while n < rounds or (health.answers < 3 and time.monotonic() < deadline):
        yield n
        n += 1


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("redos") / "data")
    with srv.admin() as c:
        assert c.post("/tablesdb", json={"databaseId": "db", "name": "DB"}).status_code == 201
        assert c.post("/tablesdb/db/tables", json={"tableId": "t", "name": "T",
                                                   "permissions": ['create("any")', 'read("any")']}).status_code == 201
        for kind in ("email", "url"):
            r = c.post(f"/tablesdb/db/tables/t/columns/{kind}", json={"key": kind, "required": False})
            assert r.status_code == 202, r.text
    yield srv
    srv.stop()


def test_long_email_on_sign_up_is_refused_without_stalling(server):
    with Responsive(server, STALL) as health, server.guest() as c:
        for _ in attacks(health):
            r = c.post("/account", json={"userId": "unique()", "email": EVIL_EMAIL, "password": "password123"})
            body = assert_error(r, 400, "general_argument_invalid")
            assert "email" in body["message"]
    health.assert_prompt()
    with server.guest() as c:
        r = c.post("/account", json={"userId": "unique()", "email": "ada@example.com", "password": "password123"})
        assert r.status_code == 201, r.text
        assert r.json()["email"] == "ada@example.com"


@pytest.mark.parametrize("column,evil,good", [("email", EVIL_EMAIL, "ada@example.com"),
                                               ("url", EVIL_URL, "https://example.com/a?b=c#d")],
                         ids=["email", "url"])
def test_long_email_or_url_in_a_row_is_refused_without_stalling(server, column, evil, good):
    with Responsive(server, STALL) as health, server.guest() as c:
        for _ in attacks(health):
            r = c.post("/tablesdb/db/tables/t/rows", json={"rowId": "unique()", "data": {column: evil}})
            body = assert_error(r, 400, "row_invalid_structure")
            assert column in body["message"]
    health.assert_prompt()
    with server.guest() as c:
        r = c.post("/tablesdb/db/tables/t/rows", json={"rowId": "unique()", "data": {column: good}})
        assert r.status_code == 201, r.text
        assert r.json()[column] == good
        assert c.get("/tablesdb/db/tables/t/rows").json()["total"] >= 1


@pytest.mark.parametrize("column,limit,make", [("email", 254, lambda n: "a" * (n - 12) + "@example.com"),
                                               ("url", 2000, lambda n: "https://e.com/" + "a" * (n - 14))],
                         ids=["email", "url"])
def test_email_and_url_columns_are_bounded(server, column, limit, make):
    with server.guest() as c:
        ok = c.post("/tablesdb/db/tables/t/rows", json={"rowId": "unique()", "data": {column: make(limit)}})
        assert ok.status_code == 201, ok.text
        body = assert_error(c.post("/tablesdb/db/tables/t/rows",
                                   json={"rowId": "unique()", "data": {column: make(limit + 1)}}),
                            400, "row_invalid_structure")
        assert f"at most {limit}" in body["message"]


def test_sign_up_email_is_bounded(server):
    with server.guest() as c:
        email = "a" * (320 - 12) + "@example.com"
        assert c.post("/account", json={"userId": "unique()", "email": email,
                                        "password": "password123"}).status_code == 201
        body = assert_error(c.post("/account", json={"userId": "unique()", "email": "b" + email,
                                                     "password": "password123"}), 400)
        assert "at most 320" in body["message"]


def test_fuzzed_emails_and_urls_are_answered_promptly(server):
    """Values built from the characters the checks look at, up to 100 KB: each request gets a
    2xx or a 4xx within a second."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    piece = st.sampled_from(["a", ".", "@", ":", "/", "://", " ", "\n", "é", "a.b", "@a."])
    value = st.builds(lambda head, part, n, tail: head + part * n + tail,
                      st.sampled_from(["", "a@", "a://", "http://", "@"]), piece, st.integers(0, 50_000),
                      st.sampled_from(["", " ", "@", ".com", "#"]))

    with server.guest() as c:
        @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                          HealthCheck.data_too_large])
        @given(value=value, where=st.sampled_from(["account", "email", "url"]))
        def one(value, where):
            t = time.monotonic()
            if where == "account":
                r = c.post("/account", json={"userId": "unique()", "email": value, "password": "password123"})
            else:
                r = c.post("/tablesdb/db/tables/t/rows", json={"rowId": "unique()", "data": {where: value}})
            assert r.status_code < 500 and (r.status_code < 300 or r.json()["code"] == r.status_code), r.text
            assert time.monotonic() - t < STALL, f"{where}: {time.monotonic() - t:.2f}s for {len(value)} characters"

        one()
