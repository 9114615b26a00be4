"""Buckets and file records (SQLite and PostgreSQL). Bytes are handled by services.storage (blob files)."""

from __future__ import annotations

import orjson

from rtcli.core.ports import Transaction

from rtcli.core.queries import ListPlan
from rtcli.store.sqlquery import where_clause


def _j(v) -> str:
    return orjson.dumps(v).decode()


def _bucket(r) -> dict:
    return {**orjson.loads(r["spec"]), "id": r["id"], "created_at": r["created_at"], "updated_at": r["updated_at"]}


def _file(r) -> dict:
    d = dict(r)
    d["permissions"] = orjson.loads(d["permissions"])
    d["complete"] = bool(d["complete"])
    return d


# File list queries address these attributes (Appwrite's File model names).
FILE_ATTRIBUTES = {"$id": "id", "name": "name", "mimeType": "mime_type", "sizeOriginal": "size",
                   "$createdAt": "created_at", "$updatedAt": "updated_at", "signature": "signature"}


class StorageStore:
    def __init__(self, store) -> None:
        self.s = store
        self.d = store.dialect

    async def bucket(self, project: str, bid: str, tx=None) -> dict | None:
        sql, p = "SELECT * FROM buckets WHERE project=? AND id=?", (project, bid)
        r = await (tx.fetchone(sql, p) if tx else self.s.fetchone(sql, p))
        return _bucket(r) if r else None

    async def buckets(self, project: str, limit: int, offset: int) -> tuple[int, list[dict]]:
        total = (await self.s.fetchone("SELECT COUNT(*) FROM buckets WHERE project=?", (project,)))[0]
        rows = await self.s.fetchall("SELECT * FROM buckets WHERE project=? ORDER BY created_at, id LIMIT ? OFFSET ?",
                                     (project, limit, offset))
        return total, [_bucket(r) for r in rows]

    async def save_bucket(self, tx: Transaction, project: str, b: dict) -> None:
        spec = {k: v for k, v in b.items() if k not in ("id", "created_at", "updated_at")}
        await tx.execute(
            "INSERT INTO buckets (project, id, spec, created_at, updated_at) VALUES (?,?,?,?,?)"
            " ON CONFLICT (project, id) DO UPDATE SET spec=excluded.spec, updated_at=excluded.updated_at",
            (project, b["id"], _j(spec), b["created_at"], b["updated_at"]))

    async def delete_bucket(self, tx: Transaction, project: str, bid: str) -> list[str]:
        """Delete a bucket and its file records; returns the blobs to remove."""
        rows = await tx.fetchall("SELECT seq, blob FROM files WHERE project=? AND bucket=?", (project, bid))
        for r in rows:
            await tx.execute("DELETE FROM file_chunks WHERE file_seq=?", (r[0],))
        await tx.execute("DELETE FROM files WHERE project=? AND bucket=?", (project, bid))
        await tx.execute("DELETE FROM buckets WHERE project=? AND id=?", (project, bid))
        return [r[1] for r in rows]

    async def file(self, project: str, bid: str, fid: str, tx=None) -> dict | None:
        sql, p = "SELECT * FROM files WHERE project=? AND bucket=? AND id=?", (project, bid, fid)
        r = await (tx.fetchone(sql, p) if tx else self.s.fetchone(sql, p))
        return _file(r) if r else None

    async def insert_file(self, tx: Transaction, project: str, f: dict, read_roles: list[str]) -> int:
        return await tx.insert(
            "INSERT INTO files (project, bucket, id, name, permissions, read_roles, mime_type, size, signature,"
            " chunks_total, chunks_uploaded, blob, complete, expires, owner, created_at, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (project, f["bucket"], f["id"], f["name"], _j(f["permissions"]), _j(read_roles), f["mime_type"],
             f["size"], f["signature"], f["chunks_total"], f["chunks_uploaded"], f["blob"], int(f["complete"]),
             f["expires"], f["owner"], f["created_at"], f["updated_at"]))

    async def update_file(self, tx: Transaction, f: dict, read_roles: list[str]) -> None:
        await tx.execute(
            "UPDATE files SET name=?, permissions=?, read_roles=?, signature=?, chunks_uploaded=?, complete=?,"
            " expires=?, updated_at=? WHERE seq=?",
            (f["name"], _j(f["permissions"]), _j(read_roles), f["signature"], f["chunks_uploaded"],
             int(f["complete"]), f["expires"], f["updated_at"], f["seq"]))

    async def add_chunk(self, tx: Transaction, file_seq: int, chunk: int) -> int:
        """Record a received chunk (idempotent); returns how many distinct chunks are in."""
        await tx.execute("INSERT INTO file_chunks (file_seq, chunk) VALUES (?,?) ON CONFLICT DO NOTHING",
                         (file_seq, chunk))
        return (await tx.fetchone("SELECT COUNT(*) FROM file_chunks WHERE file_seq=?", (file_seq,)))[0]

    async def delete_file(self, tx: Transaction, seq: int) -> None:
        await tx.execute("DELETE FROM file_chunks WHERE file_seq=?", (seq,))
        await tx.execute("DELETE FROM files WHERE seq=?", (seq,))

    async def expired_uploads(self, now: float) -> list[dict]:
        rows = await self.s.fetchall("SELECT * FROM files WHERE complete=0 AND expires < ?", (now,))
        return [_file(r) for r in rows]

    async def list_files(self, project: str, bid: str, plan: ListPlan, read_filter: list[str] | None,
                         search: str | None) -> tuple[int, list[dict]]:
        where = ["project=?", "bucket=?", "complete=1"]
        params: list = [project, bid]
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
        return total, [_file(r) for r in rows]
