"""Buckets and file records (SQLite and PostgreSQL): typed records, no policy. Bytes are handled
by services.storage (blob files)."""

from __future__ import annotations

from typing import Any

import orjson

from rtcli.core.ports import Store, Transaction
from rtcli.core.queries import ListPlan
from rtcli.core.records import Bucket, File
from rtcli.errors import AppwriteError
from rtcli.store.dialect import UniqueViolation
from rtcli.store.sqlquery import where_clause


def _j(v: object) -> str:
    return orjson.dumps(v).decode()


def _bucket(r: Any) -> Bucket:
    spec = orjson.loads(r["spec"])  # every setting of the bucket, beside its id and dates
    return Bucket(id=r["id"], name=spec["name"], permissions=spec["permissions"], file_security=spec["file_security"],
                  enabled=spec["enabled"], maximum_file_size=spec["maximum_file_size"],
                  allowed_file_extensions=spec["allowed_file_extensions"], created_at=r["created_at"],
                  updated_at=r["updated_at"])


def _spec(b: Bucket) -> str:
    return _j({"name": b.name, "permissions": b.permissions, "file_security": b.file_security, "enabled": b.enabled,
               "maximum_file_size": b.maximum_file_size, "allowed_file_extensions": b.allowed_file_extensions})


def _file(r: Any) -> File:
    return File(seq=r["seq"], bucket_id=r["bucket"], id=r["id"], name=r["name"],
                permissions=orjson.loads(r["permissions"]), mime_type=r["mime_type"], size=r["size"],
                signature=r["signature"], chunks_total=r["chunks_total"], chunks_uploaded=r["chunks_uploaded"],
                blob=r["blob"], complete=bool(r["complete"]), expires=r["expires"], owner=r["owner"],
                created_at=r["created_at"], updated_at=r["updated_at"])


# File list queries address these attributes (Appwrite's File model names).
FILE_ATTRIBUTES = {"$id": "id", "name": "name", "mimeType": "mime_type", "sizeOriginal": "size",
                   "$createdAt": "created_at", "$updatedAt": "updated_at", "signature": "signature"}


class StorageStore:
    """Implements core.repositories.StorageRepository. ``read_roles`` holds who may read each file, the
    column a user's list is filtered by."""

    def __init__(self, store: Store) -> None:
        self.s = store
        self.d: Any = store.dialect  # store/dialect.py: SqliteDialect or PostgresDialect

    async def bucket(self, project: str, bid: str, tx: Transaction | None = None) -> Bucket | None:
        r = await (tx or self.s).fetchone("SELECT * FROM buckets WHERE project=? AND id=?", (project, bid))
        return _bucket(r) if r else None

    async def buckets(self, project: str, limit: int, offset: int) -> tuple[int, list[Bucket]]:
        total = (await self.s.fetchone("SELECT COUNT(*) FROM buckets WHERE project=?", (project,)))[0]
        rows = await self.s.fetchall("SELECT * FROM buckets WHERE project=? ORDER BY created_at, id LIMIT ? OFFSET ?",
                                     (project, limit, offset))
        return int(total), [_bucket(r) for r in rows]

    async def insert_bucket(self, tx: Transaction, project: str, b: Bucket) -> None:
        try:
            await tx.execute("INSERT INTO buckets (project, id, spec, created_at, updated_at) VALUES (?,?,?,?,?)",
                             (project, b.id, _spec(b), b.created_at, b.updated_at))
        except UniqueViolation:  # the caller checked; a request at the same moment took the id since
            raise AppwriteError("storage_bucket_already_exists") from None

    async def save_bucket(self, tx: Transaction, project: str, b: Bucket) -> None:
        await tx.execute("UPDATE buckets SET spec=?, updated_at=? WHERE project=? AND id=?",
                         (_spec(b), b.updated_at, project, b.id))

    async def delete_bucket(self, tx: Transaction, project: str, bid: str) -> list[str]:
        rows = await tx.fetchall("SELECT seq, blob FROM files WHERE project=? AND bucket=?", (project, bid))
        for r in rows:
            await tx.execute("DELETE FROM file_chunks WHERE file_seq=?", (r[0],))
        await tx.execute("DELETE FROM files WHERE project=? AND bucket=?", (project, bid))
        await tx.execute("DELETE FROM buckets WHERE project=? AND id=?", (project, bid))
        return [str(r[1]) for r in rows]

    async def file(self, project: str, bid: str, fid: str, tx: Transaction | None = None) -> File | None:
        r = await (tx or self.s).fetchone("SELECT * FROM files WHERE project=? AND bucket=? AND id=?", (project, bid, fid))
        return _file(r) if r else None

    async def insert_file(self, tx: Transaction, project: str, f: File, read_roles: list[str]) -> int:
        seq = await tx.insert(
            "INSERT INTO files (project, bucket, id, name, permissions, read_roles, mime_type, size, signature,"
            " chunks_total, chunks_uploaded, blob, complete, expires, owner, created_at, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (project, f.bucket_id, f.id, f.name, _j(f.permissions), _j(read_roles), f.mime_type, f.size, f.signature,
             f.chunks_total, f.chunks_uploaded, f.blob, int(f.complete), f.expires, f.owner, f.created_at,
             f.updated_at))
        assert seq is not None, "a plain INSERT always makes a row (a taken id raises)"
        return seq

    async def update_file(self, tx: Transaction, f: File, read_roles: list[str]) -> None:
        await tx.execute(
            "UPDATE files SET name=?, permissions=?, read_roles=?, signature=?, chunks_uploaded=?, complete=?,"
            " expires=?, updated_at=? WHERE seq=?",
            (f.name, _j(f.permissions), _j(read_roles), f.signature, f.chunks_uploaded, int(f.complete), f.expires,
             f.updated_at, f.seq))

    async def add_chunk(self, tx: Transaction, file_seq: int, chunk: int) -> int:
        await tx.execute("INSERT INTO file_chunks (file_seq, chunk) VALUES (?,?) ON CONFLICT DO NOTHING",
                         (file_seq, chunk))
        return int((await tx.fetchone("SELECT COUNT(*) FROM file_chunks WHERE file_seq=?", (file_seq,)))[0])

    async def delete_file(self, tx: Transaction, seq: int) -> None:
        await tx.execute("DELETE FROM file_chunks WHERE file_seq=?", (seq,))
        await tx.execute("DELETE FROM files WHERE seq=?", (seq,))

    async def expired_uploads(self, now: float) -> list[File]:
        rows = await self.s.fetchall("SELECT * FROM files WHERE complete=0 AND expires < ?", (now,))
        return [_file(r) for r in rows]

    async def list_files(self, project: str, bid: str, plan: ListPlan, read_filter: list[str] | None,
                         search: str | None) -> tuple[int, list[File]]:
        where = ["project=?", "bucket=?", "complete=1"]
        params: list[Any] = [project, bid]
        if read_filter is not None:
            where.append(self.d.any_role("read_roles", read_filter, params))
        if search:
            where.append(self.d.contains("name", search, params, ci=True))
        for q in plan.filters:
            where.append(where_clause(self.d, q, params, set(), FILE_ATTRIBUTES))
        total = (await self.s.fetchone(f"SELECT COUNT(*) FROM files WHERE {' AND '.join(where)}", params))[0]
        order = ", ".join(f"{FILE_ATTRIBUTES.get(a, 'seq')} {d}" for a, d in plan.orders) or "seq ASC"
        rows = await self.s.fetchall(
            f"SELECT * FROM files WHERE {' AND '.join(where)} ORDER BY {order}, seq LIMIT ? OFFSET ?",
            (*params, plan.limit, plan.offset))
        return int(total), [_file(r) for r in rows]
