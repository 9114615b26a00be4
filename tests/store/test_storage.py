"""Buckets and files as the store keeps them, on SQLite and PostgreSQL: records go in and come
back equal, and a bucket's settings stay one JSON ``spec`` under the names rtcli has always
written, so data directories written before still read."""

from __future__ import annotations

from dataclasses import replace

import orjson

from rtcli.core.queries import ListPlan
from rtcli.core.records import Bucket, File
from rtcli.store.storage import StorageStore

NOW = "2026-01-01T00:00:00.000+00:00"
BUCKET = Bucket(id="b1", name="Photos", permissions=['read("any")', 'create("users")'], file_security=True,
                enabled=True, maximum_file_size=1024, allowed_file_extensions=["png"], created_at=NOW, updated_at=NOW)
UPLOAD = File(seq=0, bucket_id="b1", id="f1", name="a.png", permissions=['read("user:u1")'], mime_type="image/png",
              size=10, signature="", chunks_total=1, chunks_uploaded=0, blob="0" * 32, complete=False,
              expires=1e9, owner="u1", created_at=NOW, updated_at=NOW)


def test_buckets_and_files_come_back_as_they_were_saved(with_store):
    async def scenario(store, repo):
        async with store.transaction() as tx:
            await repo.insert_bucket(tx, "p", BUCKET)
            seq = await repo.insert_file(tx, "p", UPLOAD, ["user:u1"])
            count = await repo.add_chunk(tx, seq, 0)
            again = await repo.add_chunk(tx, seq, 0)  # a chunk sent twice counts once
        before = await repo.list_files("p", "b1", ListPlan(), None, None)
        expired = await repo.expired_uploads(2e9)
        done = replace(UPLOAD, seq=seq, chunks_uploaded=count, signature="abc", complete=True, expires=0)
        async with store.transaction() as tx:
            await repo.update_file(tx, done, ["user:u1"])
        spec = (await store.fetchone("SELECT spec FROM buckets WHERE id=?", ("b1",)))[0]
        plan = ListPlan()
        return (await repo.bucket("p", "b1"), await repo.buckets("p", 10, 0), seq, count, again, before, expired,
                await repo.file("p", "b1", "f1"), await repo.list_files("p", "b1", plan, ["user:u1"], "a."),
                await repo.list_files("p", "b1", plan, ["user:u2"], None),
                orjson.loads(spec) if isinstance(spec, str) else spec)

    bucket, buckets, seq, count, again, before, expired, got, readable, hidden, spec = with_store(StorageStore, scenario)
    assert bucket == BUCKET and buckets == (1, [BUCKET])
    assert count == again == 1
    assert before == (0, []) and expired == [replace(UPLOAD, seq=seq)]  # an upload in progress is listed by no one
    assert got == replace(UPLOAD, seq=seq, chunks_uploaded=1, signature="abc", complete=True, expires=0)
    assert readable == (1, [got]) and hidden == (0, [])
    assert spec == {"name": "Photos", "permissions": ['read("any")', 'create("users")'], "file_security": True,
                    "enabled": True, "maximum_file_size": 1024, "allowed_file_extensions": ["png"]}
