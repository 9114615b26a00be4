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
