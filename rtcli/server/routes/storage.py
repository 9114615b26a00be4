"""Storage routes (/v1/storage/buckets…): multipart uploads (whole or chunked), downloads with Range."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from rtcli.errors import AppwriteError
from rtcli.server.routes.unsupported import not_offered
from rtcli.server.http import array_param, body, client_ip, ctx, indexed_array, json_response, no_content
from rtcli.services.context import Ctx
from rtcli.services.projects import hash_key
from rtcli.services.storage import CHUNK, Storage


def _svc(request: Request) -> Storage:
    svc: Storage = request.app.state.services.storage
    return svc


async def buckets(request: Request) -> Response:
    c = await ctx(request)
    if request.method == "POST":
        return json_response(await _svc(request).create_bucket(c, await body(request)), 201)
    return json_response(await _svc(request).list_buckets(c, array_param(request, "queries")))


async def bucket(request: Request) -> Response:
    c, bid = await ctx(request), request.path_params["bucket"]
    if request.method == "GET":
        return json_response(await _svc(request).get_bucket(c, bid))
    if request.method == "PUT":
        return json_response(await _svc(request).update_bucket(c, bid, await body(request)))
    await _svc(request).delete_bucket(c, bid)
    return no_content()


async def files(request: Request) -> Response:
    c, bid = await ctx(request), request.path_params["bucket"]
    svc = _svc(request)
    if request.method == "GET":
        return json_response(await svc.list(c, bid, array_param(request, "queries"), request.query_params.get("search")))
    content_range = request.headers.get("content-range")
    # A chunk is at most 5 MiB; a whole file at most the server's limit. Refuse larger bodies
    # before parsing them (multipart adds a little overhead).
    limit = (CHUNK if content_range else svc.max_file_size) + 1024 * 1024
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise AppwriteError("storage_invalid_file_size", f"The request body is larger than {limit} bytes.")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise AppwriteError("storage_invalid_file", "Upload files as multipart/form-data with a `file` field.")
    await svc.authorize_upload(c, bid)  # before the body is read and spooled to disk
    form = await request.form(max_files=1, max_fields=200)
    try:
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise AppwriteError("storage_invalid_file", "The `file` field with the file's bytes is missing.")
        perms = indexed_array(form.multi_items(), "permissions") or None
        model, status = await svc.upload(
            c, bid, form.get("fileId"), request.headers.get("x-appwrite-id"), upload.filename or "",
            upload.content_type, upload.file, upload.size or 0, content_range, perms, _uploader(request, c))
    finally:
        await form.close()
    return json_response(model, status)


def _uploader(request: Request, c: Ctx) -> str:
    """Who sends an upload's chunks: the user, the one API key (not any key: two workers'
    keys must not write into each other's uploads), or, for a guest, its address."""
    if c.actor.user_id:
        return c.actor.user_id
    key = request.headers.get("x-appwrite-key")
    if c.actor.is_key and key:
        return f"key:{hash_key(key)[:32]}"
    return f"address:{client_ip(request)}"


async def file(request: Request) -> Response:
    c, bid, fid = await ctx(request), request.path_params["bucket"], request.path_params["file"]
    if request.method == "GET":
        return json_response(await _svc(request).get(c, bid, fid))
    if request.method == "PUT":
        return json_response(await _svc(request).update(c, bid, fid, await body(request)))
    await _svc(request).delete(c, bid, fid)
    return no_content()


# Types a browser shows without running anything of the file's: only these are served inline by
# /view. Anything else (HTML, SVG, XML, JavaScript, unknown types) could run script on the API's
# origin, where it would act with the viewer's session: it is always an attachment.
_INLINE_TYPES = frozenset({
    "image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp", "image/x-icon",
    "image/vnd.microsoft.icon", "text/plain", "application/pdf", "application/json"})
_INLINE_PREFIXES = ("audio/", "video/")
# On every file body: no type sniffing (a "text/plain" file is never run as HTML), and a sandbox
# (an opaque origin without scripts, forms or plugins) should a browser render it all the same.
FILE_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"}


def inline_safe(mime: str) -> bool:
    """Whether a file of this type may be shown in the browser (``/view``) rather than saved."""
    base = mime.split(";", 1)[0].strip().lower()
    return base in _INLINE_TYPES or base.startswith(_INLINE_PREFIXES)


async def content(request: Request) -> Response:
    c, bid, fid = await ctx(request), request.path_params["bucket"], request.path_params["file"]
    kind = request.path_params["kind"]
    if kind not in ("download", "view", "preview"):
        raise not_offered(request)
    f, path = await _svc(request).open(c, bid, fid)
    # A preview is the stored file as it is: rtcli does not resize, crop or convert images.
    inline = kind != "download" and inline_safe(f.mime_type)
    return FileResponse(path, media_type=f.mime_type, filename=f.name, headers=FILE_HEADERS,
                        content_disposition_type="inline" if inline else "attachment")


routes = [
    Route("/storage/buckets", buckets, methods=["GET", "POST"]),
    Route("/storage/buckets/{bucket}", bucket, methods=["GET", "PUT", "DELETE"]),
    Route("/storage/buckets/{bucket}/files", files, methods=["GET", "POST"]),
    Route("/storage/buckets/{bucket}/files/{file}", file, methods=["GET", "PUT", "DELETE"]),
    Route("/storage/buckets/{bucket}/files/{file}/{kind}", content, methods=["GET"]),
]
