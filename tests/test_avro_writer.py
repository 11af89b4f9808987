import io
import json
from pathlib import Path
from typing import Any

import fastavro
import pytest

from joulestream import codec, simulate
from joulestream.avro_json import tagger, untagger
from joulestream.avro_writer import compile_writer

NESTED = fastavro.parse_schema(json.loads((Path(__file__).parent / "data/nested.avsc").read_text()))


def fastavro_bytes(schema: Any, record: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, schema, record)
    return buffer.getvalue()


def fleet_records() -> list[dict[str, Any]]:
    events = simulate.fleet(6, 40, start_ms=1_767_225_600_000, seed=11)
    return [event.to_record() for event in events]


def test_compiled_writer_writes_fastavros_bytes_for_every_kind_of_event():
    """Byte for byte what fastavro writes: run_started, measurement and run_finished records."""
    write = compile_writer(codec.EVENT_SCHEMA)
    records = fleet_records()
    assert {r["event_type"] for r in records} == {"run_started", "measurement", "run_finished"}
    for record in records:
        assert write(record) == fastavro_bytes(codec.EVENT_SCHEMA, record)


@pytest.mark.parametrize(
    "record",
    [
        {"id": "a", "section": None, "labels": {}, "tags": []},
        {
            "id": "",
            "section": {"energy_j": None, "devices": None},
            "labels": {"k": "v"},
            "tags": ["t"],
        },
        {
            "id": "é" * 300,  # a length past one varint byte, multi-byte UTF-8
            "section": {
                "energy_j": -0.0,
                "devices": [
                    {"index": -1, "energy_j": 1e300, "utilisation": None},
                    {"index": 2**31 - 1, "energy_j": 3, "utilisation": 0.5},
                ],
            },
            "labels": {f"k{i}": str(i) for i in range(70)},
            "tags": ["x"] * 65,
        },
    ],
)
def test_compiled_writer_matches_fastavro_on_nested_records_arrays_and_maps(
    record: dict[str, Any],
):
    assert compile_writer(NESTED)(record) == fastavro_bytes(NESTED, record)


def test_longs_at_the_edges_of_the_range():
    schema = fastavro.parse_schema({"type": "record", "name": "L", "fields": [
        {"name": "n", "type": "long"}, {"name": "i", "type": "int"}]})  # fmt: skip
    write = compile_writer(schema)
    for n in (0, -1, 63, -64, 64, 1023, 1024, 2**63 - 1, -(2**63)):
        assert write({"n": n, "i": 0}) == fastavro_bytes(schema, {"n": n, "i": 0})
    with pytest.raises(ValueError, match="out of range for an Avro long"):
        write({"n": 2**63, "i": 0})
    with pytest.raises(ValueError, match="out of range for an Avro int"):
        write({"n": 0, "i": 2**31})


def test_a_value_of_the_wrong_type_raises_instead_of_writing_bytes():
    write = compile_writer(codec.EVENT_SCHEMA)
    good = fleet_records()[1]
    for field, value in (("seq", "7"), ("seq", 7.0), ("run_id", None), ("run_id", b"r")):
        with pytest.raises((TypeError, AttributeError)):
            write({**good, field: value})
    section = dict(good["measurement"], cpu_energy_j="1.0")
    with pytest.raises(TypeError, match="no branch of the union"):
        write({**good, "measurement": section})
    with pytest.raises(KeyError):
        write({k: v for k, v in good.items() if k != "region"})


def test_codec_falls_back_to_fastavro_for_its_error_message():
    """The compiled writer refuses; fastavro then says which field is wrong."""
    good = fleet_records()[1]
    with pytest.raises(ValueError, match="region"):
        codec.encode({k: v for k, v in good.items() if k != "region"})


def test_unions_the_writer_cannot_tell_apart_are_refused_when_compiling():
    for union in (["null", "long", "double"], ["string", {"type": "enum", "name": "E",
                                                          "symbols": ["A"]}]):  # fmt: skip
        schema = {"type": "record", "name": "U", "fields": [{"name": "x", "type": union}]}
        with pytest.raises(NotImplementedError, match="union"):
            compile_writer(fastavro.parse_schema(schema))


def test_tagger_writes_fastavros_avro_json_and_untagger_reads_it_back():
    tag, untag = tagger(codec.EVENT_SCHEMA), untagger(codec.EVENT_SCHEMA)
    records = fleet_records()
    text = io.StringIO()
    fastavro.json_writer(text, codec.EVENT_SCHEMA, records)
    expected = [json.loads(line) for line in text.getvalue().splitlines()]
    assert [tag(r) for r in records] == expected
    assert [untag(json.loads(json.dumps(tag(r)))) for r in records] == records


def test_untagger_refuses_an_untagged_union_value():
    untag = untagger(NESTED)
    with pytest.raises(ValueError, match="tagged with its branch"):
        untag({"id": "a", "section": {"energy_j": 1.0, "devices": None}, "labels": {}, "tags": []})
    tagged = {"io.joulestream.tests.Section": {"energy_j": {"double": 1.5}, "devices": None}}
    record = untag({"id": "a", "section": tagged, "labels": {}, "tags": []})
    assert record["section"] == {"energy_j": 1.5, "devices": None}
