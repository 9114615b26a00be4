"""A minimal resuming realtime client for tests: reconnects and resumes from its last cursor.

Kept independent of rtcli.client on purpose, so that server tests check the wire protocol.
"""

from __future__ import annotations

import asyncio
import json

import websockets


class ResumingSubscriber:
    def __init__(self, url: str, channels: list[str], since: str | None = None, sub_id: str = "s") -> None:
        self.url, self.channels, self.cursor, self.sub_id = url, channels, since, sub_id
        self.events: list[dict] = []
        self.subscribed = asyncio.Event()
        self.reconnects = 0
        self.not_resumed: list[str] = []
        self._stop = False

    async def run(self) -> None:
        while not self._stop:
            try:
                async with websockets.connect(self.url, open_timeout=5, max_queue=None) as ws:
                    json.loads(await ws.recv())  # connected
                    item = {"subscriptionId": self.sub_id, "channels": self.channels, "queries": []}
                    if self.cursor:
                        item["since"] = self.cursor
                    await ws.send(json.dumps({"type": "subscribe", "data": [item]}))
                    async for raw in ws:
                        msg = json.loads(raw)
                        if msg["type"] == "response" and msg["data"]["to"] == "subscribe":
                            for s in msg["data"]["subscriptions"]:
                                if s.get("resumed") is False:
                                    self.not_resumed.append(s.get("reason", ""))
                            self.subscribed.set()
                        elif msg["type"] == "event":
                            self.events.append(msg["data"])
                            self.cursor = msg["data"]["cursor"]
            except (TimeoutError, OSError, websockets.ConnectionClosed, websockets.InvalidHandshake):
                pass
            if not self._stop:
                self.subscribed.clear()
                self.reconnects += 1
                await asyncio.sleep(0.2)

    def stop(self) -> None:
        self._stop = True
