"""Permissions and roles: roles, matching and permission strings as Appwrite parses them."""

from __future__ import annotations

import pytest

from rtcli.core.permissions import (
    GUEST,
    KEY,
    Actor,
    ActorKind,
    Permission,
    allows,
    parse,
    parse_list,
    roles_for,
    user_roles,
)
from rtcli.errors import AppwriteError

ROLES = [
    "any",
    "guests",
    "users",
    "users/verified",
    "users/unverified",
    "user:abc",
    "user:6b0a2066000a7782cac7",
    "user:abc/verified",
    "user:abc/unverified",
    "team:t1",
    "team:t1/owner",
    "team:t1/admin-2",
    "member:m1",
    "label:vip",
    "label:Beta2",
]


@pytest.mark.parametrize("action", ["read", "create", "update", "delete", "write"])
@pytest.mark.parametrize("role", ROLES)
def test_parse_every_role_form(action, role):
    p = parse(f'{action}("{role}")')
    assert p == Permission(action, role)
    assert str(p) == f'{action}("{role}")'


@pytest.mark.parametrize(
    "value",
    [
        "read(any)",  # role not quoted
        "read('any')",  # single quotes
        'read("any"',  # unbalanced
        'read"any"',
        'admin("any")',  # unknown action
        'Read("any")',
        'read("")',
        'read("everyone")',  # unknown role form
        'read("role:all")',  # the pre-1.0 form
        'read("user:")',
        'read("team:")',
        'read("users/admin")',
        'read("user:abc/owner")',  # only /verified and /unverified for users
        'read("member:m1/owner")',
        'read("label:")',
        'read("label:has space")',
        'read("any/verified")',
        'read("user:a b")',
        'read("any") read("users")',
        "",
    ],
)
def test_malformed_permission_strings_are_rejected(value):
    with pytest.raises(AppwriteError) as info:
        parse(value)
    assert info.value.type == "general_argument_invalid"
    assert info.value.http_status == 400


@pytest.mark.parametrize("value", [None, 1, 1.5, True, ["read(\"any\")"], {"read": "any"}, b'read("any")'])
def test_non_string_permissions_are_rejected(value):
    with pytest.raises(AppwriteError) as info:
        parse(value)
    assert info.value.type == "general_argument_invalid"


def test_parse_list_normalises_and_removes_duplicates():
    assert parse_list(['read("any")', 'update("user:u")', 'read("any")']) == ['read("any")', 'update("user:u")']
    assert parse_list(None) == []
    assert parse_list([]) == []


@pytest.mark.parametrize("values", ['read("any")', {"x": 1}, 3])
def test_parse_list_rejects_a_non_list(values):
    with pytest.raises(AppwriteError) as info:
        parse_list(values)
    assert info.value.type == "general_argument_invalid"


def test_parse_list_rejects_one_bad_item():
    with pytest.raises(AppwriteError) as info:
        parse_list(['read("any")', "read(any)"])
    assert info.value.type == "general_argument_invalid"


def test_parse_list_restricts_actions():
    row_actions = ("read", "update", "delete", "write")  # rows may not carry create
    assert parse_list(['write("users")'], allowed=row_actions) == ['write("users")']
    with pytest.raises(AppwriteError) as info:
        parse_list(['create("users")'], allowed=row_actions)
    assert info.value.type == "general_argument_invalid"


# --- roles_for / allows ---------------------------------------------------------------------------


def test_write_implies_update_and_delete():
    perms = ['write("user:u")']
    assert roles_for("update", perms) == {"user:u"}
    assert roles_for("delete", perms) == {"user:u"}
    assert roles_for("read", perms) == set()


def test_write_also_implies_create_on_tables_and_buckets():
    assert roles_for("create", ['write("team:t")']) == {"team:t"}


def test_roles_for_collects_every_matching_role():
    perms = ['read("any")', 'read("team:t/owner")', 'update("user:u")', 'delete("users")', 'write("label:x")']
    assert roles_for("read", perms) == {"any", "team:t/owner"}
    assert roles_for("update", perms) == {"user:u", "label:x"}
    assert roles_for("delete", perms) == {"users", "label:x"}
    assert roles_for("read", []) == set()


def test_any_admits_everyone_including_guests_and_roleless_actors():
    assert allows({"any"}, GUEST.roles)
    assert allows({"any"}, user_roles("u"))
    assert allows({"any"}, frozenset())
    assert GUEST.can({"any"})


def test_allows_needs_a_shared_role():
    roles = user_roles("u", teams={"t": ("m", ["owner"])})
    assert allows({"user:u"}, roles)
    assert allows({"team:t/owner"}, roles)
    assert allows({"member:m", "user:other"}, roles)
    assert not allows({"user:other"}, roles)
    assert not allows({"team:t/admin"}, roles)
    assert not allows({"guests"}, roles)
    assert not allows(set(), roles)


def test_guest_roles_are_only_guests():
    assert GUEST.kind is ActorKind.GUEST
    assert GUEST.roles == frozenset({"guests"})
    assert Actor(ActorKind.GUEST).roles == frozenset({"guests"})
    assert GUEST.can({"guests"})
    for role in ("users", "user:x", "team:x", "users/unverified", "label:x", "member:x"):
        assert not GUEST.can({role}), role


def test_key_actor_bypasses_permissions():
    assert KEY.is_key
    assert KEY.can(set())
    assert KEY.can({"user:nobody"})
    assert not GUEST.is_key


# --- user_roles (User::getRoles) ------------------------------------------------------------------


def test_user_roles_unverified_user_without_teams():
    assert user_roles("U") == frozenset({"user:U", "users", "user:U/unverified", "users/unverified"})


def test_user_roles_verified_user():
    assert user_roles("U", verified=True) == frozenset({"user:U", "users", "user:U/verified", "users/verified"})


def test_user_roles_with_teams_and_labels():
    roles = user_roles(
        "U",
        verified=True,
        teams={"t1": ("m1", ["owner", "admin"]), "t2": ("m2", [])},
        labels=["vip", "beta"],
    )
    assert roles == frozenset({
        "user:U", "users", "user:U/verified", "users/verified",
        "team:t1", "team:t1/owner", "team:t1/admin", "member:m1",
        "team:t2", "member:m2",
        "label:vip", "label:beta",
    })


def test_user_roles_never_contain_any_or_guests():
    roles = user_roles("U", verified=False, teams={"t": ("m", ["owner"])}, labels=["x"])
    assert "any" not in roles
    assert "guests" not in roles
    assert not roles & {"users/verified", "user:U/verified"}


def test_user_roles_are_valid_permission_roles():
    roles = user_roles("U", verified=True, teams={"t": ("m", ["owner"])}, labels=["x"])
    for role in roles:
        assert parse(f'read("{role}")').role == role


# --- property: production rules against an independent model ---------------------------------------

from dataclasses import dataclass  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from rtcli.core.permissions import grants, read_roles  # noqa: E402

USERS, TEAMS, TEAM_ROLES, MEMBERSHIPS, LABELS = ["a", "b"], ["t1", "t2"], ["owner", "editor"], ["m1", "m2", "m3"], \
    ["vip", "beta"]


@dataclass(frozen=True)
class Who:
    """A caller described by what Appwrite knows of it, not by role strings."""

    user: str | None  # None: a guest
    verified: bool
    teams: tuple[tuple[str, str, frozenset[str]], ...]  # (team, membership, team roles)
    labels: frozenset[str]


def model_admits(role: str, who: Who) -> bool:
    """Appwrite's rule for one role, read from its documentation, written against ``Who``."""
    if role == "any":
        return True
    if role == "guests":
        return who.user is None
    if who.user is None:
        return False
    if role in ("users", "users/verified", "users/unverified"):
        return role == "users" or (role == "users/verified") == who.verified
    kind, _, rest = role.partition(":")
    name, _, qualifier = rest.partition("/")
    if kind == "user":
        return name == who.user and (not qualifier or (qualifier == "verified") == who.verified)
    if kind == "team":
        return any(team == name and (not qualifier or qualifier in roles) for team, _, roles in who.teams)
    if kind == "member":
        return any(membership == rest for _, membership, _ in who.teams)
    if kind == "label":
        return rest in who.labels
    raise AssertionError(f"the model does not know the role {role}")


def model_may_read(who: Who, container: list[tuple[str, str]], item: list[tuple[str, str]], item_security: bool) -> bool:
    """Reading a row (file): a read permission of the table (bucket) admits the caller, or, with
    rowSecurity (fileSecurity), one of the row's (file's). ``write`` never grants read."""
    def admitted(perms: list[tuple[str, str]]) -> bool:
        return any(action == "read" and model_admits(role, who) for action, role in perms)
    return admitted(container) or (item_security and admitted(item))


def _role() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(["any", "guests", "users", "users/verified", "users/unverified"]),
        st.builds(lambda u, q: f"user:{u}{q}", st.sampled_from(USERS), st.sampled_from(["", "/verified", "/unverified"])),
        st.builds(lambda t, r: f"team:{t}{r}", st.sampled_from(TEAMS), st.sampled_from(["", *(f"/{r}" for r in TEAM_ROLES)])),
        st.sampled_from([f"member:{m}" for m in MEMBERSHIPS] + [f"label:{label}" for label in LABELS]),
    )


PERMS = st.lists(st.tuples(st.sampled_from(["read", "update", "delete", "write"]), _role()), max_size=5)
WHO = st.one_of(
    st.just(Who(None, False, (), frozenset())),
    st.builds(Who, st.sampled_from(USERS), st.booleans(),
              st.lists(st.tuples(st.sampled_from(TEAMS), st.sampled_from(MEMBERSHIPS),
                                 st.frozensets(st.sampled_from(TEAM_ROLES))), max_size=2, unique_by=lambda t: t[0])
              .map(tuple),
              st.frozensets(st.sampled_from(LABELS))),
)


def _actor(who: Who) -> Actor:
    if who.user is None:
        return GUEST
    teams = {team: (membership, sorted(roles)) for team, membership, roles in who.teams}
    return Actor(ActorKind.USER, roles=user_roles(who.user, who.verified, teams, sorted(who.labels)), user_id=who.user)


@settings(max_examples=2000)
@given(who=WHO, container=PERMS, item=PERMS, item_security=st.booleans())
def test_read_decisions_match_an_independent_model_of_appwrite(who, container, item, item_security):
    """grants (REST reads) and read_roles + allows (what an event carries, checked at delivery)
    both agree with the model, for guests and users with teams, team roles and labels."""
    expected = model_may_read(who, container, item, item_security)
    as_strings = [f'{action}("{role}")' for action, role in container], [f'{action}("{role}")' for action, role in item]
    actor = _actor(who)
    assert grants(actor, "read", as_strings[0], as_strings[1], item_security) is expected
    assert allows(set(read_roles(as_strings[0], as_strings[1], item_security)), actor.roles) is expected


def test_granted_user_reads_the_user_out_of_the_permission_list():
    from rtcli.core.permissions import granted_user

    assert granted_user("read", ['read("user:u1")']) == "u1"
    assert granted_user("read", ['update("user:a")', 'read("any")', 'read("user:b/verified")']) == "b"
    assert granted_user("read", ['read("team:t")', 'update("user:a")']) is None
    assert granted_user("read", []) is None
    assert parse('read("users")').user_id is None
