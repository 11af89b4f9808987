"""The reference's own pricing (``tests/reference_pricing.py``): its exact answers, and agreement
with the job's ``carbon.Pricing`` on every row of the table and on the edge cases, so that the
two, written apart, fail loudly here the day they diverge."""

import dataclasses
import time
from pathlib import Path

import pytest

from joulestream import simulate
from joulestream.events import Measurement, RunStarted
from joulestream.flink_jobs import carbon
from tests.reference import Reference
from tests.reference_pricing import (
    Figure,
    ReferencePricing,
    co2e_g,
    read_pue,
    read_table,
)

HOUR_AGO_MS = (time.time_ns() // 1_000_000 // 3_600_000 - 1) * 3_600_000
PUE_SETTING = "aws=1.15, aws:eu-north-1=1.1,gcp:europe-north1=1.09,SE=1.2"
EDGE_REGIONS = [
    "ZZ",  # a country the table does not know
    "aws:mars-north-1",  # a region that opened after the table was built
    "ibm:eu-de",  # a provider the table does not know
    "WORLD",  # the fallback itself
    "fr",  # zones are spelled exactly
    "FR ",
    "aws",  # a provider alone
    "aws:",
    ":us-east-1",
    "aws:eu-north-1:a",
    "SE",
    "",
]


@pytest.fixture(scope="module")
def both() -> tuple[ReferencePricing, carbon.Pricing]:
    return (
        ReferencePricing(read_table(), read_pue(PUE_SETTING)),
        carbon.Pricing(carbon.load(), carbon.parse_pue(PUE_SETTING)),
    )


def test_the_reference_reads_every_zone_the_job_reads():
    assert sorted(read_table()) == sorted(carbon.load())
    assert len(read_table()) == 361


def test_exact_prices_from_the_table_and_the_precedence_rules():
    pricing = ReferencePricing(read_table(), read_pue(PUE_SETTING))
    assert pricing.price("FR", None, None) == {
        "pue": 1.0,
        "intensity_g_per_kwh": 56.0,
        "intensity_source": "Ember 2023",
        "intensity_fallback": False,
    }
    assert pricing.price("aws:eu-north-1", None, None) == {
        "pue": 1.1,
        "intensity_g_per_kwh": 41.0,
        "intensity_source": "Ember (SE) 2023",
        "intensity_fallback": False,
    }
    assert pricing.price("aws:us-east-1", 12.5, 1.3) == {
        "pue": 1.3,
        "intensity_g_per_kwh": 12.5,
        "intensity_source": "run_started event",
        "intensity_fallback": False,
    }
    assert pricing.intensity("gcp:europe-west4", None) == (236.0, "Google Cloud 2023", False)
    assert pricing.intensity("ZZ", None) == (481.0, "Ember 2023", True)
    assert pricing.intensity("WORLD", None) == (481.0, "Ember 2023", True)
    assert pricing.intensity("ZZ", 0.0) == (0.0, "run_started event", False)
    assert [pricing.pue(r, None) for r in ("aws:us-east-1", "SE", "gcp:europe-north1")] == [
        1.15,
        1.2,
        1.09,
    ]
    assert [pricing.pue(r, None) for r in ("gcp:us-central1", "ZZ", "")] == [1.0, 1.0, 1.0]


def test_agree_with_the_job_on_every_row_of_the_table(
    both: tuple[ReferencePricing, carbon.Pricing],
):
    reference, job = both
    answers = {
        zone: (
            (*reference.intensity(zone, None), reference.pue(zone, None)),
            (*job.intensity(zone, None), job.pue(zone, None)),
        )
        for zone in carbon.load()
    }
    assert {zone: pair for zone, pair in answers.items() if pair[0] != pair[1]} == {}
    assert len(answers) == 361


@pytest.mark.parametrize("region", EDGE_REGIONS)
@pytest.mark.parametrize(
    ("intensity_from_event", "pue_from_event"),
    [(None, None), (12.5, None), (None, 1.4), (0.0, 1.0), (2_000.0, 3.0)],
)
def test_agree_with_the_job_on_edge_cases(
    both: tuple[ReferencePricing, carbon.Pricing],
    region: str,
    intensity_from_event: float | None,
    pue_from_event: float | None,
):
    reference, job = both
    assert reference.intensity(region, intensity_from_event) == job.intensity(
        region, intensity_from_event
    )
    assert reference.pue(region, pue_from_event) == job.pue(region, pue_from_event)


@pytest.mark.parametrize(
    "setting", ["", "aws=1.15", "gcp:europe-north1=1.09,gcp=1.1", " SE = 1.2 ,"]
)
def test_agree_with_the_job_on_pue_settings(setting: str):
    assert read_pue(setting) == carbon.parse_pue(setting)
    reference = ReferencePricing(read_table(), read_pue(setting))
    job = carbon.Pricing(carbon.load(), carbon.parse_pue(setting))
    for region in [*EDGE_REGIONS, "gcp:europe-north1", "gcp:us-central1", "aws:us-east-1"]:
        assert reference.pue(region, None) == job.pue(region, None), region


def test_agree_with_the_job_on_co2e():
    for energy_j, pue, intensity in [
        (3_600_000.0, 1.5, 100.0),
        (0.1, 1.09, 481.0),
        (7.0, 1.0, 0.0),
    ]:
        assert co2e_g(energy_j, pue, intensity) == carbon.co2e_g(energy_j, pue, intensity)


def test_prices_come_from_the_file_it_is_given(tmp_path: Path):
    """A figure changed in the file changes the price: the reference reads the table itself."""
    path = tmp_path / "t.csv"
    path.write_text(
        "# attribution\nzone,intensity_g_per_kwh,source,year,location\n"
        "WORLD,500,Ember,2024,World\n"
        'gcp:x1,7,Google Cloud,2024,"Somewhere, Nowhere"\n'
    )
    assert read_table(path) == {
        "WORLD": Figure(500.0, "Ember 2024"),
        "gcp:x1": Figure(7.0, "Google Cloud 2024"),
    }
    pricing = ReferencePricing(read_table(path), {})
    assert pricing.intensity("gcp:x1", None) == (7.0, "Google Cloud 2024", False)
    assert pricing.intensity("FR", None) == (500.0, "Ember 2024", True)


def test_a_table_without_world_is_refused(tmp_path: Path):
    path = tmp_path / "t.csv"
    path.write_text("zone,intensity_g_per_kwh,source,year,location\nFR,56,Ember,2023,France\n")
    with pytest.raises(ValueError, match="no WORLD row"):
        read_table(path)


def test_the_reference_prices_each_run_with_its_run_started_or_its_region():
    """A run in an unknown region gets the flagged world figure, a run whose run_started gives
    an intensity and a PUE gets those, another its region's row; every CO2e is
    energy x PUE x intensity / 3,600,000."""
    fleet = list(simulate.fleet(runs=3, duration_s=5, start_ms=HOUR_AGO_MS, seed=2))
    unknown, own, plain = sorted({e.run_id for e in fleet})
    events = [
        dataclasses.replace(e, region="ZZ") if e.run_id == unknown else
        dataclasses.replace(e, pue=1.25, intensity_g_per_kwh=100.0)
        if e.run_id == own and isinstance(e, RunStarted) else e
        for e in fleet
    ]  # fmt: skip
    runs = Reference(events, ReferencePricing(read_table(), {})).runs()
    fields = ("region", "pue", "intensity_g_per_kwh", "intensity_source", "intensity_fallback")
    assert [tuple(runs[r][f] for f in fields) for r in (unknown, own, plain)] == [
        ("ZZ", 1.0, 481.0, "Ember 2023", True),
        ("PL", 1.25, 100.0, "run_started event", False),
        ("azure:westeurope", 1.0, 268.0, "Ember (NL) 2023", False),
    ]
    for run in runs.values():
        energy_j = sum(
            (m.cpu_energy_j or 0.0) + (m.gpu_energy_j or 0.0) + (m.ram_energy_j or 0.0)
            for m in events
            if isinstance(m, Measurement) and m.run_id == run["run_id"]
        )
        assert run["energy_j"] == energy_j > 0.0
        assert run["co2e_g"] == co2e_g(energy_j, run["pue"], run["intensity_g_per_kwh"])
