"""Stored XSS on the API's origin: a file uploaded as HTML, SVG, XML or JavaScript must never be
rendered by a browser from the server (its script would run with the viewer's session and could
mint a JWT); every file body is served with ``nosniff`` and a CSP sandbox. The owner still reads
every file, and images or text still show inline."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import start_server
from tests.security.web import signed_up

SCRIPT = b"<script>fetch('/v1/account/jwts',{method:'POST',credentials:'include'})</script>"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8"
                    "ffff3f0005fe02fea7d6a48f0000000049454e44ae426082")

ACTIVE = [  # (name, declared type, body): what an attacker would upload
    ("x.html", "text/html", b"<!doctype html>" + SCRIPT),
    ("x.htm", "TEXT/HTML; charset=utf-8", SCRIPT),
    ("x.svg", "image/svg+xml", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">' + SCRIPT + b"</svg>"),
    ("x.xml", "application/xml", b'<x:script xmlns:x="http://www.w3.org/1999/xhtml">alert(1)</x:script>'),
    ("x.xhtml", "application/xhtml+xml", b'<html xmlns="http://www.w3.org/1999/xhtml">' + SCRIPT + b"</html>"),
    ("x.js", "text/javascript", b"alert(document.cookie)"),
    ("x.bin", "application/octet-stream", SCRIPT),  # no type: guessed from the name, or sniffed
    ("x.unknown", "application/x-whatever", SCRIPT),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("files") / "data")
    with srv.admin() as a:
        r = a.post("/storage/buckets", json={"bucketId": "up", "name": "Uploads", "fileSecurity": True,
                                            "permissions": ['create("users")', 'read("users")']})
        assert r.status_code == 201, r.text
    yield srv
    srv.stop()


def _upload(client: httpx.Client, fid: str, name: str, mime: str, data: bytes) -> None:
    r = client.post("/storage/buckets/up/files", data={"fileId": fid, "permissions[]": ['read("any")']},
                    files={"file": (name, data, mime)})
    assert r.status_code == 201, r.text


def _assert_guarded(r: httpx.Response) -> None:
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-security-policy"] == "sandbox"


@pytest.mark.parametrize("name,mime,data", ACTIVE, ids=[a[0] for a in ACTIVE])
def test_active_file_is_never_rendered_inline(server, name, mime, data):
    fid = "f" + name.replace(".", "")
    attacker = signed_up(server, f"{fid}@attacker.example")
    _upload(attacker, fid, name, mime, data)
    with server.guest() as victim:  # whoever opens the link, signed in or not
        for kind in ("view", "download"):
            r = victim.get(f"/storage/buckets/up/files/{fid}/{kind}")
            assert r.status_code == 200
            assert r.content == data  # the bytes are there to save, as uploaded
            assert r.headers["content-disposition"].startswith("attachment"), r.headers
            _assert_guarded(r)
        ranged = victim.get(f"/storage/buckets/up/files/{fid}/view", headers={"Range": "bytes=0-4"})
        assert ranged.status_code == 206 and ranged.content == data[:5]
        assert ranged.headers["content-disposition"].startswith("attachment")
        _assert_guarded(ranged)


@pytest.mark.parametrize("name,mime,data", [("p.png", "image/png", PNG), ("t.txt", "text/plain", SCRIPT),
                                            ("v.mp4", "video/mp4", b"\x00\x00\x00\x18ftypmp42")],
                         ids=["png", "text", "video"])
def test_passive_file_still_shows_inline_for_its_owner(server, name, mime, data):
    fid = "p" + name.replace(".", "")
    owner = signed_up(server, f"{fid}@owner.example")
    _upload(owner, fid, name, mime, data)
    v = owner.get(f"/storage/buckets/up/files/{fid}/view")
    assert v.status_code == 200 and v.content == data
    assert v.headers["content-type"].startswith(mime)
    assert v.headers["content-disposition"].startswith("inline")
    _assert_guarded(v)  # text/plain holding markup stays text: nosniff
    d = owner.get(f"/storage/buckets/up/files/{fid}/download")
    assert d.status_code == 200 and d.content == data
    assert d.headers["content-disposition"].startswith("attachment")
    _assert_guarded(d)
