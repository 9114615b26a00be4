"""The legacy Databases API (collections, attributes, documents) through the Python SDK: the same
data as TablesDB, under Appwrite's older names."""

from __future__ import annotations

import warnings

import pytest
from appwrite.enums.databases_index_type import DatabasesIndexType
from appwrite.exception import AppwriteException
from appwrite.permission import Permission
from appwrite.query import Query
from appwrite.role import Role

from tests.compat_python.conftest import uid

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK marks the API deprecated


@pytest.fixture
def databases(admin):
    from appwrite.services.databases import Databases

    with warnings.catch_warnings(record=True):
        return Databases(admin.client)


def test_databases_and_collections(databases):
    did = uid()
    assert databases.create(did, "legacy").id == did
    assert databases.get(did).name == "legacy"
    assert databases.update(did, "renamed").name == "renamed"
    assert did in [d.id for d in databases.list().databases]
    col = databases.create_collection(did, "c1", "C1", permissions=[Permission.read(Role.any())], document_security=True)
    assert col.id == "c1" and col.documentsecurity is True
    assert databases.get_collection(did, "c1").name == "C1"
    assert databases.update_collection(did, "c1", "C one").name == "C one"
    assert [c.id for c in databases.list_collections(did).collections] == ["c1"]
    assert databases.delete_collection(did, "c1") == b""
    assert databases.delete(did) == b""
    with pytest.raises(AppwriteException) as err:
        databases.get(did)
    assert err.value.code == 404


def test_attributes_indexes_documents(databases):
    did = uid()
    databases.create(did, "legacy")
    databases.create_collection(did, "c", "C", permissions=[Permission.read(Role.any())])
    databases.create_string_attribute(did, "c", "title", 20, True)
    databases.create_integer_attribute(did, "c", "n", False, default=0)
    databases.create_float_attribute(did, "c", "ratio", False)
    databases.create_boolean_attribute(did, "c", "done", False)
    databases.create_datetime_attribute(did, "c", "when", False)
    databases.create_email_attribute(did, "c", "mail", False)
    databases.create_enum_attribute(did, "c", "color", ["red", "blue"], False)
    databases.create_url_attribute(did, "c", "link", False)
    databases.create_ip_attribute(did, "c", "addr", False)
    databases.create_varchar_attribute(did, "c", "code", 8, False)
    databases.create_text_attribute(did, "c", "body", False)
    databases.create_mediumtext_attribute(did, "c", "longer", False)
    databases.create_longtext_attribute(did, "c", "longest", False)
    assert databases.get_attribute(did, "c", "n").type == "integer"
    assert databases.list_attributes(did, "c").total == 13
    assert databases.delete_attribute(did, "c", "longest") == b""
    assert databases.create_index(did, "c", "by_n", DatabasesIndexType.KEY, ["n"]).key == "by_n"
    assert databases.get_index(did, "c", "by_n").attributes == ["n"]
    assert [i.key for i in databases.list_indexes(did, "c").indexes] == ["by_n"]
    assert databases.delete_index(did, "c", "by_n") == b""

    doc = databases.create_document(did, "c", "d1", {"title": "one", "color": "red"})
    assert doc.id == "d1" and doc.data["n"] == 0
    assert databases.create_documents(did, "c", [{"$id": "d2", "title": "two"}, {"$id": "d3", "title": "three"}]).total == 2
    assert databases.get_document(did, "c", "d1").data["title"] == "one"
    listed = databases.list_documents(did, "c", queries=[Query.order_desc("title"), Query.limit(2)])
    assert [x.id for x in listed.documents] == ["d2", "d3"]
    assert databases.update_document(did, "c", "d1", {"n": 5}).data["n"] == 5
    assert databases.upsert_document(did, "c", "d4", {"title": "four"}).data["title"] == "four"
    assert databases.increment_document_attribute(did, "c", "d1", "n", value=2).data["n"] == 7
    assert databases.decrement_document_attribute(did, "c", "d1", "n", value=3).data["n"] == 4
    assert databases.delete_document(did, "c", "d4") == b""
    with pytest.raises(AppwriteException) as err:
        databases.get_document(did, "c", "d4")
    assert err.value.code == 404


def test_attribute_updates_and_bulk_documents(databases):
    did = uid()
    databases.create(did, "legacy")
    databases.create_collection(did, "c", "C", permissions=[Permission.read(Role.any())])
    databases.create_string_attribute(did, "c", "title", 10, False)
    databases.create_integer_attribute(did, "c", "n", False)
    databases.create_float_attribute(did, "c", "ratio", False)
    databases.create_boolean_attribute(did, "c", "done", False)
    databases.create_datetime_attribute(did, "c", "when", False)
    databases.create_email_attribute(did, "c", "mail", False)
    databases.create_enum_attribute(did, "c", "color", ["red"], False)
    databases.create_url_attribute(did, "c", "link", False)
    databases.create_ip_attribute(did, "c", "addr", False)
    databases.create_varchar_attribute(did, "c", "code", 4, False)
    databases.create_text_attribute(did, "c", "body", False)
    databases.create_mediumtext_attribute(did, "c", "longer", False)
    databases.create_longtext_attribute(did, "c", "longest", False)
    assert databases.update_string_attribute(did, "c", "title", False, "none", size=20).size == 20
    assert databases.update_integer_attribute(did, "c", "n", False, 1, min=0, max=9).max == 9
    assert databases.update_float_attribute(did, "c", "ratio", False, 0.5, min=0.0, max=1.0).default == 0.5
    assert databases.update_boolean_attribute(did, "c", "done", False, True).default is True
    assert databases.update_datetime_attribute(did, "c", "when", False, None).required is False
    assert databases.update_email_attribute(did, "c", "mail", False, "a@example.com").default == "a@example.com"
    assert databases.update_enum_attribute(did, "c", "color", ["red", "blue"], False, "blue").elements == ["red", "blue"]
    assert databases.update_url_attribute(did, "c", "link", False, "https://example.com").default == "https://example.com"
    assert databases.update_ip_attribute(did, "c", "addr", False, "::1").default == "::1"
    assert databases.update_varchar_attribute(did, "c", "code", False, None, size=8).size == 8
    assert databases.update_text_attribute(did, "c", "body", False, "x").default == "x"
    assert databases.update_mediumtext_attribute(did, "c", "longer", False, "y").default == "y"
    assert databases.update_longtext_attribute(did, "c", "longest", False, "z").default == "z"
    with pytest.raises(AppwriteException) as err:
        databases.update_integer_attribute(did, "c", "title", False, None)
    assert err.value.code == 400 and err.value.type == "attribute_type_invalid"

    databases.create_documents(did, "c", [{"$id": f"d{i}", "n": i} for i in range(4)])
    updated = databases.update_documents(did, "c", data={"title": "big"}, queries=[Query.greater_than("n", 1)])
    assert updated.total == 2 and {d.id for d in updated.documents} == {"d2", "d3"}
    upserted = databases.upsert_documents(did, "c", [{"$id": "d0", "n": 5}, {"$id": "d9", "n": 9}])
    assert upserted.total == 2 and databases.get_document(did, "c", "d0").data["n"] == 5
    deleted = databases.delete_documents(did, "c", queries=[Query.greater_than_equal("n", 3)])
    assert {d.id for d in deleted.documents} == {"d0", "d3", "d9"}
    assert {d.id for d in databases.list_documents(did, "c").documents} == {"d1", "d2"}
