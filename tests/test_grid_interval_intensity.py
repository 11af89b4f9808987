"""A measurement's own intensity for its interval: built, checked, encoded, spooled."""

import json
import math
from pathlib import Path

import pytest

from joulestream import codec
from joulestream.events import event_from_record
from joulestream.spool import Spool, read_lines
from tests.test_events import finished, measurement


def test_a_measurement_carries_its_interval_intensity_and_source_at_the_top_level():
    """The two fields are top-level record fields (appended in version 2), floats."""
    record = measurement(
        interval_intensity_g_per_kwh=212, interval_intensity_source="Electricity Maps"
    ).to_record()
    assert record["schema_version"] == 3
    assert (record["interval_intensity_g_per_kwh"], record["interval_intensity_source"]) == (
        212.0, "Electricity Maps"
    )  # fmt: skip
    assert isinstance(record["interval_intensity_g_per_kwh"], float)
    assert "interval_intensity_g_per_kwh" not in record["measurement"]


def test_without_an_interval_intensity_both_fields_are_null():
    """The default: nothing known, the job prices the interval."""
    record = measurement().to_record()
    assert (record["interval_intensity_g_per_kwh"], record["interval_intensity_source"]) == (
        None, None
    )  # fmt: skip
    assert (finished().to_record()["interval_intensity_g_per_kwh"]) is None


@pytest.mark.parametrize("value", [0, 0.0, 2000, 2000.0, 1e-9])
def test_the_bounds_are_inclusive(value: float):
    event = measurement(interval_intensity_g_per_kwh=value)
    assert event.to_record()["interval_intensity_g_per_kwh"] == float(value)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"interval_intensity_g_per_kwh": -0.5},
            "interval_intensity_g_per_kwh must be finite and within \\[0, 2000\\], got -0.5",
        ),
        (
            {"interval_intensity_g_per_kwh": 2000.5},
            "interval_intensity_g_per_kwh must be finite and within \\[0, 2000\\], got 2000.5",
        ),
        (
            {"interval_intensity_g_per_kwh": 212_000.0},  # g/MWh given for g/kWh
            "interval_intensity_g_per_kwh must be finite and within \\[0, 2000\\]",
        ),
        (
            {"interval_intensity_g_per_kwh": math.nan},
            "interval_intensity_g_per_kwh must be finite and within \\[0, 2000\\], got nan",
        ),
        (
            {"interval_intensity_g_per_kwh": math.inf},
            "interval_intensity_g_per_kwh must be finite and within \\[0, 2000\\], got inf",
        ),
        ({"interval_intensity_g_per_kwh": "212"}, "interval_intensity_g_per_kwh must be a number"),
        ({"interval_intensity_g_per_kwh": True}, "interval_intensity_g_per_kwh must be a number"),
        (
            {"interval_intensity_g_per_kwh": 212.0, "interval_intensity_source": ""},
            "interval_intensity_source must be a non-empty string",
        ),
        (
            {"interval_intensity_g_per_kwh": 212.0, "interval_intensity_source": "s" * 257},
            "interval_intensity_source is 257 characters, at most 256",
        ),
        (
            {"interval_intensity_source": "Electricity Maps"},
            "interval_intensity_source='Electricity Maps' is given without "
            "interval_intensity_g_per_kwh",
        ),
    ],
)
def test_bad_interval_intensities_are_refused_with_the_field_named(overrides, message):
    with pytest.raises(ValueError, match=message):
        measurement(**overrides)


def test_the_compiled_writer_and_fastavro_agree_and_read_back_exactly():
    """Byte-identical to fastavro's encoding, and decoded to the same record."""
    record = measurement(
        interval_intensity_g_per_kwh=487.25, interval_intensity_source="Carbon Intensity API"
    ).to_record()
    data = codec.encode(record)
    assert data == codec._encode_generic(record, codec.EVENT_SCHEMA)
    decoded = codec.decode(data)
    assert decoded == record
    assert (decoded["interval_intensity_g_per_kwh"], decoded["interval_intensity_source"]) == (
        487.25, "Carbon Intensity API"
    )  # fmt: skip
    # The last bytes: branch 1 of each union, the double, then the string's length and text;
    # then branch 0 (null) of version 3's plan, which a measurement never sets.
    intensity = b"\x02" + b"\x00\x00\x00\x00\x00t~@" + b"\x02" + b"(Carbon Intensity API"
    assert data.endswith(intensity + b"\x00\x00")


def test_the_spool_keeps_the_interval_intensity_in_avro_json(tmp_path: Path):
    """Spooled and read back exactly; the JSON line tags the unions with their branch."""
    record = measurement(
        interval_intensity_g_per_kwh=95.5, interval_intensity_source="WattTime"
    ).to_record()
    spool = Spool(tmp_path / "spool.jsonl")
    spool.append([record])
    assert [r for _, r in read_lines(spool.path)] == [record]
    line = json.loads(spool.path.read_text())
    assert (line["interval_intensity_g_per_kwh"], line["interval_intensity_source"]) == (
        {"double": 95.5}, {"string": "WattTime"}
    )  # fmt: skip
    event = event_from_record(record)
    assert (event.interval_intensity_g_per_kwh, event.interval_intensity_source) == (  # type: ignore[attr-defined]
        95.5, "WattTime"
    )  # fmt: skip


def test_a_version_1_spool_line_still_replays(tmp_path: Path):
    """A line spooled by a version 1 emitter has neither field: it reads as null and is a
    valid event."""
    old = {
        k: v
        for k, v in measurement().to_record().items()
        if k not in ("interval_intensity_g_per_kwh", "interval_intensity_source")
    }
    old["schema_version"] = 1
    spool = Spool(tmp_path / "spool.jsonl")
    spool.append([old])
    ((line_no, record),) = read_lines(spool.path)
    assert line_no == 1
    assert record == dict(old, interval_intensity_g_per_kwh=None, interval_intensity_source=None)
    assert event_from_record(record) == measurement()


def test_only_a_measurement_may_carry_an_interval_intensity():
    """A run_finished record with the field set is refused when read back (e.g. by replay)."""
    record = dict(finished().to_record(), interval_intensity_g_per_kwh=100.0)
    with pytest.raises(
        ValueError,
        match="interval_intensity_g_per_kwh is set on a run_finished event: only a measurement",
    ):
        event_from_record(record)


def test_a_bad_interval_intensity_in_a_record_is_refused_like_a_new_event():
    record = dict(measurement().to_record(), interval_intensity_g_per_kwh=-1.0)
    with pytest.raises(ValueError, match="interval_intensity_g_per_kwh must be finite"):
        event_from_record(record)
