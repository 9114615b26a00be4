"""rtcli.tui.filter: every kind of term matches what the table shows (not the `$` fields nor the event
names), negation, quoted phrases, `sub:NAME` with the events its queries excluded, and the pure helpers the
screen uses (with_sub). No Textual here."""

from __future__ import annotations

import pytest

from rtcli.tui.filter import EventFilter, Kind, SubscriptionRef, Verdict, with_sub
from rtcli.tui.records import EventRecord
from tests.tui.fakes import file_event, row_event

SUBS = [SubscriptionRef("s-rows", "rows", ("rows",)),
        SubscriptionRef("s-orders", "main/orders", ("tablesdb.main.tables.orders.rows",), since=2),
        SubscriptionRef("s-files", "files", ("files",))]


def rec(seq: int, action: str = "create", subs=("s-rows",), **kw) -> EventRecord:
    return EventRecord(seq, float(seq), row_event(seq, action, subs=subs, **kw).data)


RECORDS = [
    rec(1, "create", data={"text": "hello world", "n": 1000}),
    rec(2, "delete", data={"text": "bye", "n": 7, "done": True}),
    rec(3, "create", table="orders", subs=("s-rows", "s-orders"), data={"total": 60, "status": "open"}),
    rec(4, "update", table="orders", data={"total": 20, "status": "open"}),  # total<=50: not for s-orders
    rec(5, "delete", data={"text": "created by a test", "n": 1}),
    EventRecord(6, 6.0, file_event(6, subs=("s-files",)).data),
]


def shown(text: str) -> list[int]:
    f = EventFilter.parse(text, SUBS)
    return [r.seq for r in RECORDS if f.verdict(r) is Verdict.SHOWN]


@pytest.mark.parametrize("text, expected", [
    ("", [1, 2, 3, 4, 5, 6]),
    # words: what the row shows; every payload has $createdAt, so the $ fields must not count
    ("create", [1, 3, 5, 6]),                   # the action, and "created" in row 5's text
    ("-create", [2, 4]),
    ("action:create", [1, 3, 6]),
    ("action:create,update", [1, 3, 4, 6]),
    ("-action:delete", [1, 3, 4, 6]),
    ("2026-01-15", []),                          # a $ field's value: not shown in the row
    ("orders", [3, 4]),                          # the resource
    ("HELLO", [1]),
    ('"hello world"', [1]),                      # a phrase
    ('"world hello"', []),
    ('-"hello world"', [2, 3, 4, 5, 6]),
    # key=value on the summary's fields, as the summary shows them
    ("n=1000", [1]),
    ("n=10", []),                                # the whole value, not a part of it
    ("done=true", [2]),
    ('text="hello world"', [1]),
    ("text=hello*", [1]),
    ("status=open -total=60", [4]),
    ("total=", [3, 4]),                          # the field is there
    ("name=photo-6.png", [6]),
    ("$id=row0002", [2]),                        # a $ field, when named
    ("id:row000", [1, 2, 3, 4, 5]),
    # event-name globs, as before
    ("*.rows.*.delete", [2, 5]),
    ("*.update *.delete", [2, 4, 5]),
    ("-*.create", [2, 4, 5]),
    ("buckets.*", [6]),
    ("*.delete n=7", [2]),
])
def test_terms_match_what_the_table_shows(text, expected):
    assert shown(text) == expected


def test_sub_shows_its_events_and_greys_those_its_queries_excluded():
    f = EventFilter.parse("sub:main/orders", SUBS)
    verdicts = {r.seq: f.verdict(r) for r in RECORDS}
    assert verdicts[3] is Verdict.SHOWN
    assert verdicts[4] is Verdict.EXCLUDED      # on its channel, after it was made, not delivered
    assert verdicts[1] is Verdict.HIDDEN and verdicts[6] is Verdict.HIDDEN
    assert [r.seq for r in RECORDS if f.matches(r)] == [3, 4]
    # Before the subscription was made (since=2) nothing counts as excluded.
    early = rec(2, "update", table="orders", data={"total": 1})
    assert f.verdict(early) is Verdict.HIDDEN
    # Other terms still apply to the greyed ones.
    assert EventFilter.parse("sub:main/orders action:create", SUBS).verdict(RECORDS[3]) is Verdict.HIDDEN


def test_sub_names_ids_channels_and_negation():
    assert shown("sub:files") == [6]
    assert shown("sub:s-files") == [6]           # its ID
    assert shown("sub:rows,files") == [1, 2, 3, 4, 5, 6]
    assert shown("-sub:rows") == [6]
    assert shown("sub:tablesdb.main.tables.orders.rows") == [3]  # one of its channels
    f = EventFilter.parse("sub:nope", SUBS)
    assert f.unknown == ("nope",) and [r for r in RECORDS if f.matches(r)] == []
    assert EventFilter.parse('sub:"main/orders"', SUBS).sub_names() == ("main/orders",)


def test_markers_pass_every_filter():
    marker = EventRecord.marker(9, 9.0, "reconnected")
    for text in ("action:delete", "-reconnected", "sub:files", "n=1"):
        assert EventFilter.parse(text, SUBS).verdict(marker) is Verdict.SHOWN


def test_parse_kinds_and_unfinished_input():
    f = EventFilter.parse('  Foo *.x -bar action:delete n=2 "a b" sub:rows id:6b ', SUBS)
    assert [(t.kind, t.negate) for t in f.terms] == [
        (Kind.WORD, False), (Kind.GLOB, False), (Kind.WORD, True), (Kind.ACTION, False), (Kind.FIELD, False),
        (Kind.WORD, False), (Kind.SUB, False), (Kind.ID, False)]
    assert f.text == 'Foo *.x -bar action:delete n=2 "a b" sub:rows id:6b'
    # Half-typed input (filtered as you type) never raises.
    for text in ('"hello wor', "sub:", "action:", "n=", "-", '-"', "=", "a=b=c"):
        EventFilter.parse(text, SUBS).matches(RECORDS[0])
    assert shown('"hello wor') == [1]
    assert EventFilter.parse("-").terms[0].value == "-"
    assert EventFilter.parse("").empty


def test_with_sub_replaces_the_sub_terms():
    assert with_sub("action:delete sub:rows n=1", "files") == "action:delete n=1 sub:files"
    assert with_sub("action:delete sub:rows", None) == "action:delete"
    assert with_sub("", "main/orders") == "sub:main/orders"
    assert with_sub('x sub:"a b"', "c d") == 'x sub:"c d"'
