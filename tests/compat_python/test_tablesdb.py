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


def test_typed_columns_validate_rows(admin, db, table):
    tables_db = admin.tables_db
    assert tables_db.create_string_column(db, table, "title", 20, True).size == 20
    assert tables_db.create_integer_column(db, table, "n", False, min=0, max=10, default=1).default == 1
    assert tables_db.create_boolean_column(db, table, "done", False, default=False).type == "boolean"
    assert tables_db.create_email_column(db, table, "mail", False).format == "email"
    assert tables_db.create_enum_column(db, table, "color", ["red", "blue"], False).elements == ["red", "blue"]
    assert tables_db.create_url_column(db, table, "link", False).format == "url"
    assert tables_db.create_ip_column(db, table, "addr", False).format == "ip"
    row = tables_db.create_row(db, table, "r1", {"title": "a", "mail": "a@example.com", "color": "red",
                                         "link": "https://example.com", "addr": "127.0.0.1"})
    assert row.data["n"] == 1 and row.data["done"] is False
    for bad in ({"title": "x" * 21}, {"title": "a", "n": 11}, {"title": "a", "mail": "nope"},
                {"title": "a", "color": "green"}, {"title": "a", "addr": "300.1.1.1"}, {"n": 1}):
        with pytest.raises(AppwriteException) as err:
            tables_db.create_row(db, table, ID.unique(), bad)
        assert err.value.code == 400 and err.value.type == "row_invalid_structure", bad


def test_rows(admin, db, table):
    tables_db = admin.tables_db
    created = tables_db.create_rows(db, table, [{"$id": f"r{i}", "n": i, "tag": "even" if i % 2 == 0 else "odd"}
                                        for i in range(5)])
    assert created.total == 5
    listed = tables_db.list_rows(db, table, queries=[Query.equal("tag", "even"), Query.order_desc("n")])
    assert [r.id for r in listed.rows] == ["r4", "r2", "r0"] and listed.total == 3
    assert tables_db.get_row(db, table, "r1").data["tag"] == "odd"
    assert tables_db.update_row(db, table, "r1", {"tag": "one"}).data["tag"] == "one"
    assert tables_db.upsert_row(db, table, "r9", {"n": 9}).data["n"] == 9
    assert tables_db.upsert_row(db, table, "r9", {"n": 10}).data["n"] == 10
    assert tables_db.increment_row_column(db, table, "r9", "n", value=5).data["n"] == 15
    assert tables_db.decrement_row_column(db, table, "r9", "n", value=5, min=0).data["n"] == 10
    with pytest.raises(AppwriteException) as err:
        tables_db.decrement_row_column(db, table, "r9", "n", value=20, min=0)
    assert err.value.code == 400 and "min of 0" in err.value.message
    assert tables_db.delete_row(db, table, "r9") == b""
    with pytest.raises(AppwriteException) as err:
        tables_db.get_row(db, table, "r9")
    assert err.value.code == 404 and err.value.type == "row_not_found"


def test_row_permissions_gate_users(admin, user, db):
    tables_db = admin.tables_db
    tables_db.create_table(db, "notes", "Notes", permissions=[Permission.create(Role.users())], row_security=True)
    mine = user.tables_db.create_row(db, "notes", ID.unique(), {"text": "mine"},
                                     permissions=[Permission.read(Role.user(user.user_id))])
    assert user.tables_db.get_row(db, "notes", mine.id).data["text"] == "mine"
    tables_db.create_row(db, "notes", ID.unique(), {"text": "not yours"})
    assert [r.id for r in user.tables_db.list_rows(db, "notes").rows] == [mine.id]


def test_text_columns(admin, db, table):
    tables_db = admin.tables_db
    assert tables_db.create_varchar_column(db, table, "code", 8, False).size == 8
    assert tables_db.create_text_column(db, table, "body", False).type == "text"
    assert tables_db.create_mediumtext_column(db, table, "longer", False).type == "mediumtext"
    assert tables_db.create_longtext_column(db, table, "longest", False).type == "longtext"
    row = tables_db.create_row(db, table, ID.unique(), {"code": "abc", "body": "x" * 1000})
    assert row.data["body"] == "x" * 1000
    with pytest.raises(AppwriteException) as err:
        tables_db.create_row(db, table, ID.unique(), {"code": "x" * 9})
    assert err.value.code == 400 and err.value.type == "row_invalid_structure"


def test_indexes(admin, db, table):
    from appwrite.enums.tables_db_index_type import TablesDBIndexType

    tables_db = admin.tables_db
    tables_db.create_integer_column(db, table, "n", False)
    made = tables_db.create_index(db, table, "by_n", TablesDBIndexType.KEY, ["n"])
    assert made.key == "by_n" and made.columns == ["n"] and made.type == "key"
    assert tables_db.get_index(db, table, "by_n").key == "by_n"
    assert [i.key for i in tables_db.list_indexes(db, table).indexes] == ["by_n"]
    unique = tables_db.create_index(db, table, "uniq_n", TablesDBIndexType.UNIQUE, ["n"])
    assert unique.type == "unique"
    tables_db.create_row(db, table, "one", {"n": 1})
    with pytest.raises(AppwriteException) as err:
        tables_db.create_row(db, table, "two", {"n": 1})
    assert err.value.code == 409
    assert tables_db.delete_index(db, table, "uniq_n") == b""
    assert tables_db.create_row(db, table, "two", {"n": 1}).data["n"] == 1


def test_bulk_update_upsert_delete(admin, user, db, table):
    tables_db = admin.tables_db
    tables_db.create_rows(db, table, [{"$id": f"b{i}", "n": i, "tag": "odd" if i % 2 else "even"} for i in range(6)])
    updated = tables_db.update_rows(db, table, data={"flag": True}, queries=[Query.equal("tag", "odd")])
    assert updated.total == 3 and {r.id for r in updated.rows} == {"b1", "b3", "b5"}
    assert all(r.data["flag"] is True for r in updated.rows)
    assert tables_db.get_row(db, table, "b0").data.get("flag") is None
    upserted = tables_db.upsert_rows(db, table, [{"$id": "b0", "n": 100}, {"$id": "new", "n": 7, "tag": "odd"}])
    assert upserted.total == 2 and tables_db.get_row(db, table, "b0").data["n"] == 100
    assert tables_db.get_row(db, table, "b0").data["tag"] == "even", "an upsert keeps the columns it does not give"
    deleted = tables_db.delete_rows(db, table, queries=[Query.equal("tag", "odd")])
    assert deleted.total == 4 and {r.id for r in deleted.rows} == {"b1", "b3", "b5", "new"}
    assert {r.id for r in tables_db.list_rows(db, table).rows} == {"b0", "b2", "b4"}
    with pytest.raises(AppwriteException) as err:
        user.tables_db.delete_rows(db, table)
    assert err.value.code == 401 and err.value.type == "general_unauthorized_scope"
    with pytest.raises(AppwriteException) as err:
        tables_db.update_rows(db, table, data={})
    assert err.value.code == 400 and err.value.type == "row_missing_payload"


def test_transactions(admin, db, table):
    tables_db = admin.tables_db
    tx = tables_db.create_transaction(ttl=60)
    assert tx.status == "pending" and tx.operations == 0
    staged = tables_db.create_operations(tx.id, [
        {"action": "create", "databaseId": db, "tableId": table, "rowId": "t1", "data": {"n": 1}},
        {"action": "create", "databaseId": db, "tableId": table, "rowId": "t2", "data": {"n": 2}},
    ])
    assert staged.operations == 2
    tables_db.create_row(db, table, "t3", {"n": 3}, transaction_id=tx.id)
    assert tables_db.get_transaction(tx.id).operations == 3
    assert tx.id in [t.id for t in tables_db.list_transactions().transactions]
    with pytest.raises(AppwriteException):
        tables_db.get_row(db, table, "t1")  # staged, not written
    assert tables_db.update_transaction(tx.id, commit=True).status == "committed"
    assert {r.id for r in tables_db.list_rows(db, table).rows} >= {"t1", "t2", "t3"}
    dropped = tables_db.create_transaction()
    tables_db.create_row(db, table, "t4", {"n": 4}, transaction_id=dropped.id)
    assert tables_db.update_transaction(dropped.id, rollback=True).status == "rolled_back"
    assert tables_db.delete_transaction(dropped.id) == b""
    with pytest.raises(AppwriteException) as err:
        tables_db.get_row(db, table, "t4")
    assert err.value.code == 404


def test_update_columns(admin, db, table):
    """required, default and the type's limits change; the type must match; a rename is not offered."""
    tables_db = admin.tables_db
    tables_db.create_string_column(db, table, "title", 10, False)
    tables_db.create_integer_column(db, table, "n", False)
    tables_db.create_float_column(db, table, "ratio", False)
    tables_db.create_boolean_column(db, table, "done", False)
    tables_db.create_datetime_column(db, table, "when", False)
    tables_db.create_email_column(db, table, "mail", False)
    tables_db.create_enum_column(db, table, "color", ["red"], False)
    tables_db.create_url_column(db, table, "link", False)
    tables_db.create_ip_column(db, table, "addr", False)
    tables_db.create_varchar_column(db, table, "code", 4, False)
    tables_db.create_text_column(db, table, "body", False)
    tables_db.create_mediumtext_column(db, table, "longer", False)
    tables_db.create_longtext_column(db, table, "longest", False)

    assert tables_db.update_string_column(db, table, "title", False, "untitled", size=20).size == 20
    n = tables_db.update_integer_column(db, table, "n", False, 5, min=0, max=9)
    assert (n.default, n.min, n.max) == (5, 0, 9)
    assert tables_db.update_float_column(db, table, "ratio", False, 0.5, min=0.0, max=1.0).max == 1.0
    assert tables_db.update_boolean_column(db, table, "done", False, True).default is True
    assert tables_db.update_datetime_column(db, table, "when", True, None).required is True
    assert tables_db.update_email_column(db, table, "mail", False, "a@example.com").default == "a@example.com"
    assert tables_db.update_enum_column(db, table, "color", ["red", "blue"], False, "blue").elements == ["red", "blue"]
    assert tables_db.update_url_column(db, table, "link", False, "https://example.com").default == "https://example.com"
    assert tables_db.update_ip_column(db, table, "addr", False, "127.0.0.1").default == "127.0.0.1"
    assert tables_db.update_varchar_column(db, table, "code", False, None, size=8).size == 8
    assert tables_db.update_text_column(db, table, "body", False, "x").default == "x"
    assert tables_db.update_mediumtext_column(db, table, "longer", False, "y").default == "y"
    assert tables_db.update_longtext_column(db, table, "longest", False, "z").default == "z"
    row = tables_db.create_row(db, table, ID.unique(), {"when": "2026-01-01T00:00:00.000+00:00", "code": "12345678"})
    assert (row.data["title"], row.data["n"], row.data["color"], row.data["done"]) == ("untitled", 5, "blue", True)
    with pytest.raises(AppwriteException) as err:
        tables_db.create_row(db, table, ID.unique(), {"when": "2026-01-01T00:00:00.000+00:00", "n": 10})
    assert err.value.type == "row_invalid_structure"
    with pytest.raises(AppwriteException) as err:
        tables_db.update_integer_column(db, table, "title", False, None)
    assert err.value.code == 400 and err.value.type == "column_type_invalid"
    with pytest.raises(AppwriteException) as err:
        tables_db.update_integer_column(db, table, "n", False, 50, min=0, max=9)
    assert err.value.code == 400 and err.value.type == "column_value_invalid"
    with pytest.raises(AppwriteException) as err:
        tables_db.update_boolean_column(db, table, "done", False, None, new_key="finished")
    assert err.value.code == 405 and err.value.type == "general_not_implemented"
