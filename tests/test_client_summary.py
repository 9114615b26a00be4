"""One line per event payload (rtcli.client.summary): what `rtcli subscribe` prints and the
monitor's summary column show."""

from __future__ import annotations

from rtcli.client.summary import shown_value, summarize, user_first


def test_user_fields_only_in_payload_order():
    payload = {"$id": "r1", "$createdAt": "2026-01-01T00:00:00.000+00:00", "title": "hello", "n": 2}
    assert summarize(payload, "tablesdb.d.tables.t.rows", width=80) == "title=hello n=2"
    assert summarize({"$id": "x"}, width=80) == ""


def test_values_read_as_json_unless_a_bare_word():
    assert [shown_value(v) for v in ("word", "two words", "", None, True, False, 3, 1.5)] == [
        "word", '"two words"', '""', "null", "true", "false", "3", "1.5"]
    assert shown_value({"a": [1, "é"]}) == '{"a":[1,"é"]}'


def test_files_and_executions_lead_with_what_tells_them_apart():
    upload = {"$id": "f", "chunksTotal": 1, "sizeOriginal": 3, "mimeType": "text/plain", "name": "a.txt"}
    assert summarize(upload, "buckets.b.files", width=80) == "name=a.txt mimeType=text/plain sizeOriginal=3 chunksTotal=1"
    run = {"$id": "e", "logs": "", "duration": 0.5, "status": "completed"}
    assert user_first(run, "functions.f.executions") == ["status", "duration", "logs", "$id"]
    # The same fields of a row keep the row's own order.
    assert user_first(upload, "tablesdb.d.tables.t.rows") == ["chunksTotal", "sizeOriginal", "mimeType", "name", "$id"]


def test_cut_to_width_with_an_ellipsis():
    text = summarize({"text": "x" * 500, "more": 1}, width=40)
    assert len(text) == 40 and text.endswith("…") and text.startswith("text=xxx")
    assert summarize({"a": 1, "b": 2}, width=7) == "a=1 b=2"
    assert summarize({"a": 1, "b": 22}, width=7) == "a=1 b=…"


def test_stops_reading_fields_once_the_line_is_full():
    class Loud(dict):
        """A payload that counts the values read."""

        reads = 0

        def __getitem__(self, key):
            Loud.reads += 1
            return super().__getitem__(key)

    payload = Loud({f"k{i}": "v" * 10 for i in range(1000)})
    assert summarize(payload, width=40).endswith("…")
    assert Loud.reads < 10
