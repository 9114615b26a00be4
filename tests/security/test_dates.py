"""Dates a client gives for later (a presence's expiry) are bounded: a year-9999 date with a
negative offset is year 10000 in UTC, which no ISO 8601 parser reads back, and one before 1970
made a presence that never expired."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.server.test_users import signup


@pytest.mark.parametrize("expires", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00",
                                     "1969-12-31T00:00:00Z", "2000-01-01T00:00:00Z", "in an hour", 12345,
                                     (datetime.now(UTC) + timedelta(days=400)).isoformat()])
def test_a_presence_expiry_must_be_ahead_and_within_a_year(shared_server, expires):
    uid, _, _ = signup(shared_server, "dates")
    with shared_server.admin() as admin:
        r = admin.put(f"/presences/p-{uid}", json={"userId": uid, "status": "here", "expiresAt": expires})
        assert r.status_code == 400 and r.json()["type"] == "general_argument_invalid", r.text
        assert "at most 365 days ahead" in r.json()["message"]
        assert admin.get(f"/presences/p-{uid}").status_code == 404  # nothing stored


def test_a_presence_expiry_within_the_bounds_is_kept_in_utc(shared_server):
    uid, _, _ = signup(shared_server, "dates-ok")
    local = (datetime.now(UTC) + timedelta(hours=1)).astimezone(timezone(timedelta(hours=-10)))
    with shared_server.admin() as admin:
        r = admin.put(f"/presences/p-{uid}", json={"userId": uid, "status": "here", "expiresAt": local.isoformat()})
        assert r.status_code == 200, r.text
        stored = datetime.fromisoformat(r.json()["expiresAt"])
        assert stored.utcoffset() == timedelta(0) and abs(stored - local) < timedelta(seconds=1)

