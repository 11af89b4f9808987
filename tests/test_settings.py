"""EmitterSettings.from_env: defaults, every override, and a clear error for a bad value."""

import dataclasses
from pathlib import Path

import pytest

from joulestream.meters.forced import ForcedPowerCpuMeter
from joulestream.meters.select import select_meters
from joulestream.producer import DEFAULT_SPOOL
from joulestream.settings import EmitterSettings
from joulestream.tracker import Tracker
from tests.fakes import ListProducer, fake_meters


def test_defaults_for_a_local_run():
    assert EmitterSettings.from_env({}) == EmitterSettings(
        bootstrap_servers="127.0.0.1:9092",
        topic="training.events",
        spool=DEFAULT_SPOOL,
        region="WORLD",
        send_interval_s=5.0,
    )


def test_every_variable_is_read():
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": "k:9093",
        "JOULESTREAM_TOPIC": "t",
        "JOULESTREAM_SPOOL": "/s.jsonl",
        "JOULESTREAM_REGION": "gcp:europe-north1",
        "JOULESTREAM_USER": "ada",
        "JOULESTREAM_CPU_METER": "tdp_model",
        "JOULESTREAM_RAM_METER": "ram_model",
        "JOULESTREAM_GPU_METER": "none",
        "JOULESTREAM_CPU_POWER_W": "65",
        "JOULESTREAM_RAM_POWER_W": "10.5",
        "JOULESTREAM_GPU_IDS": "1,GPU-abc",
        "JOULESTREAM_RUN_PUE": "1.2",
        "JOULESTREAM_INTENSITY_G_PER_KWH": "56",
        "JOULESTREAM_CSV": "out/emissions.csv",
        "JOULESTREAM_SEND_INTERVAL_S": "0",
    }
    assert dataclasses.asdict(EmitterSettings.from_env(env)) == {
        "bootstrap_servers": "k:9093",
        "topic": "t",
        "spool": Path("/s.jsonl"),
        "region": "gcp:europe-north1",
        "user_id": "ada",
        "cpu_meter": "tdp_model",
        "ram_meter": "ram_model",
        "gpu_meter": "none",
        "cpu_power_w": 65.0,
        "ram_power_w": 10.5,
        "gpu_ids": "1,GPU-abc",
        "pue": 1.2,
        "intensity_g_per_kwh": 56.0,
        "csv_path": Path("out/emissions.csv"),
        "send_interval_s": 0.0,
    }


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("JOULESTREAM_RUN_PUE", "120", r"JOULESTREAM_RUN_PUE must be in \[1, 3\], got '120'"),
        ("JOULESTREAM_RUN_PUE", "abc", "JOULESTREAM_RUN_PUE must be a number, got 'abc'"),
        ("JOULESTREAM_CPU_POWER_W", "-1", r"JOULESTREAM_CPU_POWER_W must be in \[0, 100000\]"),
        ("JOULESTREAM_INTENSITY_G_PER_KWH", "nan", "JOULESTREAM_INTENSITY_G_PER_KWH must be in"),
        (
            "JOULESTREAM_SEND_INTERVAL_S",
            "6",
            r"JOULESTREAM_SEND_INTERVAL_S must be in \[0, 5\], got '6'",
        ),
    ],
)
def test_a_bad_value_names_its_variable(name, value, message):
    with pytest.raises(ValueError, match=message):
        EmitterSettings.from_env({name: value})


def test_the_tracker_takes_its_defaults_from_the_settings():
    """Region, user, PUE and intensity go into run_started; arguments win over settings."""
    settings = EmitterSettings(region="SE", user_id="ada", pue=1.2, intensity_g_per_kwh=40.0)
    producer = ListProducer()
    with Tracker(model="m", producer=producer, meters=fake_meters(), settings=settings) as t:
        pass
    started = producer.events[0]
    assert (started.region, started.user_id, started.pue, started.intensity_g_per_kwh) == (
        "SE",
        "ada",
        1.2,
        40.0,
    )
    assert t.summary is not None
    assert (t.summary.intensity_g_per_kwh, t.summary.intensity_source) == (
        40.0,
        "run_started event",
    )
    producer = ListProducer()
    with Tracker(
        model="m", region="FR", pue=1.5, producer=producer, meters=fake_meters(), settings=settings
    ):
        pass
    assert (producer.events[0].region, producer.events[0].pue) == ("FR", 1.5)


def test_forced_powers_replace_the_cpu_and_ram_meters():
    meters = select_meters(cpu_power_w=65.0, ram_power_w=10.0, gpu="none")
    try:
        assert isinstance(meters.cpu, ForcedPowerCpuMeter)
        assert (meters.cpu.method, meters.ram.method) == (
            "forced_power_model",
            "forced_power_model",
        )
        assert "CPU: forced to 65 W (JOULESTREAM_CPU_POWER_W)" in meters.reasons
    finally:
        meters.close()


def test_a_forced_power_counts_power_times_time():
    clock = iter([100.0, 102.5]).__next__
    assert ForcedPowerCpuMeter(65.0, clock=clock).energy_j() == 162.5


def test_a_forced_power_and_a_named_meter_conflict():
    with pytest.raises(Exception, match="cpu: a forced power \\(65 W\\) and the meter 'tdp_model'"):
        select_meters("tdp_model", cpu_power_w=65.0, gpu="none")


def test_gpu_ids_choose_the_devices_nvml_measures():
    from tests.fakes import FakeNvml

    meters = select_meters(gpu="nvml", nvml_module=FakeNvml(), gpu_ids="2")
    try:
        assert [(d.index, d.uuid) for d in meters.gpu.devices()] == [(0, "GPU-cccc-3")]
    finally:
        meters.close()
