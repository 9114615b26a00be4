"""A scripted realtime source and presence list with fixed ids and timestamps, for deterministic
snapshots only (the pilot tests use a real `rtcli serve`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Any

from rtcli.client.realtime import Event, Pong, StateChange, Subscribed
from rtcli.tui.rest import RestActions

ACTIONS = ("create", "update", "upsert", "delete")


def row_event(i: int, action: str = "create", db: str = "main", table: str = "messages",
              subs: Iterable[str] = ("sub1",), data: dict[str, Any] | None = None) -> Event:
    rid = f"row{i:04d}"
    names = []
    for prefix in (f"tablesdb.{db}.tables.{table}.rows.{rid}", f"databases.{db}.collections.{table}.documents.{rid}"):
        names += [f"{prefix}.{action}", prefix.rsplit(".", 1)[0] + ".*." + action]
    channels = ["rows", f"tablesdb.{db}.tables.{table}.rows", f"tablesdb.{db}.tables.{table}.rows.{rid}",
                "documents", f"databases.{db}.collections.{table}.documents"]
    payload = {"$id": rid, "$sequence": i, "$tableId": table, "$databaseId": db,
               "$createdAt": "2026-01-15T10:00:00.000+00:00", "$updatedAt": "2026-01-15T10:00:00.000+00:00",
               "$permissions": ['read("any")'], **(data or {"text": f"hello {i}", "n": i, "done": i % 3 == 0})}
    return Event({"events": names, "channels": channels, "timestamp": f"2026-01-15T10:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:03d}+00:00",
                  "payload": payload, "subscriptions": list(subs), "cursor": f"c1.test.{i}"})


def file_event(i: int, subs: Iterable[str] = ("sub2",)) -> Event:
    fid = f"file{i:04d}"
    return Event({"events": [f"buckets.uploads.files.{fid}.create", "buckets.*.files.*.create"],
                  "channels": ["files", "buckets.uploads.files", f"buckets.uploads.files.{fid}"],
                  "timestamp": f"2026-01-15T10:{i // 60 % 60:02d}:{i % 60:02d}.500+00:00",
                  "payload": {"$id": fid, "bucketId": "uploads", "name": f"photo-{i}.png", "mimeType": "image/png",
                              "sizeOriginal": 1024 * i, "signature": "d41d8cd98f00b204e9800998ecf8427e"},
                  "subscriptions": list(subs), "cursor": f"c1.test.f{i}"})


def presence_model(pid: str, user: str, status: str = "online", source: str = "realtime", *, created: str = "10:00:00",
                   updated: str | None = None, expires: str = "", metadata: dict[str, Any] | None = None) -> dict:
    """A presence as the server returns it, on 2026-01-15 (UTC) at the given times."""
    day = "2026-01-15T"
    return {"$id": pid, "$createdAt": f"{day}{created}.000+00:00", "$updatedAt": f"{day}{updated or created}.000+00:00",
            "$permissions": ['read("users")'], "userId": user, "status": status, "source": source,
            "expiresAt": expires or (f"{day}10:31:00.000+00:00" if source == "realtime" else ""),
            "metadata": metadata or {}}


def presence_event(model: dict, action: str, subs: Iterable[str] = ("rtcli-monitor-presences",)) -> Event:
    pid = model["$id"]
    return Event({"events": [f"presences.{pid}.{action}", f"presences.*.{action}", f"presences.{pid}", "presences.*"],
                  "channels": ["presences", f"presences.{pid}", f"presences.{action}", f"presences.{pid}.{action}"],
                  "timestamp": model["$updatedAt"], "payload": model, "subscriptions": list(subs),
                  "cursor": f"c1.test.p.{pid}.{action}"})


def sample_presences() -> list[dict]:
    """Four presences: realtime ones with metadata, an API one that expires, one without a name."""
    return [
        presence_model("tab-ada-1", "ada", "online", created="09:12:00",
                       metadata={"name": "Ada Lovelace", "page": "/orders", "typing": False}),
        presence_model("tab-grace", "grace", "away", created="09:40:30",
                       metadata={"name": "Grace Hopper", "page": "/"}),
        presence_model("kiosk-3", "svc-kiosk", "busy", "api", created="08:00:00",
                       expires="2026-01-15T12:00:00.000+00:00", metadata={"location": "lobby", "battery": 71}),
        presence_model("tab-6f1c", "6f1c2e9a0b7d4c3e", "online", created="10:00:20"),
    ]


class ScriptedRest(RestActions):
    """REST actions whose presence list is fixed (nothing is sent); the forms still open."""

    def __init__(self, presences: list[dict] | None = None) -> None:
        super().__init__("http://127.0.0.1:9/v1", "default")
        self.listed = sample_presences() if presences is None else presences

    def presences(self, page: int = 100, most: int = 5000) -> list[dict]:
        return [dict(p) for p in self.listed]

    def explain(self, cursor: str, *, user: str | None = None, key: bool = False, channel: str | None = None,
                queries: list[str] | None = None) -> dict:
        """The server's answer for a scripted orders row event (readable by "any"; total = 10 x its
        number), the first query failing."""
        i = int(cursor.rsplit(".", 1)[-1])
        checks = [{"query": q, "matches": n > 0, "reason": f"total = {i * 10} does not satisfy greaterThan [50]"
                   if n == 0 else "satisfied"} for n, q in enumerate(queries or [])]
        who = "an API key" if key else (f"user {user}" if user else "a guest")
        return {"cursor": cursor, "event": f"tablesdb.main.tables.orders.rows.row{i:04d}.delete", "subscriber": who,
                "roles": [] if key else ["any", "guests"], "event_roles": ["any"],
                "channel": {"channel": channel, "matches": True, "matched_channels": [channel]},
                "permission": {"matches": True, "reason": 'the event is readable by "any"'},
                "queries": checks, "drops": [], "verdict": "not delivered" if checks else "delivered"}


def sample_events(n: int = 30) -> list[Event]:
    """A mix of row creates/updates/deletes on two tables and a few file uploads."""
    out: list[Event] = []
    for i in range(1, n + 1):
        if i % 7 == 0:
            out.append(file_event(i))
        else:
            action = ACTIONS[i % 4] if i % 5 else "delete"
            table = "messages" if i % 3 else "orders"
            data = {"text": f"hello {i}", "n": i} if table == "messages" else {"total": i * 10, "status": "open"}
            # sub3 is the snapshots' orders subscription, with the query total>50
            subs = ("sub1", "sub3") if table == "orders" and i * 10 > 50 else ("sub1",)
            out.append(row_event(i, action, table=table, data=data, subs=subs))
    return out


class ScriptedSource:
    """Same methods as RealtimeClient. Subscription ids are sub1, sub2, …; ``stream()`` yields
    connecting, connected, the confirmation, a pong, then ``items``, then what ``push()`` adds
    until close()."""

    def __init__(self, items: Iterable[Any] = (), rtt: float = 0.0042) -> None:
        self.items = list(items)
        self.rtt = rtt
        self.subs: dict[str, tuple[list[str], list[str]]] = {}
        self.calls: list[tuple] = []
        self._n = 0
        self._closed = asyncio.Event()
        self._more: asyncio.Queue[Any] = asyncio.Queue()

    def push(self, *items: Any) -> None:
        """More items for ``stream()``, after the scripted ones."""
        for item in items:
            self._more.put_nowait(item)

    async def subscribe(self, channels, queries=(), since=None, subscription_id=None, policy=None) -> str:
        if subscription_id is None:
            self._n += 1
            subscription_id = f"sub{self._n}"
        self.subs[subscription_id] = (list(channels), list(queries))
        self.calls.append(("subscribe", subscription_id, list(channels), list(queries)))
        return subscription_id

    async def unsubscribe(self, subscription_id: str) -> None:
        self.subs.pop(subscription_id, None)
        self.calls.append(("unsubscribe", subscription_id))

    async def ping(self) -> None:
        pass

    async def close(self) -> None:
        self._closed.set()

    async def stream(self) -> AsyncIterator[Any]:
        yield StateChange("connecting")
        yield StateChange("connected")
        yield Subscribed([{"subscriptionId": sid, "channels": ch, "queries": q} for sid, (ch, q) in self.subs.items()])
        yield Pong(self.rtt)
        for item in self.items:
            yield item
        while not self._closed.is_set():
            getter = asyncio.ensure_future(self._more.get())
            closer = asyncio.ensure_future(self._closed.wait())
            done, _ = await asyncio.wait({getter, closer}, return_when=asyncio.FIRST_COMPLETED)
            closer.cancel()
            if getter in done:
                yield getter.result()
            else:
                getter.cancel()
