"""The hub delivers an event to exactly the connections authorized to read it (property-based),
and costs in proportion to its candidates."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rtcli.core.event import KEY_ROLE, Controls, Event
from rtcli.core.hub import Hub, HubConnection, Subscription

ROLES = ["guests", "users", "user:a", "user:b", "team:t", "team:t/owner", "member:m", "label:vip", "users/verified"]
EVENT_ROLES = ROLES + ["any"]
CHANNELS = ["rows", "documents", "tablesdb.d.tables.t.rows", "files"]


def make_event(roles, channels=("rows", "tablesdb.d.tables.t.rows"), payload=None) -> Event:
    return Event(project="p", events=["tablesdb.d.tables.t.rows.r.create"], channels=list(channels), roles=list(roles),
                 payload=payload or {"$id": "r"}, timestamp="t", seq=1)


def connect(hub: Hub, i: int, roles, channels, got: dict) -> HubConnection:
    conn = HubConnection(f"c{i}", "p", frozenset(roles), lambda frame, seq, res, ids, i=i: got.setdefault(i, []).append(ids))
    hub.add(conn)
    hub.subscribe(conn, Subscription(f"s{i}", list(channels), []))
    return conn


@settings(max_examples=300, deadline=None)
@given(
    conns=st.lists(st.tuples(st.sets(st.sampled_from(ROLES), min_size=1), st.sets(st.sampled_from(CHANNELS), min_size=1)),
                   min_size=1, max_size=25),
    event_roles=st.sets(st.sampled_from(EVENT_ROLES)),
    keyed=st.sets(st.integers(0, 24)),
)
def test_delivered_exactly_to_authorized(conns, event_roles, keyed):
    hub = Hub()
    got: dict[int, list] = {}
    ev = make_event(sorted(event_roles))
    expected = set()
    for i, (roles, channels) in enumerate(conns):
        if i in keyed:
            roles = {KEY_ROLE}
        connect(hub, i, roles, channels, got)
        on_channel = not set(channels).isdisjoint(ev.channels)
        # The contract, spelled out (not the production ``allows``): a key reads everything;
        # "any" admits everyone; otherwise one role in common.
        authorized = KEY_ROLE in roles or "any" in event_roles or any(r in event_roles for r in roles)
        if on_channel and authorized:
            expected.add(i)
    hub.dispatch(ev)
    assert set(got) == expected
    assert all(len(frames) == 1 for frames in got.values()), "one frame per connection per event"


@settings(max_examples=100, deadline=None)
@given(before=st.sets(st.sampled_from(ROLES), min_size=1), after=st.sets(st.sampled_from(ROLES), min_size=1),
       event_roles=st.sets(st.sampled_from(EVENT_ROLES), min_size=1))
def test_role_refresh_applies_before_matching(before, after, event_roles):
    hub = Hub()
    got: dict[int, list] = {}
    conn = connect(hub, 0, before, ["rows"], got)
    conn.user_id = "a"
    hub.set_roles(conn, frozenset(before), "a")
    ev = make_event(sorted(event_roles))
    ev.controls = Controls(refresh_roles=("a", frozenset(after)))
    hub.dispatch(ev)
    assert (0 in got) == ("any" in event_roles or bool(event_roles & after))
    assert conn.roles == frozenset(after) and list(conn.subscriptions) == ["s0"]


def test_revoked_session_falls_back_to_guest():
    hub = Hub()
    got: dict[int, list] = {}
    conn = connect(hub, 0, {"user:a", "users"}, ["rows"], got)
    hub.set_roles(conn, frozenset({"user:a", "users"}), "a")
    conn.session_id = "s1"
    ev = make_event(["user:a"])
    ev.user_id, ev.controls = "a", Controls(revoke_session="s1")
    hub.dispatch(ev)
    assert got == {} and conn.roles == frozenset({"guests"}) and conn.user_id is None


def test_key_scopes_filter_events():
    hub = Hub()
    got: dict[int, list] = {}
    rows_only = connect(hub, 0, {KEY_ROLE}, ["rows", "files"], got)
    rows_only.scopes = frozenset({"rows.read"})
    files_only = connect(hub, 1, {KEY_ROLE}, ["rows", "files"], got)
    files_only.scopes = frozenset({"files.read"})
    hub.dispatch(make_event([]))
    assert set(got) == {0}


def test_event_touches_only_candidates():
    """An event on one table's channel never looks at connections subscribed elsewhere."""
    hub = Hub()
    got: dict[int, list] = {}
    for i in range(1000):
        connect(hub, i, {"users"}, [f"tablesdb.d.tables.t{i}.rows"], got)
    ev = make_event(["users"], channels=["tablesdb.d.tables.t7.rows"])
    assert list(hub.candidates(ev)) == [hub.connections["c7"]]
    hub.dispatch(ev)
    assert list(got) == [7]


def test_unsubscribe_and_remove_clean_the_index():
    hub = Hub()
    got: dict[int, list] = {}
    a = connect(hub, 0, {"users"}, ["rows", "tablesdb.*.tables.t.rows", "buckets.>"], got)
    connect(hub, 1, {"users", "team:t"}, ["rows", "tablesdb.d.>"], got)
    assert hub.unsubscribe(a, "s0") and not hub.unsubscribe(a, "s0")
    hub.remove(a)
    hub.remove(hub.connections["c1"])
    # Nothing is left behind: exact channels, roles, users and the pattern trie are all empty.
    assert hub._subscribers == {} and hub._holders == {} and hub.by_user == {} and hub._patterns == {}


def test_subscribing_costs_the_same_whatever_the_roles():
    """A connection with thousands of roles adds one index entry per channel, not per role."""
    hub = Hub()
    got: dict[int, list] = {}
    roles = {"users"} | {f"team:t{i}" for i in range(100)} | {f"team:t{i}/r{j}" for i in range(100) for j in range(50)}
    conn = connect(hub, 0, roles, [f"tablesdb.d.tables.t{i}.rows" for i in range(100)], got)
    assert sum(len(s.conns) for s in hub._subscribers.values()) == 100
    hub.subscribe(conn, Subscription("more", [f"c{i}" for i in range(100)], []))
    assert sum(len(s.conns) for s in hub._subscribers.values()) == 200
    hub.dispatch(make_event(["team:t42/r7"], channels=["tablesdb.d.tables.t3.rows"]))
    assert got == {0: [["s0"]]}


def test_held_frames_are_bounded():
    hub = Hub(max_held=3)
    got: dict[int, list] = {}
    conn = connect(hub, 0, {"guests"}, ["rows"], got)
    conn.holding = 1
    for _ in range(3):
        hub.dispatch(make_event(["any"]))
    assert conn.held is not None and len(conn.held) == 3 and not conn.held_overflow
    hub.dispatch(make_event(["any"]))
    assert conn.held is None and conn.held_overflow
    hub.dispatch(make_event(["any"]))
    assert conn.held is None and got == {}


def test_past_the_bound_the_connection_decides_what_becomes_of_a_held_frame():
    hub = Hub(max_held=2)
    got: dict[int, list] = {}
    conn = connect(hub, 0, {"guests"}, ["rows"], got)
    offered = []

    def held_full(held, entry):  # as the policy "latest" does: in the place of the last one
        offered.append(entry[1])
        held[-1] = entry
        return True

    conn.held_full = held_full
    conn.holding = 1
    for seq in (1, 2, 3, 4):
        ev = make_event(["any"])
        ev.seq = seq
        hub.dispatch(ev)
    assert not conn.held_overflow and conn.held is not None
    assert [h[1] for h in conn.held] == [1, 4] and offered == [3, 4]
    conn.held_full = lambda held, entry: False  # as the policy "close" does: the connection overflows
    hub.dispatch(make_event(["any"]))
    assert conn.held_overflow and got == {}


def test_channel_patterns():
    from rtcli.core.channels import pattern_match, valid_pattern

    assert pattern_match("tablesdb.*.tables.messages.rows", "tablesdb.main.tables.messages.rows")
    assert not pattern_match("tablesdb.*.tables.messages.rows", "tablesdb.main.tables.messages.rows.r1")
    assert pattern_match("buckets.>", "buckets.b.files") and pattern_match("buckets.>", "buckets.b")
    assert not pattern_match("buckets.>", "buckets") and not pattern_match("rows.>", "documents.x")
    assert valid_pattern("a.>") and not valid_pattern("a.>.b") and not valid_pattern("a..b")
    hub = Hub()
    got: dict[int, list] = {}
    connect(hub, 0, {"users"}, ["tablesdb.*.tables.t.rows"], got)
    connect(hub, 1, {"users"}, ["tablesdb.>"], got)
    connect(hub, 2, {"users"}, ["buckets.>"], got)
    connect(hub, 3, {"guests"}, ["tablesdb.>"], got)  # may not read
    connect(hub, 4, {"users"}, ["rows", "tablesdb.>"], got)  # exact and pattern: one frame
    hub.dispatch(make_event(["users"], channels=["rows", "tablesdb.d.tables.t.rows", "tablesdb.d.tables.t.rows.r"]))
    assert set(got) == {0, 1, 4} and all(len(v) == 1 for v in got.values())
    # removing the pattern subscription stops delivery
    hub.unsubscribe(hub.connections["c1"], "s1")
    got.clear()
    hub.dispatch(make_event(["users"], channels=["tablesdb.d.tables.t.rows"]))
    assert set(got) == {0, 4}


def test_a_failing_sink_does_not_cost_the_others_the_event():
    hub = Hub()
    got: dict[int, list] = {}
    for i in range(3):
        connect(hub, i, ["guests"], ["rows"], got)

    def broken(frame, seq, res, ids):
        raise RuntimeError("socket went away")
    hub.connections["c1"].sink = broken
    assert hub.dispatch(make_event(["any"])) == 2
    assert set(got) == {0, 2}


def test_cached_ids_follow_subscription_changes():
    """The per-(connection, channel) cache of ids and suffix must never serve stale ids."""
    from rtcli.core.queries import compile_realtime

    hub = Hub()
    got: dict[int, list] = {}
    conn = connect(hub, 0, ["guests"], ["rows"], got)

    def ids_now(payload=None) -> list[str] | None:
        got.clear()
        hub.dispatch(make_event(["any"], payload=payload))
        return got.get(0, [None])[0]

    assert ids_now() == ["s0"]
    assert ids_now() == ["s0"]  # from the cache
    hub.subscribe(conn, Subscription("s1", ["rows"], []))
    assert ids_now() == ["s0", "s1"]
    hub.unsubscribe(conn, "s0")
    assert ids_now() == ["s1"]
    normalised, matcher = compile_realtime(['{"method":"equal","attribute":"n","values":[1]}'])
    hub.subscribe(conn, Subscription("s1", ["rows"], normalised, matcher))  # replaced, now with a query
    assert ids_now({"$id": "r", "n": 2}) is None
    assert ids_now({"$id": "r", "n": 1}) == ["s1"]
    hub.subscribe(conn, Subscription("s2", ["rows"], []))
    assert ids_now({"$id": "r", "n": 2}) == ["s2"]
    hub.set_roles(conn, frozenset({"users"}), "u")
    assert ids_now({"$id": "r", "n": 1}) == ["s1", "s2"]
    got.clear()
    hub.dispatch(make_event(["guests"]))
    assert got == {}, "no longer a guest: the cache must not deliver by the old roles"


def test_a_key_connection_that_signs_in_reads_as_the_user():
    hub = Hub()
    got: dict[int, list] = {}
    conn = connect(hub, 0, {KEY_ROLE}, ["rows", "tablesdb.>"], got)
    hub.dispatch(make_event([]))  # readable by no role: keys only
    assert 0 in got
    hub.set_roles(conn, frozenset({"users", "user:u"}), "u")
    got.clear()
    hub.dispatch(make_event([]))
    assert got == {}
    hub.dispatch(make_event(["user:u"]))
    assert list(got) == [0]
    hub.set_roles(conn, frozenset({KEY_ROLE}), None)
    got.clear()
    hub.dispatch(make_event([]))
    assert list(got) == [0]


def test_a_subscription_is_evaluated_once_per_event_whatever_its_channels():
    """Its queries are the costly part: an event on several of a subscription's channels (or
    patterns) tries them once, matching or not."""
    hub = Hub()
    got: dict[int, list] = {}
    calls: list[str] = []

    def counting(verdict: bool):
        def matcher(payload) -> bool:
            calls.append(payload["$id"])
            return verdict
        return matcher

    conn = HubConnection("c", "p", frozenset({"any"}), lambda frame, seq, res, ids: got.setdefault(0, []).append(ids))
    hub.add(conn)
    channels = ["rows", "tablesdb.d.tables.t.rows", "tablesdb.*.tables.*.rows"]
    hub.subscribe(conn, Subscription("no", channels, ["q"], counting(False)))
    hub.subscribe(conn, Subscription("yes", channels, ["q"], counting(True)))
    hub.dispatch(make_event(["any"]))
    assert calls == ["r", "r"], "each subscription's matcher runs once"
    assert got == {0: [["yes"]]}
    calls.clear()
    assert hub.matching_ids(conn, make_event(["any"])) == ["yes"] and len(calls) == 2
