from rtcli.store.postgres.db import PostgresStore

__all__ = ["PostgresStore"]
