"""Teams through the Python SDK: teams, preferences, memberships added by a key or invited by an owner."""

from __future__ import annotations

import re
import time

import pytest
from appwrite.exception import AppwriteException

from tests.compat_python.conftest import new_user, uid


def test_team_lifecycle_and_prefs(admin):
    tid = uid()
    team = admin.teams.create(tid, "Blue", roles=["owner"])
    assert team.id == tid and team.name == "Blue" and team.total == 0
    assert admin.teams.get(tid).name == "Blue"
    assert admin.teams.update_name(tid, "Navy").name == "Navy"
    assert tid in [t.id for t in admin.teams.list(search="Navy").teams]
    assert admin.teams.update_prefs(tid, {"color": "#001f3f"}).model_dump(by_alias=True) == {"color": "#001f3f"}
    assert admin.teams.get_prefs(tid).model_dump(by_alias=True) == {"color": "#001f3f"}
    assert admin.teams.delete(tid) == b""
    with pytest.raises(AppwriteException) as err:
        admin.teams.get(tid)
    assert err.value.code == 404 and err.value.type == "team_not_found"


def test_memberships_by_key(admin, user):
    tid = uid()
    admin.teams.create(tid, "Crew")
    m = admin.teams.create_membership(tid, ["editor"], user_id=user.user_id)
    assert m.confirm is True and m.roles == ["editor"] and m.userid == user.user_id
    assert admin.teams.get_membership(tid, m.id).teamid == tid
    assert admin.teams.update_membership(tid, m.id, ["editor", "viewer"]).roles == ["editor", "viewer"]
    assert [x.id for x in user.teams.list().teams] == [tid], "a confirmed member sees the team"
    assert user.teams.list_memberships(tid).total == 1
    assert admin.teams.delete_membership(tid, m.id) == b""
    assert user.teams.list().total == 0


def test_invitation_accepted_with_its_secret(sdk_server, admin, user):
    tid = uid()
    user.teams.create(tid, "Mine")  # the creator is its owner
    invitee = new_user(sdk_server, admin, "invitee")
    invite = user.teams.create_membership(tid, ["member"], email=invitee.email)
    assert invite.confirm is False
    deadline = time.monotonic() + 10
    while not (found := re.search(rf'memberships/{invite.id}/status .*"secret": "(\w+)"', sdk_server.log())):
        assert time.monotonic() < deadline, "the invitation secret was not logged"
        time.sleep(0.05)
    accepted = invitee.teams.update_membership_status(tid, invite.id, invitee.user_id, found.group(1))
    assert accepted.confirm is True
    assert tid in [t.id for t in invitee.teams.list().teams]
