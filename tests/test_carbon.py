import re
from pathlib import Path

import pytest

from joulestream.flink_jobs import carbon
from joulestream.schemas import intensity
from joulestream.schemas.intensity import Intensity

HEADER = "zone,intensity_g_per_kwh,source,year,location\n"


def test_the_shipped_table_has_a_world_figure_and_attribution():
    """WORLD is Ember's 2023 world average; the file's header credits Ember, Our World in Data
    and Google under their licences."""
    table = carbon.load()
    assert table["WORLD"] == Intensity("WORLD", 481.0, "Ember", 2023, "World")
    header = [
        line
        for line in (Path(intensity.__file__).parent / intensity.TABLE).read_text().splitlines()
        if line.startswith("#")
    ]
    assert any("CC BY 4.0" in line for line in header)
    assert any("Our World in Data" in line for line in header)
    assert any("cloud.google.com/sustainability/region-carbon" in line for line in header)


def test_the_table_covers_countries_and_every_listed_cloud_region():
    """213 countries from Ember, and the regions of AWS, Azure and Google Cloud."""
    table = carbon.load()
    zones = [zone.split(":")[0] if ":" in zone else "country" for zone in table if zone != "WORLD"]
    counts = {kind: zones.count(kind) for kind in sorted(set(zones))}
    assert counts == {"aws": 38, "azure": 67, "country": 213, "gcp": 42}


def test_exact_rows_a_country_and_one_region_of_each_provider():
    table = carbon.load()
    assert table["US"] == Intensity("US", 369.0, "Ember", 2023, "United States")
    assert table["CF"] == Intensity("CF", 0.0, "Ember", 2022, "Central African Republic")
    assert table["gcp:us-central1"] == Intensity(
        "gcp:us-central1", 430.0, "Google Cloud", 2023, "Council Bluffs, United States"
    )
    assert table["gcp:europe-north2"] == Intensity(
        "gcp:europe-north2", 41.0, "Ember (SE)", 2023, "Stockholm, Sweden"
    )
    assert table["aws:us-east-1"] == Intensity(
        "aws:us-east-1", 369.0, "Ember (US)", 2023, "N. Virginia, United States"
    )
    assert table["azure:westeurope"] == Intensity(
        "azure:westeurope", 268.0, "Ember (NL)", 2023, "Netherlands"
    )
    assert table["azure:westeurope"].label == "azure:westeurope: 268 g CO2e/kWh (Ember (NL) 2023)"


def test_every_cloud_region_names_where_its_figure_comes_from():
    """A GCP region carries Google's own figure or, like every AWS and Azure region, its
    country's: ``Ember (<ISO code>)``, with exactly that country's figure and year."""
    table = carbon.load()
    for zone, row in table.items():
        provider, _, region = zone.partition(":")
        if not region:
            assert (row.source, re.fullmatch(r"WORLD|[A-Z]{2}", zone) is not None) == (
                "Ember",
                True,
            ), zone
            continue
        assert provider in {"aws", "azure", "gcp"}, zone
        assert row.location, zone
        if row.source == "Google Cloud":
            assert (provider, row.year) == ("gcp", 2023), zone
            continue
        country = re.fullmatch(r"Ember \(([A-Z]{2})\)", row.source)
        assert country, f"{zone}: source {row.source!r} names no country"
        grid = table[country[1]]
        assert (row.intensity_g_per_kwh, row.year) == (grid.intensity_g_per_kwh, grid.year), zone
        assert row.location.endswith(grid.location), zone


def test_figures_are_whole_grams_within_the_contracts_bounds_with_a_year():
    """0 to 2,000 g/kWh, as an event's own intensity must be; the oldest figure is Ember's
    2009 one for Western Sahara."""
    table = carbon.load()
    odd = [
        row
        for row in table.values()
        if row.intensity_g_per_kwh != int(row.intensity_g_per_kwh)
        or not 0.0 <= row.intensity_g_per_kwh <= 2_000.0
        or not 2009 <= row.year <= 2023
    ]
    assert odd == []
    assert min(row.year for row in table.values()) == table["EH"].year == 2009


def test_a_table_without_world_is_refused(tmp_path: Path):
    path = tmp_path / "t.csv"
    path.write_text(HEADER + "FR,56,Ember,2023,France\n")
    with pytest.raises(ValueError, match="no WORLD row"):
        carbon.load(path)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("FR,fifty,Ember,2023,France\n", "line 3: intensity 'fifty' is not a finite number"),
        ("FR,-1,Ember,2023,France\n", "line 3: intensity '-1' is not a finite number ≥ 0"),
        ("FR,nan,Ember,2023,France\n", "line 3: intensity 'nan' is not a finite number"),
        ("FR,56,Ember,last,France\n", "line 3: year 'last' is not a year"),
        ("FR,56,,2023,France\n", "line 3: expected 5 cells, zone to year not empty"),
        ("FR,56,Ember,2023\n", "line 3: expected 5 cells"),
        ("FR,56,Ember,2023,France\nFR,57,Ember,2022,France\n", "line 4: zone 'FR' is listed twice"),
    ],
)
def test_a_malformed_row_is_refused_with_its_line(tmp_path: Path, rows: str, message: str):
    path = tmp_path / "t.csv"
    path.write_text("# attribution\n" + HEADER + rows + "WORLD,481,Ember,2023,World\n")
    with pytest.raises(ValueError, match=re.escape(f"{path} {message}")):
        carbon.load(path)


def test_a_table_with_other_columns_is_refused(tmp_path: Path):
    path = tmp_path / "t.csv"
    path.write_text("region,intensity_g_per_kwh,source,year\nWORLD,481,Ember,2023\n")
    with pytest.raises(ValueError, match="expected the columns zone,intensity_g_per_kwh"):
        carbon.load(path)


def test_the_dashboard_and_the_job_read_the_same_table():
    from joulestream.dash_app import intensity as dashboard_table

    assert dict(dashboard_table.table()) == carbon.load()


def test_intensity_precedence_event_then_table_then_flagged_world():
    pricing = carbon.Pricing(carbon.load(), {})
    assert pricing.intensity("FR", 12.5) == (12.5, "run_started event", False)
    assert pricing.intensity("FR", None) == (56.0, "Ember 2023", False)
    assert pricing.intensity("US", None) == (369.0, "Ember 2023", False)
    assert pricing.intensity("aws:eu-north-1", None) == (41.0, "Ember (SE) 2023", False)
    assert pricing.intensity("aws:us-east-1", None) == (369.0, "Ember (US) 2023", False)
    assert pricing.intensity("azure:westeurope", None) == (268.0, "Ember (NL) 2023", False)
    assert pricing.intensity("gcp:europe-west4", None) == (236.0, "Google Cloud 2023", False)
    assert pricing.intensity("ZZ", None) == (481.0, "Ember 2023", True)
    assert pricing.intensity("aws:mars-north-1", None) == (481.0, "Ember 2023", True)
    assert pricing.intensity("WORLD", None) == (481.0, "Ember 2023", True)


def test_the_sql_names_every_zone_and_the_world_fallback():
    """The job's expressions carry every row: an unknown region is the world figure, flagged."""
    pricing = carbon.Pricing(carbon.load(), {})
    intensity_sql = pricing.intensity_sql("region", "e")
    assert intensity_sql.startswith("COALESCE(e, MAP['WORLD', CAST(481.0 AS DOUBLE), ")
    assert intensity_sql.endswith("[region], CAST(481.0 AS DOUBLE))")
    assert "'aws:us-east-1', CAST(369.0 AS DOUBLE)" in intensity_sql
    assert "'gcp:us-central1', 'Google Cloud 2023'" in pricing.source_sql("region", "e")
    fallback = pricing.fallback_sql("region", "e")
    assert fallback.count("', '") == len(pricing.table) - 2
    assert "'WORLD'" not in fallback


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
