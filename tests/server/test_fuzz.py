"""Fuzzing a real `rtcli serve`: bad input never kills the server, breaks a neighbour or gets a 5xx.

- WebSocket frames (hypothesis): any text, invalid UTF-8, deep nesting, huge values, and the right
  message shapes with wrong types. Every reply is an error frame (1003/1009/1013) or a legitimate
  response/pong (a message over 64,000 bytes: error 1009, then close 1009); the process stays up; a neighbour subscribed before the fuzzing still gets events.
- REST operations (schemathesis, from GET /v1/openapi.json): no 5xx, responses match the schema.
- REST queries and bodies (hypothesis): odd query JSON and row data (huge numbers, deep nesting,
  wrong types) get a 4xx error body, never a 5xx.
- Regressions: each bug the fuzzers found, as a plain test.

Like every server test, the module runs once per store (SQLite, PostgreSQL).
"""

from __future__ import annotations

import json
import operator
import time
from urllib.parse import quote

import httpx
import orjson
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

DB = "fz"
ROW_DATA = {"n": 1, "s": "x", "f": 1.5, "b": True, "tags": ["a", "b"], "nested": {"k": [1, None]}, "nul": None}
TYPED_COLUMNS = [("integer", {"key": "n"}), ("string", {"key": "s", "size": 20}), ("float", {"key": "f"}),
                 ("boolean", {"key": "b"}), ("string", {"key": "tags", "array": True})]


def _ensure_fixture(c: httpx.Client) -> None:
    """Database ``fz``: ``open`` (schemaless, read any) and ``typed`` (columns), a row r1 in each.
    Idempotent and cheap when nothing is missing: it also puts back what a fuzzed DELETE removed."""
    if c.get(f"/tablesdb/{DB}").status_code == 404:
        c.post("/tablesdb", json={"databaseId": DB, "name": DB})
    for table, extra in (("open", {"permissions": ['read("any")']}), ("typed", {"rowSecurity": True})):
        if c.get(f"/tablesdb/{DB}/tables/{table}").status_code == 404:
            c.post(f"/tablesdb/{DB}/tables", json={"tableId": table, "name": table, **extra})
    have = {col["key"] for col in c.get(f"/tablesdb/{DB}/tables/typed/columns").json()["columns"]}
    for kind, body in TYPED_COLUMNS:
        if body["key"] not in have:
            c.post(f"/tablesdb/{DB}/tables/typed/columns/{kind}", json={"required": False, **body})
    for table, data in (("open", ROW_DATA), ("typed", {"n": 1, "s": "x", "tags": ["a"]})):
        if c.get(f"/tablesdb/{DB}/tables/{table}/rows/r1").status_code == 404:
            r = c.put(f"/tablesdb/{DB}/tables/{table}/rows/r1", json={"data": data})
            assert r.status_code == 200, r.text
    # Topics of the same names: "open" durable, "typed" ephemeral.
    for topic, mode in (("open", "durable"), ("typed", "ephemeral")):
        if c.get(f"/topics/{topic}").status_code == 404:
            c.post("/topics", json={"topicId": topic, "mode": mode, "permissions": ['read("any")', 'create("any")']})


@pytest.fixture(scope="module")
def fz(shared_server):
    with shared_server.admin() as c:
        _ensure_fixture(c)
    return shared_server


# --- generators -------------------------------------------------------------------------------


# Each example talks to a real server (slow by design) and the huge-value strategies make large
# inputs on purpose; every other health check (filtering too much, nested @given, a test that
# returns a value...) still applies.
FUZZ_SUPPRESS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]


def fuzz(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, suppress_health_check=FUZZ_SUPPRESS)


def _huge(lo: int = 1_000, hi: int = 100_000) -> st.SearchStrategy[str]:
    return st.builds(operator.mul, st.sampled_from('x€😀"\\\x00\n'), st.integers(lo, hi))


def _deep_and(depth: int, leaf: str = '{"method":"isNull","attribute":"n"}') -> str:
    return '{"method":"and","values":[' * depth + leaf + "]}" * depth


SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
ODD = st.recursive(SCALARS, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                   max_leaves=12) | _huge(1_000, 20_000)
METHODS = st.sampled_from(["equal", "notEqual", "lessThan", "lessThanEqual", "greaterThan", "greaterThanEqual",
                           "isNull", "isNotNull", "between", "startsWith", "endsWith", "contains", "and", "or",
                           "select", "limit", "offset", "cursorAfter", "cursorBefore", "orderAsc", "orderDesc",
                           "search", ""])
ATTRIBUTES = st.sampled_from(["n", "s", "f", "b", "tags", "nested", "nul", "missing", "$id", "$sequence", "$x"])
# Cursors naming rows that exist (r1 of a rowSecurity table is hidden from guests), do not, or are odd.
CURSOR_OBJ = st.fixed_dictionaries({"method": st.sampled_from(["cursorAfter", "cursorBefore"]),
                                    "values": st.lists(st.sampled_from(["r1", "r2", "missing", ""]) | ODD, max_size=2)})
QUERY_OBJ = st.recursive(
    st.fixed_dictionaries({"method": METHODS},
                          optional={"attribute": ATTRIBUTES | ODD, "values": st.lists(ODD, max_size=3) | ODD})
    | CURSOR_OBJ,
    lambda c: st.fixed_dictionaries({"method": st.sampled_from(["and", "or"]),
                                     "values": st.lists(c, min_size=1, max_size=3)}),
    max_leaves=6)


def _queries(huge: int, deep: int) -> st.SearchStrategy:
    """One query as the SDKs send it (a JSON string), as a decoded object, or anything else."""
    return st.one_of(QUERY_OBJ.map(json.dumps), QUERY_OBJ, st.text(max_size=50), _huge(100, huge), ODD,
                     st.integers(1, deep).map(_deep_and), st.integers(1, deep * 10).map(lambda d: "[" * d + "]" * d))


QUERY = _queries(20_000, 2_400)
# A REST query goes in the URL (at most 64 KiB for the HTTP parser): smaller, but still deep.
REST_QUERY = _queries(1_000, 600).map(lambda q: q if isinstance(q, str) else json.dumps(q))
CHANNEL = st.sampled_from(["rows", "documents", "account", "files", f"tablesdb.{DB}.tables.open.rows",
                           f"tablesdb.{DB}.tables.*.rows.*", "databases.fz.collections.open.documents"]) \
    | st.text(max_size=40) | _huge(1_000, 70_000)
SUB_ID = st.sampled_from(["s1", "s2", "x" * 36, "x" * 37, "-bad", ""]) | ODD
SUB_ITEM = st.fixed_dictionaries({}, optional={
    "subscriptionId": SUB_ID,
    "channels": st.lists(CHANNEL, max_size=4) | ODD,
    "queries": st.lists(QUERY, max_size=4) | ODD,
    "since": st.sampled_from(["beginning", "now", "c1.00000000.0", "2020-01-01T00:00:00Z", "c1.zz.-1", "x" * 129])
    | ODD,
    "policy": st.sampled_from(["close", "drop", "latest"]) | ODD,
})
MESSAGE = st.one_of(
    st.fixed_dictionaries({"type": st.just("subscribe")}, optional={"data": st.lists(SUB_ITEM, max_size=4) | ODD}),
    st.fixed_dictionaries({"type": st.just("unsubscribe")}, optional={
        "data": st.lists(st.fixed_dictionaries({}, optional={"subscriptionId": SUB_ID}), max_size=4) | ODD}),
    st.fixed_dictionaries({"type": st.just("authentication")}, optional={
        "data": st.fixed_dictionaries({}, optional={"session": ODD}) | ODD}),
    st.fixed_dictionaries({"type": st.sampled_from(["ping", "presence"])}, optional={"data": ODD}),
    # Publishing to the fixture's topics ("open" durable, "typed" ephemeral) or to none.
    st.fixed_dictionaries({"type": st.just("publish")}, optional={"data": st.fixed_dictionaries({}, optional={
        "topic": st.sampled_from(["open", "typed", "missing", "a.b", ""]) | ODD,
        "data": st.dictionaries(st.text(max_size=8), ODD, max_size=4) | ODD,
        "event": st.sampled_from(["typing", "a.b", "x" * 65]) | ODD, "self": ODD, "messageId": SUB_ID}) | ODD}),
    st.fixed_dictionaries({}, optional={"type": ODD, "data": ODD}),
    ODD,
)
# Subscribe messages shaped like the attacks on the index and the log: as many channels as fit
# (each item at most 100), every item replaying from the beginning.
WIDE_SUBSCRIBE = st.builds(
    lambda items, per, since: {"type": "subscribe", "data": [
        {"subscriptionId": f"w{i}", "channels": [f"c{i}.{j}" for j in range(per)], **({"since": "beginning"} if since else {})}
        for i in range(items)]},
    st.integers(1, 90), st.integers(1, 110), st.booleans())
FRAMES = st.one_of(
    MESSAGE.map(lambda m: ("text", json.dumps(m))),
    WIDE_SUBSCRIBE.map(lambda m: ("text", json.dumps(m, separators=(",", ":")))),
    st.text().map(lambda t: ("text", t)),
    _huge(60_000, 100_000).map(lambda t: ("text", t)),
    st.integers(1, 30_000).map(lambda d: ("text", "[" * d + "]" * d)),
    st.integers(1, 2_400).map(lambda d: ("text", json.dumps(
        {"type": "subscribe", "data": [{"channels": ["rows"], "queries": [_deep_and(d)]}]}))),
    st.integers(1, 520).map(lambda d: ("text", '{"type":"subscribe","data":[{"channels":["rows"],"queries":['
                                       + _deep_and(d) + "]}]}")),
    st.binary(max_size=200).map(lambda b: ("binary", b)),
    MESSAGE.map(lambda m: ("binary", json.dumps(m).encode())),
    st.binary(min_size=1, max_size=40).map(lambda b: ("badtext", b + b"\xff")),
)


# --- WebSocket ----------------------------------------------------------------------------------

ERROR_CODES = {1003, 1009, 1013}
LEGIT_CLOSES = {1007}  # a text frame that is not UTF-8 (RFC 6455 §8.1)
PER_CONNECTION = 100  # frames per connection: under the default 120 messages a minute
MAX_MESSAGE = 64_000  # bytes: a larger message closes the connection (1009)


def _recv(ws, timeout: float = 10) -> dict:
    return json.loads(ws.recv(timeout=timeout))


class FrameFuzzer:
    """One connection reused for a batch of frames; a fresh one after a legitimate close."""

    def __init__(self, server) -> None:
        self.server, self.ws, self.sent, self.subscribed = server, None, 0, False

    def connect(self) -> None:
        if self.ws is not None:
            self.ws.close()
        self.ws = connect(self.server.ws_url, max_size=None)
        assert _recv(self.ws)["type"] == "connected"
        self.sent, self.subscribed = 0, False

    def send(self, kind: str, payload: str | bytes) -> dict | None:
        if self.ws is None or self.sent >= PER_CONNECTION:
            self.connect()
        self.sent += 1
        too_big = len(payload.encode() if isinstance(payload, str) else payload) > MAX_MESSAGE
        try:
            self.ws.send(payload, text=kind != "binary")
            frame = self.reply()
        except ConnectionClosed as e:
            code = e.rcvd.code if e.rcvd else None
            self.ws = None
            assert code in LEGIT_CLOSES and kind == "badtext", f"closed with {code} after {kind} {payload[:300]!r}"
            return None
        if too_big:  # refused from its header: the error frame, then close 1009
            assert frame["type"] == "error" and frame["data"]["code"] == 1009, frame
            with pytest.raises(ConnectionClosed) as closed:
                self.ws.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
            self.ws = None
        return frame

    def reply(self) -> dict:
        """The reply to the frame just sent; events of earlier subscriptions may come first."""
        while True:
            frame = _recv(self.ws)
            kind, data = frame.get("type"), frame.get("data")
            if kind in ("event", "gap"):
                assert self.subscribed, frame
                continue
            assert kind in ("error", "response", "pong"), frame
            if kind == "error":
                # A refused publish may also say what HTTP would: no such topic, not allowed, too many.
                codes = ERROR_CODES | {401, 404, 429} if data.get("to") == "publish" else ERROR_CODES
                assert data["code"] in codes and isinstance(data["message"], str) and data["message"], frame
            if kind == "response":
                assert data["success"] is True and data["to"] in ("subscribe", "unsubscribe", "publish"), frame
                self.subscribed |= data["to"] == "subscribe"
            return frame


def _is_ping(kind: str, payload: str | bytes) -> bool:
    """A well-formed ping under the size limit (it must get a pong, whatever else it carries)."""
    try:
        message = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return False
    return kind == "text" and len(payload) <= 64_000 and isinstance(message, dict) and message.get("type") == "ping"


def _neighbour(server, channel: str = f"tablesdb.{DB}.tables.open.rows"):
    ws = connect(server.ws_url)
    assert _recv(ws)["type"] == "connected"
    ws.send(json.dumps({"type": "subscribe", "data": [{"subscriptionId": "n", "channels": [channel]}]}))
    assert _recv(ws)["type"] == "response"
    return ws


def _await_row(ws, row_id: str) -> None:
    while True:
        frame = _recv(ws, 5)
        assert frame["type"] == "event", frame
        if frame["data"]["payload"]["$id"] == row_id:
            return


def test_websocket_frames_get_only_error_frames(fz):
    server = fz
    neighbour = _neighbour(server)
    fuzzer = FrameFuzzer(server)
    admin = server.admin()
    count = 0

    @fuzz(250)
    @given(frame=FRAMES)
    def one(frame):
        nonlocal count
        kind, payload = frame
        reply = fuzzer.send(kind, payload)
        if reply is not None and _is_ping(kind, payload):
            assert reply == {"type": "pong"}
        count += 1
        if count % 20 == 0:  # live events run the fuzzed subscriptions' queries against real rows
            r = admin.post(f"/tablesdb/{DB}/tables/open/rows", json={"rowId": "unique()", "data": ROW_DATA})
            assert r.status_code == 201, r.text

    one()
    assert server.proc.poll() is None
    assert httpx.get(f"{server.endpoint}/health").status_code == 200
    r = admin.post(f"/tablesdb/{DB}/tables/open/rows", json={"rowId": "after-fuzz", "data": ROW_DATA})
    assert r.status_code == 201, r.text
    _await_row(neighbour, "after-fuzz")
    assert fuzzer.send("text", '{"type":"ping"}') == {"type": "pong"}
    neighbour.close()
    admin.close()


# --- REST: schemathesis over the OpenAPI description ----------------------------------------------


PINNED = {"databaseId": DB, "rowId": "r1", "key": "n", "column": "n"}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def flatmap_path_parameters(context, path_parameters):
    """Half the cases reach existing resources (fz, open or typed, r1, n) rather than 404s."""
    if not path_parameters:
        return st.just(path_parameters)
    pinned = st.sampled_from(["open", "typed"]).map(
        lambda table: {name: table if name in ("tableId", "topicId") else PINNED[name] for name in path_parameters})
    return st.just(path_parameters) | pinned


@pytest.fixture(scope="module")
def api_schema(fz):
    raw = httpx.get(f"{fz.endpoint}/openapi.json").json()
    for item in raw["paths"].values():  # the boundary values of the coverage phase reach the fixture too
        for param in item.get("parameters", []):
            param["example"] = PINNED.get(param["name"], "open")
    schema = schemathesis.openapi.from_dict(raw)
    schema.config.update(base_url=fz.endpoint, headers={"X-Appwrite-Project": fz.project, "X-Appwrite-Key": fz.api_key})
    schema.hook(flatmap_path_parameters)
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(scope="module")
def clients(fz):
    """One HTTP session for schemathesis and one admin client, reused: a new one per call is slow."""
    with requests.Session() as session, fz.admin() as admin:
        yield session, admin


@schema.parametrize()
@fuzz(20)
def test_rest_operations_never_5xx(case, clients):
    session, c = clients
    response = case.call_and_validate(session=session, checks=CHECKS)
    if "topicId" in case.path_parameters and response.status_code == 204:
        _ensure_fixture(c)  # a fuzzed DELETE removed a topic: put it back
    if case.path_parameters.get("databaseId") == DB and response.status_code in (202, 204):
        if response.status_code == 202:  # a new column or a delete changed the fixture: put it back
            c.delete(f"/tablesdb/{DB}/tables/{case.path_parameters['tableId']}/columns/{response.json()['key']}")
        else:
            _ensure_fixture(c)


# --- REST: queries and bodies ------------------------------------------------------------------------

LIST_PATHS = [f"/tablesdb/{DB}/tables/open/rows", f"/tablesdb/{DB}/tables/typed/rows",
              f"/tablesdb/{DB}/tables/open/rows/r1", "/tablesdb", f"/tablesdb/{DB}/tables"]
ROW_BODIES = st.one_of(
    st.fixed_dictionaries({"rowId": st.just("unique()")}, optional={"data": ODD, "permissions": ODD}),
    st.fixed_dictionaries({"rows": st.lists(st.dictionaries(st.text(max_size=8), ODD, max_size=4), max_size=3) | ODD}),
    st.fixed_dictionaries({}, optional={"data": ODD, "permissions": ODD, "value": ODD, "min": ODD, "max": ODD}),
)
# Numbers as JSON text: big integers, NaN and Infinity (json.dumps writes them) are part of the test.
NUMBERS = st.integers() | st.floats() | st.sampled_from(["1e999", "-1e999", "NaN", "1" * 5000])


def _assert_client_error(r: httpx.Response) -> None:
    what = f"{r.request.method} {str(r.request.url)[:300]} {r.request.content[:300]!r}: {r.status_code} {r.text[:300]}"
    assert r.status_code < 500, what
    if r.status_code >= 400:
        assert r.headers.get("content-type") == "application/json", what
        body = r.json()
        assert body["code"] == r.status_code and body["type"] and body["message"], body


def test_rest_queries_never_5xx(fz):
    admin, guest = fz.admin(), fz.guest()

    @fuzz(200)
    @given(queries=st.lists(REST_QUERY, max_size=3),
           path=st.sampled_from(LIST_PATHS), as_guest=st.booleans())
    def one(queries, path, as_guest):
        assume(sum(len(quote(q)) for q in queries) < 60_000)  # the HTTP parser takes at most 64 KiB of URL
        client = guest if as_guest else admin
        _assert_client_error(client.get(path, params={f"queries[{i}]": q for i, q in enumerate(queries)}))

    one()
    admin.close()
    guest.close()


def test_rest_bodies_never_5xx(fz):
    admin = fz.admin()
    t = f"/tablesdb/{DB}/tables"

    @fuzz(200)
    @given(body=ROW_BODIES | ODD, number=NUMBERS, depth=st.integers(0, 1_100),
           target=st.sampled_from([("POST", "/open/rows"), ("POST", "/typed/rows"), ("PATCH", "/open/rows/r1"),
                                   ("PUT", "/open/rows/r2"), ("PATCH", "/open/rows/r1/n/increment"),
                                   ("PATCH", "/typed/rows/r1/n/decrement"), ("POST", "/typed/columns/integer")]))
    def one(body, number, depth, target):
        method, path = target
        text = json.dumps(body)
        if isinstance(body, dict) and depth:  # a deeply nested or odd number inside a well-shaped body
            nested = "[" * depth + str(number) + "]" * depth
            text = text[:-1] + ("," if len(body) else "") + f'"data":{{"deep":{nested}}},"value":{number}}}'
        _assert_client_error(admin.request(method, t + path, content=text,
                                           headers={"content-type": "application/json"}))

    one()
    admin.close()


def test_attack_shapes_over_rest_never_5xx_nor_stall(fz):
    """Role lists of every size on teams and memberships, event-log reads from anywhere: a 4xx
    or a 2xx, each answered within two seconds."""
    with fz.guest() as g:
        anon = g.post("/account/sessions/anonymous", json={})
        token = json.loads(anon.headers["x-fallback-cookies"])[f"a_session_{fz.project}"]
    user = httpx.Client(base_url=fz.endpoint, timeout=10,
                        headers={"X-Appwrite-Project": fz.project, "X-Appwrite-Session": token})
    guest = fz.guest()
    role = st.sampled_from(["owner", "r", "x" * 32, "x" * 33, "", "a b", "-x"]) | st.text(max_size=8) | ODD
    since = st.sampled_from(["beginning", "c1.00000000.0", "2020-01-01T00:00:00Z", "c1.x.1", ""]) | st.text(max_size=20)

    @fuzz(120)
    @given(kind=st.sampled_from(["team", "membership", "events"]), roles=st.lists(role, max_size=150) | ODD,
           since=since, limit=st.integers(-5, 2_000) | st.text(max_size=5), channels=st.lists(st.text(max_size=30), max_size=5))
    def one(kind, roles, since, limit, channels):
        t = time.monotonic()
        # Bodies as JSON text: json.dumps writes NaN and Infinity, which httpx's json= refuses to
        # send; the server must refuse them itself.
        if kind == "team":
            body = json.dumps({"teamId": "unique()", "name": "t", "roles": roles})
            r = user.post("/teams", content=body, headers={"content-type": "application/json"})
            if r.status_code == 201:
                user.delete(f"/teams/{r.json()['$id']}")
        elif kind == "membership":
            r = user.patch("/teams/none/memberships/none", content=json.dumps({"roles": roles}),
                           headers={"content-type": "application/json"})
        else:
            r = guest.get("/events", params={"since": since, "limit": limit, "channels[]": channels})
        _assert_client_error(r)
        assert time.monotonic() - t < 2, f"{kind} took {time.monotonic() - t:.2f}s"

    one()
    user.close()
    guest.close()


# --- regressions: what the fuzzers found ---------------------------------------------------------


def _deep(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


@pytest.fixture
def reg(fz):
    """Database ``reg``, out of the fuzzers' way: table ``t`` (schemaless, read any), row r1 with n=1."""
    with fz.admin() as c:
        c.post("/tablesdb", json={"databaseId": "reg", "name": "reg"})
        c.post("/tablesdb/reg/tables", json={"tableId": "t", "name": "t", "permissions": ['read("any")']})
        assert c.put("/tablesdb/reg/tables/t/rows/r1", json={"data": {"n": 1}}).status_code == 200
    return fz


ROWS = "/tablesdb/reg/tables/t/rows"


@pytest.mark.parametrize("method, path, payload, kind", [
    # A query nested past Python's recursion limit: RecursionError, 500.
    ("GET", ROWS, {"queries[0]": _deep_and(500)}, "general_query_invalid"),
    # Values nested past orjson's 255 levels when bound as SQL: TypeError, 500.
    ("GET", ROWS, {"queries[0]": '{"method":"equal","attribute":"n","values":' + _deep(300) + "}"},
     "general_query_invalid"),
    # Integers past SQLite's 64 bits: OverflowError, 500.
    ("GET", ROWS, {"queries[0]": '{"method":"greaterThan","attribute":"n","values":[1' + "0" * 30 + "]}"},
     "general_query_invalid"),
    ("GET", "/tablesdb", {"queries[0]": '{"method":"offset","values":[99999999999999999999]}'},
     "general_query_invalid"),
    # Row data orjson cannot encode again (deeper than 255 levels; a u64 past the int64 range after +1): 500.
    ("POST", ROWS, '{"rowId":"unique()","data":{"x":' + _deep(300) + "}}", "row_invalid_structure"),
    ("POST", ROWS, '{"rowId":"unique()","data":{"n":18446744073709551615}}', "row_invalid_structure"),
    ("PATCH", ROWS + "/r1/n/increment", '{"value":18446744073709551615}', "row_invalid_structure"),
    # A bound that is not a number: TypeError comparing it, 500.
    ("PATCH", ROWS + "/r1/n/increment", '{"value":1,"max":"10"}', "general_argument_invalid"),
    # NUL in an attribute (SQLite: JSON path error) or a value (PostgreSQL refuses it); an unpaired
    # surrogate, which json.loads lets through and no driver can encode: 500.
    ("GET", ROWS, {"queries[0]": '{"method":"equal","attribute":"\\u0000","values":[1]}'},
     "general_query_invalid"),
    ("GET", ROWS, {"queries[0]": '{"method":"equal","attribute":"n","values":["a\\u0000"]}'},
     "general_query_invalid"),
    ("GET", ROWS, {"queries[0]": '{"method":"equal","attribute":"n","values":["\\ud800"]}'},
     "general_query_invalid"),
    # A system attribute compared with a value of another type: PostgreSQL cannot bind it, 500.
    ("GET", ROWS, {"queries[0]": '{"method": "equal", "attribute": "$id", "values": false}'},
     "general_query_invalid"),
    ("GET", ROWS, {"queries[0]": '{"method":"greaterThan","attribute":"$sequence","values":["x"]}'},
     "general_query_invalid"),
    ("GET", ROWS, {"queries[0]": '{"method":"lessThan","attribute":"$createdAt","values":[5]}'},
     "general_query_invalid"),
    ("POST", ROWS, '{"rowId":"unique()","data":{"s":"a\\u0000"}}', "row_invalid_structure"),
    ("POST", ROWS, '{"rowId":"unique()","data":{"a\\u0000":1}}', "row_invalid_structure"),
    # NUL where only PostgreSQL objects (a name, an id in the path): 500 there; any 4xx will do.
    ("POST", "/tablesdb", '{"databaseId":"unique()","name":"a\\u0000"}', None),
    ("POST", "/tablesdb/reg/tables/t/columns/enum", '{"key":"e","required":false,"elements":["a\\u0000"]}', None),
    ("GET", ROWS + "/a%00b", {}, None),
    ("PATCH", ROWS + "/r1/a%00/increment", "{}", None),
])
def test_regression_client_errors_not_500(reg, method, path, payload, kind):
    with reg.admin() as c:
        if isinstance(payload, dict):
            r = c.request(method, path, params=payload)
        else:
            r = c.request(method, path, content=payload, headers={"content-type": "application/json"})
    _assert_client_error(r)
    if kind is not None:
        assert r.status_code == 400 and r.json()["type"] == kind, r.text
    elif r.status_code == 202:  # SQLite keeps the NUL in an enum element: drop the column again
        with reg.admin() as c:
            c.delete("/tablesdb/reg/tables/t/columns/e")


def test_regression_row_too_deep_for_an_event_frame(reg):
    """253 levels fit the store but not the event frame: the event was lost for every subscriber
    (and a later replay of it killed the replaying connection). Such data is refused up front."""
    neighbour = _neighbour(reg, "tablesdb.reg.tables.t.rows")
    with reg.admin() as c:
        r = c.post("/tablesdb/reg/tables/t/rows", content='{"rowId":"deep","data":{"x":' + _deep(253) + "}}",
                   headers={"content-type": "application/json"})
        assert r.status_code == 400 and r.json()["type"] == "row_invalid_structure", r.text
        made = c.post("/tablesdb/reg/tables/t/rows", json={"rowId": "unique()", "data": {"x": 1}})
        assert made.status_code == 201
    _await_row(neighbour, made.json()["$id"])  # on PostgreSQL the fixture's r1 may be delivered first
    neighbour.close()


@pytest.mark.parametrize("query", [json.dumps(_deep_and(500)), _deep_and(505)], ids=["string", "object"])
def test_regression_deep_realtime_query_gets_an_error_frame(fz, query):
    """A deep query (as a JSON string, or as an object inside the frame) raised RecursionError in
    the session: the server closed the socket (1001) without a word. Now it is a 1003 error."""
    fuzzer = FrameFuzzer(fz)
    reply = fuzzer.send("text", '{"type":"subscribe","data":[{"channels":["rows"],"queries":[' + query + "]}]}")
    assert reply["type"] == "error" and reply["data"]["code"] == 1003, reply
    assert "nesting deeper than" in reply["data"]["message"]
    assert fuzzer.send("text", '{"type":"ping"}') == {"type": "pong"}
    fuzzer.ws.close()
