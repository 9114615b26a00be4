"""Presences through the Python SDK (the REST half of presence; realtime presence is in tests/compat)."""

from __future__ import annotations

import pytest
from appwrite.exception import AppwriteException
from appwrite.permission import Permission
from appwrite.role import Role


def test_presence_lifecycle(admin, user):
    p = user.presences.upsert("p1", user.user_id, "online", metadata={"page": "home"})
    assert p.id == "p1" and p.userid == user.user_id and p.status == "online" and p.metadata == {"page": "home"}
    assert user.presences.get("p1").status == "online"
    assert user.presences.update("p1", user.user_id, status="away").status == "away"
    assert "p1" in [x.id for x in admin.presences.list().presences]
    assert user.presences.delete("p1") == b""
    with pytest.raises(AppwriteException) as err:
        admin.presences.get("p1")
    assert err.value.code == 404 and err.value.type == "presence_not_found"


def test_key_sets_presence_for_a_user(admin, user):
    p = admin.presences.upsert("p2", user.user_id, "busy", permissions=[Permission.read(Role.users())])
    assert p.userid == user.user_id
    assert user.presences.get("p2").status == "busy"
    admin.presences.delete("p2")
