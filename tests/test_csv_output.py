"""The opt-in local CSV: CodeCarbon's column names and units, one row per run, never a failure."""

import csv
import dataclasses
import logging

from codecarbon.output_methods.emissions_data import EmissionsData

from joulestream import csv_output
from joulestream.events import GpuDevice
from joulestream.settings import EmitterSettings
from joulestream.summary import RunSummary
from joulestream.tracker import Tracker
from tests.fakes import FakeCpu, ListProducer, fake_meters
from tests.test_tracker import Clock

SUMMARY = RunSummary(
    run_id="r1",
    energy_j={"cpu": 3_600_000.0, "ram": 360_000.0, "gpu": 7_200_000.0},
    energy_kwh=3.1,
    co2e_g=225.0,
    region="FR",
    zone="FR",
    intensity_g_per_kwh=50.0,
    intensity_source="Ember 2023",
    fallback=False,
    pue=1.5,
)
RECORD = csv_output.RunRecord(
    project="vision",
    model="resnet",
    user_id="ada",
    status="completed",
    start_ms=1_767_225_600_000,  # 2026-01-01T00:00:00Z
    end_ms=1_767_225_600_000 + 3_600_000,
    cpu_count=8,
    cpu_model="Xeon",
    ram_gb=64.0,
    gpus=(
        GpuDevice(index=0, uuid="GPU-a", model="A100"),
        GpuDevice(index=1, uuid="GPU-b", model="A100"),
    ),
    tracking_mode="machine",
    methods={"cpu": "rapl", "ram": "ram_model", "gpu": "nvml_energy_counter"},
)


def test_the_codecarbon_columns_are_codecarbons_in_its_order():
    """Checked against the installed CodeCarbon 3.3.2's EmissionsData."""
    fields = [f.name for f in dataclasses.fields(EmissionsData)]
    assert [c for c in fields if c in csv_output.CODECARBON_COLUMNS] == list(
        csv_output.CODECARBON_COLUMNS
    )
    assert csv_output.COLUMNS[: len(csv_output.CODECARBON_COLUMNS)] == csv_output.CODECARBON_COLUMNS


def test_a_row_has_codecarbons_units():
    """kWh with the PUE, W without, kg CO2e, seconds."""
    row = csv_output.row(SUMMARY, RECORD)
    assert {
        k: row[k] for k in csv_output.CODECARBON_COLUMNS if k not in ("os", "python_version")
    } == {
        "timestamp": "2026-01-01T01:00:00",
        "project_name": "vision",
        "run_id": "r1",
        "duration": "3600.0",
        "emissions": "0.225",
        "emissions_rate": str(0.225 / 3600),
        "cpu_power": "1000.0",
        "gpu_power": "2000.0",
        "ram_power": "100.0",
        "cpu_energy": "1.5",
        "gpu_energy": "3.0",
        "ram_energy": "0.15",
        "energy_consumed": "4.65",
        "country_iso_code": "FR",
        "region": "",
        "cloud_provider": "",
        "cloud_region": "",
        "cpu_count": "8",
        "cpu_model": "Xeon",
        "gpu_count": "2",
        "gpu_model": "2 x A100",
        "ram_total_size": "64.0",
        "tracking_mode": "machine",
        "pue": "1.5",
    }
    assert row["intensity_source"] == "Ember 2023"
    assert row["gpu_method"] == "nvml_energy_counter"


def test_a_cloud_region_fills_the_cloud_columns():
    row = csv_output.row(dataclasses.replace(SUMMARY, region="gcp:europe-north1"), RECORD)
    assert (row["country_iso_code"], row["cloud_provider"], row["cloud_region"]) == (
        "",
        "gcp",
        "europe-north1",
    )


def test_rows_append_under_one_header(tmp_path):
    path = tmp_path / "emissions.csv"
    assert csv_output.append(path, csv_output.row(SUMMARY, RECORD))
    assert csv_output.append(path, csv_output.row(SUMMARY, RECORD))
    rows = list(csv.DictReader(path.read_text().splitlines()))
    assert [r["run_id"] for r in rows] == ["r1", "r1"]
    assert list(rows[0]) == list(csv_output.COLUMNS)


def test_a_file_with_another_header_is_left_alone(tmp_path, caplog):
    path = tmp_path / "emissions.csv"
    path.write_text("timestamp,project_name\n")
    assert not csv_output.append(path, csv_output.row(SUMMARY, RECORD))
    assert path.read_text() == "timestamp,project_name\n"
    assert [r.levelno for r in caplog.records] == [logging.WARNING]


def test_a_tracker_writes_its_row_when_it_stops(tmp_path):
    path = tmp_path / "emissions.csv"
    meters, clock, cpu = fake_meters(), Clock(), FakeCpu()
    meters.cpu = cpu
    settings = EmitterSettings(region="FR", csv_path=path)
    tracker = Tracker(
        model="m",
        run_id="r9",
        producer=ListProducer(),
        meters=meters,
        clock_ms=clock,
        settings=settings,
    )
    with tracker:
        cpu.total_j += 7200.0
        clock.now_ms += 2000
    (row,) = csv.DictReader(path.read_text().splitlines())
    assert (row["run_id"], row["duration"], row["cpu_energy"], row["cpu_power"]) == (
        "r9",
        "2.0",
        "0.002",
        "3600.0",
    )
    assert (row["status"], row["cpu_method"], row["gpu_method"]) == (
        "completed",
        "rapl",
        "nvml_energy_counter",
    )


def test_without_the_setting_no_file_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with Tracker(
        model="m", producer=ListProducer(), meters=fake_meters(), settings=EmitterSettings()
    ):
        pass
    assert list(tmp_path.iterdir()) == []
