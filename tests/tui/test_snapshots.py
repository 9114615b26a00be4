"""SVG snapshots of the monitor's states and flows at 80x24 and 120x35: following, the buffer marker,
paused, filtered (by words and globs, and by a subscription with the events its queries left out greyed), a
row expanded, an event full screen, the explain pane, the unsubscribe question, the subscriptions panel's
footer, the forms, help, the presence pane, and the connection lost then back (dimmed, then a marker row).

pytest-textual-snapshot is not used: its pinned syrupy (4.8.0) requires pytest < 9, and this
project runs pytest 9. These tests do the same thing with ``App.export_screenshot()``: the SVG
of each state is compared with the one committed in ``tests/tui/snapshots/``. To accept new
pictures after a deliberate UI change, run with ``RTCLI_UPDATE_SNAPSHOTS=1`` and look at the
changed SVGs (any browser opens them) before committing.

Determinism: a scripted source (fixed ids, timestamps, subscription ids and RTT) and presence
list, a frozen clock for rates, sparklines and highlights, a frozen wall clock for presence ages,
the UTC timezone, and no blinking cursors.
"""

from __future__ import annotations

import difflib
import os
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from rtcli.tui.app import MonitorApp
from rtcli.tui.screens.monitor import MonitorConfig
from tests.services import in_ci
from rtcli.client.realtime import StateChange, Subscribed
from tests.tui.fakes import (
    ScriptedRest, ScriptedSource, presence_event, presence_model, row_event, sample_events, sample_presences,
)
from tests.tui.test_monitor import screen_text

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("RTCLI_UPDATE_SNAPSHOTS") == "1"
SIZES = {"80x24": (80, 24), "120x35": (120, 35)}
ORDERS_QUERY = '{"method":"greaterThan","attribute":"total","values":[50]}'
CLOCK = 1000.5
WALL = 1768471500.0  # 2026-01-15T10:05:00Z, five minutes after the scripted events


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def make_app(events: int = 30, buffer: int = 10_000, theme: str | None = None) -> tuple[MonitorApp, ScriptedSource]:
    config = MonitorConfig("http://127.0.0.1:8787/v1", "default", "key",
                           [(["rows"], []), (["files"], []), (["tablesdb.main.tables.orders.rows"], [ORDERS_QUERY])],
                           buffer=buffer)
    source = ScriptedSource(sample_events(events))
    rest = ScriptedRest()  # the forms open; nothing is sent
    return MonitorApp(config, source, rest, clock=lambda: CLOCK, wall=lambda: WALL, theme=theme), source


async def settle(pilot, condition: Callable[[], bool]) -> None:
    screen = pilot.app.monitor

    def settled() -> bool:  # and the detail pane on the selected event (it follows a flood a few times a second)
        return condition() and not screen.detail.pending

    for _ in range(200):
        if settled():
            break
        await pilot.pause(0.02)
    assert settled(), "the app did not reach the state to snapshot"
    screen.refresh_status()  # counts and rates, without waiting for the 0.5 s tick
    for widget in pilot.app.screen.query("Input, TextArea"):
        widget.cursor_blink = False
    await pilot.pause(0.1)


def check(app: MonitorApp, name: str, tmp_path: Path) -> None:
    svg = app.export_screenshot(title="rtcli monitor")
    expected_path = SNAPSHOTS / f"{name}.svg"
    if UPDATE or not expected_path.exists():
        if not UPDATE and in_ci():
            pytest.fail(f"missing snapshot {expected_path.name}; run with RTCLI_UPDATE_SNAPSHOTS=1 and commit it")
        SNAPSHOTS.mkdir(exist_ok=True)
        expected_path.write_text(svg, encoding="utf-8")
        return
    expected = expected_path.read_text(encoding="utf-8")
    if svg == expected:
        return
    actual_path = tmp_path / f"{name}.svg"
    actual_path.write_text(svg, encoding="utf-8")

    class Shot:  # screen_text reads export_screenshot()
        def __init__(self, text: str) -> None:
            self.text = text

        def export_screenshot(self) -> str:
            return self.text

    diff = "\n".join(difflib.unified_diff(screen_text(Shot(expected)).splitlines(),
                                          screen_text(Shot(svg)).splitlines(), "expected", "actual", lineterm=""))
    pytest.fail(f"snapshot {name} differs (actual: {actual_path}); text diff:\n{diff or '(colours or styles only)'}")


async def shoot(name: str, size: str, tmp_path: Path, act: Callable[[object, MonitorApp, ScriptedSource], Awaitable[None]],
                notifications: bool = False, **kw) -> None:
    app, source = make_app(**kw)
    async with app.run_test(size=SIZES[size], notifications=notifications) as pilot:
        screen = app.monitor
        total = len(source.items)
        await settle(pilot, lambda: screen.buffer.total == total and screen.state == "connected"
                     and screen.presences.loaded)
        await act(pilot, app, source)
        await settle(pilot, lambda: True)
        check(app, f"{name}_{size}", tmp_path)


async def nothing(pilot, app, source) -> None:
    pass


@pytest.mark.parametrize("size", SIZES)
async def test_following(size, tmp_path):
    await shoot("following", size, tmp_path, nothing)


@pytest.mark.parametrize("size", SIZES)
async def test_buffer_marker_and_scrolled_back(size, tmp_path):
    async def act(pilot, app, source):
        await pilot.press("home")

    await shoot("marker", size, tmp_path, act, buffer=20)


@pytest.mark.parametrize("size", SIZES)
async def test_paused_with_new_events(size, tmp_path):
    async def act(pilot, app, source):
        await pilot.press("p")
        source.push(*(row_event(i) for i in range(31, 43)))
        screen = app.monitor
        await settle(pilot, lambda: screen.buffer.total == 42)

    await shoot("paused", size, tmp_path, act)


@pytest.mark.parametrize("size", SIZES)
async def test_filtered_with_detail(size, tmp_path):
    async def act(pilot, app, source):
        await pilot.press("slash")
        app.monitor.query_one("#filter").value = "*.rows.*.delete -orders"
        await pilot.press("enter", "up")

    await shoot("filtered", size, tmp_path, act)


@pytest.mark.parametrize("size", SIZES)
async def test_help(size, tmp_path):
    async def act(pilot, app, source):
        await pilot.press("question_mark")

    await shoot("help", size, tmp_path, act)


@pytest.mark.parametrize("size", SIZES)
async def test_create_row_form(size, tmp_path):
    async def act(pilot, app, source):
        await pilot.press("n")

    await shoot("create_row", size, tmp_path, act)


async def test_add_subscription_form(tmp_path):
    async def act(pilot, app, source):
        await pilot.press("a")
        app.screen.query_one("#channels").value = "tablesdb.main.tables.orders.rows"
        app.screen.query_one("#queries").text = "total>50\nstatus=open"

    await shoot("add_subscription", "80x24", tmp_path, act)


async def test_light_theme(tmp_path):
    await shoot("light", "80x24", tmp_path, nothing, theme="textual-light")


async def test_no_color(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    await shoot("no_color", "80x24", tmp_path, nothing)
    # Textual's monochrome filter: every colour in the picture is a grey.
    svg = (SNAPSHOTS / "no_color_80x24.svg").read_text()
    fills = set(re.findall(r'fill="#([0-9a-f]{6})"', svg)) | set(re.findall(r"fill: #([0-9a-f]{6})", svg))
    greys = {f for f in fills if f[0:2] == f[2:4] == f[4:6]}
    chrome = {"ff5f57", "febc2e", "28c840", "c5c8c6"}  # the window's traffic lights and title
    assert fills - greys <= chrome, fills - greys - chrome


async def change_presences(pilot, app, source) -> None:
    """An update (status and metadata), a newcomer and a departure, all still highlighted
    (the clock is frozen)."""
    _, grace, _, anon = sample_presences()
    source.push(
        presence_event({**grace, "status": "online", "$updatedAt": "2026-01-15T10:04:58.000+00:00",
                        "metadata": {"name": "Grace Hopper", "page": "/orders"}}, "update"),
        presence_event(presence_model("tab-linus", "linus", "online", created="10:04:59",
                                      metadata={"name": "Linus", "page": "/files", "typing": True}), "create"),
        presence_event(anon, "delete"),
    )
    screen = app.monitor
    await settle(pilot, lambda: screen.presences.loads == 1 and screen.presences.changes >= 4)


@pytest.mark.parametrize("size", SIZES)
async def test_presence_pane_with_changes(size, tmp_path):
    async def act(pilot, app, source):
        if size == "80x24":
            await pilot.press("P")  # hidden by default when narrow
        await change_presences(pilot, app, source)

    await shoot("presences", size, tmp_path, act)


@pytest.mark.parametrize("size", SIZES)
async def test_filtered_to_a_subscription_with_excluded_events_greyed(size, tmp_path):
    """Enter on the orders subscription (a query: total>50): its events, and the orders events it
    did not get, greyed; the detail of a greyed one says which subscription left it out."""
    async def act(pilot, app, source):
        screen = app.monitor
        screen.sublist.focus()
        screen.sublist.highlighted = 2
        await pilot.press("enter")
        await settle(pilot, lambda: screen.view.filter.text == "sub:main/orders")
        screen.table.focus()
        await pilot.press("home")

    await shoot("sub_filter", size, tmp_path, act)


@pytest.mark.parametrize("size", SIZES)
async def test_expanded_row(size, tmp_path):
    async def act(pilot, app, source):
        await pilot.press("up", "up", "enter")

    await shoot("expanded", size, tmp_path, act)


@pytest.mark.parametrize("size", SIZES)
async def test_full_screen_event(size, tmp_path):
    async def act(pilot, app, source):
        await pilot.press("up", "f")

    await shoot("full_screen", size, tmp_path, act)


@pytest.mark.parametrize("size", SIZES)
async def test_explain_pane(size, tmp_path):
    async def act(pilot, app, source):
        screen = app.monitor
        screen.query_one("#filter").value = "sub:main/orders"
        await pilot.press("slash", "enter", "home")  # row0003: left out by total>50
        await pilot.press("w")
        await settle(pilot, lambda: str(app.screen.query_one("#verdict").render()).strip() != "")

    await shoot("explain", size, tmp_path, act)


@pytest.mark.parametrize("size", SIZES)
async def test_unsubscribe_asks_first(size, tmp_path):
    async def act(pilot, app, source):
        app.monitor.sublist.focus()
        await pilot.press("x")

    await shoot("unsubscribe", size, tmp_path, act)


async def test_subscriptions_panel_footer(tmp_path):
    async def act(pilot, app, source):
        app.monitor.sublist.focus()
        await settle(pilot, lambda: "Unsubscribe" in screen_text(app))  # the footer is redrawn after a focus change

    await shoot("subs_footer", "80x24", tmp_path, act)


@pytest.mark.parametrize("size", SIZES)
async def test_connection_lost(size, tmp_path):
    """Reconnecting: the panes dimmed, no ping, subscriptions offline, presences not live."""
    async def act(pilot, app, source):
        if size == "80x24":
            await pilot.press("P")
        source.push(StateChange("reconnecting", attempt=1, delay=4.0, error="connection refused"))
        await settle(pilot, lambda: app.monitor.state == "reconnecting")

    await shoot("offline", size, tmp_path, act)


@pytest.mark.parametrize("size", SIZES)
async def test_connection_back_with_a_marker_row(size, tmp_path):
    async def act(pilot, app, source):
        screen = app.monitor
        source.push(StateChange("reconnecting", attempt=1, delay=1.0, error="connection refused"),
                    StateChange("connecting", attempt=1), StateChange("connected", reconnect=True),
                    Subscribed([{"subscriptionId": sid} for sid in source.subs], reconnect=True),
                    *(row_event(i) for i in range(31, 34)))
        await settle(pilot, lambda: screen.state == "connected" and screen.buffer.total == 33)

    await shoot("reconnected", size, tmp_path, act)


@pytest.mark.parametrize("size", SIZES)
async def test_a_notification_leaves_the_stats_line_visible(size, tmp_path):
    async def act(pilot, app, source):
        app.notify("exported 30 events to /tmp/rtcli-monitor.jsonl", timeout=60)

    await shoot("toast", size, tmp_path, act, notifications=True)
    assert "8.6/s · 30/30" in (SNAPSHOTS / f"toast_{size}.svg").read_text().replace("&#160;", " ")
