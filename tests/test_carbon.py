from pathlib import Path

import pytest

from flink_jobs import carbon


def test_the_shipped_table_has_a_world_figure_and_attribution():
    table = carbon.load()
    assert table["WORLD"] == carbon.Intensity(481.0, "Ember", 2023)
    assert table["FR"].intensity_g_per_kwh == 56.0
    assert table["aws:eu-north-1"] == carbon.Intensity(41.0, "Ember (SE)", 2023)
    assert all(row.intensity_g_per_kwh > 0 and row.year >= 2020 for row in table.values())
    header = [line for line in carbon.TABLE.read_text().splitlines() if line.startswith("#")]
    assert any("CC BY 4.0" in line for line in header)


def test_cloud_regions_are_priced_like_the_country_they_are_in():
    table = carbon.load()
    for region, row in table.items():
        if ":" in region:
            country = row.source.removeprefix("Ember (").removesuffix(")")
            assert row.intensity_g_per_kwh == table[country].intensity_g_per_kwh, region


def test_a_table_without_world_is_refused(tmp_path: Path):
    path = tmp_path / "t.csv"
    path.write_text("region,intensity_g_per_kwh,source,year\nFR,56,Ember,2023\n")
    with pytest.raises(ValueError, match="no WORLD row"):
        carbon.load(path)


def test_intensity_precedence_event_then_table_then_flagged_world():
    pricing = carbon.Pricing(carbon.load(), {})
    assert pricing.intensity("FR", 12.5) == (12.5, "run_started event", False)
    assert pricing.intensity("FR", None) == (56.0, "Ember 2023", False)
    assert pricing.intensity("aws:eu-north-1", None) == (41.0, "Ember (SE) 2023", False)
    assert pricing.intensity("ZZ", None) == (481.0, "Ember 2023", True)


def test_pue_precedence_event_then_region_then_provider_then_one():
    pricing = carbon.Pricing(carbon.load(), carbon.parse_pue("aws=1.15, aws:eu-north-1=1.1"))
    assert pricing.pue("aws:eu-north-1", 1.5) == 1.5
    assert pricing.pue("aws:eu-north-1", None) == 1.1
    assert pricing.pue("aws:us-east-1", None) == 1.15
    assert pricing.pue("gcp:europe-north1", None) == 1.0


@pytest.mark.parametrize("text", ["aws", "aws=", "=1.2", "aws=0.9", "aws=nan", "aws=fast"])
def test_bad_pue_settings_are_refused_with_the_expected_form(text: str):
    with pytest.raises(ValueError, match="expected <provider or region>=<number ≥ 1>"):
        carbon.parse_pue(text)


def test_co2e_of_one_kwh_is_the_intensity_times_pue():
    assert carbon.co2e_g(3_600_000.0, 1.5, 100.0) == 150.0
    assert carbon.parse_pue("") == {}
