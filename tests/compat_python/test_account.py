"""Account through the Python SDK: sign-up, server-side and client-side sessions, JWTs, profile."""

from __future__ import annotations

import time

import pytest
from appwrite.exception import AppwriteException
from appwrite.id import ID

from tests.compat_python.conftest import PASSWORD, Sdk, client_for, new_user


def test_server_side_login_acts_as_the_user(sdk_server, admin):
    """The key creates the session; its secret is the token the server accepts as X-Appwrite-Session."""
    user = new_user(sdk_server, admin, "ssr")
    me = user.account.get()
    assert me.id == user.user_id and me.email == user.email
    sessions = user.account.list_sessions()
    assert sessions.total == 1 and sessions.sessions[0].current is True
    assert sessions.sessions[0].secret == "", "a user never reads a session's secret back"
    assert user.account.get_session("current").id == sessions.sessions[0].id


def test_client_side_session_has_no_secret(sdk_server):
    guest = Sdk.of(client_for(sdk_server))
    email = f"{ID.unique()}@example.com"
    guest.account.create(ID.unique(), email, PASSWORD)
    session = guest.account.create_email_password_session(email, PASSWORD)
    assert session.secret == "" and session.current is True and session.provider == "email"


def test_profile_and_prefs(user):
    assert user.account.update_name("Ann B").name == "Ann B"
    assert user.account.get_prefs().model_dump(by_alias=True) == {}
    user.account.update_prefs({"theme": "dark", "n": 2})
    prefs = user.account.get_prefs()
    assert prefs.model_dump(by_alias=True) == {"theme": "dark", "n": 2}
    assert user.account.get().prefs.model_dump(by_alias=True) == {"theme": "dark", "n": 2}
    user.account.update_password("another-pass-456", old_password=PASSWORD)
    with pytest.raises(AppwriteException) as err:
        user.account.update_password("third-pass-789", old_password="wrong-password")
    assert err.value.code == 401 and err.value.type == "user_invalid_credentials"


def test_sessions_delete(sdk_server, admin):
    user = new_user(sdk_server, admin, "del")
    second = admin.account.create_email_password_session(user.email, PASSWORD)
    assert user.account.list_sessions().total == 2
    assert user.account.delete_session(second.id) == b""
    assert user.account.list_sessions().total == 1
    assert user.account.delete_sessions() == b""
    with pytest.raises(AppwriteException) as err:
        user.account.get()
    assert err.value.code == 401


def test_anonymous_session_and_jwt(sdk_server):
    guest = Sdk.of(client_for(sdk_server))
    session = guest.account.create_anonymous_session()
    assert session.provider == "anonymous" and session.secret == ""
    with pytest.raises(AppwriteException) as err:
        guest.account.get()  # a client session lives in a cookie the Python SDK does not keep
    assert err.value.type == "general_unauthorized_scope"


def test_token_exchanged_at_the_magic_url_and_phone_routes(sdk_server, admin):
    """rtcli sends no email or SMS: a token made with the key is what these routes exchange."""
    user = new_user(sdk_server, admin, "tok")
    guest = Sdk.of(client_for(sdk_server))
    token = admin.users.create_token(user.user_id)
    assert guest.account.update_magic_url_session(user.user_id, token.secret).userid == user.user_id
    token = admin.users.create_token(user.user_id)
    assert guest.account.update_phone_session(user.user_id, token.secret).userid == user.user_id
    with pytest.raises(AppwriteException) as err:
        guest.account.update_phone_session(user.user_id, token.secret)  # a token is used once
    assert err.value.code == 401 and err.value.type == "user_invalid_token"


def test_email_change_and_memberships(sdk_server, admin):
    user = new_user(sdk_server, admin, "mail")
    with pytest.raises(AppwriteException) as err:
        user.account.update_email(f"new-{user.email}", "wrong-password")
    assert err.value.code == 401 and err.value.type == "user_invalid_credentials"
    other = new_user(sdk_server, admin, "taken")
    with pytest.raises(AppwriteException) as err:
        user.account.update_email(other.email, PASSWORD)
    assert err.value.code == 409
    changed = user.account.update_email(f"new-{user.email}", PASSWORD)
    assert changed.email == f"new-{user.email}" and changed.emailverification is False
    assert user.account.list_memberships().total == 0
    team = admin.teams.create(ID.unique(), "Mail team")
    admin.teams.create_membership(team.id, ["member"], user_id=user.user_id)
    listed = user.account.list_memberships()
    assert listed.total == 1 and listed.memberships[0].teamid == team.id and listed.memberships[0].teamname == "Mail team"


def test_user_blocks_its_own_account(sdk_server, admin):
    user = new_user(sdk_server, admin, "block")
    blocked = user.account.update_status()
    assert blocked.id == user.user_id and blocked.status is False
    with pytest.raises(AppwriteException) as err:
        user.account.get()  # its sessions no longer hold
    assert err.value.code == 401
    with pytest.raises(AppwriteException) as err:
        admin.account.create_email_password_session(user.email, PASSWORD)
    assert err.value.code == 401 and err.value.type == "user_blocked"
    assert admin.users.get(user.user_id).status is False


def test_session_extended(sdk_server, admin):
    user = new_user(sdk_server, admin, "extend")
    before = user.account.get_session("current")
    time.sleep(0.01)
    after = user.account.update_session("current")
    assert after.id == before.id and after.expire > before.expire and after.current is True
    assert user.account.get_session(before.id).expire == after.expire
    with pytest.raises(AppwriteException) as err:
        user.account.update_session("no-such-session")
    assert err.value.code == 404 and err.value.type == "user_session_not_found"
