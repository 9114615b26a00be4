"""Publishing to a topic from the monitor: the form, and the flow that opens it.

The form lists the topics the caller may see (loaded over REST when it opens; a topic can also
be typed), prefilled with the topic of the selected event when that is a topic message. Unless
the monitor already receives the topic's messages, it subscribes to ``topics.<id>`` first (and
waits for the server's confirmation), so the message shows in the table: topics then sit among
the subscriptions like any channel. A refusal stays on the form, with the input kept.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.widgets import Checkbox, Input, Label, Select, TextArea

from rtcli.errors import RtcliError
from rtcli.tui.parse import parse_json_object
from rtcli.tui.records import EventRecord
from rtcli.tui.screens.forms import FormScreen, Send

if TYPE_CHECKING:
    from rtcli.tui.screens.monitor import MonitorScreen

CONFIRM_SECONDS = 3.0  # how long a publish waits for its new subscription to be confirmed


def topic_of(record: EventRecord | None) -> str:
    """The topic of a topic message's event (to prefill the form); "" for any other event."""
    payload = record.data.get("payload") if record is not None else None
    topic = payload.get("$topicId") if isinstance(payload, dict) else None
    return topic if isinstance(topic, str) else ""


def received_topics(channel_lists: Iterable[list[str]]) -> set[str]:
    """Topics whose messages the monitor already receives (``topics.<id>``); ``{"*"}`` for all."""
    channels = {c for cs in channel_lists for c in cs}
    if channels & {"topics", "topics.>", "topics.*"}:
        return {"*"}
    return {c.split(".")[1] for c in channels if c.startswith("topics.") and c.count(".") == 1}


class PublishScreen(FormScreen):
    TITLE = "Publish to a topic"
    SUBMIT = "Publish"

    def __init__(self, topics: list[dict[str, Any]], topic: str = "", send: Send | None = None) -> None:
        super().__init__()
        self.topics = [t for t in topics if isinstance(t.get("$id"), str)]
        self.topic = topic
        self.send = send

    def fields(self) -> ComposeResult:
        options = [(f"{t['$id']} ({t.get('mode', '?')})", t["$id"]) for t in self.topics]
        if options:
            yield Label("Topic")
            preset = {"value": self.topic} if any(v == self.topic for _, v in options) else {}
            yield Select(options, prompt="choose a topic", id="topic-choice", compact=True, **preset)
            yield Label("… or its ID")
        else:
            yield Label("Topic ID")
        yield Input(self.topic, placeholder="chat", id="topic", compact=True)
        yield Label("Event name (optional: channel topics.ID.events.NAME)")
        yield Input(placeholder="typing", id="event", compact=True)
        yield Label("Data (a JSON object)")
        yield TextArea('{\n  \n}', id="data", compact=True)
        yield Checkbox("Subscribe to the topic first, to see the message here", True, id="subscribe")

    def on_mount(self) -> None:
        if self.topic:
            area = self.query_one("#data", TextArea)
            area.focus()
            area.move_cursor((1, 2))

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if isinstance(event.value, str):
            self.query_one("#topic", Input).value = event.value

    def values(self) -> dict[str, Any]:
        topic = self.text("topic")
        if not topic:
            raise ValueError("the topic ID is required")
        data = parse_json_object(self.text("data"), "data")
        return {"topic": topic, "event": self.text("event") or None, "data": data,
                "subscribe": self.query_one("#subscribe", Checkbox).value}


class Publishing:
    """The monitor's ``publish`` action; the screen holds one and calls ``open``."""

    def __init__(self, screen: MonitorScreen) -> None:
        self.screen = screen

    def open(self) -> None:
        screen = self.screen
        if screen.rest is None:
            screen.notify("not available in this session", severity="warning")
            return
        topic = topic_of(screen.table.selected)
        screen.run_worker(lambda: self._load(topic), thread=True, group="rest")

    def _load(self, topic: str) -> None:
        try:
            topics = self.screen.rest.topics()
        except RtcliError:
            topics = []  # the form still takes a typed topic ID
        self.screen.app.call_from_thread(self._show, topics, topic)

    def _show(self, topics: list[dict[str, Any]], topic: str) -> None:
        screen, rest = self.screen, self.screen.rest

        def send(values: dict[str, Any]) -> dict:  # in the form's thread worker
            if values["subscribe"]:
                screen.app.call_from_thread(self._receive, values["topic"])
            return rest.publish(values["topic"], values["data"], values["event"])

        def done(values: dict[str, Any] | None) -> None:
            if values:
                ack = values["result"]
                where = f"cursor {ack.get('cursor')}" if ack.get("cursor") else "ephemeral"
                screen.notify(f"published {ack.get('$id')} to {values['topic']} ({where})")

        screen.app.push_screen(PublishScreen(topics, topic, send=send), done)

    async def _receive(self, topic: str) -> None:
        """Subscribe to the topic unless its messages already arrive, and wait (a little) for
        the server to confirm, so that the message about to be published is not missed."""
        screen = self.screen
        live = [s.channels for s in screen.subs.values() if not s.paused]
        if "*" in received_topics(live) or topic in received_topics(live):
            return
        sub = await screen.subs.add([f"topics.{topic}"], [])
        screen.refresh_side()
        deadline = time.monotonic() + CONFIRM_SECONDS
        while not sub.confirmed and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
