"""A chunked upload in progress belongs to whoever started it: another guest, another user or
another API key sending a chunk under the same file id is refused, and cannot change the file."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import start_server
from tests.security.probe import keyed, make_key
from tests.server.test_users import signup

CHUNK = 5 * 1024 * 1024
SIZE = CHUNK + 10


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("uploads") / "data")
    with srv.admin() as a:
        r = a.post("/storage/buckets", json={"bucketId": "open", "name": "Open",
                                            "permissions": ['create("any")', 'read("any")']})
        assert r.status_code == 201, r.text
    yield srv
    srv.stop()


def _chunk(client: httpx.Client, fid: str, last: bool, data: bytes, headers: dict | None = None) -> httpx.Response:
    start = CHUNK if last else 0
    rng = f"bytes {start}-{start + len(data) - 1}/{SIZE}"
    return client.post("/storage/buckets/open/files", data={"fileId": fid}, files={"file": ("f.bin", data)},
                       headers={"Content-Range": rng, "X-Appwrite-ID": fid, **(headers or {})})


def _finish_and_check(server, owner: httpx.Client, fid: str, headers: dict | None = None) -> None:
    """The owner's last chunk completes the file with the owner's bytes only."""
    r = _chunk(owner, fid, True, b"0123456789", headers)
    assert r.status_code == 201 and r.json()["chunksUploaded"] == 2, r.text
    with server.admin() as a:
        body = a.get(f"/storage/buckets/open/files/{fid}/download").content
    assert len(body) == SIZE and body.endswith(b"0123456789")


def _refused(r: httpx.Response) -> None:
    assert r.status_code == 409 and r.json()["type"] == "storage_file_already_exists", r.text


def test_another_guest_cannot_write_into_a_guests_upload(server):
    # Two guests, told apart by their address (the proxy in front, trusted on loopback, says so).
    a, b = {"X-Forwarded-For": "203.0.113.7"}, {"X-Forwarded-For": "198.51.100.9"}
    with server.guest() as g:
        assert _chunk(g, "guests", False, b"a" * CHUNK, a).status_code == 201
        _refused(_chunk(g, "guests", True, b"EVIL!EVIL!", b))
        _finish_and_check(server, g, "guests", a)


def test_another_key_or_user_cannot_write_into_an_upload(server):
    first = keyed(server, make_key(server, ["files.write", "files.read"]).json()["secret"])
    second = keyed(server, make_key(server, ["files.write", "files.read"]).json()["secret"])
    _, _, user = signup(server, "uploader")
    _, _, other = signup(server, "intruder")
    with first, second, user, other:
        assert _chunk(first, "bykey", False, b"k" * CHUNK).status_code == 201
        _refused(_chunk(second, "bykey", True, b"EVIL!EVIL!"))  # any files.write key used to match
        _finish_and_check(server, first, "bykey")
        assert _chunk(user, "byuser", False, b"u" * CHUNK).status_code == 201
        for intruder in (other, second):
            _refused(_chunk(intruder, "byuser", True, b"EVIL!EVIL!"))
        _finish_and_check(server, user, "byuser")
