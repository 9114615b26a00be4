"""Event names: every id/* combination, with the TablesDB mirrors."""

from __future__ import annotations

from itertools import product

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcli.core.events import ACTIONS, action_of, generate, row_events


def combos(*pairs: tuple[str, str], suffix: str = "") -> set[str]:
    """Every 'seg.ID' string with each id either itself or '*', plus an optional suffix."""
    out = set()
    for ids in product(*((ident, "*") for _, ident in pairs)):
        name = ".".join(f"{seg}.{i}" for (seg, _), i in zip(pairs, ids))
        out.add(name + suffix)
    return out


# --- rows ----------------------------------------------------------------------------------------

SHAPES = [
    (("tablesdb", "D"), ("tables", "T"), ("rows", "R")),
    (("databases", "D"), ("collections", "T"), ("documents", "R")),
    (("databases", "D"), ("tables", "T"), ("rows", "R")),
]


def expected_row_events(action: str, tablesdb: bool = True) -> set[str]:
    shapes = SHAPES if tablesdb else SHAPES[1:]
    names: set[str] = set()
    for shape in shapes:
        names |= combos(*shape, suffix=f".{action}")  # full depth with the action
        names |= combos(*shape)  # full depth, bare
        names |= combos(*shape[:2])  # table level
        names |= combos(*shape[:1])  # database level
    return names


def test_tablesdb_row_event_has_64_distinct_names():
    names = row_events("D", "T", "R", "create")
    assert len(names) == 64
    assert len(set(names)) == 64


def test_tablesdb_row_event_first_name_is_the_exact_one():
    assert row_events("D", "T", "R", "create")[0] == "tablesdb.D.tables.T.rows.R.create"


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_tablesdb_row_event_is_exactly_the_three_shapes_and_their_parents(action):
    assert set(row_events("D", "T", "R", action)) == expected_row_events(action)


def test_tablesdb_row_event_has_every_wildcard_combination_of_each_shape():
    names = set(row_events("D", "T", "R", "create"))
    for shape in SHAPES:
        with_action = combos(*shape, suffix=".create")
        bare = combos(*shape)
        assert len(with_action) == len(bare) == 8
        assert with_action <= names
        assert bare <= names


def test_tablesdb_row_event_counts_by_level():
    names = row_events("D", "T", "R", "update")
    full = [n for n in names if len(n.split(".")) >= 6]
    table = [n for n in names if len(n.split(".")) == 4]
    database = [n for n in names if len(n.split(".")) == 2]
    assert (len(full), len(table), len(database)) == (48, 12, 4)


@pytest.mark.parametrize(
    "name",
    [
        # the names client code usually tests with events.includes(...)
        "tablesdb.*.tables.*.rows.*.create",
        "databases.*.collections.*.documents.*.create",
        "databases.*.tables.*.rows.*.create",
        "tablesdb.D.tables.T.rows.*.create",
        "tablesdb.*.tables.T.rows.R",
        # table level
        "tablesdb.D.tables.T",
        "tablesdb.*.tables.*",
        "databases.*.collections.*",
        "databases.D.collections.T",
        "databases.D.tables.*",
        # database level
        "tablesdb.D",
        "tablesdb.*",
        "databases.D",
        "databases.*",
    ],
)
def test_tablesdb_row_event_contains(name):
    assert name in row_events("D", "T", "R", "create")


def test_tablesdb_row_event_has_no_other_action_and_only_the_two_prefixes():
    names = row_events("D", "T", "R", "create")
    assert not [n for n in names if n.endswith((".update", ".delete", ".upsert"))]
    assert all(n.startswith(("tablesdb.", "databases.")) for n in names)


def test_upsert_row_event_uses_upsert():
    names = row_events("D", "T", "R", "upsert")
    assert "tablesdb.*.tables.*.rows.*.upsert" in names
    assert not [n for n in names if n.endswith((".create", ".update"))]


def test_legacy_database_row_event_has_42_names_and_no_tablesdb_name():
    names = row_events("D", "T", "R", "create", db_type="legacy")
    assert len(names) == 42
    assert len(set(names)) == 42
    assert not [n for n in names if n.startswith("tablesdb.")]
    assert set(names) == expected_row_events("create", tablesdb=False)
    assert "databases.*.collections.*.documents.*.create" in names
    assert "databases.*.tables.*.rows.*.create" in names


_ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", min_size=1, max_size=36)


@given(_ids, _ids, _ids, st.sampled_from(sorted(ACTIONS)))
def test_row_event_count_holds_for_any_ids(d, t, r, action):
    # Even when ids collide with each other (D == T == R) the names stay distinct.
    names = row_events(d, t, r, action)
    assert len(names) == len(set(names)) == 64
    assert names[0] == f"tablesdb.{d}.tables.{t}.rows.{r}.{action}"
    assert len(row_events(d, t, r, action, db_type="legacy")) == 42


# --- other resources -----------------------------------------------------------------------------


def test_file_event_is_exactly_the_10_names_of_the_protocol():
    names = generate([("buckets", "B"), ("files", "F")], "create")
    assert len(names) == 10
    assert set(names) == {
        "buckets.B.files.F.create",
        "buckets.*.files.*.create",
        "buckets.B.files.*.create",
        "buckets.*.files.F.create",
        "buckets.B.files.F",
        "buckets.*.files.*",
        "buckets.B.files.*",
        "buckets.*.files.F",
        "buckets.B",
        "buckets.*",
    }
    assert names[0] == "buckets.B.files.F.create"


def test_execution_event_has_10_names():
    names = generate([("functions", "F"), ("executions", "E")], "update")
    assert len(names) == len(set(names)) == 10
    assert names[0] == "functions.F.executions.E.update"
    assert {"functions.*.executions.*.update", "functions.F.executions.*", "functions.F", "functions.*"} <= set(names)


def test_membership_create_has_10_names():
    names = generate([("teams", "T"), ("memberships", "M")], "create")
    assert len(names) == len(set(names)) == 10
    assert set(names) == (
        combos(("teams", "T"), ("memberships", "M"), suffix=".create")
        | combos(("teams", "T"), ("memberships", "M"))
        | {"teams.T", "teams.*"}
    )


def test_membership_update_status_has_16_names():
    # A membership event has 10 names (16 for update.status). Appwrite's Event::generateEvents also
    # builds the pattern type.resource.action.attribute, i.e. teams.[teamId].update.status.
    names = generate([("teams", "T"), ("memberships", "M")], "update", "status")
    assert len(names) == len(set(names)) == 16
    assert set(names) == (
        combos(("teams", "T"), ("memberships", "M"), suffix=".update.status")
        | combos(("teams", "T"), ("memberships", "M"), suffix=".update")
        | combos(("teams", "T"), ("memberships", "M"))
        | {"teams.T.update.status", "teams.*.update.status", "teams.T", "teams.*"}
    )
    assert names[0] == "teams.T.memberships.M.update.status"


def test_team_create_has_4_names():
    names = generate([("teams", "T")], "create")
    assert len(names) == 4
    assert set(names) == {"teams.T.create", "teams.*.create", "teams.T", "teams.*"}
    assert names[0] == "teams.T.create"


def test_team_update_prefs_has_6_names():
    names = generate([("teams", "T")], "update", "prefs")
    assert len(names) == len(set(names)) == 6
    assert set(names) == {
        "teams.T.update.prefs", "teams.*.update.prefs",
        "teams.T.update", "teams.*.update",
        "teams.T", "teams.*",
    }


def test_user_update_name_has_6_names():
    names = generate([("users", "U")], "update", "name")
    assert len(names) == len(set(names)) == 6
    assert set(names) == {
        "users.U.update.name", "users.*.update.name",
        "users.U.update", "users.*.update",
        "users.U", "users.*",
    }


def test_session_create_has_10_names():
    names = generate([("users", "U"), ("sessions", "S")], "create")
    assert len(names) == len(set(names)) == 10
    assert {
        "users.U.sessions.S.create", "users.*.sessions.*.create", "users.U.sessions.*.create",
        "users.*.sessions.S.create", "users.U.sessions.S", "users.*.sessions.*", "users.U", "users.*",
    } <= set(names)


def test_generate_without_action_gives_only_bare_names():
    assert set(generate([("teams", "T")])) == {"teams.T", "teams.*"}


# --- action_of -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "action"),
    [
        ("users.U.update.name", "update"),
        ("users.U.update", "update"),
        ("users.U.sessions.S.create", "create"),
        ("teams.T.memberships.M.update.status", "update"),
        ("tablesdb.D.tables.T.rows.R.upsert", "upsert"),
        ("buckets.B.files.F.delete", "delete"),
        ("teams.T", None),
        ("buckets.*", None),
        ("users.U.update.name.extra", None),
    ],
)
def test_action_of(event, action):
    assert action_of(event) == action
