"""Storage through the Python SDK: buckets, files (whole and chunked), permissions, downloads."""

from __future__ import annotations

import pytest
from appwrite.exception import AppwriteException
from appwrite.input_file import InputFile
from appwrite.permission import Permission
from appwrite.role import Role

from tests.compat_python.conftest import uid


@pytest.fixture
def bucket(admin):
    bid = uid()
    admin.storage.create_bucket(bid, "files", permissions=[Permission.create(Role.users())], file_security=True)
    return bid


def test_file_permissions_sent_as_indexed_multipart_fields(admin, user, bucket):
    """The SDK sends permissions[0], permissions[1]…: every one is kept."""
    perms = [Permission.read(Role.any()), Permission.update(Role.user(user.user_id)),
             Permission.delete(Role.user(user.user_id))]
    f = admin.storage.create_file(bucket, "f1", InputFile.from_bytes(b"hello", "h.txt"), permissions=perms)
    assert sorted(f.permissions) == sorted(perms)
    assert user.storage.update_file(bucket, "f1", name="renamed.txt").name == "renamed.txt"
    assert user.storage.delete_file(bucket, "f1") == b""
    with pytest.raises(AppwriteException) as err:
        admin.storage.get_file(bucket, "f1")
    assert err.value.code == 404 and err.value.type == "storage_file_not_found"


def test_buckets(admin):
    bid = uid()
    b = admin.storage.create_bucket(bid, "pics", permissions=[Permission.read(Role.any())], maximum_file_size=1024,
                                    allowed_file_extensions=["png"])
    assert b.id == bid and b.maximumfilesize == 1024 and b.allowedfileextensions == ["png"]
    assert admin.storage.get_bucket(bid).name == "pics"
    assert admin.storage.update_bucket(bid, "photos", enabled=True).name == "photos"
    assert bid in [x.id for x in admin.storage.list_buckets().buckets]
    with pytest.raises(AppwriteException) as err:
        admin.storage.create_file(bid, "big", InputFile.from_bytes(b"x" * 2048, "big.png"))
    assert err.value.code == 400 and err.value.type == "storage_invalid_file_size"
    with pytest.raises(AppwriteException) as err:
        admin.storage.create_file(bid, "doc", InputFile.from_bytes(b"x", "doc.txt"))
    assert err.value.type == "storage_file_type_unsupported"
    assert admin.storage.delete_bucket(bid) == b""
    with pytest.raises(AppwriteException) as err:
        admin.storage.get_bucket(bid)
    assert err.value.code == 404 and err.value.type == "storage_bucket_not_found"


def test_files_whole_and_chunked(admin, user, bucket, tmp_path):
    small = user.storage.create_file(bucket, "small", InputFile.from_bytes(b"hello world", "hello.txt"))
    assert small.sizeoriginal == 11 and small.chunkstotal == 1 and small.name == "hello.txt"
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * (6 * 1024 * 1024 // 256 + 7))  # over the SDK's 5 MiB chunk
    progress = []
    f = user.storage.create_file(bucket, "big", InputFile.from_path(str(big)), on_progress=progress.append)
    assert f.sizeoriginal == big.stat().st_size and f.chunkstotal == 2 and f.chunksuploaded == 2
    assert progress and progress[-1]["progress"] == 100
    assert user.storage.get_file_download(bucket, "big") == big.read_bytes()
    assert user.storage.get_file_view(bucket, "small") == b"hello world"
    assert user.storage.get_file_preview(bucket, "small", width=10) == b"hello world"  # the stored bytes, as they are
    assert admin.storage.get_file(bucket, "small").mimetype.startswith("text/plain")
    assert {x.id for x in user.storage.list_files(bucket).files} == {"small", "big"}
    assert [x.id for x in user.storage.list_files(bucket, search="hello").files] == ["small"]
