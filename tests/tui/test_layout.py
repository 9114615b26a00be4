"""rtcli.tui.layout, describe and subs: the table's columns follow the width and what varies, the panes'
arrangement, the detail pane's lines (payload first, user fields before `$` fields, values never cut in the
middle, collapsed names, subscriptions by name), a row's expansion, subscription names and the notes for
subscriptions that cannot receive anything. Pure functions, no Textual."""

from __future__ import annotations

import pytest

from rtcli.tui.describe import (
    detail_lines, expansion_lines, failed_checks, plain, telling_channels, telling_events, wrap_dotted,
)
from rtcli.tui.layout import Shape, pane_shape, table_columns
from rtcli.tui.records import EventRecord
from rtcli.tui.subs import SubscriptionState, reception_note, unique_name
from tests.tui.fakes import row_event


def test_a_resource_shared_by_every_row_gives_its_cells_to_the_summary():
    one = table_columns(56, {"main/messages"})
    two = table_columns(56, {"main/messages", "files:uploads"})
    assert one.resource == 0 and two.resource == len("main/messages")
    assert one.summary == two.summary + two.resource + 1
    for width in (40, 56, 80, 120, 200):
        for cols in (table_columns(width, {"a"}), table_columns(width, {"a/b", "c/dddd"})):
            assert sum(cols.widths()) + len(cols.widths()) - 1 == width


@pytest.mark.parametrize("width, time, rid", [(56, 8, 8), (80, 12, 10), (150, 12, 20)])
def test_narrow_tables_keep_seconds_and_shorter_ids(width, time, rid):
    cols = table_columns(width, {"x"})
    assert (cols.time, cols.id) == (time, rid)
    assert cols.summary >= width // 2


def test_pane_shapes():
    assert pane_shape(True, True, True) is Shape.SIDE
    assert pane_shape(False, True, True) is Shape.SPLIT  # 80x24 with every pane: detail and presences side by side
    assert pane_shape(False, True, False) is Shape.STACK and pane_shape(True, False, True) is Shape.STACK


def record(data=None, subs=("s1", "s2")) -> EventRecord:
    return EventRecord(1, 0.0, row_event(12, "update", subs=subs, data=data or {"text": "hello", "n": 3}).data)


def test_detail_shows_the_payload_first_user_fields_before_system_fields():
    lines = plain(detail_lines(record(), 40, {"s1": "rows", "s2": "main/messages"}.get)).splitlines()
    assert lines[0] == "update row0012" and lines[1].startswith("10:00:12.012  main/messages")
    body = [line.split()[0] for line in lines[3:] if line.strip()]
    assert body.index("text") < body.index("n") < body.index("system") < body.index("$id")
    assert body.index("$permissions") < body.index("delivery")
    assert "subscriptions  rows, main/messages" in lines


def test_detail_collapses_event_names_and_channels_unless_full():
    r = record()
    short = plain(detail_lines(r, 60, str))
    assert "events (4)" in short and "channels (5)" in short
    assert wrap_dotted("tablesdb.main.tables.messages.rows", 16) == ["tablesdb.main.", "tables.messages.", "rows"]
    assert "… 1 more (f: full screen)" in short and "… 2 more (f: full screen)" in short
    assert short.index("tablesdb.main.tables.messages.rows.row0012.update") < short.index("databases.")
    full = plain(detail_lines(r, 60, str, full=True))
    assert "more (f: full screen)" not in full and all(c in full for c in r.channels)
    assert telling_events(["a.*.x", "databases.a.b", "tablesdb.a.b"])[0] == "tablesdb.a.b"
    assert telling_channels(["rows.create", "tablesdb.d.tables.t.rows", "rows"])[:2] == ["rows", "tablesdb.d.tables.t.rows"]


@pytest.mark.parametrize("width", [24, 30, 36, 60])
def test_dates_are_never_cut_in_the_middle(width):
    lines = plain(detail_lines(record(), width, str)).splitlines()
    stamp = '"2026-01-15T10:00:00.000+00:00"'
    joined = "\n".join(lines)
    if width - 2 >= len(stamp):
        assert stamp in joined
    else:  # too narrow for the whole value: day and time on two lines, each whole
        stripped = [x.strip() for x in lines]
        assert '"2026-01-15' in stripped and 'T10:00:00.000+00:00"' in stripped
    assert all(len(line) <= width for line in lines)  # nothing left for the pane to wrap mid-value


def test_detail_of_an_excluded_event_says_which_subscription():
    text = plain(detail_lines(record(), 80, str, excluded_by="main/orders"))
    assert "not delivered to main/orders: its queries left it out (w: ask the server why)" in text


def test_the_servers_reason_for_an_excluded_event():
    q = '{"method":"greaterThan","attribute":"n","values":[5]}'
    result = {"event": "e", "cursor": "c", "channel": {"channel": "rows", "matches": True, "matched_channels": ["rows"]},
              "permission": {"matches": True, "reason": "readable"},
              "queries": [{"query": q, "matches": False, "reason": "n = 1 does not satisfy greaterThan [5]"}],
              "drops": [], "verdict": "not delivered"}
    assert failed_checks(result) == ["query 1: n = 1 does not satisfy greaterThan [5]  (n>5)"]
    text = plain(detail_lines(record(), 40, str, excluded_by="big", why=failed_checks(result)))
    assert "✗ not delivered to big; the server says:" in text and "w: ask the server why" not in text
    assert "query 1: n = 1 does not satisfy" in text


def test_expansion_lists_the_fields():
    lines = expansion_lines(record({"text": "hi", **{f"f{i}": i for i in range(20)}}), 50, limit=6)
    assert lines[0].startswith("text") and '"hi"' in lines[0]
    assert len(lines) == 6 and lines[-1].startswith("… more in the detail pane")
    assert expansion_lines(EventRecord.marker(1, 0.0, "gap"), 50) == []


def test_subscription_names_and_notes():
    assert unique_name(["tablesdb.main.tables.orders.rows"], []) == "main/orders"
    assert unique_name(["rows"], ["rows", "rows#2"]) == "rows#3"
    assert unique_name(["rows", "files"], []) == "rows,files"
    assert SubscriptionState("x", ["buckets.b.files"]).name == "files:b"
    assert "not an API key's" in reception_note(["executions"], "key")
    assert reception_note(["functions.f1"], "key") is not None
    assert reception_note(["executions"], "session") is None and reception_note(["rows"], "key") is None
    assert "no account" in reception_note(["account"], "guest")
    assert reception_note(["account"], "session") is None
