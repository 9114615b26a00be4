"""Topics: named streams that clients and servers publish messages to (rtcli extension).

A topic carries permissions as a table does: ``read`` (who receives its messages), ``create``
(who may publish), ``update`` / ``delete`` (who manages it; ``write`` grants all three). Its
mode is ``durable`` (each message is an event in the log: resumed, replayed, explained like a
row's) or ``ephemeral`` (delivered live on every node, never stored: cursors, typing).

A message is an event:

- channels ``topics``, ``topics.<topicId>`` and, when the publisher names it,
  ``topics.<topicId>.events.<name>``;
- names ``topics.<topicId>.messages.<messageId>.create`` and their ``*`` combinations;
- payload: the message's data (a JSON object) with ``$``-prefixed metadata beside it, as a
  row's columns sit beside ``$id``, so realtime queries read the data as they read a row.

The records and the checks of what a client sends live here, free of I/O, so that the REST
service and the realtime session validate a publish the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Any, Literal

import orjson

from rtcli import ids, protocol
from rtcli.core import events, permissions
from rtcli.errors import AppwriteError, invalid
from rtcli.settings import DEFAULTS

PERMISSION_ACTIONS = ("read", "create", "update", "delete", "write")
TopicAction = Literal["read", "create", "update", "delete"]  # what a topic's roles are looked up for
DEFAULT_MAX_MESSAGE_SIZE = DEFAULTS.max_message_size  # bytes of a message's data, encoded as JSON
_EVENT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class TopicMode(StrEnum):
    DURABLE = "durable"  # every message is an event in the log: resumable
    EPHEMERAL = "ephemeral"  # live only, never stored

    @classmethod
    def parse(cls, value: Any) -> TopicMode:
        for mode in cls:
            if mode.value == value:
                return mode
        raise invalid("Invalid `mode` param: durable (every message is kept in the event log and resumable) "
                      "or ephemeral (live only, never stored).")


@dataclass(frozen=True)
class Topic:
    project: str
    id: str
    name: str
    mode: TopicMode
    permissions: tuple[str, ...]
    created_at: str
    updated_at: str

    def roles(self, action: TopicAction) -> frozenset[str]:
        """The roles granted ``action`` (``write`` grants create, update and delete)."""
        return self._roles[action]

    @cached_property
    def _roles(self) -> dict[str, frozenset[str]]:
        perms = list(self.permissions)
        return {a: frozenset(permissions.roles_for(a, perms)) for a in ("read", "create", "update", "delete")}

    @property
    def read_roles(self) -> list[str]:
        """Who receives its messages: the roles its message events carry."""
        return sorted(self.roles("read"))

    @property
    def visible_roles(self) -> list[str]:
        """Who may see the topic itself: whoever may receive, publish or manage."""
        return sorted(frozenset().union(*self._roles.values()))

    def model(self) -> dict[str, Any]:
        return {"$id": self.id, "$createdAt": self.created_at, "$updatedAt": self.updated_at,
                "$permissions": list(self.permissions), "name": self.name, "mode": self.mode.value}


@dataclass(frozen=True, slots=True)
class PublishRequest:
    """A validated publish, from a REST body or a realtime ``publish`` frame."""

    topic_id: str
    data: dict[str, Any]
    event: str | None = None
    message_id: str = ""
    echo: bool = True  # whether the publishing connection receives its own message


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    topic_id: str
    data: dict[str, Any]
    event: str | None
    user_id: str | None
    created_at: str

    def payload(self) -> dict[str, Any]:
        return {"$id": self.id, "$topicId": self.topic_id, "$event": self.event, "$userId": self.user_id,
                "$createdAt": self.created_at, **self.data}


@dataclass(frozen=True, slots=True)
class Published:
    """The acknowledgement of a publish: the message's id and, for a durable topic, its cursor."""

    id: str
    topic_id: str
    cursor: str | None
    created_at: str

    def model(self) -> dict[str, Any]:
        return {"$id": self.id, "topicId": self.topic_id, "cursor": self.cursor, "$createdAt": self.created_at}


def topic_id(value: Any, what: str = "topicId") -> str:
    """A topic id: a CustomId without periods (a period would split its channel names)."""
    resolved = ids.resolve_id(value)
    if resolved is None or "." in resolved:
        raise invalid(f"Invalid `{what}` param: at most 36 chars of a-z, A-Z, 0-9, hyphen and underscore "
                      "(no period), not starting with a special char; or unique() for a new one.")
    return resolved


def message_channels(topic: str, event: str | None) -> list[str]:
    base = ["topics", f"topics.{topic}"]
    return [*base, f"topics.{topic}.events.{event}"] if event else base


def message_event_names(topic: str, message: str) -> list[str]:
    return events.topic_message_events(topic, message)


def topic_event_names(topic: str, action: str) -> list[str]:
    return events.generate([("topics", topic)], action)


def parse_publish(topic: Any, body: Any, max_size: int) -> PublishRequest:
    """Check what a client sends to publish: ``data`` (a JSON object, at most ``max_size``
    bytes), an optional ``event`` name, ``messageId`` and ``self``. Keys of ``data`` that start
    with ``$`` are dropped: they are the metadata of a message or row the client received, so
    that what a subscriber got can be published on as it is."""
    if not isinstance(body, dict):
        raise invalid("Invalid publish: expected an object with `topic` and `data`.")
    if not isinstance(topic, str) or not ids.is_custom_id(topic):
        # Not an ID at all: refused here, before a store is asked (PostgreSQL refuses a NUL). One
        # with a period is an ID no topic has: not found, as the CLI's hint for a channel name expects.
        raise invalid("Invalid `topic` param: the ID of the topic to publish to (at most 36 chars of a-z, A-Z, "
                      "0-9, hyphen and underscore).")
    data = body.get("data")
    if not isinstance(data, dict):
        raise invalid("Invalid `data` param: the message must be a JSON object, like {\"text\": \"hi\"}.")
    data = {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("$"))}
    problem = protocol.json_problem(data)
    if problem:
        raise invalid(f"Invalid `data` param: {problem}.")
    size = len(orjson.dumps(data))  # bytes, as the limit says (not characters)
    if size > max_size:
        raise AppwriteError("general_payload_too_large",
                            f"The message is {size} bytes; the limit is {max_size} bytes of JSON data.")
    event = body.get("event")
    if event is not None and (not isinstance(event, str) or not _EVENT_NAME.match(event)):
        raise invalid("Invalid `event` param: 1-64 chars of a-z, A-Z, 0-9, hyphen and underscore.")
    message_id = body.get("messageId")
    if message_id is None:
        message_id = ids.unique()
    elif not ids.is_custom_id(message_id):
        raise invalid("Invalid `messageId` param: at most 36 chars of a-z, A-Z, 0-9, period, hyphen and "
                      "underscore, not starting with a special char.")
    echo = body.get("self", True)
    if not isinstance(echo, bool):
        raise invalid("Invalid `self` param: true (the publisher receives its own message) or false.")
    return PublishRequest(topic, data, event or None, message_id, echo)


def publish_error(error: AppwriteError | None, code: int, message: str, message_id: str | None) -> dict[str, Any]:
    """The error frame refusing a realtime publish: the usual ``{code, message}`` plus the
    error's ``type``, ``to: "publish"`` and the message id, so a client can tell which failed."""
    frame = protocol.error_frame(code, message)
    frame["data"].update(to=protocol.PUBLISH, messageId=message_id)
    if error is not None:
        frame["data"]["type"] = error.type
    return frame
