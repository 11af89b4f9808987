import json
from pathlib import Path

import pytest

from joulestream import schemas
from joulestream.flink_jobs.avro_ddl import UnsupportedAvroType, columns, flink_type


def test_event_columns_follow_the_schema_in_order():
    """Column order and nullability match the .avsc, which Flink's avro format requires."""
    cols = columns(schemas.load(schemas.TRAINING_EVENT))
    assert [name for name, _ in cols] == [
        "schema_version", "event_id", "event_type", "run_id", "seq", "ts_ms", "user_id",
        "project", "model", "region", "run_started", "measurement", "run_finished",
        "interval_intensity_g_per_kwh", "interval_intensity_source", "planned_steps",
        "planned_epochs",
    ]  # fmt: skip
    types = dict(cols)
    assert (types["planned_steps"], types["planned_epochs"]) == ("BIGINT", "INT")
    assert (types["interval_intensity_g_per_kwh"], types["interval_intensity_source"]) == (
        "DOUBLE", "STRING"
    )  # fmt: skip
    assert (types["seq"], types["ts_ms"], types["model"]) == (
        "BIGINT NOT NULL", "BIGINT NOT NULL", "STRING NOT NULL"
    )  # fmt: skip
    assert types["run_finished"] == "ROW<`status` STRING, `reason` STRING>"
    assert types["measurement"].startswith("ROW<`interval_start_ms` BIGINT, `cpu_energy_j` DOUBLE,")
    assert (
        "`gpus` ARRAY<ROW<`index` INT NOT NULL, `energy_j` DOUBLE NOT NULL," in types["measurement"]
    )


def test_nullable_union_must_put_null_first():
    """Flink writes nullable columns as ['null', T]; the reverse order cannot be read."""
    assert flink_type(["null", "double"]) == "DOUBLE"
    with pytest.raises(UnsupportedAvroType, match="only \\['null', T\\]"):
        flink_type(["double", "null"])


def test_unknown_type_is_rejected_with_its_name():
    """A type without a mapping fails loudly instead of producing a wrong table."""
    with pytest.raises(UnsupportedAvroType, match="'fixed'"):
        flink_type("fixed")


def test_nested_records_arrays_and_maps_map_to_row_array_and_map():
    """Records become ROWs, arrays ARRAYs and maps string-keyed MAPs, nullability kept."""
    schema = json.loads((Path(__file__).parent / "data" / "nested.avsc").read_text())
    assert columns(schema) == [
        ("id", "STRING NOT NULL"),
        (
            "section",
            "ROW<`energy_j` DOUBLE, `devices` ARRAY<ROW<`index` INT NOT NULL, "
            "`energy_j` DOUBLE NOT NULL, `utilisation` DOUBLE> NOT NULL>>",
        ),
        ("labels", "MAP<STRING NOT NULL, STRING NOT NULL> NOT NULL"),
        ("tags", "ARRAY<STRING NOT NULL> NOT NULL"),
    ]


def test_enums_are_refused():
    """An enum would be read as a string by Flink but written as an index: refused."""
    with pytest.raises(UnsupportedAvroType, match="enum"):
        flink_type({"type": "enum", "name": "Status", "symbols": ["A"]})


def test_a_nullable_record_with_required_fields_is_refused():
    """Flink reads every field of a nullable ROW as nullable and would misread such bytes."""
    record = {"type": "record", "name": "S", "fields": [{"name": "x", "type": "double"}]}
    with pytest.raises(UnsupportedAvroType, match="declare \\['x'\\] as \\['null', T\\] too"):
        flink_type(["null", record])
