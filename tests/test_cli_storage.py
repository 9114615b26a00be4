"""`rtcli bucket …` and `rtcli file …` through the real entry point against a real server, and the
client's chunked upload (the SDKs' wire shape, parallelism, retries) against the same server."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time

import httpx
import pytest

from rtcli.client.api import ApiClient, ConnectionFailed
from rtcli.client.storage import CHUNK, Storage, content_disposition_filename
from tests.test_cli import modules_after, heavy_in, ok_json, run
from tests.test_cli_subscribe import Subscriber

MiB = 1024 * 1024


@pytest.fixture
def env(shared_server, tmp_path):
    return shared_server.cli_env(tmp_path / "config", columns=200)


@pytest.fixture
def bucket(env):
    """A fresh bucket anyone may read, made with `rtcli bucket create`."""
    bid = "b" + os.urandom(4).hex()
    b = ok_json("bucket", "create", bid, "--name", "Test bucket", "-p", "read:any", "-e", "txt", "-e", ".BIN",
                "--max-size", "64M", env=env)
    assert (b["$id"], b["name"], b["$permissions"]) == (bid, "Test bucket", ['read("any")'])
    assert b["allowedFileExtensions"] == ["txt", "bin"] and b["maximumFileSize"] == 64 * MiB
    return bid


def write_random(path, size: int) -> str:
    data = os.urandom(size)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- buckets ------------------------------------------------------------------------------------


def test_bucket_round_trip(env, bucket):
    assert ok_json("bucket", "get", bucket, env=env)["fileSecurity"] is False
    assert bucket in [b["$id"] for b in ok_json("bucket", "list", env=env)["buckets"]]
    secure = ok_json("bucket", "create", "unique()", "--file-security", "--disabled", env=env)  # a new unique one
    assert len(secure["$id"]) == 20 and secure["fileSecurity"] is True and secure["enabled"] is False
    r = run("bucket", "list", env=env)
    assert r.returncode == 0 and bucket in r.stdout and "buckets" in r.stderr
    r = run("bucket", "delete", secure["$id"], env=env)
    assert r.returncode == 0 and f"deleted bucket {secure['$id']}" in r.stdout
    r = run("bucket", "get", secure["$id"], env=env)
    assert r.returncode == 1 and r.stdout == "" and "(storage_bucket_not_found, 404)" in r.stderr


# --- upload, download, events -------------------------------------------------------------------


def test_upload_and_download_are_identical_and_each_file_is_one_create_event(env, bucket, tmp_path):
    small, big = tmp_path / "small.txt", tmp_path / "big.bin"
    small_sha, big_sha = write_random(small, 1024), write_random(big, 12 * MiB)
    sub = Subscriber([f"buckets.{bucket}.files", "--json"], env)
    try:
        sub.wait_err("subscribed")
        started = time.perf_counter()
        r = run("file", "upload", bucket, str(small), str(big), "--json", env=env, timeout=120)
        took = time.perf_counter() - started
        assert r.returncode == 0, r.stderr
        models = [json.loads(line) for line in r.stdout.splitlines()]
        assert [m["name"] for m in models] == ["small.txt", "big.bin"]
        s, b = models
        assert (s["sizeOriginal"], s["chunksTotal"], s["chunksUploaded"]) == (1024, 1, 1)
        assert (b["sizeOriginal"], b["chunksTotal"], b["chunksUploaded"]) == (12 * MiB, 3, 3)
        assert s["signature"] == hashlib.md5(small.read_bytes()).hexdigest()
        assert b["signature"] == hashlib.md5(big.read_bytes()).hexdigest()
        assert "uploaded big.bin: 12.0 MiB in" in r.stderr
        print(f"rtcli file upload (1 KiB + 12 MiB): {took:.2f} s wall, {r.stderr.strip()}")

        # Exactly one event per file, a create, sent when the last chunk landed.
        events = [sub.json_line(timeout=15) for _ in models]
        sub.no_line(within=1.5)
    finally:
        sub.kill()
    by_file = {e["payload"]["$id"]: e for e in events}
    assert set(by_file) == {s["$id"], b["$id"]}
    for m in models:
        e = by_file[m["$id"]]
        assert f"buckets.{bucket}.files.{m['$id']}.create" in e["events"]
        assert e["payload"]["chunksUploaded"] == e["payload"]["chunksTotal"] and e["payload"]["signature"]

    out = tmp_path / "out"
    out.mkdir()
    r = run("file", "download", bucket, b["$id"], "-o", str(out), env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert sha256(out / "big.bin") == big_sha  # named from Content-Disposition
    assert f"to {out / 'big.bin'}" in r.stdout
    saved = ok_json("file", "download", bucket, s["$id"], "-o", str(out / "copy.txt"), env=env)
    assert saved == {"$id": s["$id"], "bucketId": bucket, "path": str(out / "copy.txt"), "size": 1024}
    assert sha256(out / "copy.txt") == small_sha
    # Default target: the file's own name in the current directory; `-o -` streams to stdout.
    import subprocess

    from tests.test_cli import rtcli_cmd

    here = tmp_path / "here"
    here.mkdir()
    r = subprocess.run([*rtcli_cmd(), "file", "download", bucket, s["$id"]], cwd=here, env=env, capture_output=True)
    assert r.returncode == 0, r.stderr and sha256(here / "small.txt") == small_sha
    r = subprocess.run([*rtcli_cmd(), "file", "download", bucket, b["$id"], "-o", "-"], env=env, capture_output=True)
    assert r.returncode == 0 and hashlib.sha256(r.stdout).hexdigest() == big_sha
    assert sorted(p.name for p in out.iterdir()) == ["big.bin", "copy.txt"]  # no .part files left


def test_file_commands(env, bucket, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    f = ok_json("file", "upload", bucket, str(path), "--id", "notes", "--name", "renamed.txt",
                "-p", "read:any", "-p", "delete:users", env=env)
    assert (f["$id"], f["name"], f["mimeType"]) == ("notes", "renamed.txt", "text/plain")
    assert set(f["$permissions"]) == {'read("any")', 'delete("users")'}
    assert ok_json("file", "get", bucket, "notes", env=env)["sizeOriginal"] == 6
    ok_json("file", "upload", bucket, str(path), env=env)
    listed = ok_json("file", "list", bucket, env=env)
    assert listed["total"] == 2
    assert [x["$id"] for x in ok_json("file", "list", bucket, "-q", "name=renamed.txt", env=env)["files"]] == ["notes"]
    assert len(ok_json("file", "list", bucket, "--limit", "1", env=env)["files"]) == 1
    r = run("file", "list", bucket, env=env)
    assert r.returncode == 0 and "renamed.txt" in r.stdout and "6 B" in r.stdout and r.stderr == "2 of 2 files\n"
    r = run("file", "delete", bucket, "notes", env=env)
    assert r.returncode == 0 and "deleted file notes" in r.stdout
    r = run("file", "get", bucket, "notes", env=env)
    assert r.returncode == 1 and "(storage_file_not_found, 404)" in r.stderr


# --- errors -------------------------------------------------------------------------------------


def test_upload_errors(env, bucket, tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("x")
    r = run("file", "upload", "no-such-bucket", str(path), env=env)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.strip() == (f"error: {path}: Storage bucket with the requested ID 'no-such-bucket' could "
                                "not be found. (storage_bucket_not_found, 404)")
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ")
    r = run("file", "upload", bucket, str(exe), env=env)
    assert r.returncode == 1 and r.stdout == ""
    assert "extension 'exe' is not allowed" in r.stderr and "(storage_file_type_unsupported, 400)" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    # A large file is refused the same way, before any byte of it is sent.
    big_exe = tmp_path / "big.exe"
    big_exe.write_bytes(b"\0" * (CHUNK + 1))
    r = run("file", "upload", bucket, str(big_exe), env=env)
    assert r.returncode == 1 and "(storage_file_type_unsupported, 400)" in r.stderr

    for argv, needle in [
        (["file", "upload", bucket, str(tmp_path / "missing.txt")], "does not exist"),
        (["file", "upload", bucket, str(tmp_path)], "is a directory"),
        (["file", "upload", bucket, str(path), str(path), "--id", "x"], "single PATH"),
        (["bucket", "create", "b1", "--max-size", "lots"], "--max-size"),
    ]:
        r = run(*argv, env=env)
        assert r.returncode == 2 and needle in r.stderr and r.stdout == "", (argv, r.stderr)

    out = tmp_path / "dl"
    out.mkdir()
    r = run("file", "download", bucket, "nope", "-o", str(out / "x"), env=env)
    assert r.returncode == 1 and "(storage_file_not_found, 404)" in r.stderr
    assert list(out.iterdir()) == []
    ok_json("file", "upload", bucket, str(path), "--id", "there", env=env)
    r = run("file", "download", bucket, "there", "-o", str(tmp_path / "no" / "dir" / "x"), env=env)
    assert r.returncode == 1 and r.stderr.strip() == f"error: cannot write {tmp_path / 'no' / 'dir' / 'x'}: No such file or directory"


def test_upload_imports_nothing_heavy(env, bucket, tmp_path):
    path = tmp_path / "m.txt"
    path.write_text("m")
    code, modules = modules_after(["file", "upload", bucket, str(path), "--json"], env, tmp_path)
    assert code in (0, None)
    assert heavy_in(modules) == [] and "pydantic" not in modules
    assert "rich.progress" not in modules  # no terminal, no progress bar


# --- the client's chunked upload ------------------------------------------------------------------


class Recorder(httpx.BaseTransport):
    """The real transport, recording each upload (POST) request's headers and form fields, counting
    requests in flight, and failing the chosen requests (by number) before they are sent."""

    def __init__(self, fail: set[int] = frozenset()) -> None:
        self.inner = httpx.HTTPTransport()
        self.fail = set(fail)
        self.lock = threading.Lock()
        self.seen: list[dict] = []
        self.in_flight = self.max_in_flight = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        if request.method != "POST":
            return self.inner.handle_request(request)
        with self.lock:
            number = len(self.seen)
            self.seen.append({"range": request.headers.get("content-range"), "id": request.headers.get("x-appwrite-id"),
                              "fileId": b'name="fileId"' in body, "failed": number in self.fail})
            if number in self.fail:
                raise httpx.ConnectError("injected failure")
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            time.sleep(0.05)  # keep requests overlapping so the parallelism shows
            return self.inner.handle_request(request)
        finally:
            with self.lock:
                self.in_flight -= 1


def test_chunked_upload_wire_shape_parallelism_and_retry(shared_server, tmp_path):
    size = 9 * CHUNK + 12345  # 10 chunks: the first alone, then 9 with at most 8 at a time
    path = tmp_path / "big.bin"
    digest = write_random(path, size)
    with shared_server.admin() as admin:
        assert admin.post("/storage/buckets", json={"bucketId": "wire", "name": "wire"}).status_code == 201
    recorder = Recorder(fail={3})  # the third chunk's first attempt fails; it is sent again
    progress: list[int] = []
    lock = threading.Lock()

    def on_progress(delta: int) -> None:
        with lock:
            progress.append(delta)

    with ApiClient(shared_server.endpoint, "default", shared_server.api_key, transport=recorder) as client:
        storage = Storage(client)
        model = storage.create_file("wire", path, "wired", progress=on_progress)
        assert (model["$id"], model["chunksUploaded"], model["chunksTotal"]) == ("wired", 10, 10)
        assert model["signature"] == hashlib.md5(path.read_bytes()).hexdigest()
        received = []
        storage.download("wire", "wired", lambda length, name: received.append((length, name)) or _Sink(received))
    first, rest = recorder.seen[0], recorder.seen[1:]
    assert first == {"range": f"bytes 0-{CHUNK - 1}/{size}", "id": None, "fileId": True, "failed": False}
    assert all(r["id"] == "wired" and r["fileId"] for r in rest)
    ranges = sorted({r["range"] for r in rest}, key=lambda r: int(r.split()[1].split("-")[0]))
    assert ranges == [f"bytes {s}-{min(s + CHUNK, size) - 1}/{size}" for s in range(CHUNK, size, CHUNK)]
    assert sum(r["failed"] for r in rest) == 1 and len(rest) == 10
    assert 2 <= recorder.max_in_flight <= 8
    assert sum(progress) == size and min(progress) < 0  # the failed attempt's bytes were taken back
    assert received[0] == (size, "big.bin")
    assert hashlib.sha256(b"".join(received[1:])).hexdigest() == digest


class _Sink:
    def __init__(self, parts: list) -> None:
        self.parts = parts

    def write(self, data: bytes) -> None:
        self.parts.append(bytes(data))


def test_a_chunk_that_keeps_failing_ends_the_upload(shared_server, tmp_path):
    path = tmp_path / "f.bin"
    write_random(path, CHUNK + 10)
    with shared_server.admin() as admin:
        assert admin.post("/storage/buckets", json={"bucketId": "flaky", "name": "flaky"}).status_code == 201
    recorder = Recorder(fail={1, 2, 3})
    with ApiClient(shared_server.endpoint, "default", shared_server.api_key, transport=recorder) as client:
        with pytest.raises(ConnectionFailed, match="injected failure"):
            Storage(client).create_file("flaky", path, retries=2)
    assert len(recorder.seen) == 4  # the first chunk, then three attempts of the second


def test_content_disposition_filename():
    assert content_disposition_filename('attachment; filename="a b.txt"') == "a b.txt"
    assert content_disposition_filename("attachment; filename*=utf-8''%C3%A9t%C3%A9.txt; filename=\"x\"") == "été.txt"
    assert content_disposition_filename('attachment; filename="../../etc/passwd"') == "passwd"
    assert content_disposition_filename('attachment; filename=".."') is None
    assert content_disposition_filename(None) is None
