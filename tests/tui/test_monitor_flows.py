"""`rtcli monitor`'s everyday flows, driven by Textual pilots against a real `rtcli serve`: filter terms that
match the screen, a subscription chosen in the panel (and the events its query left out, greyed), the table's
columns, expanding a row, full screen, the detail pane following the cursor, explain from an event, keys that
belong to a panel, the unsubscribe question, a form that keeps its input when the server refuses, the note for
subscriptions a key cannot receive, screenshots, and the server dying and coming back on the same port and
data directory."""

from __future__ import annotations

import asyncio
import re

import pytest

from rtcli.tui.describe import plain
from rtcli.tui.filter import Verdict
from rtcli.tui.screens.explain import ExplainScreen
from rtcli.tui.screens.forms import ConfirmScreen, CreateRowScreen
from rtcli.tui.screens.help import HelpScreen
from tests.conftest import start_server
from tests.tui.test_monitor import add_rows, make_table, monitor_app, ready, screen_text, shown_ids, until, write
from textual.widgets import Input, Static, TextArea


def footer(app) -> str:
    return screen_text(app).splitlines()[-1]


async def three_kinds(server, db: str, table: str) -> tuple[list[str], str, str]:
    """Three creates, one update, one delete: (ids, the updated one, the deleted one)."""
    ids = await add_rows(server, db, table, {"text": "apple pie", "n": 1000}, {"text": "banana", "n": 7},
                         {"text": "created by hand", "n": 3})
    await write(server, "PATCH", f"/tablesdb/{db}/tables/{table}/rows/{ids[1]}", {"data": {"n": 8}})
    await write(server, "DELETE", f"/tablesdb/{db}/tables/{table}/rows/{ids[2]}")
    return ids, ids[1], ids[2]


async def filter_to(pilot, screen, text: str) -> list[str]:
    await pilot.press("slash")
    screen.filter_bar.input.value = text
    await pilot.press("enter")
    return [f"{r.action}:{r.rid}" for r in screen.view.shown()]


@pytest.mark.parametrize("size", [(80, 24), (120, 35)])
async def test_filter_terms_match_what_the_table_shows(shared_server, size):
    db, table = make_table(shared_server)
    app = monitor_app(shared_server, f"tablesdb.{db}.tables.{table}.rows")
    async with app.run_test(size=size) as pilot:
        screen = await ready(pilot)
        (a, b, c), updated, deleted = await three_kinds(shared_server, db, table)
        await until(pilot, lambda: screen.view.visible == 5, "five events")
        # Every payload holds $createdAt: a word searches what the row shows, not that.
        assert await filter_to(pilot, screen, "create") == [f"create:{a}", f"create:{b}", f"create:{c}",
                                                             f"delete:{c}"]  # and "created by hand"
        assert await filter_to(pilot, screen, "-create") == [f"update:{b}"]
        assert await filter_to(pilot, screen, "action:create") == [f"create:{a}", f"create:{b}", f"create:{c}"]
        assert await filter_to(pilot, screen, "action:update,delete") == [f"update:{b}", f"delete:{c}"]
        assert await filter_to(pilot, screen, "n=1000") == [f"create:{a}"]  # as the summary shows it
        assert await filter_to(pilot, screen, '"apple pie"') == [f"create:{a}"]
        assert await filter_to(pilot, screen, 'text="created by hand" -action:delete') == [f"create:{c}"]
        assert await filter_to(pilot, screen, "*.rows.*.delete") == [f"delete:{c}"]
        assert screen.focused is screen.table
        await until(pilot, lambda: "1/5" in screen_text(app), "the count of rows shown in the stats")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        help_text = str(app.screen.query_one(Static).render())
        assert all(t in help_text for t in ("action:delete", "key=value", '"a phrase"', "sub:NAME", "-term"))


async def test_choosing_a_subscription_filters_to_it_and_greys_what_its_query_left_out(shared_server):
    db, table = make_table(shared_server)
    channel = f"tablesdb.{db}.tables.{table}.rows"
    app = monitor_app(shared_server, channel)
    async with app.run_test(size=(120, 35)) as pilot:
        screen = await ready(pilot)
        await pilot.press("a")
        app.screen.query_one("#channels", Input).value = channel
        app.screen.query_one("#queries", TextArea).text = "n>5"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: len(screen.subs) == 2 and all(s.confirmed for s in screen.subs), "subscribed")
        big = screen.subs.values()[1]
        assert big.name == f"{db}/{table}#2"  # two subscriptions on one table: told apart
        ids = await add_rows(shared_server, db, table, {"n": 1}, {"n": 9}, {"n": 2})
        await until(pilot, lambda: screen.view.visible == 3 and big.count == 1, "three events, one for n>5")

        screen.sublist.focus()
        screen.sublist.highlighted = 1
        await pilot.press("enter")
        await until(pilot, lambda: screen.view.filter.text == f"sub:{big.name}", "the filter set from the panel")
        assert screen.filter_bar.value == f"sub:{big.name}"
        verdicts = [screen.view.filter.verdict(r) for r in screen.view.shown()]
        assert shown_ids(screen) == ids and verdicts == [Verdict.EXCLUDED, Verdict.SHOWN, Verdict.EXCLUDED]
        await until(pilot, lambda: "#2 ◂" in screen_text(app), "the panel marks the subscription filtered to")
        screen.table.focus()
        await pilot.press("home")
        assert screen.detail.record.rid == ids[0]
        detail = screen.detail
        assert f"not delivered to {big.name}" in str(detail.content)
        # The server's reason, asked on its own (this monitor is a key, so it may explain).
        await until(pilot, lambda: "query 1: n = 1 does not satisfy greaterThan [5] (n>5)"
                    in " ".join(str(detail.content).split()), "the server's reason in the detail pane")
        assert "the server says" in str(detail.content)
        assert "✗ n=1" in screen_text(app)  # greyed and marked in the table

        # Explain it: the server says which query left it out.
        await pilot.press("w")
        explain = app.screen
        assert isinstance(explain, ExplainScreen)
        assert explain.query_one("#channel", Input).value == channel
        assert explain.query_one("#queries", TextArea).text == "n>5"
        await until(pilot, lambda: "NOT DELIVERED" in str(explain.query_one("#verdict").render()), "the verdict")
        verdict = str(explain.query_one("#verdict").render())
        assert "query 1" in verdict and "n = 1 does not satisfy greaterThan [5]" in verdict
        # Ask again as a guest without the query: the table is readable by anyone.
        explain.query_one("#as", Input).value = "guest"
        explain.query_one("#queries", TextArea).text = ""
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "verdict    ✓ DELIVERED" in str(explain.query_one("#verdict").render()),
                    "the guest's verdict")
        assert "a guest" in str(explain.query_one("#verdict").render())
        await pilot.press("escape")

        # Enter again on the same subscription: every event again.
        screen.sublist.focus()
        await pilot.press("enter")
        await until(pilot, lambda: screen.view.filter.empty and screen.view.visible == 3, "the filter cleared")


async def test_table_columns_expand_full_screen_and_a_detail_that_follows(shared_server):
    db, table = make_table(shared_server)
    app = monitor_app(shared_server, f"tablesdb.{db}.tables.{table}.rows")
    async with app.run_test(size=(120, 35)) as pilot:
        screen = await ready(pilot)
        ids = await add_rows(shared_server, db, table, *({"text": f"row {i}", "n": i, "tags": list(range(30))}
                                                         for i in range(3)))
        await until(pilot, lambda: screen.view.visible == 3, "three events")
        table_widget = screen.table
        # One table on every row: no resource column; the title names it and the summary gets the room.
        await until(pilot, lambda: f"Events · {db}/{table}" in screen_text(app), "the resource in the title")
        assert table_widget.columns.resource == 0
        header = next(line for line in screen_text(app).splitlines() if "summary" in line)
        assert "resource" not in header
        # The detail pane follows the cursor at once, and each event starts at the top.
        detail = screen.detail
        await until(pilot, lambda: detail.record is table_widget.selected and not detail.pending,
                    "the detail pane on the newest event")
        detail.scroll_to(y=5, animate=False, immediate=True)
        assert detail.scroll_y == 5  # a long event: the pane scrolls
        await pilot.press("up")
        assert detail.record.rid == ids[1] and detail.scroll_y == 0  # no wait
        await until(pilot, lambda: re.search(r'text +"row 1"', screen_text(app)), "the event in the detail pane")
        assert detail.scroll_y == 0
        # The mouse selects the text where the pane is scrolled to (past the border and the padding).
        detail.scroll_to(y=3, animate=False, immediate=True)
        await pilot.pause()
        line = plain(detail.lines).splitlines()[3]
        await pilot.mouse_down("#detail", offset=(2, 1))
        await pilot.hover("#detail", offset=(12, 2))
        await pilot.mouse_up("#detail", offset=(12, 2))
        selected = screen.get_selected_text()
        assert line.strip() and selected and selected.startswith(line), (line, selected)
        screen.clear_selection()
        table_widget.focus()  # the click focused the pane
        await pilot.pause()
        body = str(detail.content)
        assert body.index("text") < body.index("tags") < body.index("$id")  # user fields first
        assert "subscriptions  " + next(iter(screen.subs)).name in body  # by name, not ID
        # Enter: the row's fields under it.
        lines = table_widget.content_lines
        shown = len(re.findall(r'text +"row 1"', screen_text(app)))  # in the detail pane only, so far
        assert shown == 1
        await pilot.press("enter")
        assert table_widget.expanded is not None and table_widget.content_lines > lines
        await until(pilot, lambda: len(re.findall(r'text +"row 1"', screen_text(app))) > shown,
                    "the expanded fields in the table as well")
        await pilot.press("enter")
        assert table_widget.content_lines == lines
        # f: full screen, every channel; f again: back.
        await pilot.press("f")
        assert screen.maximized is detail and detail.full
        text = screen_text(app)
        assert all(c in text for c in ("rows", "documents")) and "more (f: full screen)" not in text
        assert "Full screen" in footer(app)  # the detail pane's keys
        await pilot.press("f")
        assert screen.maximized is None and screen.focused is table_widget


async def test_keys_belong_to_their_panel_and_unsubscribe_asks(shared_server, tmp_path, monkeypatch):
    app = monitor_app(shared_server, "rows", "files")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        await until(pilot, lambda: "Expand" in footer(app), "the table's keys in the footer")
        assert "Unsubscribe" not in footer(app)
        await pilot.press("m", "x")  # the table has the focus: not the panel's keys
        assert len(screen.subs) == 2 and not any(s.paused for s in screen.subs) and app.screen is screen
        screen.sublist.focus()
        await until(pilot, lambda: "Unsubscribe" in footer(app), "the panel's keys in the footer")
        assert "Expand" not in footer(app)
        screen.sublist.highlighted = 1
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen) and "y Yes" in footer(app)
        await pilot.press("escape")
        assert len(screen.subs) == 2
        await pilot.press("x", "y")
        await until(pilot, lambda: [s.channels for s in screen.subs] == [["rows"]], "files unsubscribed")
        # The filter line's footer is its own: no letter keys that would be typed.
        await pilot.press("slash")
        assert "Pause" not in footer(app)
        await pilot.press("escape")
        assert screen.focused is screen.table
        # Palette entries show their keys; S saves a screenshot where the user is.
        titles = [c.title for c in app.get_system_commands(screen)]
        assert "Create row  (n)" in titles and "Explain the selected event  (w)" in titles
        monkeypatch.chdir(tmp_path)
        await pilot.press("S")
        await until(pilot, lambda: list(tmp_path.glob("*.svg")), "the screenshot in the current directory")


async def test_a_form_keeps_its_input_when_the_server_refuses(shared_server):
    db, table = make_table(shared_server)
    app = monitor_app(shared_server, "rows")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        await pilot.press("n")
        form = app.screen
        assert isinstance(form, CreateRowScreen) and "Submit" in footer(app)
        form.query_one("#db", Input).value = db
        form.query_one("#table", Input).value = "no-such-table"
        form.query_one("#data", TextArea).text = '{"text": "keep me"}'
        await pilot.press("ctrl+s")
        error = form.query_one("#form-error")
        await until(pilot, lambda: "failed" in str(error.render()), "the server's refusal on the form")
        assert "could not be found" in str(error.render()) or "not found" in str(error.render()).lower()
        assert app.screen is form and form.query_one("#data", TextArea).text == '{"text": "keep me"}'
        assert not form.query_one("#data", TextArea).disabled
        form.query_one("#table", Input).value = table  # fix it and send again
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is screen, "the row created")
        await until(pilot, lambda: screen.view.visible == 1, "its event")


async def test_a_key_monitor_says_it_cannot_receive_executions(shared_server):
    app = monitor_app(shared_server, "rows", "executions")
    async with app.run_test(size=(120, 35)) as pilot:
        screen = await ready(pilot)
        rows, executions = screen.subs.values()
        assert rows.note is None and "not an API key's" in executions.note
        await until(pilot, lambda: "! executions" in screen_text(app), "the mark on the subscription")
        assert "● rows" in screen_text(app)


async def test_the_server_dies_and_comes_back(tmp_path):
    """A real server killed, then started again on the same port and data directory: while it is down
    nothing is shown as live; when it is back a marker row says so and the events written meanwhile
    follow it, replayed from the last cursor."""
    server = start_server(tmp_path / "data")
    try:
        db, table = make_table(server)
        app = monitor_app(server, "rows")
        async with app.run_test(size=(120, 35)) as pilot:
            screen = await ready(pilot)
            await until(pilot, lambda: "rtt" in screen_text(app), "the ping")
            first = await add_rows(server, db, table, {"n": 1})
            await until(pilot, lambda: screen.view.visible == 1, "the first event")
            server.stop("kill")
            await until(pilot, lambda: screen.state == "reconnecting", "reconnecting")
            await until(pilot, lambda: "reconnecting in" in screen_text(app), "the countdown in the header")
            text = screen_text(app)
            assert "rtt" not in text and "● rows" not in text and "○ rows" in text and "offline" in text
            assert screen.has_class("-offline") and "not live" in str(screen.presence_pane.border_title)
            assert not any(s.confirmed for s in screen.subs)

            server = start_server(tmp_path / "data", port=server.port)
            # Written before the monitor is back: replayed from its cursor after the marker.
            missed = await add_rows(server, db, table, {"n": 2}, {"n": 3})
            await until(pilot, lambda: screen.state == "connected" and screen.buffer.total == 3,
                        "reconnected and the missed events replayed", timeout=30)
            rows = list(screen.view.shown())
            assert [r.rid for r in rows if not r.is_marker] == first + missed
            assert rows[1].is_marker and "reconnected at" in rows[1].summary and "missed events follow" in rows[1].summary
            assert not screen.has_class("-offline")
            await until(pilot, lambda: "── reconnected at" in screen_text(app) and "● rows" in screen_text(app),
                        "the marker row and a live subscription on screen")
            more = await add_rows(server, db, table, {"n": 4})
            await until(pilot, lambda: shown_ids(screen)[-1:] == more, "live events again")
    finally:
        server.stop()
        await asyncio.sleep(0)

