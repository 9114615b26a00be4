"""Storage against a real server: uploads (whole and chunked, parallel, out of order), downloads,
permissions, events, and bad input."""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import os
import secrets

import httpx
import pytest

from tests.conftest import start_server
from tests.server.test_realtime import RT, nothing, recv

CHUNK = 5 * 1024 * 1024


@pytest.fixture
def bucket(shared_server):
    bid = "b" + secrets.token_hex(3)
    with shared_server.admin() as a:
        r = a.post("/storage/buckets", json={"bucketId": bid, "name": "B", "permissions": ['read("any")', 'create("any")'],
                                             "allowedFileExtensions": ["bin", "txt"], "maximumFileSize": 20 * 1024 * 1024})
        assert r.status_code == 201, r.text
    return bid


def upload_chunked(server, bid: str, fid: str, data: bytes, name="big.bin", order=None, headers=None):
    """Upload as the SDKs do: the first chunk alone, then the rest in parallel (any order)."""
    h = {"X-Appwrite-Project": "default", "X-Appwrite-Key": server.api_key, **(headers or {})}
    url = f"{server.endpoint}/storage/buckets/{bid}/files"
    size = len(data)
    total = -(-size // CHUNK)

    def send(i: int, upload_id: str | None):
        s, e = i * CHUNK, min((i + 1) * CHUNK, size) - 1
        hh = dict(h, **{"content-range": f"bytes {s}-{e}/{size}"})
        if upload_id:
            hh["x-appwrite-id"] = upload_id
        return httpx.post(url, headers=hh, data={"fileId": fid}, files={"file": (name, data[s:e + 1])}, timeout=30)

    first = send(0, None)
    assert first.status_code == 201, first.text
    rest = order or list(range(1, total))
    with cf.ThreadPoolExecutor(8) as ex:
        results = list(ex.map(lambda i: send(i, first.json()["$id"]), rest))
    return [first, *results]


def test_small_upload_download_and_range(shared_server, bucket):
    with shared_server.admin() as a:
        r = a.post(f"/storage/buckets/{bucket}/files", data={"fileId": "hello", "permissions[]": ['read("any")']},
                   files={"file": ("hello.txt", b"hello world", "text/plain")})
        assert r.status_code == 201, r.text
        f = r.json()
        assert f["$id"] == "hello" and f["sizeOriginal"] == 11 and f["chunksTotal"] == f["chunksUploaded"] == 1
        assert f["signature"] == hashlib.md5(b"hello world").hexdigest() and f["mimeType"] == "text/plain"
    with shared_server.guest() as g:
        d = g.get(f"/storage/buckets/{bucket}/files/hello/download")
        assert d.content == b"hello world" and d.headers["content-type"].startswith("text/plain")
        assert d.headers["content-disposition"].startswith("attachment") and "hello.txt" in d.headers["content-disposition"]
        v = g.get(f"/storage/buckets/{bucket}/files/hello/view", headers={"Range": "bytes=6-10"})
        assert v.status_code == 206 and v.content == b"world"
        assert v.headers["content-disposition"].startswith("inline")
        # the Web SDK builds download URLs with the project in the query string
        u = httpx.get(f"{shared_server.endpoint}/storage/buckets/{bucket}/files/hello/download?project=default&impersonateuserid=")
        assert u.content == b"hello world"


def test_chunked_upload_parallel_out_of_order_one_event(shared_server, bucket):
    rt = RT(shared_server)
    rt.subscribe({"subscriptionId": "f", "channels": [f"buckets.{bucket}.files"], "queries": []})
    data = os.urandom(3 * CHUNK + 12345)
    responses = upload_chunked(shared_server, bucket, "big", data, order=[3, 1, 2])
    assert sorted(r.json()["chunksUploaded"] for r in responses) == [1, 2, 3, 4]
    final = max(responses, key=lambda r: r.json()["chunksUploaded"]).json()
    assert final["signature"] == hashlib.md5(data).hexdigest() and final["chunksTotal"] == 4
    ev = recv(rt.ws)["data"]
    assert ev["events"][0] == f"buckets.{bucket}.files.big.create" and len(ev["events"]) == 10
    assert len(ev["channels"]) == 6 and ev["payload"]["sizeOriginal"] == len(data)
    nothing(rt.ws)  # exactly one event for the whole upload
    with shared_server.guest() as g:
        assert g.get(f"/storage/buckets/{bucket}/files/big/download").content == data
    rt.ws.close()


def test_unfinished_upload_is_invisible(shared_server, bucket):
    data = os.urandom(2 * CHUNK)
    h = {"X-Appwrite-Project": "default", "X-Appwrite-Key": shared_server.api_key, "content-range": f"bytes 0-{CHUNK - 1}/{len(data)}"}
    r = httpx.post(f"{shared_server.endpoint}/storage/buckets/{bucket}/files", headers=h, data={"fileId": "half"},
                   files={"file": ("half.bin", data[:CHUNK])})
    assert r.status_code == 201 and r.json()["chunksUploaded"] == 1
    with shared_server.admin() as a:
        assert a.get(f"/storage/buckets/{bucket}/files/half").status_code == 404
        assert "half" not in [f["$id"] for f in a.get(f"/storage/buckets/{bucket}/files").json()["files"]]


def test_unfinished_uploads_are_cleaned_up(tmp_path, backend_args):
    server = start_server(tmp_path / "data", extra=["--upload-timeout", "0.1", *backend_args])
    try:
        with server.admin() as a:
            a.post("/storage/buckets", json={"bucketId": "b", "name": "b"})
        h = {"X-Appwrite-Project": "default", "X-Appwrite-Key": server.api_key, "content-range": f"bytes 0-{CHUNK - 1}/{2 * CHUNK}"}
        httpx.post(f"{server.endpoint}/storage/buckets/b/files", headers=h, data={"fileId": "x"},
                   files={"file": ("x.bin", os.urandom(CHUNK))}).raise_for_status()
        blobs = list((tmp_path / "data" / "files").iterdir())
        assert len(blobs) == 1
        server.stop()  # housekeeping runs at start and every minute: restart to trigger it now
        server = start_server(tmp_path / "data", port=server.port, extra=["--upload-timeout", "0.1", *backend_args])
        import time

        deadline = time.monotonic() + 10
        while list((tmp_path / "data" / "files").iterdir()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert list((tmp_path / "data" / "files").iterdir()) == []
    finally:
        server.stop()


@pytest.mark.parametrize("headers, form_id, name, size, kind", [
    ({"content-range": "bytes 0-9/5"}, "a", "x.bin", 10, "storage_invalid_content_range"),
    ({"content-range": "bytes 7-9/100"}, "a", "x.bin", 3, "storage_invalid_content_range"),
    ({"content-range": "nonsense"}, "a", "x.bin", 10, "storage_invalid_content_range"),
    ({"content-range": f"bytes {CHUNK}-{CHUNK + 9}/{CHUNK + 5}"}, "a", "x.bin", 10, "storage_invalid_content_range"),
    ({}, "a", "x.exe", 10, "storage_file_type_unsupported"),
    ({}, "../../etc/passwd", "x.bin", 10, "general_argument_invalid"),
    ({}, "a/b", "x.bin", 10, "general_argument_invalid"),
])
def test_bad_uploads(shared_server, bucket, headers, form_id, name, size, kind):
    h = {"X-Appwrite-Project": "default", "X-Appwrite-Key": shared_server.api_key, **headers}
    r = httpx.post(f"{shared_server.endpoint}/storage/buckets/{bucket}/files", headers=h, data={"fileId": form_id},
                   files={"file": (name, b"x" * size)})
    assert r.status_code == 400 and r.json()["type"] == kind, r.text
    assert shared_server.proc.poll() is None


def test_oversized_and_missing_bucket(shared_server, bucket):
    h = {"X-Appwrite-Project": "default", "X-Appwrite-Key": shared_server.api_key}
    big = httpx.post(f"{shared_server.endpoint}/storage/buckets/{bucket}/files", headers=h, data={"fileId": "huge"},
                     files={"file": ("huge.bin", b"x" * (21 * 1024 * 1024))}, timeout=30)
    assert big.status_code == 400 and big.json()["type"] == "storage_invalid_file_size"
    missing = httpx.post(f"{shared_server.endpoint}/storage/buckets/nope/files", headers=h, data={"fileId": "a"},
                         files={"file": ("a.txt", b"x")})
    assert missing.status_code == 404 and missing.json()["type"] == "storage_bucket_not_found"
    no_file = httpx.post(f"{shared_server.endpoint}/storage/buckets/{bucket}/files", headers=h, data={"fileId": "a"})
    assert no_file.status_code == 400


def test_file_security_and_events(shared_server):
    bid = "fs" + secrets.token_hex(3)
    with shared_server.admin() as a:
        a.post("/storage/buckets", json={"bucketId": bid, "name": "fs", "fileSecurity": True})
        rt = RT(shared_server)
        rt.subscribe({"subscriptionId": "f", "channels": ["files"], "queries": []})
        a.post(f"/storage/buckets/{bid}/files", data={"fileId": "private"}, files={"file": ("p.txt", b"secret")})
        a.post(f"/storage/buckets/{bid}/files", data={"fileId": "public", "permissions[]": ['read("any")']},
               files={"file": ("q.txt", b"open")})
        ev = recv(rt.ws)["data"]
        assert ev["payload"]["$id"] == "public"
        nothing(rt.ws)
        with shared_server.guest() as g:
            assert g.get(f"/storage/buckets/{bid}/files/private/download").status_code == 404
            assert g.get(f"/storage/buckets/{bid}/files").json()["total"] == 1
        r = a.put(f"/storage/buckets/{bid}/files/public", json={"name": "renamed.txt"})
        assert r.json()["name"] == "renamed.txt"
        assert recv(rt.ws)["data"]["events"][0] == f"buckets.{bid}.files.public.update"
        assert a.request("DELETE", f"/storage/buckets/{bid}/files/public", json={}).status_code == 204
        deleted = recv(rt.ws)["data"]
        assert deleted["events"][0] == f"buckets.{bid}.files.public.delete" and deleted["payload"]["name"] == "renamed.txt"
        rt.ws.close()
