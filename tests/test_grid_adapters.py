"""The public sources' documented JSON, read into grid intensity events with exact values.

Fixtures and where their formats come from: tests/fixtures/grid/README.md."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from joulestream.grid import electricitymaps, gb_carbon_intensity, watttime
from joulestream.grid.events import GridIntensity
from joulestream.grid.parsing import Parsed, Problem, SourceFormatError

FIXTURES = Path(__file__).parent / "fixtures" / "grid"
FETCHED_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z: when the response was fetched
HOUR_MS = 3_600_000
HALF_HOUR_MS = 1_800_000


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def em(zone: str, start_ms: int, value: float, updated_ms: int, estimated: bool) -> GridIntensity:
    return GridIntensity(
        zone=zone,
        start_ms=start_ms,
        end_ms=start_ms + HOUR_MS,
        intensity_g_per_kwh=value,
        kind="average",
        source="Electricity Maps (lifecycle)",
        published_at_ms=updated_ms,
        estimated=estimated,
    )


def gb(zone: str, start_ms: int, value: float, estimated: bool) -> GridIntensity:
    return GridIntensity(
        zone=zone,
        start_ms=start_ms,
        end_ms=start_ms + HALF_HOUR_MS,
        intensity_g_per_kwh=value,
        kind="average",
        source="Carbon Intensity API (GB)",
        published_at_ms=FETCHED_MS,
        estimated=estimated,
    )


def wt(start_ms: int, value: float, published_ms: int, estimated: bool | None) -> GridIntensity:
    return GridIntensity(
        zone="CAISO_NORTH",
        start_ms=start_ms,
        end_ms=start_ms + 300_000,
        intensity_g_per_kwh=value,
        kind="marginal",
        source="WattTime (co2_moer)",
        published_at_ms=published_ms,
        estimated=estimated,
    )


READ: list[Any] = [
    # Each history entry: its hour from datetime, its value, updatedAt as the publication time,
    # isEstimated, and the emission factor type in the source's name.
    pytest.param(
        electricitymaps.read, "electricitymaps_history_DE.json", {},
        [
            em("DE", 1_709_668_800_000, 599.0, 1_709_740_134_012, False),
            em("DE", 1_709_672_400_000, 607.0, 1_709_725_744_367, False),
            em("DE", 1_709_676_000_000, 599.0, 1_709_729_523_415, False),
            em("DE", 1_709_748_000_000, 663.0, 1_709_750_887_043, True),
            em("DE", 1_709_751_600_000, 689.0, 1_709_750_907_926, True),
        ],
        id="electricity-maps-history-hourly-published-when-updated",
    ),
    # The past-range endpoint: the same entries under data.
    pytest.param(
        electricitymaps.read, "electricitymaps_past_range_DK-DK2.json", {"zone": "eu-dk"},
        [
            em("eu-dk", 1_710_727_200_000, 161.0, 1_737_047_094_622, False),
            em("eu-dk", 1_710_730_800_000, 167.0, 1_739_028_072_091, False),
        ],
        id="electricity-maps-past-range-under-data",
    ),
    # National: the actual where there is one, the forecast otherwise.
    pytest.param(
        gb_carbon_intensity.read, "gb_intensity_national.json", {},
        [
            gb("GB", 1_516_449_600_000, 263.0, False),
            gb("GB", 1_516_451_400_000, 275.0, False),
            gb("GB", 1_516_453_200_000, 258.0, True),
        ],
        id="gb-national-actual-or-forecast",
    ),
    # One region as the live API returns it: data is one region's object, its zone GB-<regionid>,
    # forecasts only.
    pytest.param(
        gb_carbon_intensity.read, "gb_regional_regionid.json", {},
        [
            gb("GB-11", 1_761_175_800_000, 162.0, True),
            gb("GB-11", 1_761_177_600_000, 164.0, True),
            gb("GB-11", 1_761_179_400_000, 165.0, True),
        ],
        id="gb-one-region-as-the-live-api-returns-it",
    ),
    # Historical MOER: 870 and 860 lb/MWh x 0.45359237 (g/kWh per lb/MWh), 5-minute periods,
    # marginal.
    pytest.param(
        watttime.read, "watttime_historical_CAISO_NORTH.json", {},
        [
            wt(1_657_843_200_000, 394.62536190000003, FETCHED_MS, None),
            wt(1_657_843_500_000, 390.0894382, FETCHED_MS, None),
        ],
        id="watttime-historical-moer-lbs-per-mwh-to-marginal-g-per-kwh",
    ),
    # A forecast: published when generated, estimated.
    pytest.param(
        watttime.read, "watttime_forecast_CAISO_NORTH.json", {},
        [
            wt(1_657_843_200_000, 475.5522244850267, 1_657_843_200_000, True),
            wt(1_657_843_500_000, 476.7655333410446, 1_657_843_200_000, True),
        ],
        id="watttime-forecast-published-when-generated",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("read", "name", "options", "expected"), READ)
def test_each_sources_documented_response_is_read_to_exact_periods(
    read: Callable[..., Parsed], name: str, options: dict[str, Any], expected: list[GridIntensity]
):
    """A fixture of each source's documented response, read with no problem into exactly these
    events."""
    parsed = read(fixture(name), FETCHED_MS, **options)
    assert parsed.problems == []
    assert parsed.events == expected


def test_electricity_maps_entries_without_a_value_are_problems_and_the_rest_are_read():
    payload = fixture("electricitymaps_history_DE.json")
    payload["history"][1]["carbonIntensity"] = None
    del payload["history"][2]["updatedAt"], payload["history"][2]["emissionFactorType"]
    payload["history"][3]["temporalGranularity"] = "monthly"
    parsed = electricitymaps.read(payload, FETCHED_MS)
    assert parsed.problems == [
        Problem("history[1]", "carbonIntensity is null: the source has no value for this period"),
        Problem(
            "history[3]",
            "temporalGranularity 'monthly' is not one of 5_minutes, 15_minutes, hourly, daily",
        ),
    ]
    # Without updatedAt: published when fetched; without emissionFactorType: the plain name.
    third = parsed.events[1]
    assert (third.published_at_ms, third.source) == (FETCHED_MS, "Electricity Maps")
    assert [e.start_ms for e in parsed.events] == [
        1_709_668_800_000, 1_709_676_000_000, 1_709_751_600_000
    ]  # fmt: skip


def test_electricity_maps_five_minute_granularity_sets_the_period():
    payload = {
        "zone": "FR",
        "temporalGranularity": "5_minutes",
        "data": [{"carbonIntensity": 31.5, "datetime": "2025-11-22T17:50:00.000Z"}],
    }
    (event,) = electricitymaps.read(payload, FETCHED_MS).events
    assert (event.start_ms, event.end_ms, event.intensity_g_per_kwh, event.estimated) == (
        1_763_833_800_000, 1_763_834_100_000, 31.5, None
    )  # fmt: skip


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "the response: expected a JSON object, got list"),
        ({"zone": "DE"}, "neither 'history' .* nor 'data'"),
        ({"zone": "DE", "history": {}}, "history: expected a JSON array, got dict"),
    ],
)
def test_electricity_maps_documents_of_another_shape_are_refused(payload, message):
    with pytest.raises(SourceFormatError, match=message):
        electricitymaps.read(payload, FETCHED_MS)


def test_gb_one_region_as_the_documentation_shows_it_reads_the_same():
    payload = fixture("gb_regional_regionid.json")
    payload["data"] = [payload["data"]]
    parsed = gb_carbon_intensity.read(payload, FETCHED_MS, zone="azure:uksouth")
    assert [(e.zone, e.intensity_g_per_kwh) for e in parsed.events] == [
        ("azure:uksouth", 162.0), ("azure:uksouth", 164.0), ("azure:uksouth", 165.0)
    ]  # fmt: skip


def test_gb_every_region_per_period_or_one_of_them():
    payload = fixture("gb_regional_all.json")
    assert gb_carbon_intensity.read(payload, FETCHED_MS).events == [
        gb("GB-3", 1_516_449_600_000, 266.0, True),
        gb("GB-13", 1_516_449_600_000, 160.0, True),
    ]
    only = gb_carbon_intensity.read(payload, FETCHED_MS, zone="GB-London", region_id=13)
    assert only.events == [gb("GB-London", 1_516_449_600_000, 160.0, True)]


def test_gb_a_period_without_a_value_or_with_a_bad_time_is_a_problem():
    payload = fixture("gb_intensity_national.json")
    payload["data"][0]["intensity"] = {"forecast": None, "actual": None, "index": "moderate"}
    payload["data"][1]["from"] = "2018-01-20T12:30"  # no offset
    parsed = gb_carbon_intensity.read(payload, FETCHED_MS)
    assert [str(p) for p in parsed.problems] == [
        "data[0]: intensity has neither an actual nor a forecast value",
        "data[1]: from '2018-01-20T12:30' has no UTC offset (add 'Z' or '+00:00')",
    ]
    assert parsed.events == [gb("GB", 1_516_453_200_000, 258.0, True)]


def test_gb_an_error_response_is_refused_with_its_message():
    error = {"error": {"code": "400 Bad Request", "message": "Invalid date format"}}
    with pytest.raises(SourceFormatError, match="Invalid date format"):
        gb_carbon_intensity.read(error, FETCHED_MS)


def test_watttime_historical_forecasts_carry_each_forecasts_generation_time():
    payload = {
        "data": [
            {
                "generated_at": "2022-07-15T00:00:00+00:00",
                "forecast": [{"point_time": "2022-07-15T00:05:00+00:00", "value": 870}],
            }
        ],
        "meta": {
            "data_point_period_seconds": 300,
            "region": "CAISO_NORTH",
            "signal_type": "co2_moer",
            "units": "lbs_co2_per_mwh",
        },
    }
    assert watttime.read(payload, FETCHED_MS).events == [
        wt(1_657_843_500_000, 394.62536190000003, 1_657_843_200_000, True)
    ]


@pytest.mark.parametrize(
    ("meta_change", "message"),
    [
        ({"signal_type": "health_damage"}, "signal_type 'health_damage' is not a carbon intensity"),
        ({"units": "kg_co2_per_mwh"}, "meta.units 'kg_co2_per_mwh': only lbs_co2_per_mwh"),
        ({"data_point_period_seconds": 0}, "data_point_period_seconds must be a positive integer"),
        ({"region": None}, "meta.region is missing: give the zone"),
    ],
)
def test_watttime_signals_and_units_it_cannot_convert_are_refused(meta_change, message):
    payload = fixture("watttime_historical_CAISO_NORTH.json")
    payload["meta"].update(meta_change)
    with pytest.raises(SourceFormatError, match=message):
        watttime.read(payload, FETCHED_MS)


def test_watttime_average_signal_is_average_kind():
    payload = fixture("watttime_historical_CAISO_NORTH.json")
    payload["meta"]["signal_type"] = "co2_aoer"
    payload["data"][0]["imputed_data_used"] = True
    events = watttime.read(payload, FETCHED_MS, zone="aws:us-west-1").events
    assert [(e.zone, e.kind, e.source, e.estimated) for e in events] == [
        ("aws:us-west-1", "average", "WattTime (co2_aoer)", True),
        ("aws:us-west-1", "average", "WattTime (co2_aoer)", None),
    ]
