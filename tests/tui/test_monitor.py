"""`rtcli monitor` driven by Textual pilots against a real `rtcli serve`: events appear, filter,
pause and resume, detail pane and copy, subscriptions, the create-row form, upload, run a
function, export, the presence pane, and the connection state when the server goes away."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from rtcli.client.config import Settings
from rtcli.tui.app import MonitorApp
from rtcli.tui.screens.forms import (
    AddSubscriptionScreen, ConfirmScreen, CreateRowScreen, PromptScreen, RunFunctionScreen,
)
from rtcli.tui.screens.monitor import MonitorScreen
from rtcli.tui.screens.upload import UploadScreen
from textual.widgets import Input, TextArea

FUNCTIONS = Path(__file__).parent.parent / "server" / "functions"


def settings(server) -> Settings:
    return Settings(endpoint=server.endpoint, project=server.project, key=server.api_key, profile="default")


def monitor_app(server, *channels: str, queries: list[str] | None = None, buffer: int = 10_000) -> MonitorApp:
    subs = [([c], list(queries or [])) for c in channels]
    return MonitorApp.connect(settings(server), subs, buffer=buffer)


def make_table(server) -> tuple[str, str]:
    """A fresh database and a table anyone may read."""
    db, table = "db" + secrets.token_hex(3), "t" + secrets.token_hex(3)
    with server.admin() as a:
        assert a.post("/tablesdb", json={"databaseId": db, "name": db}).status_code == 201
        r = a.post(f"/tablesdb/{db}/tables", json={"tableId": table, "name": table, "permissions": ['read("any")']})
        assert r.status_code == 201, r.text
    return db, table


async def write(server, method: str, path: str, body: dict | None = None) -> dict:
    def go() -> dict:
        with server.admin() as a:
            r = a.request(method, path, json=body or {})
            assert r.status_code < 300, r.text
            return r.json() if r.content else {}

    return await asyncio.to_thread(go)


async def add_rows(server, db: str, table: str, *datas: dict) -> list[str]:
    ids = []
    for data in datas:
        row = await write(server, "POST", f"/tablesdb/{db}/tables/{table}/rows",
                          {"rowId": "unique()", "data": data})
        ids.append(row["$id"])
    return ids


async def until(pilot, condition: Callable[[], object], what: str, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def ready(pilot) -> MonitorScreen:
    """The monitor screen once connected and every subscription is confirmed."""
    screen = pilot.app.monitor
    await until(pilot, lambda: screen.state == "connected" and screen.subs
                and all(s.confirmed for s in screen.subs.values()), "connected and subscribed")
    return screen


def shown_ids(screen: MonitorScreen) -> list[str]:
    return [r.rid for r in screen.view.shown()]


def screen_text(app) -> str:
    """The visible screen as plain text lines, rebuilt from the SVG screenshot's text positions."""
    import html
    import re

    rows: dict[float, dict[int, str]] = {}
    width = None
    for x, y, length, text in re.findall(
            r'<text class="[^"]*-r\d+" x="([\d.]+)" y="([\d.]+)" textLength="([\d.]+)"[^>]*>([^<]*)</text>',
            app.export_screenshot()):
        text = html.unescape(text).replace("\xa0", " ")
        if not text:
            continue
        width = width or float(length) / len(text)
        rows.setdefault(float(y), {})[round(float(x) / width)] = text
    lines = []
    for y in sorted(rows):
        line = ""
        for col, text in sorted(rows[y].items()):
            line = line.ljust(col) + text
        lines.append(line)
    return "\n".join(lines)


async def test_events_appear_with_header(shared_server):
    db, table = make_table(shared_server)
    app = monitor_app(shared_server, f"tablesdb.{db}.tables.{table}.rows")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        await until(pilot, lambda: screen.query_one("StatusHeader").rtt is not None, "a ping round trip")
        ids = await add_rows(shared_server, db, table, {"text": "one"}, {"text": "two"}, {"text": "three"})
        await until(pilot, lambda: len(screen.view.rows) == 3, "three events")
        assert shown_ids(screen) == ids
        assert [r.action for r in screen.view.shown()] == ["create"] * 3
        assert screen.table.following and screen.table.selected.rid == ids[-1]
        await until(pilot, lambda: "text=three" in screen_text(app), "the third row on screen")
        text = screen_text(app)
        assert "connected" in text and "rtt" in text and "as key" in text
        await until(pilot, lambda: "3 · " in screen_text(app), "the count in the subscriptions panel")
        sub = next(iter(screen.subs.values()))
        assert sub.count == 3


async def test_filter_text_and_globs(shared_server):
    db, table = make_table(shared_server)
    app = monitor_app(shared_server, "rows")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        a, b, c = await add_rows(shared_server, db, table, {"text": "apple"}, {"text": "banana"}, {"text": "cherry"})
        await write(shared_server, "PATCH", f"/tablesdb/{db}/tables/{table}/rows/{b}", {"data": {"text": "blueberry"}})
        await write(shared_server, "DELETE", f"/tablesdb/{db}/tables/{table}/rows/{c}")
        await until(pilot, lambda: len(screen.view.rows) == 5, "five events")

        await pilot.press("slash")
        assert screen.focused is screen.query_one("#filter", Input)
        await pilot.press(*"*.rows.*.delete", "enter")
        assert shown_ids(screen) == [c]
        assert screen.focused is screen.table

        # (pilot.press waits for a refresh per key; set longer values directly.)
        await pilot.press("slash")
        screen.query_one("#filter", Input).value = "berry"
        await until(pilot, lambda: shown_ids(screen) == [b], "the text filter, applied live")
        screen.query_one("#filter", Input).value = "-*.create"
        await pilot.press("enter")
        assert [r.action for r in screen.view.shown()] == ["update", "delete"]

        # New events are filtered as they arrive.
        await add_rows(shared_server, db, table, {"text": "date"})
        await write(shared_server, "DELETE", f"/tablesdb/{db}/tables/{table}/rows/{a}")
        await until(pilot, lambda: len(screen.buffer) == 7, "seven events")
        assert [r.action for r in screen.view.shown()] == ["update", "delete", "delete"]
        await pilot.press("slash", "ctrl+u", "enter")
        assert screen.view.visible == 7


async def test_pause_and_resume(shared_server):
    db, table = make_table(shared_server)
    app = monitor_app(shared_server, "rows")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        first = await add_rows(shared_server, db, table, {"n": 1}, {"n": 2})
        await until(pilot, lambda: screen.view.visible == 2, "two events")
        await pilot.press("p")
        assert screen.paused and not screen.table.following
        more = await add_rows(shared_server, db, table, {"n": 3}, {"n": 4}, {"n": 5})
        await until(pilot, lambda: len(screen.buffer) == 5, "the events sent while paused")
        assert shown_ids(screen) == first
        assert screen.view.hidden == 3
        await until(pilot, lambda: "paused, 3 new" in screen_text(app), "the paused count in the status line")
        await pilot.press("p")
        assert not screen.paused and screen.table.following
        assert shown_ids(screen) == first + more
        assert screen.table.selected.rid == more[-1]


async def test_scroll_back_detail_and_copy(shared_server):
    db, table = make_table(shared_server)
    app = monitor_app(shared_server, "rows")
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await ready(pilot)
        ids = await add_rows(shared_server, db, table, {"text": "first", "n": 1}, {"text": "second", "n": 2})
        await until(pilot, lambda: screen.view.visible == 2, "two events")
        await pilot.press("up")
        assert not screen.table.following
        assert screen.table.selected.rid == ids[0]
        await pilot.pause(0.1)
        detail = screen.detail
        assert detail.record.rid == ids[0]
        body = str(detail.content)
        assert re.search(r'^text +"first"$', body, re.M) and body.index("text") < body.index("$createdAt")
        names = body.replace("\n  ", "")  # long names are broken after dots to fit the pane
        assert f"tablesdb.{db}.tables.{table}.rows.{ids[0]}.create" in names  # the most telling name first
        assert f"tablesdb.{db}.tables.{table}.rows" in names and "more (f: full screen)" in body
        # New events do not move a scrolled-back cursor.
        await add_rows(shared_server, db, table, {"text": "third"})
        await until(pilot, lambda: screen.view.visible == 3, "the third event")
        assert screen.table.selected.rid == ids[0]
        await pilot.press("c")
        copied = json.loads(app.clipboard)
        assert copied["payload"]["$id"] == ids[0] and copied["events"] and copied["channels"]
        # A click selects a row (line 0 is the header; the border adds one line).
        await pilot.click("#events", offset=(5, 3))
        assert screen.table.selected.rid == ids[1]
        await pilot.press("end")
        assert screen.table.following and screen.table.selected.rid == screen.view.rows[-1].rid


async def test_add_pause_and_remove_a_subscription(shared_server):
    db, table = make_table(shared_server)
    app = monitor_app(shared_server, f"tablesdb.{db}.tables.nothing.rows")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        await pilot.press("a")
        assert isinstance(app.screen, AddSubscriptionScreen)
        await pilot.press(*"rows")
        app.screen.query_one("#channels", Input).value = f"tablesdb.{db}.tables.{table}.rows"
        app.screen.query_one("#queries", TextArea).text = "n>=2"
        await pilot.click("#submit")
        assert app.screen is screen
        await until(pilot, lambda: len(screen.subs) == 2 and all(s.confirmed for s in screen.subs.values()),
                    "the new subscription confirmed")
        added = list(screen.subs.values())[-1]
        assert added.channels == [f"tablesdb.{db}.tables.{table}.rows"]
        assert json.loads(added.queries[0]) == {"method": "greaterThanEqual", "attribute": "n", "values": [2]}
        assert screen.sublist.option_count == 2

        await add_rows(shared_server, db, table, {"n": 1}, {"n": 2}, {"n": 3})
        await until(pilot, lambda: added.count == 2, "two matching events counted")
        assert [r.data["payload"]["n"] for r in screen.view.shown()] == [2, 3]

        # Pause it (unsubscribed on the server, still listed), then remove it.
        screen.sublist.focus()
        screen.sublist.highlighted = 1
        await pilot.press("m")
        assert added.paused and screen.sublist.option_count == 2
        await add_rows(shared_server, db, table, {"n": 9})
        await pilot.pause(0.5)
        assert added.count == 2
        await pilot.press("m")
        await until(pilot, lambda: added.confirmed, "resubscribed")
        await add_rows(shared_server, db, table, {"n": 10})
        await until(pilot, lambda: added.count == 3, "events again after resuming")
        await pilot.press("x")  # asks first
        assert isinstance(app.screen, ConfirmScreen) and len(screen.subs) == 2
        await pilot.press("n")
        assert app.screen is screen and len(screen.subs) == 2
        await pilot.press("x", "y")
        await until(pilot, lambda: len(screen.subs) == 1, "the subscription removed")
        assert added.id not in [s.id for s in screen.subs] and screen.sublist.option_count == 1


async def test_create_row_from_the_form(shared_server):
    db, table = make_table(shared_server)
    app = monitor_app(shared_server, f"tablesdb.{db}.tables.{table}.rows")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        await pilot.press("n")
        form = app.screen
        assert isinstance(form, CreateRowScreen)
        form.query_one("#db", Input).value = db
        form.query_one("#table", Input).value = table
        form.query_one("#data", TextArea).text = "not json"
        await pilot.press("ctrl+s")
        assert app.screen is form and "not valid JSON" in str(form.query_one("#form-error").render())
        form.query_one("#data", TextArea).text = '{"text": "from the form", "n": 7}'
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is screen, "the row created and the form closed")
        await until(pilot, lambda: screen.view.visible == 1, "the created row's event")
        record = screen.view.rows[0]
        assert record.action == "create" and record.data["payload"]["text"] == "from the form"
        # The form is prefilled from the selected row event.
        await pilot.press("n")
        assert app.screen.query_one("#db", Input).value == db
        assert app.screen.query_one("#table", Input).value == table
        await pilot.press("escape")
        assert app.screen is screen


async def test_upload_a_file_with_progress(shared_server, tmp_path):
    bucket = "b" + secrets.token_hex(3)
    await write(shared_server, "POST", "/storage/buckets",
                {"bucketId": bucket, "name": bucket, "permissions": ['read("any")']})
    small = tmp_path / "hello.txt"
    small.write_text("hello, monitor\n")
    app = monitor_app(shared_server, f"buckets.{bucket}.files")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        await pilot.press("u")
        dialog = app.screen
        assert isinstance(dialog, UploadScreen)
        dialog.query_one("#bucket", Input).value = bucket
        dialog.query_one("#path", Input).value = str(tmp_path / "missing.txt")
        await pilot.press("ctrl+s")
        assert "no such file" in str(dialog.query_one("#form-error").render())
        dialog.query_one("#path", Input).value = str(small)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is screen, "the upload to finish")
        await until(pilot, lambda: screen.view.visible == 1, "the file's event")
        record = screen.view.rows[0]
        assert record.data["payload"]["name"] == "hello.txt" and record.channel == f"buckets.{bucket}.files"


def test_chunked_upload_reports_progress(shared_server, tmp_path):
    """Above 5 MiB the upload goes in chunks with content-range and x-appwrite-id."""
    from rtcli.tui.rest import CHUNK, RestActions

    bucket = "b" + secrets.token_hex(3)
    with shared_server.admin() as a:
        assert a.post("/storage/buckets", json={"bucketId": bucket, "name": bucket}).status_code == 201
    big = tmp_path / "big.bin"
    data = secrets.token_bytes(CHUNK * 2 + 12345)
    big.write_bytes(data)
    seen: list[tuple[int, int]] = []
    rest = RestActions(shared_server.endpoint, shared_server.project, shared_server.api_key)
    model = rest.upload_file(bucket, big, progress=lambda sent, total: seen.append((sent, total)))
    assert model["sizeOriginal"] == len(data) and model["chunksTotal"] == 3 and model["chunksUploaded"] == 3
    assert seen == [(0, len(data)), (CHUNK, len(data)), (2 * CHUNK, len(data)), (len(data), len(data))]
    with shared_server.admin() as a:
        assert a.get(f"/storage/buckets/{bucket}/files/{model['$id']}/download").content == data


async def test_run_a_function(shared_server):
    fid = "echo" + secrets.token_hex(3)
    await write(shared_server, "POST", "/functions",
                {"functionId": fid, "name": "echo", "command": f"{sys.executable} {FUNCTIONS / 'echo.py'}"})
    app = monitor_app(shared_server, "rows")
    notes: list[str] = []
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await ready(pilot)
        app.notify = lambda message, **kw: notes.append(str(message))  # type: ignore[method-assign]
        screen.notify = app.notify  # type: ignore[method-assign]
        await pilot.press("r")
        form = app.screen
        assert isinstance(form, RunFunctionScreen)
        form.query_one("#function", Input).value = fid
        form.query_one("#body", TextArea).text = "ping"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: any(n.startswith("execution ") for n in notes), "the execution's result")
        note = next(n for n in notes if n.startswith("execution "))
        assert "completed 202" in note and '"body": "ping"' in note
        # (No execution event here: like Appwrite, the server publishes them only for a user's executions.)


async def test_export_what_is_shown(shared_server, tmp_path):
    db, table = make_table(shared_server)
    app = monitor_app(shared_server, "rows")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        ids = await add_rows(shared_server, db, table, {"text": "keep"}, {"text": "skip"}, {"text": "keep too"})
        await until(pilot, lambda: screen.view.visible == 3, "three events")
        await pilot.press("slash")
        screen.query_one("#filter", Input).value = "keep"
        await pilot.press("enter")
        await pilot.press("e")
        assert isinstance(app.screen, PromptScreen)
        target = tmp_path / "out.jsonl"
        app.screen.query_one("#value", Input).value = str(target)
        await pilot.press("enter")
        await until(pilot, lambda: target.exists() and target.read_text().count("\n") == 2, "the export")
        lines = [json.loads(line) for line in target.read_text().splitlines()]
        assert [e["payload"]["$id"] for e in lines] == [ids[0], ids[2]]
        assert all(e["cursor"] and e["events"] for e in lines)


async def test_reconnecting_state_and_ring_buffer(server):
    db, table = make_table(server)
    app = monitor_app(server, "rows", buffer=3)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        await add_rows(server, db, table, *({"n": i} for i in range(5)))
        await until(pilot, lambda: screen.buffer.total == 5, "five events")
        assert len(screen.buffer) == 3 and screen.buffer.dropped == 2
        assert [r.data["payload"]["n"] for r in screen.view.shown()] == [2, 3, 4]
        await until(pilot, lambda: "2 older events left the buffer" in screen_text(app), "the buffer marker")
        server.stop()
        await until(pilot, lambda: "reconnecting in" in screen_text(app), "the reconnecting state in the header")


async def test_command_palette_runs_monitor_actions(shared_server):
    app = monitor_app(shared_server, "rows")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"create row")
        await pilot.pause(0.3)  # the palette searches its providers in the background
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, CreateRowScreen), "the create-row form")


async def test_header_names_the_signed_in_user(shared_server):
    """With a session (from the profile) the header shows the user, and the monitor acts as that user."""
    from tests.server.test_users import signup

    _, token, client = signup(shared_server, "Ada")
    client.close()
    s = Settings(endpoint=shared_server.endpoint, project=shared_server.project, key=None, profile="default",
                 session=token)
    app = MonitorApp.connect(s, [(["account"], [])])
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await until(pilot, lambda: "as user Ada" in screen_text(app), "the user's name in the header")


async def test_guest_sees_what_guests_may_read(shared_server):
    db, table = make_table(shared_server)
    s = Settings(endpoint=shared_server.endpoint, project=shared_server.project, key=None, profile="default")
    app = MonitorApp.connect(s, [([f"tablesdb.{db}.tables.{table}.rows"], [])])
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        assert "as guest" in screen_text(app)
        await add_rows(shared_server, db, table, {"text": "public"})
        await until(pilot, lambda: screen.view.visible == 1, "the public row")


# --- the presence pane ----------------------------------------------------------------------


class Client:
    """A second realtime client, signed in as a user, that sets presences (like the Web SDK's
    ``upsertPresence``) with the websockets library."""

    def __init__(self, server, token: str) -> None:
        self.server, self.token, self.ws = server, token, None

    async def __aenter__(self) -> Client:
        from websockets.asyncio.client import connect

        self.ws = await connect(self.server.ws_url, additional_headers={"X-Appwrite-Session": self.token})
        assert json.loads(await self.ws.recv())["type"] == "connected"
        return self

    async def presence(self, pid: str, status: str, metadata: dict | None = None) -> dict:
        data: dict = {"status": status, "presenceId": pid}
        if metadata is not None:
            data["metadata"] = metadata
        await self.ws.send(json.dumps({"type": "presence", "data": data}))
        reply = json.loads(await asyncio.wait_for(self.ws.recv(), 5))
        assert reply["data"].get("to") == "presence", reply
        return reply["data"]["presence"]

    async def __aexit__(self, *exc) -> None:
        await self.ws.close()


def pane_line(app, pid: str) -> str:
    return next((line for line in screen_text(app).splitlines() if pid in line), "")


async def test_presence_pane_loads_then_follows_presences(shared_server):
    """A presence set before the monitor starts is loaded over REST; one set after it shows up
    from the presences channel, an update changes it in place, and closing its socket removes
    it. None of it enters the table or the subscriptions panel (the pane's own subscription)."""
    from tests.server.test_users import signup

    uid, token, client = signup(shared_server, "Ada")
    client.close()
    uid2, token2, client = signup(shared_server, "Grace")  # one presence per user: another user for p1
    client.close()
    tag = secrets.token_hex(3)
    early, p1 = f"p0-{tag}", f"p1-{tag}"
    app = monitor_app(shared_server, "rows")
    async with Client(shared_server, token) as first:
        await first.presence(early, "online", {"name": "Ada L", "page": "/orders"})
        async with app.run_test(size=(160, 48)) as pilot:
            screen = await ready(pilot)
            board = screen.presences
            await until(pilot, lambda: board.loads == 1 and early in board.entries, "the presence loaded over REST")
            assert screen.presence_pane.display  # shown by default at this width
            await until(pilot, lambda: "Ada L" in pane_line(app, early), "the loaded presence in the pane")
            line = pane_line(app, early)
            assert "online" in line and "realtime" in line and "with socket" in line and "page=/orders" in line

            async with Client(shared_server, token2) as second:
                await second.presence(p1, "online")
                await until(pilot, lambda: p1 in board.entries, "the new presence's create event")
                entry = board.entries[p1]
                assert entry.user_id == uid2 and entry.status == "online" and entry.source == "realtime"
                await until(pilot, lambda: "online" in pane_line(app, p1), "the new presence in the pane")
                assert f"+ {uid2[:12]}" in pane_line(app, p1)  # marked as new (and tinted)
                row = [e.id for e in board.rows()].index(p1)

                await second.presence(p1, "away")
                await until(pilot, lambda: board.entries[p1].status == "away", "the update event")
                assert [e.id for e in board.rows()].index(p1) == row and len(board) == 2  # in place
                assert board.entries[p1].changed == {"status"}
                await until(pilot, lambda: "away" in pane_line(app, p1), "the new status on screen")
                assert f"~ {uid2[:12]}" in pane_line(app, p1)
                board.highlight = 0.5  # a departure lingers this long (3 s in use)
            # The socket is closed: the presence leaves with it.
            await until(pilot, lambda: p1 not in board.entries, "the delete event and the departure's highlight")
            await until(pilot, lambda: not pane_line(app, p1), "the departed presence off the screen")
            assert early in board.entries and len(board) == 1
            assert screen.buffer.total == 0  # no presence event in the table: only `rows` was asked for
            assert [s.channels for s in screen.subs.values()] == [["rows"]]


async def test_presence_pane_toggles_and_names_the_signed_in_user(shared_server):
    """Hidden at 80x24 until P; the signed-in user's own presence carries their name; the command
    palette toggles it too; after a reconnect the list is loaded again."""
    from tests.server.test_users import signup

    _, token, client = signup(shared_server, "Grace")
    client.close()
    pid = f"me-{secrets.token_hex(3)}"
    s = Settings(endpoint=shared_server.endpoint, project=shared_server.project, key=None, profile="default",
                 session=token)
    app = MonitorApp.connect(s, [(["account"], [])])
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        pane = screen.presence_pane
        assert not pane.display
        await pilot.press("P")
        assert pane.display
        async with Client(shared_server, token) as me:
            await me.presence(pid, "coding", {"file": "monitor.py"})
            await until(pilot, lambda: "Grace (you)" in pane_line(app, "coding"), "my presence, named")
            # A reconnect loads the list again (and the presence is still there).
            await app.source._ws.close()
            await until(pilot, lambda: screen.presences.loads == 2 and screen.state == "connected", "the reload")
            assert pid in screen.presences.entries and not screen.presences.entries[pid].gone
        await pilot.press("ctrl+p")
        app.screen.query_one("CommandInput", Input).value = "toggle presence"  # (typing it is slow)
        await pilot.pause(0.3)  # the palette searches its providers in the background
        await pilot.press("enter")
        await until(pilot, lambda: not pane.display, "the pane hidden from the command palette")


def test_monitor_command_does_not_import_textual_until_run():
    import subprocess

    code = ("import sys, typer; from rtcli.cli import monitor; app = typer.Typer(); monitor.register(app);"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'websockets', 'httpx')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_monitor_command_help_and_bad_options():
    import typer
    from typer.testing import CliRunner

    from rtcli.cli import monitor

    app = typer.Typer()
    monitor.register(app)
    app.command("other")(lambda: None)  # two commands, so `monitor` stays a subcommand
    runner = CliRunner()
    result = runner.invoke(app, ["monitor", "--help"])
    assert result.exit_code == 0 and "--buffer" in result.output and "--query" in result.output
    assert runner.invoke(app, ["monitor", "--buffer", "0"]).exit_code == 2
    assert runner.invoke(app, ["monitor", "-q", "nonsense"]).exit_code == 2
    assert runner.invoke(app, ["monitor", "--since", " "]).exit_code == 2


@pytest.mark.parametrize("theme", ["nope"])
def test_monitor_command_unknown_theme(theme, monkeypatch, tmp_path):
    import typer
    from typer.testing import CliRunner

    from rtcli.cli import monitor

    monkeypatch.setenv("RTCLI_CONFIG_DIR", str(tmp_path))
    app = typer.Typer()
    monitor.register(app)
    app.command("other")(lambda: None)
    result = CliRunner().invoke(app, ["monitor", "--theme", theme])
    assert result.exit_code == 2 and "no theme" in result.output


def test_monitor_command_since_the_server_cannot_replay_from_fails_before_the_tui(server, tmp_path):
    """As `rtcli subscribe`: exit 1 with the server's reason and the accepted forms, on a terminal
    the TUI never took (nothing on stdout); a --since it can replay from passes the check."""
    import time

    from rtcli.cli.since import check
    from tests.test_cli import run

    db, table = make_table(server)
    env = server.cli_env(tmp_path / "config")
    with server.admin() as admin:
        assert admin.post(f"/tablesdb/{db}/tables/{table}/rows", json={"rowId": "r1", "data": {}}).status_code == 201
        cursor = admin.get("/events").json()["events"][-1]["cursor"]
    other_db = cursor.split(".")[0] + ".0000other." + cursor.split(".")[2]
    for since, reason in (("c1.bogus", "malformed cursor"),  # a word that is no cursor: see test_cli_events
                          (other_db, "the cursor belongs to another database")):
        started = time.monotonic()
        r = run("monitor", "rows", "files", "--since", since, env=env, timeout=20)
        assert r.returncode == 1 and r.stdout == "", (since, r.stdout, r.stderr)
        assert f"cannot replay from --since {since}: {reason}" in r.stderr, r.stderr
        assert "Use 'beginning', a duration (30s, 10m, 2h, 1d), an ISO datetime, or a cursor" in r.stderr
        assert time.monotonic() - started < 10
    subs = [(["rows"], []), (["files"], [])]
    for since in (cursor, "beginning", "2020-01-01T00:00:00Z"):
        assert asyncio.run(check(settings(server), subs, since)) is None, since
