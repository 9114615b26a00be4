"""TablesDB through the Python SDK: databases, tables, every column type, rows and their queries."""

from __future__ import annotations

import pytest
from appwrite.exception import AppwriteException
from appwrite.id import ID
from appwrite.models import ColumnDatetime, ColumnFloat
from appwrite.permission import Permission
from appwrite.query import Query
from appwrite.role import Role

from tests.compat_python.conftest import uid


@pytest.fixture
def db(admin):
    did = uid()
    admin.tables_db.create(did, "main")
    return did


@pytest.fixture
def table(admin, db):
    admin.tables_db.create_table(db, "items", "Items", permissions=[Permission.read(Role.any())])
    return "items"


def test_databases(admin):
    did = uid()
    created = admin.tables_db.create(did, "first")
    assert created.id == did and created.name == "first" and created.enabled is True
    assert admin.tables_db.get(did).name == "first"
    assert admin.tables_db.update(did, "renamed").name == "renamed"
    assert did in [d.id for d in admin.tables_db.list(queries=[Query.limit(100)]).databases]
    assert admin.tables_db.delete(did) == b""
    with pytest.raises(AppwriteException) as err:
        admin.tables_db.get(did)
    assert err.value.code == 404 and err.value.type == "database_not_found"


def test_tables(admin, db):
    t = admin.tables_db.create_table(db, "t1", "T1", permissions=[Permission.read(Role.users())], row_security=True)
    assert t.id == "t1" and t.rowsecurity is True and t.permissions == ['read("users")']
    assert admin.tables_db.get_table(db, "t1").name == "T1"
    assert admin.tables_db.update_table(db, "t1", name="T one", row_security=False).rowsecurity is False
    assert [x.id for x in admin.tables_db.list_tables(db).tables] == ["t1"]
    assert admin.tables_db.delete_table(db, "t1") == b""
    assert admin.tables_db.list_tables(db).total == 0


def test_datetime_and_float_columns_parse(admin, db, table):
    """A datetime column has format "datetime"; a float column is reported as "double"."""
    when = admin.tables_db.create_datetime_column(db, table, "when", False)
    assert isinstance(when, ColumnDatetime) and when.format == "datetime"
    ratio = admin.tables_db.create_float_column(db, table, "ratio", False, min=0.0, max=1.0)
    assert isinstance(ratio, ColumnFloat) and ratio.type == "double" and ratio.max == 1.0
    assert isinstance(admin.tables_db.get_column(db, table, "when"), ColumnDatetime)
    assert isinstance(admin.tables_db.get_column(db, table, "ratio"), ColumnFloat)
    listed = admin.tables_db.list_columns(db, table)
    assert listed.total == 2 and {c.key for c in listed.columns} == {"when", "ratio"}
    row = admin.tables_db.create_row(db, table, ID.unique(), {"when": "2026-01-02T03:04:05.000+00:00", "ratio": 0.5})
    assert row.data["ratio"] == 0.5
    with pytest.raises(AppwriteException) as err:
        admin.tables_db.create_row(db, table, ID.unique(), {"ratio": 2.5})
    assert err.value.code == 400 and err.value.type == "row_invalid_structure"
    assert admin.tables_db.delete_column(db, table, "when") == b""
