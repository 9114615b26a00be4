"""Channels: exact channel sets and subscribe-time conversion."""

from __future__ import annotations

import pytest

from rtcli.core.channels import convert_subscribed, row_channels, with_action

ACTIONS = ["create", "update", "upsert", "delete"]

ROW_BASE = [
    "documents",
    "databases.D.collections.T.documents",
    "databases.D.collections.T.documents.R",
    "rows",
    "databases.D.tables.T.rows",
    "databases.D.tables.T.rows.R",
    "tablesdb.D.tables.T.rows",
    "tablesdb.D.tables.T.rows.R",
]


# --- published channel sets ----------------------------------------------------------------------


@pytest.mark.parametrize("action", ACTIONS)
def test_row_has_16_channels_the_8_base_ones_and_their_action_siblings(action):
    channels = row_channels("D", "T", "R", action)
    assert len(channels) == len(set(channels)) == 16
    assert set(channels) == set(ROW_BASE) | {f"{c}.{action}" for c in ROW_BASE}


def test_row_channels_examples_from_the_protocol():
    channels = row_channels("D", "T", "R", "create")
    assert "rows.create" in channels
    assert "documents.create" in channels
    assert "tablesdb.D.tables.T.rows.R.create" in channels
    assert "databases.D.collections.T.documents.create" in channels
    channels = row_channels("D", "T", "R", "update")
    assert "tablesdb.D.tables.T.rows.R.update" in channels


def test_row_channels_without_action_are_the_8_base_ones():
    assert row_channels("D", "T", "R", None) == ROW_BASE


def test_row_channels_with_ids_that_look_like_resource_names():
    # A table called "files" or a row called "rows" must not change the set.
    channels = row_channels("files", "rows", "documents", "delete")
    assert len(set(channels)) == 16


@pytest.mark.parametrize("action", ACTIONS)
def test_file_has_6_channels(action):
    base = ["files", "buckets.B.files", "buckets.B.files.F"]
    channels = with_action(base, action)
    assert len(channels) == 6
    assert set(channels) == set(base) | {f"files.{action}", f"buckets.B.files.{action}", f"buckets.B.files.F.{action}"}


def test_execution_has_8_channels_and_console_and_project_get_no_sibling():
    base = ["console", "projects.P", "executions", "executions.E", "functions.F"]
    channels = with_action(base, "update")
    assert len(channels) == 8
    assert set(channels) == set(base) | {"executions.update", "executions.E.update", "functions.F.update"}
    assert "console.update" not in channels
    assert "projects.P.update" not in channels
    assert "functions" not in channels  # functions is never published bare


def test_team_has_4_channels():
    channels = with_action(["teams", "teams.T"], "update")
    assert set(channels) == {"teams", "teams.T", "teams.update", "teams.T.update"}
    assert len(channels) == 4


def test_membership_has_4_channels():
    channels = with_action(["memberships", "memberships.M"], "update")
    assert set(channels) == {"memberships", "memberships.M", "memberships.update", "memberships.M.update"}
    assert len(channels) == 4


def test_account_has_4_channels():
    channels = with_action(["account", "account.U"], "update")
    assert set(channels) == {"account", "account.U", "account.update", "account.U.update"}
    assert len(channels) == 4


def test_presence_gets_siblings():
    assert set(with_action(["presences", "presences.P"], "upsert")) == {
        "presences", "presences.P", "presences.upsert", "presences.P.upsert",
    }


def test_with_action_none_keeps_the_base_and_does_not_alias_it():
    base = ["account", "account.U"]
    out = with_action(base, None)
    assert out == base and out is not base
    with_action(base, "update")
    assert base == ["account", "account.U"]


# --- convert_subscribed -------------------------------------------------------------------


def test_account_gains_the_user_channel_for_a_user():
    assert convert_subscribed(["account"], "U") == ["account", "account.U"]


def test_account_stays_account_for_a_guest():
    assert convert_subscribed(["account"], None) == ["account"]
    assert convert_subscribed(["account"], "") == ["account"]


@pytest.mark.parametrize("action", ACTIONS)
def test_account_action_becomes_user_scoped_for_a_user(action):
    assert convert_subscribed([f"account.{action}"], "U") == [f"account.U.{action}"]


@pytest.mark.parametrize("action", ACTIONS)
def test_account_action_is_kept_literally_for_a_guest(action):
    assert convert_subscribed([f"account.{action}"], None) == [f"account.{action}"]


def test_other_account_channels_are_dropped():
    assert convert_subscribed(["account.OTHER"], "U") == []
    assert convert_subscribed(["account.OTHER"], None) == []
    assert convert_subscribed(["account.OTHER.create"], "U") == []


def test_account_channel_variants_as_in_appwrite_unit_test():
    # Appwrite tests/unit/Messaging: other users' ids, unknown suffixes and the literal
    # account.<own id> are all stripped; only the action form is rewritten.
    out = convert_subscribed(["account.other_id", "account.bogus", "account.123", "account.create"], "123")
    assert out == ["account.123.create"]


def test_convert_channels_user_and_guest_as_in_appwrite_unit_test():
    requested = ["files", "documents", "documents.789", "account", "account.456"]
    assert convert_subscribed(requested, "123") == ["files", "documents", "documents.789", "account", "account.123"]
    assert convert_subscribed(requested, None) == ["files", "documents", "documents.789", "account"]


def test_account_together_with_own_account_channel_gives_it_once():
    assert convert_subscribed(["account", "account.U"], "U") == ["account", "account.U"]


def test_unknown_strings_are_kept_as_written():
    channels = ["tables.1.rows", "nonsense", "functions.create", "databases.D.tables.T.rows.R.bogus", ""]
    assert convert_subscribed(channels, "U") == channels
    assert convert_subscribed(channels, None) == channels


def test_duplicates_are_removed_and_order_is_kept():
    assert convert_subscribed(["rows", "files", "rows", "account", "account", "files"], "U") == [
        "rows", "files", "account", "account.U",
    ]


# --- after authentication: the session re-converts the channels as first requested ------------


def test_guest_forms_become_the_users_once_converted_for_them():
    requested = ["account", "account.update", "documents"]
    assert convert_subscribed(requested, None) == ["account", "account.update", "documents"]
    assert convert_subscribed(requested, "B") == ["account", "account.B", "account.B.update", "documents"]
