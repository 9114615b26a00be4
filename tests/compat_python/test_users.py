"""Users through the Python SDK (a server's key): every method the server implements, with the
SDK's own models parsing each response, and a user signing in with the password it was given."""

from __future__ import annotations

import hashlib
import secrets

import bcrypt
import pytest
from appwrite.exception import AppwriteException
from appwrite.id import ID
from appwrite.query import Query

from tests.compat_python.conftest import PASSWORD, Sdk, client_for


def email(tag: str) -> str:
    return f"{tag}-{secrets.token_hex(4)}@example.com"


def signs_in(sdk_server, address: str, password: str) -> bool:
    guest = Sdk.of(client_for(sdk_server))
    try:
        guest.account.create_email_password_session(address, password)
        return True
    except AppwriteException as e:
        assert e.code == 401
        return False


def test_create_get_list_update_delete(sdk_server, admin):
    tag = secrets.token_hex(3)
    ann = admin.users.create(ID.unique(), email=email("ann"), password=PASSWORD, name=f"Ann {tag}",
                             phone="+15555550123")
    assert ann.hash == "argon2" and ann.status is True and ann.phone == "+15555550123"
    assert admin.users.get(ann.id).email == ann.email
    bob = admin.users.create(ID.unique(), email=email("bob"), name=f"Bob {tag}")
    found = admin.users.list(search=tag)
    assert found.total == 2 and {u.id for u in found.users} == {ann.id, bob.id}
    only = admin.users.list(queries=[Query.equal("name", [f"Bob {tag}"]), Query.limit(5)], search=tag)
    assert [u.id for u in only.users] == [bob.id]

    assert admin.users.update_name(ann.id, "Ann B").name == "Ann B"
    new_email = email("ann2")
    assert admin.users.update_email(ann.id, new_email).email == new_email
    assert admin.users.update_phone(ann.id, "+4930555123").phone == "+4930555123"
    assert admin.users.update_labels(ann.id, ["vip"]).labels == ["vip"]
    assert admin.users.update_prefs(ann.id, {"theme": "dark"}).model_dump(by_alias=True) == {"theme": "dark"}
    assert admin.users.get_prefs(ann.id).model_dump(by_alias=True) == {"theme": "dark"}
    assert admin.users.update_email_verification(ann.id, True).emailverification is True
    assert admin.users.update_phone_verification(ann.id, True).phoneverification is True
    admin.users.update_password(ann.id, "brand-new-pass")
    assert signs_in(sdk_server, new_email, "brand-new-pass") and not signs_in(sdk_server, new_email, PASSWORD)
    assert admin.users.update_status(ann.id, False).status is False
    assert not signs_in(sdk_server, new_email, "brand-new-pass")

    with pytest.raises(AppwriteException) as err:
        admin.users.update_email(bob.id, new_email)
    assert err.value.code == 409 and err.value.type == "user_email_already_exists"
    admin.users.delete(ann.id)
    with pytest.raises(AppwriteException) as err:
        admin.users.get(ann.id)
    assert err.value.code == 404 and err.value.type == "user_not_found"


def test_imported_hashes(sdk_server, admin):
    pw = "imported-pass"
    made = [
        admin.users.create_argon2_user(ID.unique(), email("argon2"), __import__("argon2").PasswordHasher(
            time_cost=2, memory_cost=8192, parallelism=1).hash(pw)),
        admin.users.create_bcrypt_user(ID.unique(), email("bcrypt"), bcrypt.hashpw(pw.encode(), bcrypt.gensalt(8)).decode()),
        admin.users.create_md5_user(ID.unique(), email("md5"), hashlib.md5(pw.encode()).hexdigest()),
        admin.users.create_sha_user(ID.unique(), email("sha"), hashlib.sha512(pw.encode()).hexdigest(), "sha512"),
        admin.users.create_scrypt_user(ID.unique(), email("scrypt"), hashlib.scrypt(
            pw.encode(), salt=b"salty", n=2048, r=8, p=1, dklen=32).hex(), "salty", 2048, 8, 1, 32),
    ]
    assert [u.hash for u in made] == ["argon2", "bcrypt", "md5", "sha", "scrypt"]
    assert [u.hashoptions.type for u in made] == ["argon2", "bcrypt", "md5", "sha", "scrypt"]
    for u in made:
        assert signs_in(sdk_server, u.email, pw), u.hash
    fb = admin.users.create_scrypt_modified_user(
        ID.unique(), email("firebase"),
        "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==",
        "42xEC+ixf3L2lw==", "Bw==",
        "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==")
    assert fb.hash == "scryptMod" and signs_in(sdk_server, fb.email, "user1password")
    wp = admin.users.create_ph_pass_user(ID.unique(), email("wp"), "$P$6IM3CRwOqH060IuHvLzz6SM4KHuQ931")
    assert wp.hash == "phpass" and signs_in(sdk_server, wp.email, "correct horse battery")


def test_sessions_tokens_jwts_and_memberships(sdk_server, admin):
    u = admin.users.create(ID.unique(), email=email("s"), password=PASSWORD)
    session = admin.users.create_session(u.id)
    assert session.provider == "server" and session.secret
    me = Sdk.of(client_for(sdk_server).set_session(session.secret))
    assert me.account.get().id == u.id
    assert admin.users.list_sessions(u.id).total == 1
    jwt = admin.users.create_jwt(u.id, session_id=session.id, duration=60).jwt
    assert Sdk.of(client_for(sdk_server).set_jwt(jwt)).account.get().id == u.id
    admin.users.delete_session(u.id, session.id)
    with pytest.raises(AppwriteException):
        me.account.get()
    admin.users.create_session(u.id)
    admin.users.delete_sessions(u.id)
    assert admin.users.list_sessions(u.id).total == 0

    token = admin.users.create_token(u.id, length=10, expire=300)
    assert token.userid == u.id and len(token.secret) == 10
    guest = Sdk.of(client_for(sdk_server))
    assert guest.account.create_session(u.id, token.secret).provider == "token"

    team = admin.teams.create(ID.unique(), "T")
    admin.teams.create_membership(team.id, ["editor"], user_id=u.id)
    ms = admin.users.list_memberships(u.id)
    assert ms.total == 1 and ms.memberships[0].teamid == team.id
