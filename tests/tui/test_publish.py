"""`rtcli monitor`: publishing to a topic from its form (a Textual pilot against a real server).
The form lists the topics, subscribes to the chosen one first so its message shows in the table
(topics among the subscriptions), and keeps a refusal on the form with the input."""

from __future__ import annotations

import secrets

from textual.widgets import Input, Select, TextArea

from rtcli.tui.screens.publish import PublishScreen, received_topics, topic_of
from tests.tui.test_monitor import make_table, monitor_app, ready, until, write


async def test_publish_from_the_form(shared_server):
    db, table = make_table(shared_server)
    tid = "tui" + secrets.token_hex(3)
    await write(shared_server, "POST", "/topics", {"topicId": tid, "mode": "ephemeral",
                                                   "permissions": ['read("any")']})
    app = monitor_app(shared_server, f"tablesdb.{db}.tables.{table}.rows")
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        screen = await ready(pilot)
        notes: list[str] = []
        screen.notify = lambda message, **kw: notes.append(str(message))  # type: ignore[method-assign]
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, PublishScreen), "the publish form")
        form = app.screen
        choice = form.query_one("#topic-choice", Select)
        assert tid in [value for _, value in choice._options]  # the caller's topics are listed
        choice.value = tid
        await pilot.pause()
        assert form.query_one("#topic", Input).value == tid
        form.query_one("#data", TextArea).text = "[1]"
        await pilot.press("ctrl+s")
        assert app.screen is form and "must be a JSON object" in str(form.query_one("#form-error").render())
        form.query_one("#event", Input).value = "wave"
        form.query_one("#data", TextArea).text = '{"hello": "from the monitor"}'
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is screen, "the form to close once published")
        # Subscribed to the topic first: it is listed with the others, and the message arrives.
        assert [s.channels for s in screen.subs.values() if s.channels == [f"topics.{tid}"]] == [[f"topics.{tid}"]]
        await until(pilot, lambda: screen.view.visible == 1, "the published message in the table")
        record = screen.view[0]
        assert record.data["payload"]["hello"] == "from the monitor" and record.data["payload"]["$event"] == "wave"
        assert f"topics.{tid}.events.wave" in record.data["channels"] and "cursor" not in record.data
        assert any(n.startswith("published ") and "(ephemeral)" in n for n in notes)
        # Prefilled from the selected message; already subscribed: no second subscription.
        screen.table.focus()
        await pilot.pause()
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, PublishScreen), "the publish form again")
        again = app.screen
        assert again.query_one("#topic", Input).value == tid
        again.query_one("#data", TextArea).text = '{"n": 2}'
        await pilot.press("ctrl+s")
        await until(pilot, lambda: screen.view.visible == 2, "the second message")
        assert sum(1 for s in screen.subs.values() if s.channels == [f"topics.{tid}"]) == 1
        # A refusal stays on the form, input kept; escape goes back to the monitor.
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, PublishScreen), "the publish form, a third time")
        third = app.screen
        third.query_one("#topic", Input).value = "no-such-topic"
        third.query_one("#subscribe").value = False
        await pilot.press("ctrl+s")
        error = third.query_one("#form-error")
        await until(pilot, lambda: "could not be found" in str(error.render()), "the refusal on the form")
        assert app.screen is third and third.query_one("#topic", Input).value == "no-such-topic"
        await pilot.press("escape")
        assert app.screen is screen


def test_topic_helpers():
    assert received_topics([["rows"], ["topics.a", "topics.b.events.x"]]) == {"a"}
    assert received_topics([["topics"]]) == {"*"}
    assert topic_of(None) == ""
