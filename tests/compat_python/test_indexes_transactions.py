"""TablesDB indexes, text columns, the SDK 27 query methods and transactions through the Python SDK."""

from __future__ import annotations

import pytest
from appwrite.enums.tables_db_index_type import TablesDBIndexType
from appwrite.exception import AppwriteException
from appwrite.permission import Permission
from appwrite.query import Query
from appwrite.role import Role

from tests.compat_python.conftest import uid


@pytest.fixture
def table(admin):
    did = uid()
    admin.tables_db.create(did, "main")
    admin.tables_db.create_table(did, "notes", "Notes", permissions=[Permission.read(Role.any())])
    admin.tables_db.create_varchar_column(did, "notes", "slug", 32, False)
    admin.tables_db.create_text_column(did, "notes", "body", False)
    admin.tables_db.create_integer_column(did, "notes", "n", False)
    return did


def test_indexes_and_search(admin, table):
    tables_db = admin.tables_db
    assert tables_db.create_index(table, "notes", "slug", TablesDBIndexType.UNIQUE, ["slug"]).columns == ["slug"]
    tables_db.create_index(table, "notes", "body", TablesDBIndexType.FULLTEXT, ["body"])
    assert tables_db.get_index(table, "notes", "body").type == "fulltext"
    assert tables_db.list_indexes(table, "notes").total == 2
    tables_db.create_row(table, "notes", "a", {"slug": "a", "body": "the quick brown fox", "n": 1})
    tables_db.create_row(table, "notes", "b", {"slug": "b", "body": "lazy dogs", "n": 5})
    with pytest.raises(AppwriteException) as err:
        tables_db.create_row(table, "notes", "c", {"slug": "a"})
    assert err.value.code == 409 and err.value.type == "row_unique_constraint_violation"
    ids = lambda *q: [r.id for r in tables_db.list_rows(table, "notes", queries=list(q)).rows]  # noqa: E731
    assert ids(Query.search("body", "fox")) == ["a"]
    assert ids(Query.not_search("body", "fox")) == ["b"]
    assert ids(Query.not_contains("body", "quick")) == ["b"]
    assert ids(Query.not_between("n", 2, 9)) == ["a"]
    assert ids(Query.not_starts_with("slug", "a")) == ["b"]
    assert ids(Query.not_ends_with("slug", "b")) == ["a"]
    assert ids(Query.exists(["slug"])) == ["a", "b"]
    assert ids(Query.created_after("2000-01-01T00:00:00Z"), Query.created_before("2999-01-01T00:00:00Z")) == ["a", "b"]
    assert ids(Query.updated_after("2999-01-01T00:00:00Z")) == []
    assert sorted(ids(Query.order_random())) == ["a", "b"]
    tables_db.delete_index(table, "notes", "slug")
    tables_db.create_row(table, "notes", "c", {"slug": "a"})


def test_transactions(admin, table):
    tables_db = admin.tables_db
    tx = tables_db.create_transaction(ttl=120)
    tables_db.create_operations(tx.id, [{"action": "create", "databaseId": table, "tableId": "notes", "rowId": "r1",
                                 "data": {"n": 1}}])
    tables_db.create_row(table, "notes", "r2", {"n": 2}, transaction_id=tx.id)
    assert tables_db.get_transaction(tx.id).operations == 2
    assert tables_db.list_rows(table, "notes").total == 0  # nothing before the commit
    assert tables_db.update_transaction(tx.id, commit=True).status == "committed"
    assert tables_db.list_rows(table, "notes").total == 2
    back = tables_db.create_transaction()
    tables_db.create_operations(back.id, [{"action": "delete", "databaseId": table, "tableId": "notes", "rowId": "r1"}])
    assert tables_db.update_transaction(back.id, rollback=True).status == "rolled_back"
    assert tables_db.list_rows(table, "notes").total == 2
    assert back.id in [x.id for x in tables_db.list_transactions().transactions]
    gone = tables_db.create_transaction()
    tables_db.delete_transaction(gone.id)


def test_legacy_transactions(admin, table):
    """The Databases service's transactions are TablesDB's (operations may name collections and documents)."""
    databases = admin.databases
    tx = databases.create_transaction(ttl=120)
    staged = databases.create_operations(tx.id, [{"action": "create", "databaseId": table, "collectionId": "notes",
                                                  "documentId": "x", "data": {"n": 1}}])
    assert staged.operations == 1 and databases.get_transaction(tx.id).operations == 1
    assert tx.id in [x.id for x in databases.list_transactions().transactions]
    assert databases.update_transaction(tx.id, commit=True).status == "committed"
    assert admin.tables_db.get_row(table, "notes", "x").data["n"] == 1
    other = databases.create_transaction()
    databases.delete_transaction(other.id)
