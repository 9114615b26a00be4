"""rtcli.tui.model, records and parse: the ring buffer's bound (with marker rows), the filtered view (with pause
and the resources it holds), records' cells, rates and sparklines, and the parsing of what people type into the
forms. (The filter's terms: test_filter.py.)"""

from __future__ import annotations

import json

import pytest

from rtcli.tui.filter import EventFilter
from rtcli.tui.model import EventBuffer, EventView, RateMeter, human_rate, sparkline
from rtcli.tui.records import EventRecord, compact_channel, export_lines
from rtcli.tui.subs import count_by_subscription
from rtcli.tui.parse import parse_channels, parse_json_object, parse_query, query_label, row_target
from tests.tui.fakes import file_event, row_event


def rec(seq: int, action: str = "create", **kw) -> EventRecord:
    return EventRecord(seq, float(seq), row_event(seq, action, **kw).data)


def records(n: int, start: int = 1) -> list[EventRecord]:
    return [rec(i) for i in range(start, start + n)]


# --- records --------------------------------------------------------------------------------


def test_record_cells():
    r = rec(7, "update", table="orders", data={"total": 70, "note": "two words"})
    assert r.action == "update"
    assert r.channel == "tablesdb.main.tables.orders.rows" and r.rid == "row0007"
    assert r.short == "main/orders"
    assert r.summary == 'total=70 note="two words"'
    assert len(r.time) == 12 and r.time.endswith(".007")
    assert json.loads(r.json())["payload"]["$id"] == "row0007"

    f = EventRecord(1, 0.0, file_event(3).data)
    assert f.channel == "buckets.uploads.files" and f.short == "files:uploads" and f.rid == "file0003"
    assert f.summary.startswith("name=photo-3.png mimeType=image/png sizeOriginal=3072")


def test_record_without_payload_id_or_timestamp():
    r = EventRecord(1, 0.0, {"events": ["teams.t1.create"], "channels": ["teams"], "payload": {}})
    assert r.channel == "teams.t1" and r.rid == "" and r.time == "--:--:--.---" and r.summary == ""


def test_compact_channel():
    assert compact_channel("tablesdb.db.tables.t.rows") == "db/t"
    assert compact_channel("databases.db.collections.t.documents") == "db/t"
    assert compact_channel("functions.f1.executions") == "exec:f1"
    assert compact_channel("teams.t1.memberships") == "team:t1"
    assert compact_channel("account") == "account"


# --- ring buffer ----------------------------------------------------------------------------


def test_buffer_is_bounded_and_counts_what_left():
    buf = EventBuffer(5)
    assert buf.extend(records(3)) == 0
    assert buf.extend(records(4, start=4)) == 2
    assert len(buf) == 5 and buf.dropped == 2 and buf.total == 7
    assert [r.seq for r in buf.records] == [3, 4, 5, 6, 7] and buf.first_seq == 3
    # Skipped events (the feed fell a whole buffer behind) count as having left too.
    assert buf.extend(records(1, start=20), skipped=10) == 11
    assert buf.dropped == 13 and buf.total == 18 and len(buf) == 5


def test_buffer_never_grows_past_its_capacity():
    buf = EventBuffer(100)
    for start in range(1, 10_001, 250):
        buf.extend(records(250, start=start))
        assert len(buf) <= 100
    assert buf.dropped == 10_000 - 100


def test_buffer_capacity_must_be_positive():
    with pytest.raises(ValueError):
        EventBuffer(0)


def test_view_follows_the_buffer_and_trims_with_it():
    buf = EventBuffer(4)
    view = EventView(buf)
    batch = records(3)
    buf.extend(batch)
    assert view.add(batch) == (3, 0)
    batch = records(3, start=4)
    buf.extend(batch)
    assert view.add(batch) == (3, 2)
    assert [r.seq for r in view.shown()] == [3, 4, 5, 6] and view.visible == 4
    assert view.index_of(5) == 2 and view.index_of(1) is None


def test_view_with_a_filter_and_rebuild():
    buf = EventBuffer(100)
    rs = [rec(1, "create"), rec(2, "delete"), rec(3, "update"), rec(4, "delete")]
    buf.extend(rs)
    view = EventView(buf)
    view.add(rs)
    view.set_filter(EventFilter.parse("*.rows.*.delete"))
    assert [r.seq for r in view.shown()] == [2, 4]
    new = [rec(5, "delete"), rec(6, "create")]
    buf.extend(new)
    assert view.add(new) == (1, 0)
    assert [r.seq for r in view.shown()] == [2, 4, 5]
    view.set_filter(EventFilter())
    assert view.visible == 6


def test_markers_take_a_place_but_are_not_events():
    buf = EventBuffer(3)
    view = EventView(buf, EventFilter.parse("action:delete"))
    rs = records(2)
    buf.extend(rs)
    view.add(rs)
    marker = EventRecord.marker(3, 3.0, "reconnected")
    assert buf.mark(marker) == 0 and buf.total == 2 and len(buf) == 3
    view.add([marker])
    assert [r.seq for r in view.shown()] == [3]  # a marker passes every filter
    assert marker.is_marker and marker.summary == "reconnected" and marker.action == ""
    assert list(export_lines([*rs, marker])) == list(export_lines(rs))
    assert buf.mark(EventRecord.marker(4, 4.0, "gap")) == 1 and buf.dropped == 1


def test_group_is_the_short_resource_without_computing_the_cells():
    for data in (row_event(3, "update").data, file_event(4).data,
                 {"events": ["users.u1.update.name", "users.*.update.name"], "channels": ["users"],
                  "payload": {"$id": "u1"}},
                 {"events": ["teams.*.create"], "channels": ["teams"], "payload": {"$id": "t1"}}):
        r = EventRecord(1, 0.0, data)
        group = r.group
        assert group == r.short


def test_view_counts_its_resources():
    buf = EventBuffer(3)
    view = EventView(buf)
    rs = [rec(1), rec(2, table="orders"), rec(3)]
    buf.extend(rs)
    view.add(rs)
    assert view.resources == {"main/messages": 2, "main/orders": 1}
    more = [rec(4), rec(5)]
    buf.extend(more)
    view.add(more)  # 1 and 2 leave the buffer: orders is gone
    assert view.resources == {"main/messages": 3}
    view.set_filter(EventFilter.parse("row0005"))
    assert view.resources == {"main/messages": 1}


def test_frozen_view_hides_and_counts_new_rows():
    buf = EventBuffer(6)
    view = EventView(buf)
    first = records(3)
    buf.extend(first)
    view.add(first)
    view.freeze()
    more = records(2, start=4)
    buf.extend(more)
    view.add(more)
    assert view.visible == 3 and view.hidden == 2
    assert [r.seq for r in view.shown()] == [1, 2, 3]
    # A filter change while frozen keeps the freeze point.
    view.set_filter(EventFilter.parse("row0004 -nothing"))
    assert view.visible == 0 and view.hidden == 1
    view.set_filter(EventFilter())
    # Eviction while frozen takes the oldest visible rows first.
    even_more = records(4, start=6)
    buf.extend(even_more)
    view.add(even_more)
    assert [r.seq for r in view.shown()] == [] and view.hidden == 6
    view.thaw()
    assert view.visible == 6 and view.hidden == 0


# --- rates ----------------------------------------------------------------------------------


def test_rate_meter():
    m = RateMeter(keep=10)
    for second in range(100, 110):
        m.add(50, second + 0.5)
    assert m.total == 500
    # the last three full seconds and the current half second: 200 events over 3.5 s
    assert m.rate(109.5) == pytest.approx(200 / 3.5)
    assert m.history(110.0, 4) == [50, 50, 50, 50]
    assert m.history(112.0, 4) == [50, 50, 0, 0]
    assert m.rate(200.0) == 0
    m.add(0, 300.0)
    assert len(m.buckets) <= 10


def test_rate_meter_keeps_only_recent_buckets():
    m = RateMeter(keep=5)
    for second in range(1000):
        m.add(1, float(second))
    assert len(m.buckets) == 5


def test_sparkline_and_rates():
    assert sparkline([0, 0]) == "▁▁"
    assert sparkline([0, 7, 14]) == "▁▅█"
    assert sparkline([]) == ""
    assert human_rate(0.5) == "0.5/s" and human_rate(1234) == "1,234/s" and human_rate(25_000) == "25k/s"


def test_count_by_subscription():
    rs = [rec(1, subs=("a",)), rec(2, subs=("a", "b")), rec(3, subs=())]
    assert count_by_subscription(rs) == {"a": 2, "b": 1}


# --- what people type -----------------------------------------------------------------------


def test_parse_query_short_and_json():
    assert json.loads(parse_query("n>=2")) == {"method": "greaterThanEqual", "attribute": "n", "values": [2]}
    assert json.loads(parse_query("status=open")) == {"method": "equal", "attribute": "status", "values": ["open"]}
    assert json.loads(parse_query('tag=["a","b"]'))["values"] == ["a", "b"]
    assert json.loads(parse_query("x!=1"))["method"] == "notEqual"
    assert json.loads(parse_query('{"method":"isNull","attribute":"x"}')) == {"method": "isNull", "attribute": "x"}
    for bad in ("nonsense", "{not json", '{"attribute":"x"}'):
        with pytest.raises(ValueError):
            parse_query(bad)


def test_query_label():
    assert query_label(parse_query("n>=2")) == "n>=2"
    assert query_label('{"method":"isNull","attribute":"x"}') == "isNull(x)"
    assert query_label("garbage") == "garbage"


def test_parse_channels_and_json():
    assert parse_channels(" rows, files  rows ") == ["rows", "files"]
    assert parse_json_object('{"a": 1}') == {"a": 1}
    assert parse_json_object("") == {}
    with pytest.raises(ValueError, match="JSON object"):
        parse_json_object("[1]")
    with pytest.raises(ValueError, match="not valid JSON"):
        parse_json_object("{")


def test_row_target_and_export():
    assert row_target(rec(1, table="orders")) == ("main", "orders")
    assert row_target(EventRecord(1, 0.0, file_event(1).data)) == ("", "")
    assert row_target(None) == ("", "")
    lines = list(export_lines([rec(1), rec(2)]))
    assert all(line.endswith("\n") and "\n" not in line[:-1] for line in lines)
    assert [json.loads(line)["payload"]["$id"] for line in lines] == ["row0001", "row0002"]


def test_lazy_cells_match_the_client_event():
    """The record computes its cells on first use, from rtcli.client's Event."""
    from rtcli.client.realtime import Event

    data = row_event(3, "upsert").data
    r = EventRecord(1, 0.0, data)
    assert r._cells is None
    e = Event(data)
    assert r.action == e.action == "upsert"
    assert f"{r.channel}.{r.rid}" == e.resource
    assert r._cells is not None
