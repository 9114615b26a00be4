"""Storage use cases: buckets, files, chunked uploads (as the SDKs send them), downloads.

Bytes live in ``<data-dir>/files/<blob>`` where ``blob`` is a server-chosen random name. A chunked
upload writes each 5 MiB chunk at its offset (chunks arrive in parallel and out of order),
records it, and the request that lands the last distinct chunk computes the signature and
commits the file with its ``create`` event. Until then the file is invisible to readers; an
upload left unfinished is removed after ``upload_timeout`` seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import mimetypes
import os
import re
import secrets
import time
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from rtcli import ids
from rtcli.core import channels, events, permissions
from rtcli.core.event import Event
from rtcli.core.ports import Store, Transaction
from rtcli.core.repositories import StorageRepository
from rtcli.core.queries import parse_many
from rtcli.core.queries import plan as list_plan
from rtcli.core.records import Bucket, File
from rtcli.errors import AppwriteError, UniqueViolation, invalid
from rtcli.services.context import Ctx

log = logging.getLogger("rtcli.storage")
CHUNK = 5 * 1024 * 1024
_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")
FILE_PERMISSION_ACTIONS = ("read", "update", "delete", "write")


def bucket_model(b: Bucket) -> dict[str, Any]:
    return {"$id": b.id, "$createdAt": b.created_at, "$updatedAt": b.updated_at, "$permissions": b.permissions,
            "fileSecurity": b.file_security, "name": b.name, "enabled": b.enabled,
            "maximumFileSize": b.maximum_file_size, "allowedFileExtensions": b.allowed_file_extensions,
            "compression": "none", "encryption": False, "antivirus": False, "transformations": False, "totalSize": 0}


def file_model(f: File) -> dict[str, Any]:
    return {"$id": f.id, "bucketId": f.bucket_id, "$createdAt": f.created_at, "$updatedAt": f.updated_at,
            "$permissions": f.permissions, "name": f.name, "folder": "", "key": "", "signature": f.signature,
            "mimeType": f.mime_type, "sizeOriginal": f.size, "sizeActual": f.size, "chunksTotal": f.chunks_total,
            "chunksUploaded": f.chunks_uploaded, "encryption": False, "compression": "none"}


class Storage:
    def __init__(self, store: Store, repo: StorageRepository, root: Path, max_file_size: int,
                 upload_timeout: float) -> None:
        self.store = store
        self.repo = repo
        self.root = root
        self.max_file_size = max_file_size
        self.upload_timeout = upload_timeout
        root.mkdir(parents=True, exist_ok=True)

    def blob_path(self, blob: str) -> Path:
        assert re.fullmatch(r"[0-9a-f]{32}", blob), "blob names are server-made"
        return self.root / blob

    # --- buckets -------------------------------------------------------------------------

    async def bucket(self, ctx: Ctx, bid: str, tx: Transaction | None = None) -> Bucket:
        b = await self.repo.bucket(ctx.project, bid, tx)
        if b is None:
            raise AppwriteError("storage_bucket_not_found", f"Storage bucket with the requested ID '{bid}' could not be found.")
        return b

    def _bucket_fields(self, body: dict[str, Any], creating: bool) -> dict[str, Any]:
        """The bucket fields ``body`` sets, checked: all of them when ``creating`` (with their
        defaults), else only those it names."""
        fields: dict[str, Any] = {}
        if creating or "name" in body:
            name = body.get("name")
            if not isinstance(name, str) or not name or len(name) > 128:
                raise invalid("Invalid `name` param: Value must be a string of 1-128 characters.")
            fields["name"] = name
        if creating or "permissions" in body:
            fields["permissions"] = permissions.parse_list(body.get("permissions"))
        for key, field, default in (("fileSecurity", "file_security", False), ("enabled", "enabled", True)):
            if creating or key in body:
                value = body.get(key, default)
                if not isinstance(value, bool):
                    raise invalid(f"Invalid `{key}` param: Value must be a boolean.")
                fields[field] = value
        if creating or "maximumFileSize" in body:
            size = body.get("maximumFileSize", self.max_file_size)
            if isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= self.max_file_size:
                raise invalid(f"Invalid `maximumFileSize` param: must be between 1 and {self.max_file_size} bytes.")
            fields["maximum_file_size"] = size
        if creating or "allowedFileExtensions" in body:
            exts = body.get("allowedFileExtensions") or []
            if not isinstance(exts, list) or not all(isinstance(e, str) and re.fullmatch(r"[A-Za-z0-9]{1,16}", e) for e in exts):
                raise invalid("Invalid `allowedFileExtensions` param: a list of extensions without dots.")
            fields["allowed_file_extensions"] = [e.lower() for e in exts]
        return fields

    async def create_bucket(self, ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
        ctx.require_key("files.write")
        bid = ids.resolve_id(body.get("bucketId"))
        if bid is None:
            raise invalid("Invalid `bucketId` param: Parameter must contain at most 36 chars. Valid chars are a-z, "
                          "A-Z, 0-9, period, hyphen, and underscore. Can't start with a special char")
        now = ids.format_datetime()
        b = Bucket(id=bid, created_at=now, updated_at=now, **self._bucket_fields(body, creating=True))
        async with self.store.transaction(ctx.actor.origin) as tx:
            if await self.repo.bucket(ctx.project, bid, tx):
                raise AppwriteError("storage_bucket_already_exists")
            await self.repo.insert_bucket(tx, ctx.project, b)
        return bucket_model(b)

    async def get_bucket(self, ctx: Ctx, bid: str) -> dict[str, Any]:
        ctx.require_key("files.read")
        return bucket_model(await self.bucket(ctx, bid))

    async def list_buckets(self, ctx: Ctx, queries: list[Any]) -> dict[str, Any]:
        ctx.require_key("files.read")
        p = list_plan(parse_many(queries))
        total, bs = await self.repo.buckets(ctx.project, p.limit, p.offset)
        return {"total": total, "buckets": [bucket_model(b) for b in bs]}

    async def update_bucket(self, ctx: Ctx, bid: str, body: dict[str, Any]) -> dict[str, Any]:
        ctx.require_key("files.write")
        fields = self._bucket_fields(body, creating=False)
        async with self.store.transaction(ctx.actor.origin) as tx:
            # Read in the transaction: a bucket deleted meanwhile is not found (not made again),
            # and on PostgreSQL a concurrent update of it waits for this one.
            b = replace(await self.bucket(ctx, bid, tx), **fields, updated_at=ids.format_datetime())
            await self.repo.save_bucket(tx, ctx.project, b)
        return bucket_model(b)

    async def delete_bucket(self, ctx: Ctx, bid: str) -> None:
        ctx.require_key("files.write")
        await self.bucket(ctx, bid)
        async with self.store.transaction(ctx.actor.origin) as tx:
            blobs = await self.repo.delete_bucket(tx, ctx.project, bid)
        for blob in blobs:
            self.blob_path(blob).unlink(missing_ok=True)

    # --- authorization and events ------------------------------------------------------

    @staticmethod
    def _grants(ctx: Ctx, bucket: Bucket, f: File | None, action: str) -> bool:
        if ctx.actor.is_key:
            ctx.require_scope("files.read" if action == "read" else "files.write")
            return True
        return permissions.grants(ctx.actor, action, bucket.permissions, f.permissions if f else None,
                                  bucket.file_security)

    @staticmethod
    def _event(ctx: Ctx, bucket: Bucket, f: File, action: str) -> Event:
        b, fid = bucket.id, f.id
        roles = permissions.read_roles(bucket.permissions, f.permissions, bucket.file_security)
        return Event(project=ctx.project, events=events.generate([("buckets", b), ("files", fid)], action),
                     channels=channels.with_action(["files", f"buckets.{b}.files", f"buckets.{b}.files.{fid}"], action),
                     roles=roles, payload=file_model(f), timestamp=ids.format_datetime(),
                     user_id=ctx.actor.user_id)

    @staticmethod
    def _read_roles(perms: list[str]) -> list[str]:
        return sorted(permissions.roles_for("read", perms))

    def _permissions(self, ctx: Ctx, value: object) -> list[str]:
        if value is None:
            uid = ctx.actor.user_id
            return [f'read("user:{uid}")', f'update("user:{uid}")', f'delete("user:{uid}")'] if uid else []
        perms = permissions.parse_list(value, FILE_PERMISSION_ACTIONS)
        ctx.assert_can_grant(perms)
        return perms

    # --- upload ----------------------------------------------------------------------------

    async def authorize_upload(self, ctx: Ctx, bid: str) -> Bucket:
        """The bucket, if the caller may upload to it: checked before the request body is read."""
        bucket = await self.bucket(ctx, bid)
        if not bucket.enabled:
            raise AppwriteError("storage_bucket_disabled")
        if not self._grants(ctx, bucket, None, "create"):
            raise AppwriteError("user_unauthorized")
        return bucket

    async def _start_or_join(self, ctx: Ctx, new: File, chunked: bool) -> tuple[File, bool]:
        """The record of the upload ``new`` starts, or of the one in progress that a chunk of the
        same size and owner joins; True beside it when that upload has finished. A whole file
        (not ``chunked``) never joins one: its ID is taken."""
        async with self.store.transaction(ctx.actor.origin) as tx:
            f = await self.repo.file(ctx.project, new.bucket_id, new.id, tx)
            if f is None:
                return replace(new, seq=await self.repo.insert_file(tx, ctx.project, new,
                                                                    self._read_roles(new.permissions))), False
            if not chunked or f.size != new.size or f.owner != new.owner:
                raise AppwriteError("storage_file_already_exists")
            return f, f.complete

    async def upload(self, ctx: Ctx, bid: str, file_id: object, upload_id: str | None, filename: str,
                     content_type: str | None, data: IO[bytes], data_size: int, content_range: str | None,
                     perms: object, uploader: str) -> tuple[dict[str, Any], int]:
        """One upload request: a whole file, or one chunk of a chunked upload; (File, status).
        ``uploader`` names who sends it (a user, one API key, a guest's address): only the same
        uploader's chunks join an upload in progress."""
        bucket = await self.authorize_upload(ctx, bid)
        fid = upload_id or ids.resolve_id(file_id or "unique()")
        if not fid or not ids.is_custom_id(fid):
            raise invalid("Invalid `fileId` param: Parameter must contain at most 36 chars. Valid chars are a-z, "
                          "A-Z, 0-9, period, hyphen, and underscore. Can't start with a special char")
        name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1][:255] or fid
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        if bucket.allowed_file_extensions and ext not in bucket.allowed_file_extensions:
            raise AppwriteError("storage_file_type_unsupported",
                                f"The file extension '{ext}' is not allowed in this bucket "
                                f"({', '.join(bucket.allowed_file_extensions)}).")
        if content_range is None:
            start, end, size = 0, data_size - 1, data_size
        else:
            m = _RANGE.match(content_range.strip())
            if not m:
                raise AppwriteError("storage_invalid_content_range", "Invalid content-range: expected 'bytes START-END/SIZE'.")
            start, end, size = (int(g) for g in m.groups())
            if not (start <= end < size) or end - start + 1 != data_size or start % CHUNK:
                raise AppwriteError("storage_invalid_content_range",
                                    f"Invalid content-range '{content_range}' for a chunk of {data_size} bytes.")
            if end - start + 1 != CHUNK and end != size - 1:
                raise AppwriteError("storage_invalid_content_range", "Only the last chunk may be shorter than 5 MiB.")
        if size > bucket.maximum_file_size or size <= 0:
            raise AppwriteError("storage_invalid_file_size",
                                f"The file size {size} is not allowed (maximum {bucket.maximum_file_size} bytes).")
        total = max(1, -(-size // CHUNK))
        index = start // CHUNK
        mime = content_type if content_type and content_type != "application/octet-stream" else None
        mime = mime or mimetypes.guess_type(name)[0] or "application/octet-stream"
        now = ids.format_datetime()

        new = File(seq=0, bucket_id=bid, id=fid, name=name, permissions=self._permissions(ctx, perms), mime_type=mime,
                   size=size, signature="", chunks_total=total, chunks_uploaded=0, blob=secrets.token_hex(16),
                   complete=False, expires=time.time() + self.upload_timeout, owner=uploader, created_at=now,
                   updated_at=now)
        chunked = content_range is not None
        try:
            f, finished = await self._start_or_join(ctx, new, chunked)
        except UniqueViolation:
            # A request at the same moment (on PostgreSQL) made the record after this one looked:
            # looking again joins its upload, or refuses this one as a later request would be.
            f, finished = await self._start_or_join(ctx, new, chunked)
        if finished:
            # A chunk sent again after the upload finished (a client retrying a lost response):
            # answer with the file, as Appwrite does.
            return file_model(f), 200
        # Write the bytes at their offset, outside the writer lock (chunks arrive in parallel).
        await asyncio.to_thread(_write_at, self.blob_path(f.blob), data, start, size)
        async with self.store.transaction(ctx.actor.origin) as tx:
            current = await self._upload_in_progress(ctx, f, tx)
            before = current.chunks_uploaded
            count = await self.repo.add_chunk(tx, f.seq, index)
            current = replace(current, chunks_uploaded=count, updated_at=ids.format_datetime())
            await self.repo.update_file(tx, current, self._read_roles(current.permissions))
            finishing = count == total and before < total
        if finishing:
            signature = await asyncio.to_thread(_md5, self.blob_path(f.blob))
            async with self.store.transaction(ctx.actor.origin) as tx:
                current = await self._upload_in_progress(ctx, f, tx)
                current = replace(current, signature=signature, complete=True, expires=0,
                                  updated_at=ids.format_datetime())
                await self.repo.update_file(tx, current, self._read_roles(current.permissions))
                await tx.append_event(self._event(ctx, bucket, current, "create"))
        return file_model(current), 201

    async def _upload_in_progress(self, ctx: Ctx, f: File, tx: Transaction) -> File:
        """``f`` as it is now, unless it was deleted (or expired and removed) meanwhile."""
        current = await self.repo.file(ctx.project, f.bucket_id, f.id, tx)
        if current is None or current.seq != f.seq:
            raise AppwriteError("storage_file_not_found", "The upload was cancelled or expired.")
        return current

    # --- read / update / delete ------------------------------------------------------------

    async def _readable(self, ctx: Ctx, bid: str, fid: str) -> tuple[Bucket, File]:
        bucket = await self.bucket(ctx, bid)
        if not bucket.file_security and not self._grants(ctx, bucket, None, "read"):
            raise AppwriteError("user_unauthorized")  # as Appwrite: the bucket itself is closed to the caller
        f = await self.repo.file(ctx.project, bid, fid)
        if f is None or not f.complete or not self._grants(ctx, bucket, f, "read"):
            raise AppwriteError("storage_file_not_found", f"File with the requested ID '{fid}' could not be found.")
        return bucket, f

    async def get(self, ctx: Ctx, bid: str, fid: str) -> dict[str, Any]:
        return file_model((await self._readable(ctx, bid, fid))[1])

    async def open(self, ctx: Ctx, bid: str, fid: str) -> tuple[File, Path]:
        _, f = await self._readable(ctx, bid, fid)
        return f, self.blob_path(f.blob)

    async def list(self, ctx: Ctx, bid: str, queries: list[Any], search: str | None) -> dict[str, Any]:
        bucket = await self.bucket(ctx, bid)
        read_filter = None
        if not self._grants(ctx, bucket, None, "read"):
            if not bucket.file_security:
                raise AppwriteError("user_unauthorized")
            read_filter = sorted(ctx.actor.roles | {"any"})
        p = list_plan(parse_many(queries))
        total, files = await self.repo.list_files(ctx.project, bid, p, read_filter, search)
        return {"total": total, "files": [file_model(f) for f in files]}

    async def update(self, ctx: Ctx, bid: str, fid: str, body: dict[str, Any]) -> dict[str, Any]:
        bucket = await self.bucket(ctx, bid)
        async with self.store.transaction(ctx.actor.origin) as tx:
            f = await self.repo.file(ctx.project, bid, fid, tx)
            if f is None or not f.complete or not (self._grants(ctx, bucket, f, "read") or self._grants(ctx, bucket, f, "update")):
                raise AppwriteError("storage_file_not_found")
            if not self._grants(ctx, bucket, f, "update"):
                raise AppwriteError("user_unauthorized")
            if body.get("name") is not None:
                if not isinstance(body["name"], str) or not body["name"] or len(body["name"]) > 255:
                    raise invalid("Invalid `name` param: Value must be a string of 1-255 characters.")
                f = replace(f, name=body["name"])
            if body.get("permissions") is not None:
                f = replace(f, permissions=self._permissions(ctx, body["permissions"]))
            f = replace(f, updated_at=ids.format_datetime())
            await self.repo.update_file(tx, f, self._read_roles(f.permissions))
            await tx.append_event(self._event(ctx, bucket, f, "update"))
        return file_model(f)

    async def delete(self, ctx: Ctx, bid: str, fid: str) -> None:
        bucket = await self.bucket(ctx, bid)
        async with self.store.transaction(ctx.actor.origin) as tx:
            f = await self.repo.file(ctx.project, bid, fid, tx)
            if f is None or not f.complete or not (self._grants(ctx, bucket, f, "read") or self._grants(ctx, bucket, f, "delete")):
                raise AppwriteError("storage_file_not_found")
            if not self._grants(ctx, bucket, f, "delete"):
                raise AppwriteError("user_unauthorized")
            await self.repo.delete_file(tx, f.seq)
            await tx.append_event(self._event(ctx, bucket, f, "delete"))
        self.blob_path(f.blob).unlink(missing_ok=True)

    async def clean_expired(self) -> int:
        """Remove uploads that were never finished (their bytes and records)."""
        expired = await self.repo.expired_uploads(time.time())
        for f in expired:
            async with self.store.transaction() as tx:
                await self.repo.delete_file(tx, f.seq)
            self.blob_path(f.blob).unlink(missing_ok=True)
        return len(expired)


def _write_at(path: Path, source: IO[bytes], offset: int, size: int) -> None:
    """Copy a (spooled) upload into the blob at ``offset``; the blob is sized up front."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_size < size:
            os.ftruncate(fd, size)
        source.seek(0)
        pos = offset
        while chunk := source.read(1024 * 1024):
            os.pwrite(fd, chunk, pos)
            pos += len(chunk)
    finally:
        os.close(fd)


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(1024 * 1024):
            h.update(chunk)
    return h.hexdigest()
