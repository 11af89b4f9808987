"""The grid.intensity contract: its event type, the checks at the edge, the Avro codec."""

import io
import math

import fastavro
import pytest

from joulestream import schemas
from joulestream.flink_jobs.avro_ddl import columns
from joulestream.grid import codec
from joulestream.grid.events import FIELDS, GridIntensity

T0_MS = 1_709_668_800_000  # 2024-03-05T20:00:00Z


def period(**overrides: object) -> GridIntensity:
    fields: dict[str, object] = {
        "zone": "DE",
        "start_ms": T0_MS,
        "end_ms": T0_MS + 3_600_000,
        "intensity_g_per_kwh": 599,
        "source": "Electricity Maps (lifecycle)",
        "published_at_ms": T0_MS + 71_334_012,
        "estimated": False,
    }
    fields.update(overrides)
    return GridIntensity(**fields)  # type: ignore[arg-type]


def test_the_schema_has_the_documented_fields_in_order_and_flink_can_read_it():
    """Field names, order and types as the contract states; every type maps to Flink SQL."""
    schema = schemas.load(schemas.GRID_INTENSITY)
    assert [f["name"] for f in schema["fields"]] == list(FIELDS)
    assert columns(schema) == [
        ("schema_version", "INT NOT NULL"),
        ("zone", "STRING NOT NULL"),
        ("start_ms", "BIGINT NOT NULL"),
        ("end_ms", "BIGINT NOT NULL"),
        ("intensity_g_per_kwh", "DOUBLE NOT NULL"),
        ("kind", "STRING NOT NULL"),
        ("source", "STRING NOT NULL"),
        ("published_at_ms", "BIGINT NOT NULL"),
        ("estimated", "BOOLEAN"),
    ]
    assert all("doc" in f for f in schema["fields"])


def test_an_event_maps_to_its_record_with_float_intensity_and_the_zone_as_key():
    event = period()
    assert event.key == "DE"
    assert event.to_record() == {
        "schema_version": 1,
        "zone": "DE",
        "start_ms": 1_709_668_800_000,
        "end_ms": 1_709_672_400_000,
        "intensity_g_per_kwh": 599.0,
        "kind": "average",
        "source": "Electricity Maps (lifecycle)",
        "published_at_ms": 1_709_740_134_012,
        "estimated": False,
    }
    assert isinstance(event.to_record()["intensity_g_per_kwh"], float)


def test_encoding_is_fastavros_and_decodes_to_the_same_event():
    """The compiled writer's bytes equal fastavro's; decoding gives back an equal event."""
    for event in (period(), period(estimated=None, kind="marginal", intensity_g_per_kwh=0.5)):
        data = codec.encode(event)
        expected = io.BytesIO()
        fastavro.schemaless_writer(expected, codec.GRID_SCHEMA, event.to_record())
        assert data == expected.getvalue()
        assert codec.decode(data) == event


def test_a_record_outside_the_bounds_is_refused_when_decoded():
    """What another writer put on the topic is checked like an event built here."""
    out = io.BytesIO()
    fastavro.schemaless_writer(
        out, codec.GRID_SCHEMA, dict(period().to_record(), intensity_g_per_kwh=599_000.0)
    )
    with pytest.raises(ValueError, match="intensity_g_per_kwh must be finite and within"):
        codec.decode(out.getvalue())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"zone": ""}, "zone must be a non-empty string"),
        ({"zone": None}, "zone must be a non-empty string"),
        ({"zone": "z" * 257}, "zone is 257 characters, at most 256"),
        ({"source": " "}, "source must be a non-empty string"),
        (
            {"intensity_g_per_kwh": -1.0},
            "intensity_g_per_kwh must be finite and within \\[0, 2000\\]",
        ),
        ({"intensity_g_per_kwh": 2000.01}, "intensity_g_per_kwh must be finite and within"),
        ({"intensity_g_per_kwh": math.nan}, "intensity_g_per_kwh must be finite and within"),
        ({"intensity_g_per_kwh": math.inf}, "intensity_g_per_kwh must be finite and within"),
        ({"intensity_g_per_kwh": "599"}, "intensity_g_per_kwh must be a number"),
        ({"intensity_g_per_kwh": None}, "intensity_g_per_kwh must be a number"),
        ({"kind": "lifecycle"}, "kind must be one of \\('average', 'marginal'\\), got 'lifecycle'"),
        ({"start_ms": 1_709_668_800}, "start_ms must be UTC epoch milliseconds in .*seconds"),
        ({"published_at_ms": 1.7e12}, "published_at_ms must be an int"),
        (
            {"end_ms": T0_MS},
            "the period \\[start_ms=1709668800000, end_ms=1709668800000\\) is 0 ms",
        ),
        ({"end_ms": T0_MS - 1}, "is -1 ms long, not within \\[60000, 86400000\\]"),
        ({"end_ms": T0_MS + 59_999}, "is 59999 ms long"),
        ({"end_ms": T0_MS + 86_400_001}, "is 86400001 ms long"),
        ({"estimated": "yes"}, "estimated must be None, True or False, got 'yes'"),
    ],
)
def test_bad_fields_are_refused_with_the_field_named(overrides, message):
    with pytest.raises(ValueError, match=message):
        period(**overrides)


def test_the_bounds_are_inclusive_and_old_or_future_periods_are_allowed():
    """A minute to a day, 0 to 2000 g/kWh; no window around this host's clock (backfills of
    last year and forecasts are normal)."""
    assert period(end_ms=T0_MS + 60_000, intensity_g_per_kwh=0).intensity_g_per_kwh == 0
    assert period(end_ms=T0_MS + 86_400_000, intensity_g_per_kwh=2000).end_ms == 1_709_755_200_000
    assert period(start_ms=946_684_800_000, end_ms=946_688_400_000).start_ms == 946_684_800_000


def test_from_record_names_what_is_missing():
    record = period().to_record()
    del record["published_at_ms"], record["zone"]
    with pytest.raises(ValueError, match="a grid intensity record needs zone, published_at_ms"):
        GridIntensity.from_record(record)
    record = dict(period().to_record())
    del record["estimated"]  # optional
    assert GridIntensity.from_record(record) == period(estimated=None)
