"""Realtime queries: compiled from the SDKs' JSON serialisation, evaluated strictly as Appwrite does.

Queries are written as the real Web SDK sends them: one JSON string per query, with nested
query *objects* (not strings) inside and/or.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcli.core.queries import compile_realtime, parse, parse_many, strict_equal
from rtcli.errors import AppwriteError


# --- builders mirroring the SDK's Query.* (WEB l.85) ---------------------------------------------


_UNDEFINED = object()


def _q(method: str, attribute: str | None = None, values=_UNDEFINED) -> dict:
    """Like the SDK: attribute/values left out when undefined, a scalar (even null) wrapped in a list."""
    out: dict = {"method": method}
    if attribute is not None:
        out["attribute"] = attribute
    if values is not _UNDEFINED:
        out["values"] = values if isinstance(values, list) else [values]
    return out


def equal(attr, value):
    return _q("equal", attr, value)


def not_equal(attr, value):
    return _q("notEqual", attr, value)


def less_than(attr, value):
    return _q("lessThan", attr, value)


def less_than_equal(attr, value):
    return _q("lessThanEqual", attr, value)


def greater_than(attr, value):
    return _q("greaterThan", attr, value)


def greater_than_equal(attr, value):
    return _q("greaterThanEqual", attr, value)


def is_null(attr):
    return _q("isNull", attr)


def is_not_null(attr):
    return _q("isNotNull", attr)


def and_(*queries):
    return {"method": "and", "values": list(queries)}


def or_(*queries):
    return {"method": "or", "values": list(queries)}


def select(attrs):
    return {"method": "select", "values": attrs}


def sdk(*queries: dict) -> list[str]:
    """What `realtime.subscribe(..., queries)` puts on the wire: a list of JSON strings."""
    return [json.dumps(q, separators=(",", ":")) for q in queries]


def matcher(*queries: dict):
    _, match = compile_realtime(sdk(*queries))
    assert match is not None
    return match


def matches(query: dict, payload: dict) -> bool:
    return matcher(query)(payload)


# --- serialisation -------------------------------------------------------------------------------


def test_sdk_examples_from_the_protocol_parse():
    assert parse('{"method":"equal","attribute":"a","values":["b",1]}').values == ("b", 1)
    assert parse('{"method":"limit","values":[25]}').values == (25,)
    assert parse('{"method":"orderDesc","attribute":"x"}').attribute == "x"
    assert parse('{"method":"select","values":["*"]}').values == ("*",)
    assert parse('{"method":"cursorAfter","values":["abc"]}').values == ("abc",)
    q = parse('{"method":"or","values":[{"method":"equal","attribute":"a","values":[1]},'
              '{"method":"isNull","attribute":"b"}]}')
    assert [s.method for s in q.values] == ["equal", "isNull"]


def test_compile_returns_the_normalised_query_strings():
    raw = '{"method":"equal","attribute":"a","values":["b",1]}'
    normalised, match = compile_realtime([raw])
    assert normalised == [raw]
    assert match is not None
    nested = sdk(or_(equal("a", 1), is_null("b")))
    assert compile_realtime(nested)[0] == nested


def test_parse_many_rejects_a_non_list():
    with pytest.raises(AppwriteError) as info:
        parse_many('{"method":"equal","attribute":"a","values":[1]}')
    assert info.value.type == "general_query_invalid"


@pytest.mark.parametrize(
    "raw",
    ["not json", '{"method":"equal",', "", "{'method':'equal'}", '{"method":"equal","attribute":"a","values":[1]'],
)
def test_invalid_json_is_general_query_invalid(raw):
    with pytest.raises(AppwriteError) as info:
        compile_realtime([raw])
    assert info.value.type == "general_query_invalid"
    assert info.value.http_status == 400


@pytest.mark.parametrize("raw", ["[]", "1", '"equal"', "null", '{"attribute":"a"}', '{"method":1}'])
def test_json_that_is_not_a_query_is_general_query_invalid(raw):
    with pytest.raises(AppwriteError) as info:
        compile_realtime([raw])
    assert info.value.type == "general_query_invalid"


# --- strict equality -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (1, 1, True),
        (1, 1.0, False),
        (1, "1", False),
        (1, True, False),
        (1.0, True, False),
        ("1", True, False),
        (0, False, False),
        (0, None, False),
        ("", None, False),
        (False, None, False),
        (None, None, True),
        (True, True, True),
        (1.5, 1.5, True),
        ("a", "a", True),
        ("a", "A", False),
        ([1, 2], [1, 2], True),
        ([1, 2], [2, 1], False),
        ([1], [1.0], False),
        ([1], [True], False),
        ([1], 1, False),
        ([], [], True),
        ([[1]], [[1]], True),
        ({"a": 1}, {"a": 1}, True),
        ({"a": 1}, {"a": 1.0}, False),
        ({"a": 1}, {"a": "1"}, False),
        ({"a": 1}, {"a": 1, "b": 2}, False),
        ({"a": 1}, {"b": 1}, False),
        ({"a": [1, {"b": True}]}, {"a": [1, {"b": True}]}, True),
        ({"a": [1, {"b": True}]}, {"a": [1, {"b": 1}]}, False),
        ({}, [], False),
    ],
)
def test_strict_equal(a, b, expected):
    assert strict_equal(a, b) is expected
    assert strict_equal(b, a) is expected


@pytest.mark.parametrize(
    ("stored", "matching", "not_matching"),
    [
        (1, 1, [1.0, "1", True]),
        (1.0, 1.0, [1, "1.0", True]),
        ("1", "1", [1, 1.0, True]),
        (True, True, [1, "true", 1.0]),
        (False, False, [0, "", None]),
    ],
)
def test_equal_is_strict(stored, matching, not_matching):
    assert matches(equal("x", matching), {"x": stored})
    for other in not_matching:
        assert not matches(equal("x", other), {"x": stored}), other


def test_equal_on_list_attribute_compares_the_whole_list():
    # values are ORed scalars: a list payload is never === to one of its elements
    assert not matches(equal("tags", ["a", "b"]), {"tags": ["a", "b"]})
    assert matches(equal("tags", [["a", "b"]]), {"tags": ["a", "b"]})
    assert not matches(equal("tags", [["b", "a"]]), {"tags": ["a", "b"]})
    assert not matches(equal("tags", [[1]]), {"tags": [1.0]})


def test_equal_on_object_attribute_is_strict():
    assert matches(equal("meta", [{"k": 1}]), {"meta": {"k": 1}})
    assert not matches(equal("meta", [{"k": 1}]), {"meta": {"k": True}})
    assert not matches(equal("meta", [{"k": 1}]), {"meta": {"k": 1, "j": 2}})


# --- equal / notEqual ----------------------------------------------------------------------------


def test_equal_with_several_values_is_ored():
    q = equal("status", ["draft", "published", 3])
    assert matches(q, {"status": "draft"})
    assert matches(q, {"status": "published"})
    assert matches(q, {"status": 3})
    assert not matches(q, {"status": "archived"})
    assert not matches(q, {"status": "3"})


def test_equal_null():
    assert matches(equal("x", [None]), {"x": None})
    assert not matches(equal("x", [None]), {"x": 0})


def test_not_equal():
    q = not_equal("status", "draft")
    assert matches(q, {"status": "published"})
    assert not matches(q, {"status": "draft"})
    assert matches(not_equal("n", 1), {"n": 1.0})  # strict: 1.0 !== 1
    assert matches(not_equal("n", 1), {"n": "1"})
    assert matches(not_equal("n", 1), {"n": True})
    assert not matches(not_equal("n", 1), {"n": 1})


def test_not_equal_with_several_values_means_equal_to_none_of_them():
    # Appwrite RuntimeQuery: notEqual is !anyMatch(values, ===), i.e. "not in".
    q = not_equal("status", ["draft", "archived"])
    assert not matches(q, {"status": "draft"})
    assert not matches(q, {"status": "archived"})
    assert matches(q, {"status": "published"})


# --- orderings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "value", "payload_value", "expected"),
    [
        (less_than, 5, 4, True),
        (less_than, 5, 5, False),
        (less_than, 5, 6, False),
        (less_than_equal, 5, 5, True),
        (less_than_equal, 5, 6, False),
        (greater_than, 5, 6, True),
        (greater_than, 5, 5, False),
        (greater_than_equal, 5, 5, True),
        (greater_than_equal, 5, 4, False),
        # floats and mixed int/float compare numerically
        (less_than, 1.5, 1.25, True),
        (less_than, 1.5, 1.5, False),
        (greater_than, 1, 1.5, True),
        (greater_than_equal, 2.0, 2, True),
        (less_than, 2, 1.999, True),
        (greater_than, -1, -0.5, True),
        # strings compare lexicographically
        (less_than, "banana", "apple", True),
        (less_than, "apple", "banana", False),
        (greater_than, "a", "b", True),
        (greater_than_equal, "b", "b", True),
        (less_than_equal, "b", "ba", False),
        (greater_than, "2026-01-01T00:00:00.000+00:00", "2026-08-21T13:42:57.123+00:00", True),
        # two numeric strings compare as numbers (PHP 8)
        (greater_than, "9", "10", True),
    ],
)
def test_orderings(method, value, payload_value, expected):
    assert matches(method("x", value), {"x": payload_value}) is expected


def test_ordering_with_several_values_is_ored():
    q = less_than("x", [1, 10])
    assert matches(q, {"x": 5})
    assert not matches(q, {"x": 10})


def test_ordering_against_incomparable_values_does_not_match():
    assert not matches(less_than("x", 5), {"x": [1]})
    assert not matches(greater_than("x", 5), {"x": {"a": 1}})


# --- isNull / isNotNull / missing attributes ----------------------------------------------------


def test_is_null_and_is_not_null():
    assert matches(is_null("x"), {"x": None})
    assert not matches(is_null("x"), {"x": 0})
    assert not matches(is_null("x"), {"x": ""})
    assert not matches(is_null("x"), {"x": False})
    assert matches(is_not_null("x"), {"x": 0})
    assert matches(is_not_null("x"), {"x": ""})
    assert not matches(is_not_null("x"), {"x": None})


@pytest.mark.parametrize(
    "query",
    [
        equal("missing", 1),
        equal("missing", [None]),
        not_equal("missing", 1),
        less_than("missing", 1),
        less_than_equal("missing", 1),
        greater_than("missing", 1),
        greater_than_equal("missing", 1),
        is_null("missing"),
        is_not_null("missing"),
        and_(is_null("missing")),
        or_(is_null("missing"), equal("missing", 1)),
    ],
)
def test_a_missing_attribute_never_matches(query):
    assert not matches(query, {"present": None, "n": 1})


def test_a_missing_attribute_inside_or_does_not_block_the_other_branch():
    assert matches(or_(is_null("missing"), equal("n", 1)), {"n": 1})


# --- and / or ------------------------------------------------------------------------------------


def test_top_level_queries_are_anded():
    m = matcher(equal("a", 1), greater_than("b", 5))
    assert m({"a": 1, "b": 6})
    assert not m({"a": 1, "b": 5})
    assert not m({"a": 2, "b": 6})


def test_and_or_nesting():
    # (status == "published" AND (score > 10 OR pinned == true)) AND author != null
    m = matcher(
        and_(equal("status", "published"), or_(greater_than("score", 10), equal("pinned", True))),
        is_not_null("author"),
    )
    assert m({"status": "published", "score": 11, "pinned": False, "author": "u"})
    assert m({"status": "published", "score": 1, "pinned": True, "author": "u"})
    assert not m({"status": "published", "score": 1, "pinned": False, "author": "u"})
    assert not m({"status": "draft", "score": 11, "pinned": True, "author": "u"})
    assert not m({"status": "published", "score": 11, "pinned": True, "author": None})
    assert not m({"status": "published", "score": 1, "pinned": 1, "author": "u"})  # 1 !== true


def test_or_inside_and_inside_or():
    m = matcher(or_(and_(equal("a", 1), or_(equal("b", 1), equal("c", 1))), equal("d", 1)))
    assert m({"a": 1, "c": 1})
    assert m({"d": 1})
    assert not m({"a": 1, "b": 2, "c": 2})
    assert not m({"a": 2, "b": 1})


# --- everything ----------------------------------------------------------------------------------


def test_no_queries_means_everything():
    assert compile_realtime([]) == ([], None)


def test_select_star_means_everything():
    normalised, match = compile_realtime(sdk(select(["*"])))
    assert normalised == ['{"method":"select","values":["*"]}']
    assert match is None


def test_select_star_next_to_other_queries_means_everything():
    _, match = compile_realtime(sdk(equal("a", 1), select(["*"])))
    assert match is None


def test_select_of_named_attributes_is_rejected():
    with pytest.raises(AppwriteError) as info:
        compile_realtime(sdk(select(["name"])))
    assert info.value.type == "general_query_invalid"


# --- disallowed methods --------------------------------------------------------------------------

DISALLOWED = [
    # what Appwrite's e2e testInvalidQueryShouldNotSubscribe sends
    _q("contains", "tags", ["a"]),
    _q("search", "title", ["hello"]),
    _q("between", "n", [1, 5]),
    _q("startsWith", "title", ["he"]),
    _q("endsWith", "title", ["lo"]),
    # modifiers and the rest of the SDK's builders
    _q("limit", values=[25]),
    _q("offset", values=[5]),
    _q("orderAsc", "n"),
    _q("orderDesc", "n"),
    _q("orderRandom"),
    _q("cursorAfter", values=["abc"]),
    _q("cursorBefore", values=["abc"]),
    _q("containsAny", "tags", ["a", "b"]),
    _q("containsAll", "tags", ["a", "b"]),
    _q("notContains", "tags", ["a"]),
    _q("notSearch", "title", ["x"]),
    _q("notBetween", "n", [1, 5]),
    _q("notStartsWith", "title", ["he"]),
    _q("notEndsWith", "title", ["lo"]),
    _q("exists", values=["title"]),
    _q("notExists", values=["title"]),
    _q("elemMatch", "items", [{"method": "equal", "attribute": "a", "values": [1]}]),
    _q("createdBefore", values=["2026-01-01T00:00:00.000+00:00"]),
    _q("updatedAfter", values=["2026-01-01T00:00:00.000+00:00"]),
]


def _ids(q: dict) -> str:
    return q["method"]


@pytest.mark.parametrize("query", DISALLOWED, ids=_ids)
def test_disallowed_method_is_rejected_with_its_name(query):
    with pytest.raises(AppwriteError) as info:
        compile_realtime(sdk(query))
    assert info.value.type == "general_query_invalid"
    assert "not supported in Realtime queries" in info.value.message
    assert f"'{query['method']}'" in info.value.message


@pytest.mark.parametrize("query", DISALLOWED, ids=_ids)
@pytest.mark.parametrize(
    "wrap",
    [
        lambda q: [equal("a", 1), q],
        lambda q: [and_(equal("a", 1), q)],
        lambda q: [or_(q, equal("a", 1))],
        lambda q: [or_(equal("a", 1), and_(is_null("b"), or_(equal("c", 1), q)))],
    ],
    ids=["after-allowed", "in-and", "in-or", "deeply-nested"],
)
def test_disallowed_method_is_rejected_when_nested(query, wrap):
    with pytest.raises(AppwriteError) as info:
        compile_realtime(sdk(*wrap(query)))
    assert info.value.type == "general_query_invalid"
    assert "not supported in Realtime queries" in info.value.message
    assert f"'{query['method']}'" in info.value.message


def test_allowed_methods_are_accepted():
    compile_realtime(sdk(
        equal("a", 1), not_equal("a", 2), less_than("n", 1), less_than_equal("n", 1),
        greater_than("n", 1), greater_than_equal("n", 1), is_null("x"), is_not_null("y"),
        and_(equal("a", 1)), or_(equal("a", 1)), select(["*"]),
    ))


# --- properties ----------------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    # Queries refuse NUL characters and unpaired surrogates (see protocol.json_problem).
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=8),
    st.sampled_from([0, 1, -1, 0.0, 1.0, -0.0, "", "0", "1", "1.0", "true", True, False, None]),
)


@given(json_scalars, json_scalars)
def test_equal_matches_iff_same_type_and_value(a, b):
    match = matcher(equal("x", [a]))
    assert match({"x": b}) is (type(a) is type(b) and a == b)


@given(json_scalars, st.lists(json_scalars, min_size=1, max_size=4))
def test_not_equal_is_the_negation_of_equal_when_the_attribute_is_present(value, targets):
    payload = {"x": value}
    assert matcher(not_equal("x", targets))(payload) is not matcher(equal("x", targets))(payload)


@given(st.dictionaries(st.text(max_size=3), json_scalars, max_size=4), json_scalars)
def test_missing_attribute_never_matches_any_leaf(payload, value):
    payload.pop("x", None)
    for q in (equal("x", [value]), not_equal("x", [value]), is_null("x"), is_not_null("x")):
        assert not matcher(q)(payload)
