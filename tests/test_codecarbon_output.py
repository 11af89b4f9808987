import time
from pathlib import Path
from typing import Any

from codecarbon.output_methods.emissions_data import EmissionsData

from joulestream.codecarbon_output import JoulestreamOutput, region_of
from joulestream.events import Measurement, RunFinished, RunStarted
from joulestream.spool import read_lines
from tests.fakes import ListProducer


def data(duration_s: float, cpu_kwh: float, ram_kwh: float, gpu_kwh: float, **kw) -> EmissionsData:
    fields: dict[str, Any] = dict(
        timestamp="t",
        project_name="proj",
        run_id="cc-run",
        experiment_id="x",
        duration=duration_s,
        emissions=0.0,
        emissions_rate=0.0,
        cpu_power=0.0,
        gpu_power=0.0,
        ram_power=0.0,
        cpu_energy=cpu_kwh,
        gpu_energy=gpu_kwh,
        ram_energy=ram_kwh,
        energy_consumed=cpu_kwh + ram_kwh + gpu_kwh,
        water_consumed=0.0,
        country_name="France",
        country_iso_code="FRA",
        region="",
        cloud_provider="",
        cloud_region="",
        os="linux",
        python_version="3.11",
        codecarbon_version="3.3.2",
        cpu_count=8,
        cpu_model="Intel(R) Xeon(R) Gold 6248",
        gpu_count=0,
        gpu_model="",
        longitude=0.0,
        latitude=0.0,
        ram_total_size=16.0,
        tracking_mode="machine",
        cpu_utilization_percent=50.0,
    )
    fields.update(kw)
    return EmissionsData(**fields)


def test_measurements_are_differences_of_codecarbon_totals_in_joules():
    t0 = (time.time_ns() // 1_000_000_000 - 60) * 1000  # a minute ago, a whole second
    producer, now = ListProducer(), [t0 + 10_000]
    output = JoulestreamOutput(model="m", producer=producer, user_id="u", clock_ms=lambda: now[0])
    first_total = data(1.0, 0.00001, 0.000001, 0.0)
    output.live_out(first_total, first_total)
    now[0] = t0 + 11_000
    second_total = data(2.0, 0.00003, 0.000002, 0.0)
    output.out(second_total, second_total)
    output.exit()
    started, first, second, finished = producer.events
    assert isinstance(started, RunStarted)
    assert isinstance(finished, RunFinished)
    assert (started.run_id, started.project, started.region, started.ts_ms) == (
        "cc-run",
        "proj",
        "FR",
        t0 + 9_000,
    )
    assert isinstance(first, Measurement)
    assert isinstance(second, Measurement)
    assert (first.interval_start_ms, first.ts_ms, second.ts_ms) == (
        t0 + 9_000,
        t0 + 10_000,
        t0 + 11_000,
    )
    assert round(first.cpu_energy_j, 9) == 36.0
    assert round(second.cpu_energy_j, 9) == 72.0
    assert round(second.ram_energy_j, 9) == 3.6
    assert (first.cpu_method, first.ram_method, first.cpu_utilisation) == (
        "codecarbon",
        "codecarbon",
        0.5,
    )
    assert [e.seq for e in producer.events] == [0, 1, 2, 3]


def test_cloud_region():
    assert region_of(data(1, 0, 0, 0, cloud_provider="aws", cloud_region="us-east-1")) == (
        "aws:us-east-1"
    )
    assert region_of(data(1, 0, 0, 0, country_iso_code="XXX")) == "WORLD"


def test_pue_is_applied_once_net_factor_is_the_pue():
    """CodeCarbon's energies include its PUE (1.5 here): the handler sends the device energy and
    the PUE, so the job's price (energy x run_started.pue x intensity) carries 1.5, not 2.25."""
    from tests.reference_pricing import co2e_g

    t0 = (time.time_ns() // 1_000_000_000 - 60) * 1000
    producer = ListProducer()
    output = JoulestreamOutput(model="m", producer=producer, user_id="u", clock_ms=lambda: t0)
    device_kwh = (0.00001, 0.000001, 0.00002)  # 36 J cpu, 3.6 J ram, 72 J gpu at the devices
    reported = data(1.0, *(kwh * 1.5 for kwh in device_kwh), pue=1.5)  # as CodeCarbon reports
    output.out(reported, reported)
    output.exit()
    started, measurement, _ = producer.events
    assert started.pue == 1.5
    energies_j = (measurement.cpu_energy_j, measurement.ram_energy_j, measurement.gpu_energy_j)
    assert [round(e, 9) for e in energies_j] == [36.0, 3.6, 72.0]
    device_j = 111.6
    priced_g = co2e_g(sum(energies_j), started.pue, 50.0)
    assert round(priced_g / co2e_g(device_j, 1.0, 50.0), 9) == 1.5


def test_a_pue_outside_the_limits_is_not_sent_but_still_removed():
    """CodeCarbon accepts any PUE; one joulestream refuses (5.0) is left to the job's setting,
    and the energies are still divided by it, since CodeCarbon multiplied them."""
    t0 = (time.time_ns() // 1_000_000_000 - 60) * 1000
    producer = ListProducer()
    output = JoulestreamOutput(model="m", producer=producer, user_id="u", clock_ms=lambda: t0)
    reported = data(1.0, 0.00005, 0.0, 0.0, pue=5.0)
    output.out(reported, reported)
    started, measurement = producer.events
    assert started.pue is None
    assert round(measurement.cpu_energy_j, 9) == 36.0


def test_its_own_producer_spools_to_joulestream_spool(monkeypatch, tmp_path: Path):
    """Without a producer given, the bridge's own one spools to JOULESTREAM_SPOOL (as the
    tracker and the CLI do) when no broker answers, within its stop timeout."""
    spool = tmp_path / "cc-spool.jsonl"
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # nothing listens there
    monkeypatch.setenv("JOULESTREAM_SPOOL", str(spool))
    monkeypatch.chdir(tmp_path)  # the default spool would land here if the variable were ignored
    output = JoulestreamOutput(model="m", user_id="u", stop_timeout_s=0.5)
    total = data(1.0, 0.00001, 0.000001, 0.0)
    output.live_out(total, total)
    started_s = time.monotonic()
    output.exit()
    assert time.monotonic() - started_s < 0.5 + 1.5
    records = [record for _, record in read_lines(spool) if isinstance(record, dict)]
    assert [(r["seq"], r["run_id"]) for r in records] == [
        (0, "cc-run"),
        (1, "cc-run"),
        (2, "cc-run"),
    ]
    assert not (tmp_path / "joulestream-spool.jsonl").exists()


def test_the_user_is_the_trackers_joulestream_user_else_the_login_name(monkeypatch):
    """The bridge and the tracker name a run's user alike (no 'codecarbon' user of its own)."""
    monkeypatch.setattr("getpass.getuser", lambda: "ada")
    monkeypatch.delenv("JOULESTREAM_USER", raising=False)
    producer = ListProducer()
    total = data(1.0, 0.00001, 0.000001, 0.0)
    JoulestreamOutput(model="m", producer=producer).live_out(total, total)
    monkeypatch.setenv("JOULESTREAM_USER", "grace")
    JoulestreamOutput(model="m", producer=producer).live_out(total, total)
    users = [e.user_id for e in producer.events if isinstance(e, RunStarted)]
    assert users == ["ada", "grace"]
