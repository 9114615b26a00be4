from rtcli.store.sqlite.db import SqliteStore

__all__ = ["SqliteStore"]
