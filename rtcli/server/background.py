"""The server's periodic work, run as tasks for as long as it serves."""

from __future__ import annotations

import asyncio
import logging

from rtcli.core.ports import Store
from rtcli.services.presence import Presence
from rtcli.services.storage import Storage
from rtcli.services.transactions import Transactions
from rtcli.settings import ServeConfig

log = logging.getLogger("rtcli.server")


async def housekeeping(store: Store, storage: Storage, transactions: Transactions, config: ServeConfig) -> None:
    """Every minute, in short transactions: event-log retention, unfinished uploads, expired
    TablesDB transactions."""
    while True:
        try:
            removed = await store.prune(config.retention_days * 86400, config.retention_events)
            if removed:
                log.info("pruned %d events from the log", removed)
            expired = await storage.clean_expired()
            if expired:
                log.info("removed %d unfinished uploads", expired)
            expired = await transactions.clean_expired()
            if expired:
                log.info("removed %d expired transactions", expired)
        except Exception:  # try again next round; never take the server down
            log.exception("housekeeping failed")
        await asyncio.sleep(60)


async def presence_loop(presence: Presence) -> None:
    """Every 5 s: refresh this node's connection presences, remove expired ones."""
    while True:
        await asyncio.sleep(5)
        try:
            await presence.housekeeping()
        except Exception:
            log.exception("presence housekeeping failed")
