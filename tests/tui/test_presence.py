"""rtcli.tui.presence: the presence board (events in place, departures that linger, the snapshot
merged with events that raced it, reloads), the entries' ages and expiries, and the pane's
column widths."""

from __future__ import annotations

from rtcli.tui.presence import (
    CREATE, DELETE, UPDATE, PresenceBoard, PresenceEntry, human_duration, is_presence_event, parse_time,
)
from rtcli.tui.widgets.presences import presence_columns, status_kind
from tests.tui.fakes import presence_event, presence_model, row_event, sample_presences

WALL = parse_time("2026-01-15T10:05:00.000+00:00")


def ev(model: dict, action: str) -> dict:
    return presence_event(model, action).data


def loaded(models=None, now: float = 0.0) -> PresenceBoard:
    board = PresenceBoard(highlight=3.0)
    token = board.begin_load()
    assert board.finish_load(token, sample_presences() if models is None else models, now)
    return board


def ids(board: PresenceBoard) -> list[str]:
    return [e.id for e in board.rows()]


def test_first_load_in_server_order_without_highlights():
    board = loaded()
    assert ids(board) == ["kiosk-3", "tab-ada-1", "tab-grace", "tab-6f1c"]  # created, then id
    assert len(board) == 4 and board.loaded and not board.loading and board.loads == 1
    assert all(e.flash(0.0) == "" for e in board.rows())


def test_create_update_delete_in_place_and_highlighted():
    board = loaded()
    grace = sample_presences()[1]
    assert board.apply(ev({**grace, "status": "online", "metadata": {"name": "Grace Hopper", "page": "/x"}}, "update"),
                       10.0)
    entry = board.entries["tab-grace"]
    assert entry.status == "online" and entry.flash(10.0) == UPDATE and entry.changed == {"status", "metadata"}
    assert ids(board)[2] == "tab-grace"  # an update does not move the row
    assert entry.flash(13.0) == ""  # the highlight lasts `highlight` seconds

    new = presence_model("tab-new", "linus", created="10:04:00")
    assert board.apply(ev(new, "create"), 11.0)
    assert ids(board)[-1] == "tab-new" and board.entries["tab-new"].flash(11.0) == CREATE

    assert board.apply(ev(sample_presences()[0], "delete"), 12.0)
    gone = board.entries["tab-ada-1"]
    assert gone.gone and gone.flash(100.0) == DELETE and len(board) == 4  # listed, not counted
    assert not board.prune(14.9) and "tab-ada-1" in board.entries
    assert board.prune(15.0) and "tab-ada-1" not in board.entries
    assert not board.apply(ev(sample_presences()[0], "delete"), 16.0)  # already gone: no change


def test_a_realtime_presence_refreshing_its_expiry_is_no_visible_change():
    board = loaded()
    ada = sample_presences()[0]
    board.apply(ev({**ada, "expiresAt": "2026-01-15T10:40:00.000+00:00"}, "update"), 1.0)
    assert board.entries["tab-ada-1"].changed == frozenset()  # only the mark shows the update
    kiosk = sample_presences()[2]  # an API presence: its expiry is shown, so it is a change
    board.apply(ev({**kiosk, "expiresAt": "2026-01-15T18:00:00.000+00:00"}, "update"), 1.0)
    assert board.entries["kiosk-3"].changed == {"expires_at"}


def test_a_presence_that_comes_back_is_a_create():
    board = loaded()
    ada = sample_presences()[0]
    board.apply(ev(ada, "delete"), 1.0)
    board.apply(ev({**ada, "status": "away"}, "create"), 2.0)
    entry = board.entries["tab-ada-1"]
    assert not entry.gone and entry.status == "away" and entry.flash(2.0) == CREATE


def test_other_events_are_ignored():
    board = loaded()
    before = board.changes
    assert not board.apply(row_event(1).data, 1.0)
    assert not is_presence_event(row_event(1).data) and is_presence_event(ev(sample_presences()[0], "create"))
    assert board.changes == before


def test_events_during_a_load_win_over_the_snapshot():
    """The snapshot may be older than an event that arrived while it was read: the event wins,
    a presence the event deleted stays deleted, and one it created stays."""
    ada, grace, kiosk, anon = sample_presences()
    board = PresenceBoard()
    token = board.begin_load()
    board.apply(ev({**ada, "status": "away"}, "update"), 1.0)  # unknown yet: taken as it comes
    board.apply(ev(grace, "create"), 1.0)
    board.apply(ev(grace, "delete"), 1.5)
    late = presence_model("tab-late", "late", created="10:04:59")
    board.apply(ev(late, "create"), 2.0)
    assert board.finish_load(token, [ada, grace, kiosk, anon], 3.0)  # read before those events
    assert board.entries["tab-ada-1"].status == "away"
    assert board.entries["tab-grace"].gone
    assert "tab-late" in board.entries and not board.entries["tab-late"].gone
    assert {"kiosk-3", "tab-6f1c"} <= set(board.entries)


def test_a_reload_highlights_what_changed_while_away():
    ada, grace, kiosk, anon = sample_presences()
    board = loaded([ada, grace, kiosk, anon])
    newcomer = presence_model("tab-new", "new", created="10:04:00")
    token = board.begin_load()  # after a reconnect
    assert board.finish_load(token, [ada, {**grace, "status": "online"}, kiosk, newcomer], 50.0)
    assert board.entries["tab-grace"].flash(50.0) == UPDATE and board.entries["tab-grace"].changed == {"status"}
    assert board.entries["tab-new"].flash(50.0) == CREATE
    assert board.entries["tab-6f1c"].gone  # left while we were away
    assert board.entries["tab-ada-1"].flash(50.0) == ""  # unchanged
    assert board.prune(53.0) and "tab-6f1c" not in board.entries and board.loads == 2


def test_a_stale_or_failed_load_changes_nothing():
    board = loaded()
    old = board.begin_load()
    new = board.begin_load()
    assert not board.finish_load(old, [], 1.0)  # a newer load is under way
    assert len(board) == 4 and board.loading
    board.fail_load(new, "HTTP 401")
    assert board.error == "HTTP 401" and not board.loading and len(board) == 4
    token = board.begin_load()
    assert board.finish_load(token, [], 2.0) and board.error is None
    assert all(e.gone for e in board.entries.values())


def test_names_ages_expiries_and_summary():
    board = loaded()
    kiosk, ada, grace, anon = board.rows()
    assert board.name_of(ada) == "Ada Lovelace"  # from the metadata
    assert board.name_of(anon) == "6f1c2e9a0b7d4c3e"  # the user ID when nothing better is known
    board.set_name("6f1c2e9a0b7d4c3e", "Me", me=True)
    assert board.name_of(anon) == "Me" and board.me == "6f1c2e9a0b7d4c3e"
    assert ada.age(WALL) == "53m" and anon.age(WALL) == "4m" and kiosk.age(WALL) == "2h"
    assert ada.expiry(WALL) == "with socket"  # realtime: no countdown, the server refreshes it
    assert kiosk.expiry(WALL) == "in 1h" and kiosk.expiry(WALL + 7200) == "expired"
    api = PresenceEntry.from_model(presence_model("x", "u", source="api"))
    assert api.expiry(WALL) == "never"
    assert ada.summary(80, skip=ada.name_key()) == "page=/orders typing=false"
    assert len(ada.summary(12)) == 12 and ada.summary(12).endswith("…")
    assert [human_duration(s) for s in (-5, 0, 59, 60, 3599, 3600, 86400 * 3)] == ["0s", "0s", "59s", "1m", "59m",
                                                                                  "1h", "3d"]
    assert parse_time("nope") is None and parse_time("") is None


def test_columns_fit_the_width():
    for width in (40, 59, 75, 76, 109, 110, 128, 200):
        cols = presence_columns(width)
        shown = [c for c in cols if c]
        assert sum(shown) + len(shown) - 1 <= width or cols[-1] == 0, width
    assert presence_columns(59)[5] == 0 and presence_columns(59)[6] == 0  # narrow: no expiry, no ID
    assert presence_columns(128)[6] == 16
    assert [status_kind(s) for s in ("Online", "away", "offline", "coding")] == ["on", "away", "off", "other"]
