import pytest

from joulestream.schemas import intensity
from joulestream.schemas.intensity import Intensity
from joulestream.summary import EVENT_SOURCE, summarise

TABLE = {
    "WORLD": Intensity("WORLD", 480.0, "Ember", 2023, "World"),
    "XX": Intensity("XX", 100.0, "Ember", 2023, "Testland"),
}


def test_energy_is_priced_with_the_region_row_and_the_run_pue():
    """3.6e6 J at 100 g/kWh and PUE 1.5: 1.0 kWh of device energy, 150.0 g CO2e."""
    summary = summarise("r1", {"cpu": 2.0e6, "ram": 0.6e6, "gpu": 1.0e6}, "XX", TABLE, pue=1.5)
    assert (summary.energy_kwh, summary.co2e_g) == (1.0, 150.0)
    assert (summary.zone, summary.intensity_g_per_kwh, summary.fallback) == ("XX", 100.0, False)
    assert (summary.intensity_source, summary.pue) == ("Ember 2023", 1.5)
    assert summary.line() == (
        "joulestream: run r1 used 1.00 kWh, 150.0 g CO2e (XX, Ember 2023, PUE 1.5)"
    )


def test_the_run_intensity_wins_over_the_table():
    """An intensity in run_started prices the run, with no fallback flag; PUE defaults to 1."""
    summary = summarise("r2", {"cpu": 7.2e6}, "nowhere", TABLE, intensity_g_per_kwh=50.0)
    assert (summary.energy_kwh, summary.co2e_g, summary.pue) == (2.0, 100.0, 1.0)
    assert (summary.intensity_source, summary.fallback) == (EVENT_SOURCE, False)


def test_an_unknown_region_is_priced_with_world_and_flagged():
    """A region not in the table: WORLD's figure, fallback True, said in the line."""
    summary = summarise("r3", {"cpu": 36_000.0}, "mars", TABLE)
    assert (summary.zone, summary.co2e_g, summary.fallback) == ("WORLD", 4.8, True)
    assert summary.line() == (
        "joulestream: run r3 used 0.0100 kWh, 4.80 g CO2e (WORLD average, region 'mars' not in "
        "the table, Ember 2023, PUE 1.0)"
    )


def test_world_itself_is_flagged_as_a_fallback_as_the_job_does():
    summary = summarise("r4", {"cpu": 0.0}, "WORLD", TABLE)
    assert (summary.fallback, summary.co2e_g) == (True, 0.0)
    assert summary.line() == (
        "joulestream: run r4 used 0.0 kWh, 0.0 g CO2e (WORLD average, Ember 2023, PUE 1.0)"
    )


def test_the_shared_table_prices_france():
    """With the package's table: 3.6e6 J in FR at its 2023 Ember figure (56 g/kWh)."""
    summary = summarise("r5", {"gpu": 3.6e6}, "FR", intensity.load())
    assert (summary.co2e_g, summary.intensity_source, summary.fallback) == (
        56.0,
        "Ember 2023",
        False,
    )


@pytest.mark.parametrize("joules", [-1.0, float("nan"), float("inf")])
def test_impossible_energies_are_refused(joules: float):
    with pytest.raises(ValueError, match="energy of cpu must be a finite number >= 0 J"):
        summarise("r", {"cpu": joules}, "XX", TABLE)
