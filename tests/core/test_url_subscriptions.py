"""The URL's channel list and per-channel query slots, read as Appwrite reads them."""

from __future__ import annotations

from rtcli.core.url_subscriptions import SELECT_ALL, channels, subscriptions


def test_channel_list_forms():
    assert channels([("channels[]", "a"), ("channels[]", "b")]) == ["a", "b"]
    assert channels([("channels[1]", "b"), ("channels[0]", "a"), ("project", "p")]) == ["a", "b"]
    assert channels([("channels", "a"), ("channels", "a"), ("channels[x]", "no")]) == ["a"]


def test_slots_make_subscriptions():
    items = [("rows[0][]", "q1"), ("rows[0][]", "q2"), ("rows[2][]", "q3"), ("files_x[0]", "q4")]
    subs = subscriptions(["rows", "files.x", "other"], items)
    assert list(subs) == [0, 2]
    assert subs[0].channels == ["rows", "files.x", "other"] and subs[0].queries == ["q1", "q2"]
    assert subs[2].channels == ["rows"] and subs[2].queries == ["q3"]


def test_a_channel_without_queries_takes_slot_zero_with_select_all():
    subs = subscriptions(["plain", "rows"], [("rows[0][]", "q1")])
    assert subs[0].channels == ["plain", "rows"] and subs[0].queries == [SELECT_ALL]  # the first to fill it


def test_bare_and_appended_forms():
    subs = subscriptions(["rows"], [("rows[]", "a"), ("rows[]", "b")])
    assert [s.queries for s in subs.values()] == [["a"], ["b"]]
    assert subscriptions(["rows"], [("rows", "a")])[0].queries == ["a"]
    assert subscriptions(["project"], [("project", "default")])[0].queries == [SELECT_ALL]
