"""The presence pane's data: the screen's own subscription to ``presences`` and the REST list.

The monitor subscribes to ``presences`` on its own (id ``PRESENCE_SUBSCRIPTION``), not listed in
the subscriptions panel; its events feed the pane and stay out of the table, so the table and the
panel show exactly what the user asked for (a user who subscribes to ``presences`` too sees
those events in the table as well). Each time that subscription is confirmed (at start and after
every reconnect) the list is loaded again over REST. The screen holds one ``PresenceFeed``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from rtcli.errors import RtcliError
from rtcli.tui.messages import PresencesLoaded
from rtcli.tui.presence import PresenceBoard

if TYPE_CHECKING:
    from rtcli.tui.screens.monitor import MonitorScreen

PRESENCE_SUBSCRIPTION = "rtcli-monitor-presences"
log = logging.getLogger("rtcli.tui.monitor")


class PresenceFeed:
    def __init__(self, screen: MonitorScreen) -> None:
        self.screen = screen
        self.board = PresenceBoard()

    async def subscribe(self) -> None:
        await self.screen.source.subscribe(["presences"], subscription_id=PRESENCE_SUBSCRIPTION)
        self.screen.feed.presence_subscription = PRESENCE_SUBSCRIPTION
        self.refresh_pane()

    def apply(self, events: list[dict[str, Any]]) -> None:
        if self.board.apply_many(events, self.screen.clock()):
            self.refresh_pane()

    def tick(self) -> None:
        self.board.prune(self.screen.clock())
        self.refresh_pane()

    def load(self) -> None:
        token = self.board.begin_load()
        rest = self.screen.rest
        if rest is None:
            self.board.fail_load(token, "no REST API in this session")
        else:
            self.screen.run_worker(lambda: self._fetch(token), thread=True, group="presences")
        self.refresh_pane()

    def _fetch(self, token: int) -> None:
        post = self.screen.post_message
        try:
            items = self.screen.rest.presences()
        except RtcliError as e:
            post(PresencesLoaded(token, None, str(e)))
            return
        except Exception as e:  # e.g. a server that answers something else: say so in the pane, go on
            log.exception("could not list the presences")
            post(PresencesLoaded(token, None, f"{type(e).__name__}: {e}"))
            return
        post(PresencesLoaded(token, items))

    def loaded(self, message: PresencesLoaded) -> None:
        if message.presences is None:
            self.board.fail_load(message.token, message.error or "unknown error")
        else:
            self.board.finish_load(message.token, message.presences, self.screen.clock())
        self.refresh_pane()

    def set_me(self, account: dict[str, Any]) -> None:
        name = str(account.get("name") or account.get("email") or account["$id"])
        self.board.set_name(str(account["$id"]), name, me=True)
        self.refresh_pane()

    def refresh_pane(self) -> None:
        pane = self.screen.presence_pane
        if pane.display:
            pane.show(self.screen.clock(), self.screen.wall())
