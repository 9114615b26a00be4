"""The Storage service (``/v1/storage``): buckets, files, uploads as the SDKs send them, downloads.

Uploads follow the Appwrite SDKs, so they work against any Appwrite server:

- a file of at most ``CHUNK`` (5 MiB) bytes is one multipart request (``fileId``, ``file``,
  ``permissions[]``);
- a larger file is cut into 5 MiB chunks; the first goes alone with ``content-range: bytes
  0-5242879/SIZE`` and the form field ``fileId``, and the ``$id`` of its response becomes the
  upload ID; the others then go ``concurrency`` at a time (8, as the SDKs), each with
  ``x-appwrite-id: <upload ID>`` and ``content-range: bytes START-END/SIZE`` (END inclusive);
- the file ID is chosen here (``ids.unique()`` unless given), so a retried first chunk continues
  the same upload instead of starting a second one;
- a chunk that fails on the way (connection lost, timeout, 429 or 5xx) is sent again up to
  ``retries`` times; any other error ends the upload with that error;
- the result is the File from the response that completed the upload (``chunksUploaded ==
  chunksTotal``), which carries the signature.

Chunks are read with ``os.pread`` at their offset, so threads never share a file position, and at
most ``concurrency`` chunks are in memory at once. Progress is reported as byte deltas (negative
when a failed chunk is sent again), from any thread.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from rtcli import ids
from rtcli.client.api import ApiClient, ConnectionFailed, _drop_none, _seg
from rtcli.errors import AppwriteError, RtcliError

CHUNK = 5 * 1024 * 1024  # the SDKs' and the server's chunk size
CONCURRENCY = 8
RETRIES = 2

Progress = Callable[[int], None]


def _no_progress(delta: int) -> None:
    pass


def retryable(exc: BaseException) -> bool:
    """Worth sending the same chunk again: the transport failed, or the server was busy or broken."""
    if isinstance(exc, ConnectionFailed):
        return True
    return isinstance(exc, AppwriteError) and (exc.code == 429 or (exc.code or 0) >= 500)


class _Slice:
    """A read-only view of ``length`` bytes of an open file at ``start``, for httpx's multipart
    encoder (which seeks to 0, reads in 64 KiB pieces and measures with seek/tell). Every byte
    handed over is reported; a rewind reports the bytes it takes back."""

    def __init__(self, fd: int, start: int, length: int, progress: Progress) -> None:
        self.fd, self.start, self.length, self.progress = fd, start, length, progress
        self.pos = 0
        self.reported = 0

    def read(self, n: int = -1) -> bytes:
        n = self.length - self.pos if n is None or n < 0 else min(n, self.length - self.pos)
        data = os.pread(self.fd, n, self.start + self.pos) if n > 0 else b""
        self.pos += len(data)
        if self.pos > self.reported:
            self.progress(self.pos - self.reported)
            self.reported = self.pos
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self.pos, os.SEEK_END: self.length}[whence]
        self.pos = max(0, min(self.length, base + offset))
        return self.pos

    def tell(self) -> int:
        return self.pos

    def take_back(self) -> None:
        """Un-report what this attempt sent (it failed and will be sent again)."""
        if self.reported:
            self.progress(-self.reported)
            self.reported = 0


class Storage:
    """Buckets and files, one method each, named like the SDK's methods."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    # --- buckets --------------------------------------------------------------------------

    def create_bucket(self, bucket_id: str, name: str, permissions: Iterable[str] | None = None,
                      file_security: bool | None = None, enabled: bool | None = None,
                      maximum_file_size: int | None = None,
                      allowed_file_extensions: Iterable[str] | None = None) -> dict:
        body = _drop_none({
            "bucketId": bucket_id, "name": name, "fileSecurity": file_security, "enabled": enabled,
            "maximumFileSize": maximum_file_size,
            "permissions": None if permissions is None else list(permissions),
            "allowedFileExtensions": None if allowed_file_extensions is None else list(allowed_file_extensions)})
        return self.client.call("POST", "/storage/buckets", body=body)

    def list_buckets(self, queries: Sequence[str] = ()) -> dict:
        return self.client.call("GET", "/storage/buckets", params={"queries": list(queries)})

    def get_bucket(self, bucket_id: str) -> dict:
        return self.client.call("GET", f"/storage/buckets/{_seg(bucket_id)}")

    def delete_bucket(self, bucket_id: str) -> None:
        self.client.call("DELETE", f"/storage/buckets/{_seg(bucket_id)}")

    # --- files ----------------------------------------------------------------------------

    def _files(self, bucket_id: str) -> str:
        return f"/storage/buckets/{_seg(bucket_id)}/files"

    def list_files(self, bucket_id: str, queries: Sequence[str] = (), search: str | None = None) -> dict:
        return self.client.call("GET", self._files(bucket_id), params={"queries": list(queries), "search": search})

    def get_file(self, bucket_id: str, file_id: str) -> dict:
        return self.client.call("GET", f"{self._files(bucket_id)}/{_seg(file_id)}")

    def delete_file(self, bucket_id: str, file_id: str) -> None:
        self.client.call("DELETE", f"{self._files(bucket_id)}/{_seg(file_id)}")

    def create_file(self, bucket_id: str, path: str | os.PathLike[str], file_id: str | None = None,
                    permissions: Iterable[str] | None = None, *, filename: str | None = None,
                    progress: Progress = _no_progress, concurrency: int = CONCURRENCY,
                    retries: int = RETRIES) -> dict:
        """Upload the file at ``path`` (see the module docstring); returns the File.

        ``filename`` is the name the server records (default: the path's base name)."""
        path = Path(path)
        name = filename or path.name
        perms = None if permissions is None else list(permissions)
        fd = os.open(path, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            fields: dict[str, Any] = {"fileId": file_id or ids.unique()}
            if perms is not None:
                fields["permissions[]"] = perms
            if size <= CHUNK:
                return self._send(bucket_id, fd, name, fields, 0, size, None, {}, progress, retries)
            return self._chunked(bucket_id, fd, name, fields, size, progress, concurrency, retries)
        finally:
            os.close(fd)

    def _send(self, bucket_id: str, fd: int, name: str, fields: dict[str, Any], start: int, length: int,
              size: int | None, headers: dict[str, str], progress: Progress, retries: int) -> dict:
        """One request (a whole file, or one chunk when ``size`` is given), with retries."""
        if size is not None:
            headers = {**headers, "content-range": f"bytes {start}-{start + length - 1}/{size}"}
        for attempt in range(retries + 1):
            body = _Slice(fd, start, length, progress)
            try:
                return self.client.send_form(self._files(bucket_id), fields,
                                             {"file": (name, body, "application/octet-stream")}, headers)
            except RtcliError as e:
                body.take_back()
                if attempt == retries or not retryable(e):
                    raise
                time.sleep(0.5 * 2 ** attempt)
        raise AssertionError("unreachable")

    def _chunked(self, bucket_id: str, fd: int, name: str, fields: dict[str, Any], size: int,
                 progress: Progress, concurrency: int, retries: int) -> dict:
        first = self._send(bucket_id, fd, name, fields, 0, CHUNK, size, {}, progress, retries)
        upload_id = first["$id"]
        headers = {"x-appwrite-id": upload_id}
        starts = range(CHUNK, size, CHUNK)
        results = [first]

        from concurrent.futures import ThreadPoolExecutor, as_completed

        with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="rtcli-upload") as pool:
            futures = [pool.submit(self._send, bucket_id, fd, name, fields, start, min(CHUNK, size - start), size,
                                   headers, progress, retries) for start in starts]
            try:
                for future in as_completed(futures):
                    results.append(future.result())
            except BaseException:
                for future in futures:
                    future.cancel()  # chunks not started yet; those in flight finish on their own
                raise
        for model in results:
            if model.get("chunksUploaded", 0) >= model.get("chunksTotal", 1):
                return model
        # Every chunk was accepted but no response said so (e.g. a server counting differently):
        # the file as it is now.
        return self.get_file(bucket_id, upload_id)

    def download(self, bucket_id: str, file_id: str, dest: Callable[[int | None, str | None], Any],
                 progress: Progress = _no_progress) -> int:
        """Stream ``GET …/files/{id}/download`` into the writable that ``dest(length, filename)``
        returns (length from Content-Length, filename from Content-Disposition; either may be
        None). Returns the number of bytes written."""
        written = 0
        with self.client.stream(f"{self._files(bucket_id)}/{_seg(file_id)}/download") as response:
            length = response.headers.get("content-length")
            out = dest(int(length) if length and length.isdigit() else None,
                       content_disposition_filename(response.headers.get("content-disposition")))
            for block in response.iter_bytes(1024 * 1024):
                out.write(block)
                written += len(block)
                progress(len(block))
        return written


def content_disposition_filename(value: str | None) -> str | None:
    """The file name in a Content-Disposition header (``filename*=utf-8''…`` preferred), reduced to
    a base name so a server cannot point the download outside the chosen directory."""
    if not value:
        return None
    from urllib.parse import unquote

    plain = None
    for part in value.split(";"):
        key, sep, val = part.strip().partition("=")
        if not sep:
            continue
        key, val = key.strip().lower(), val.strip()
        if key == "filename*":
            charset, _, rest = val.partition("''")
            name = unquote(rest or val, encoding=charset or "utf-8", errors="replace")
            return _base(name)
        if key == "filename":
            plain = val[1:-1] if len(val) >= 2 and val[0] == val[-1] == '"' else val
    return _base(plain) if plain else None


def _base(name: str) -> str | None:
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return None if name in ("", ".", "..") else name
