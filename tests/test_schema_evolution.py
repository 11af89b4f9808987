"""The evolution rules of schemas/README.md, checked with fastavro's schema resolution."""

import copy
import io
from typing import Any

import fastavro

from joulestream import schemas
from joulestream.events import event_from_record
from tests.test_events import finished, measurement, started


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


# Version 2 appended the per-interval intensity, version 3 the run's plan: the same rules,
# checked against the versions before.
APPENDED_IN_V2 = ("interval_intensity_g_per_kwh", "interval_intensity_source")
APPENDED_IN_V3 = ("planned_steps", "planned_epochs")


def without(schema: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    schema = copy.deepcopy(schema)
    schema["fields"] = [f for f in schema["fields"] if f["name"] not in names]
    return schema


def version_2() -> dict[str, Any]:
    """Version 2 is version 3 without its appended fields (checked below to be only that)."""
    return without(CURRENT, APPENDED_IN_V3)


def version_1() -> dict[str, Any]:
    """Version 1 is version 2 without its appended fields."""
    return without(version_2(), APPENDED_IN_V2)


def v1_record(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in APPENDED_IN_V2 + APPENDED_IN_V3}


def v2_record(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in APPENDED_IN_V3}


def priced_measurement() -> dict[str, Any]:
    return measurement(
        interval_intensity_g_per_kwh=212.5, interval_intensity_source="Electricity Maps"
    ).to_record()


def planned_start() -> dict[str, Any]:
    return started(planned_steps=12_000, planned_epochs=3).to_record()


def test_versions_2_and_3_only_append_nullable_fields_with_a_null_default():
    """Each version is the one before plus fields at the end of the top-level record, each
    ['null', T] with default null: what rule 1 allows, and nothing else changed."""
    names = [f["name"] for f in CURRENT["fields"]]
    assert names[-4:] == [*APPENDED_IN_V2, *APPENDED_IN_V3]
    assert [f["name"] for f in version_2()["fields"]] == names[:-2]
    assert [f["name"] for f in version_1()["fields"]] == names[:-4]
    appended = CURRENT["fields"][-4:]
    assert [(f["type"], f["default"]) for f in appended] == [
        (["null", "double"], None), (["null", "string"], None),
        (["null", "long"], None), (["null", "int"], None),
    ]  # fmt: skip


def test_version_3_readers_read_version_1_and_2_records():
    """A version 1 or 2 record (an old emitter, an old spool) reads with version 3: the
    appended fields are null."""
    old = v1_record(measurement().to_record())
    decoded = read(write(version_1(), old), version_1(), CURRENT)
    assert decoded == dict(
        old, interval_intensity_g_per_kwh=None, interval_intensity_source=None,
        planned_steps=None, planned_epochs=None,
    )  # fmt: skip
    old_start = v2_record(started().to_record())
    decoded = read(write(version_2(), old_start), version_2(), CURRENT)
    assert decoded == dict(old_start, planned_steps=None, planned_epochs=None)


def test_version_1_readers_with_resolution_drop_the_interval_intensity():
    """A version 3 record with an intensity reads with version 1 as reader: fields dropped."""
    new = priced_measurement()
    assert read(write(CURRENT, new), CURRENT, version_1()) == v1_record(new)


def test_older_readers_without_resolution_read_version_3_records():
    """A version 1 or 2 job (no resolution) reads a version 3 record's bytes as the same
    record: the appended fields are trailing bytes it never reads."""
    new = priced_measurement()
    assert read(write(CURRENT, new), version_1(), None) == v1_record(new)
    plan = planned_start()
    assert read(write(CURRENT, plan), version_2(), None) == v2_record(plan)
    assert read(write(CURRENT, plan), version_1(), None) == v1_record(plan)


def test_the_plan_is_on_run_started_only_and_survives_a_round_trip():
    """A run_started's plan is in the record's appended fields and back from it; a measurement
    never carries one."""
    plan = planned_start()
    assert (plan["planned_steps"], plan["planned_epochs"]) == (12_000, 3)
    assert read(write(CURRENT, plan), CURRENT, None) == plan
    assert event_from_record(plan) == started(planned_steps=12_000, planned_epochs=3)
    assert measurement().to_record()["planned_steps"] is None
    assert started().to_record()["planned_epochs"] is None
