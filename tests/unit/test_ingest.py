"""Sample batches from HTTP: both shapes parse to the same batch, and a malformed batch is
refused whole with every bad field named."""
from __future__ import annotations

import orjson
import pytest
from fastapi.exceptions import RequestValidationError

from services.detector.ingest import BatchTooLarge, _careful_batch, parse_batch

NOW = 1_800_000_000.0


def body(**doc) -> bytes:
    return orjson.dumps(doc)


def test_rows_and_per_series_arrays_give_the_same_batch():
    rows = parse_batch(body(samples=[
        {"metric": "m", "entity": "a", "ts": NOW - 60, "value": 1},
        {"metric": "m", "entity": "b", "ts": NOW - 60, "value": 2.5, "labels": {"region": "east"}},
        {"metric": "m", "entity": "a", "ts": NOW, "value": 3}]), NOW, 100)
    series = parse_batch(body(series=[
        {"metric": "m", "entity": "a", "ts": [NOW - 60, NOW], "values": [1, 3]},
        {"metric": "m", "entity": "b", "labels": {"region": "east"}, "ts": [NOW - 60], "values": [2.5]}]),
        NOW, 100)
    as_set = lambda b: sorted((b.keys[k][:2], t, v) for k, t, v in zip(*map(list, b.arrays())))  # noqa: E731
    assert as_set(rows) == as_set(series)
    assert dict((k[1], k[2]) for k in rows.keys) == {"a": {}, "b": {"region": "east"}}


def test_the_fast_and_careful_paths_agree():
    doc = {"samples": [{"metric": "m", "entity": f"e{i}", "ts": NOW - i, "value": i} for i in range(50)]}
    fast = parse_batch(orjson.dumps(doc), NOW, 100)
    careful = _careful_batch(doc, NOW)
    assert [list(a) for a in fast.arrays()] == [list(a) for a in careful.arrays()]
    assert fast.keys == careful.keys


def test_a_missing_time_is_now_and_iso_times_need_a_zone():
    batch = parse_batch(body(samples=[{"metric": "m", "entity": "e", "value": 1},
                                      {"metric": "m", "entity": "f", "value": 1,
                                       "ts": "2027-01-15T08:00:00+08:00"}]), NOW, 100)
    assert list(batch.arrays()[1]) == [NOW, 1_799_971_200.0]
    with pytest.raises(RequestValidationError) as refused:
        parse_batch(body(samples=[{"metric": "m", "entity": "e", "value": 1,
                                   "ts": "2027-01-15T08:00:00"}]), NOW, 100)
    assert "time zone" in str(refused.value.errors())


@pytest.mark.parametrize("bad, field, words", [
    ({"value": "NaN"}, ("samples", 0, "value"), "must be a number"),
    ({"value": True}, ("samples", 0, "value"), "must be a number"),
    ({"entity": ""}, ("samples", 0, "entity"), "non-empty string"),
    ({"metric": 7}, ("samples", 0, "metric"), "non-empty string"),
    ({"labels": {"a": 1}}, ("samples", 0, "labels"), "strings to strings"),
    ({"ts": NOW + 3600}, ("samples", 0, "ts"), "in the future"),
    ({"ts": "yesterday"}, ("samples", 0, "ts"), "ISO 8601"),
])
def test_a_malformed_sample_refuses_the_batch_and_names_the_field(bad, field, words):
    good = {"metric": "m", "entity": "e", "value": 1, "ts": NOW - 10}
    doc = {"samples": [{**good, **bad}, {**good, "entity": "ok"}]}
    with pytest.raises(RequestValidationError) as refused:
        parse_batch(orjson.dumps(doc), NOW, 100)
    errors = refused.value.errors()
    assert [e["loc"][1:] for e in errors] == [field] and words in errors[0]["msg"]


def test_a_number_past_double_range_is_refused_as_json():
    with pytest.raises(RequestValidationError, match="infinity"):
        parse_batch(b'{"samples": [{"metric": "m", "entity": "e", "value": 1e400}]}', NOW, 100)


def test_series_arrays_of_different_lengths_are_refused():
    with pytest.raises(RequestValidationError, match="same length"):
        parse_batch(body(series=[{"metric": "m", "entity": "e", "ts": [NOW], "values": [1, 2]}]), NOW, 100)


def test_an_empty_or_non_json_body_is_refused_and_a_large_one_is_too_large():
    for raw in (b"not json", b"{}", b'{"samples": []}'):
        with pytest.raises(RequestValidationError):
            parse_batch(raw, NOW, 100)
    with pytest.raises(BatchTooLarge, match="the limit is 2"):
        parse_batch(body(samples=[{"metric": "m", "entity": f"e{i}", "value": 1} for i in range(3)]), NOW, 2)
