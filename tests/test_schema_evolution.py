"""The evolution rules of schemas/README.md, checked with fastavro's schema resolution."""

import copy
import io
from typing import Any

import fastavro

from joulestream import schemas
from tests.test_events import finished, measurement


def next_version() -> dict[str, Any]:
    """What a following version may do: append a nullable field with a null default at the
    end of the top-level record."""
    schema = copy.deepcopy(schemas.load(schemas.TRAINING_EVENT))
    schema["fields"].append(
        {"name": "site", "type": ["null", "string"], "default": None, "doc": "Data centre."}
    )
    return schema


def write(schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return out.getvalue()


def read(data: bytes, writer: dict[str, Any], reader: dict[str, Any] | None) -> Any:
    parsed_reader = fastavro.parse_schema(reader) if reader is not None else None
    return fastavro.schemaless_reader(
        io.BytesIO(data), fastavro.parse_schema(writer), parsed_reader
    )


CURRENT = schemas.load(schemas.TRAINING_EVENT)


def test_new_readers_read_old_records():
    """A record of the current version reads with the next schema; the new field is null."""
    old = measurement().to_record()
    assert read(write(CURRENT, old), CURRENT, next_version()) == dict(old, site=None)


def test_old_readers_read_new_records_with_resolution():
    """A next-version record reads with the current schema as reader: the new field is dropped."""
    new = dict(measurement().to_record(), site="eu-1")
    assert read(write(next_version(), new), next_version(), CURRENT) == measurement().to_record()


def test_old_readers_without_resolution_ignore_appended_fields():
    """Flink's avro format decodes with its own schema, no resolution: a field appended at the
    end is trailing bytes it never reads, so the current job still reads next-version records."""
    new = dict(measurement().to_record(), site="eu-1")
    assert read(write(next_version(), new), CURRENT, None) == measurement().to_record()


def test_a_field_added_inside_a_section_breaks_readers_without_resolution():
    """Why fields are only appended at the top level: one added inside a section shifts every
    later field for a reader that does not resolve schemas."""
    schema = copy.deepcopy(CURRENT)
    run_finished = next(f for f in schema["fields"] if f["name"] == "run_finished")
    run_finished["type"][1]["fields"].insert(
        0, {"name": "exit_code", "type": ["null", "int"], "default": None, "doc": "No unit."}
    )

    record = finished().to_record()
    record["run_finished"] = dict(record["run_finished"], exit_code=3)
    data = write(schema, record)
    try:
        decoded = read(data, CURRENT, None)
    except (ValueError, EOFError, UnicodeDecodeError, IndexError):
        return  # refused outright
    assert decoded != finished().to_record()  # or, worse, read as something else


# Version 2 appended the per-interval intensity: the same rules, checked against version 1.
APPENDED_IN_V2 = ("interval_intensity_g_per_kwh", "interval_intensity_source")


def version_1() -> dict[str, Any]:
    """Version 1 is version 2 without its appended fields (checked below to be only that)."""
    schema = copy.deepcopy(CURRENT)
    schema["fields"] = [f for f in schema["fields"] if f["name"] not in APPENDED_IN_V2]
    return schema


def v1_record(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in APPENDED_IN_V2}


def priced_measurement() -> dict[str, Any]:
    return measurement(
        interval_intensity_g_per_kwh=212.5, interval_intensity_source="Electricity Maps"
    ).to_record()


def test_version_2_only_appends_nullable_fields_with_a_null_default():
    """Version 2 is version 1 plus two fields at the end of the top-level record, each
    ['null', T] with default null: what rule 1 allows, and nothing else changed."""
    names = [f["name"] for f in CURRENT["fields"]]
    assert names[-2:] == list(APPENDED_IN_V2)
    assert [f["name"] for f in version_1()["fields"]] == names[:-2]
    appended = CURRENT["fields"][-2:]
    assert [(f["type"], f["default"]) for f in appended] == [
        (["null", "double"], None), (["null", "string"], None)
    ]  # fmt: skip


def test_version_2_readers_read_version_1_records():
    """A version 1 record (an old emitter, an old spool) reads with version 2: both null."""
    old = v1_record(measurement().to_record())
    decoded = read(write(version_1(), old), version_1(), CURRENT)
    assert decoded == dict(old, interval_intensity_g_per_kwh=None, interval_intensity_source=None)


def test_version_1_readers_with_resolution_drop_the_interval_intensity():
    """A version 2 record with an intensity reads with version 1 as reader: fields dropped."""
    new = priced_measurement()
    assert read(write(CURRENT, new), CURRENT, version_1()) == v1_record(new)


def test_version_1_readers_without_resolution_read_version_2_records():
    """A version 1 job (no resolution) reads a version 2 record's bytes as the same record:
    the appended intensity is trailing bytes it never reads."""
    new = priced_measurement()
    assert read(write(CURRENT, new), version_1(), None) == v1_record(new)
