"""The event limits of ``joulestream.limits``, as the event model applies them at build time."""

import time

import pytest

from joulestream import codec, limits
from joulestream.events import GpuEnergy, Measurement
from tests.test_events import T0_MS, finished, measurement, started


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def test_the_documented_constants():
    """The numbers the Flink job copies: a change here is a change of the contract."""
    assert (limits.MIN_TS_MS, limits.MAX_TS_MS) == (946_684_800_000, 253_402_300_799_999)
    assert (limits.DEFAULT_MAX_AGE_MS, limits.DEFAULT_MAX_AHEAD_MS) == (604_800_000, 600_000)
    assert (limits.MAX_INTERVAL_MS, limits.MIN_CREDITED_INTERVAL_MS) == (86_400_000, 1_000)
    assert (limits.MAX_COMPONENT_POWER_W, limits.MAX_DEVICE_POWER_W) == (100_000.0, 5_000.0)
    assert (limits.MIN_PUE, limits.MAX_PUE) == (1.0, 3.0)
    assert (limits.MIN_INTENSITY_G_PER_KWH, limits.MAX_INTENSITY_G_PER_KWH) == (0.0, 2_000.0)
    assert (limits.MAX_TEXT_LEN, limits.MAX_REASON_LEN) == (256, 1024)
    assert (limits.MAX_HYPERPARAMETERS, limits.MAX_HYPERPARAMETER_VALUE_LEN) == (256, 1024)
    assert (limits.MAX_EVENT_SIZE_BYTES, limits.MAX_GPUS) == (524_288, 256)
    assert (limits.MAX_COUNT, limits.MAX_EPOCH, limits.MAX_ABS_LOSS) == (10**15, 2**31 - 1, 1e100)
    assert (limits.MAX_CPU_COUNT, limits.MAX_RAM_GB) == (65_536, 100_000.0)


@pytest.mark.parametrize(
    ("ts_ms", "message"),
    [
        (time.time_ns(), "ts_ms must be UTC epoch milliseconds in .* seconds or nanoseconds"),
        (time.time_ns() // 1000, "ts_ms must be UTC epoch milliseconds in"),
        (int(time.time()), "ts_ms must be UTC epoch milliseconds in"),
        (0, "ts_ms must be UTC epoch milliseconds in"),
        (1.7e12, "ts_ms must be an int"),
    ],
)
def test_a_time_in_another_unit_is_refused(ts_ms, message):
    """Nanoseconds, microseconds and seconds are outside 2000-01-01 .. 9999-12-31 in ms."""
    with pytest.raises(ValueError, match=message):
        finished(ts_ms=ts_ms)


def test_event_time_must_be_near_this_hosts_clock_when_built():
    """By default an event is at most 7 days old and 10 minutes ahead when it is built."""
    finished(ts_ms=now_ms() - limits.DEFAULT_MAX_AGE_MS + 60_000)
    finished(ts_ms=now_ms() + limits.DEFAULT_MAX_AHEAD_MS - 60_000)
    with pytest.raises(ValueError, match=r"ts_ms=\d+ is 192\.0 h before this host's clock"):
        finished(ts_ms=now_ms() - 8 * 24 * 3_600_000)
    with pytest.raises(ValueError, match=r"ts_ms=\d+ is 660 s after this host's clock"):
        finished(ts_ms=now_ms() + 11 * 60_000)


def test_the_window_can_be_widened_for_old_or_future_events():
    """Inside event_time_window, a backfill builds old events; the absolute bounds still hold,
    and the default is back after the block."""
    year_ago_ms = now_ms() - 365 * 24 * 3_600_000
    with limits.event_time_window(limits.ANY_TIME):
        assert finished(ts_ms=year_ago_ms).ts_ms == year_ago_ms
        with pytest.raises(ValueError, match="ts_ms must be UTC epoch milliseconds"):
            finished(ts_ms=time.time_ns())
    with limits.event_time_window(limits.TimeWindow(max_age_ms=None, max_ahead_ms=0)):
        finished(ts_ms=year_ago_ms)
        with pytest.raises(ValueError, match="after this host's clock"):
            finished(ts_ms=now_ms() + 60_000)
    with pytest.raises(ValueError, match="before this host's clock"):
        finished(ts_ms=year_ago_ms)
    with pytest.raises(ValueError, match="max_age_ms must be >= 0"):
        limits.TimeWindow(max_age_ms=-1)


def test_interval_length_is_bounded():
    """A measurement covers at most a day."""
    measurement(interval_start_ms=T0_MS - 86_400_000 + 2_000)
    with pytest.raises(ValueError, match="interval is 86400001 ms long"):
        measurement(interval_start_ms=T0_MS + 2_000 - 86_400_001)


def test_energy_is_bounded_by_power_over_the_interval():
    """Each component at most 100 kW, each GPU at most 5 kW, over max(interval, 1 s); 1e308 J
    (which gave power_w=+Inf downstream) is refused."""
    assert measurement(cpu_energy_j=100_000.0).cpu_energy_j == 100_000.0  # 1 s interval
    with pytest.raises(ValueError, match=r"cpu_energy_j must be finite and within \[0, 100000\]"):
        measurement(cpu_energy_j=100_000.5)
    long_ms = 3_600_000
    start_ms = T0_MS + 2_000 - long_ms
    measurement(interval_start_ms=start_ms, ram_energy_j=3.6e8)
    with pytest.raises(ValueError, match=r"ram_energy_j must be finite and within \[0, 3.6e\+08\]"):
        measurement(interval_start_ms=start_ms, ram_energy_j=3.6e8 + 1)
    # An empty interval is credited one second: meters read a moment apart from the clock.
    assert measurement(interval_start_ms=T0_MS + 2_000, cpu_energy_j=0.5).cpu_energy_j == 0.5
    gpu = GpuEnergy(index=0, energy_j=5_000.5, method="nvml_energy_counter")
    with pytest.raises(ValueError, match=r"gpu 0 energy_j=5000.5 is more than 5000 J"):
        measurement(gpu_energy_j=5_000.5, gpus=(gpu,))
    with pytest.raises(ValueError, match="gpu energy_j must be finite"):
        GpuEnergy(index=0, energy_j=1e309, method="nvml")
    with pytest.raises(ValueError, match="gpu index must be an int in \\[0, 255\\]"):
        GpuEnergy(index=256, energy_j=1.0, method="nvml")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"pue": 3.01}, r"pue must be finite and within \[1, 3\], got 3.01"),
        ({"pue": 120.0}, r"pue must be finite and within \[1, 3\]"),
        (
            {"intensity_g_per_kwh": 2000.5},
            r"intensity_g_per_kwh must be finite and within \[0, 2000\]",
        ),
        ({"intensity_g_per_kwh": -1.0}, r"intensity_g_per_kwh must be finite and within"),
        ({"cpu_tdp_w": 1e6}, r"cpu_tdp_w must be finite and within \[0, 100000\]"),
        ({"ram_gb": 1e9}, r"ram_gb must be finite and within \[0, 100000\]"),
        ({"cpu_count": 65_537}, r"cpu_count must be None or an int in \[0, 65536\]"),
        ({"dataset": "d" * 257}, "dataset is 257 characters, at most 256"),
        (
            {"hyperparameters": {"layers": "x" * 1025}},
            "hyper-parameter 'layers' is 1025 characters, at most 1024",
        ),
        (
            {"hyperparameters": {f"h{i}": "1" for i in range(257)}},
            "257 hyper-parameters, at most 256",
        ),
    ],
)
def test_run_metadata_bounds(overrides, message):
    """Site, grid and host figures outside their physical bounds, and oversized text, are
    refused when run_started is built."""
    with pytest.raises(ValueError, match=message):
        started(**overrides)


def test_bounds_are_inclusive():
    """The bounds themselves are valid values."""
    event = started(pue=3.0, intensity_g_per_kwh=2000.0, cpu_count=65_536)
    assert (event.pue, event.intensity_g_per_kwh, event.cpu_count) == (3.0, 2000.0, 65_536)
    assert started(pue=1.0, intensity_g_per_kwh=0.0).pue == 1.0


def test_an_oversized_run_started_is_refused_when_built():
    """Hyper-parameters within their own limits can still make an event too large for Kafka:
    the encoded size (here 200 values of 1024 four-byte characters) is refused."""
    big = {f"h{i:03d}": "\U0001f600" * 1024 for i in range(200)}
    with pytest.raises(
        ValueError,
        match=r"run_started event is 8\d{5} bytes encoded, more than MAX_EVENT_SIZE_BYTES=524288",
    ):
        started(hyperparameters=big)
    fits = {f"h{i:03d}": "\U0001f600" * 1024 for i in range(120)}
    assert len(codec.encode(started(hyperparameters=fits).to_record())) < 524_288


def test_the_largest_valid_measurement_fits_the_size_limit():
    """Every text at its limit in four-byte characters and 256 GPUs: still under 512 KiB, so
    a measurement never needs its size checked when built."""
    text = "\U0001f600" * limits.MAX_TEXT_LEN
    gpus = tuple(GpuEnergy(index=i, energy_j=1.0, method=text, utilisation=0.5) for i in range(256))
    event = Measurement(
        run_id=text, seq=limits.MAX_COUNT, ts_ms=T0_MS, interval_start_ms=T0_MS, user_id=text,
        model=text, region=text, project=text, cpu_energy_j=1.0, gpu_energy_j=256.0,
        ram_energy_j=1.0, cpu_method=text, ram_method=text, gpus=gpus, cpu_utilisation=1.0,
        epoch=limits.MAX_EPOCH, step=limits.MAX_COUNT, samples=limits.MAX_COUNT,
        tokens=limits.MAX_COUNT, loss=-limits.MAX_ABS_LOSS, accuracy=1.0,
    )  # fmt: skip
    size_bytes = len(codec.encode(event.to_record()))
    assert 270_000 < size_bytes < limits.MAX_EVENT_SIZE_BYTES


def test_progress_and_reason_bounds():
    """Counts are bounded, loss is finite and at most 1e100 in magnitude, a reason at most 1024
    characters."""
    assert measurement(samples=10**15, loss=-3.5).loss == -3.5
    with pytest.raises(
        ValueError, match=r"tokens must be None or an int in \[0, 1000000000000000\]"
    ):
        measurement(tokens=10**15 + 1)
    with pytest.raises(ValueError, match=r"loss must be finite and within \[-1e\+100, 1e\+100\]"):
        measurement(loss=float("inf"))
    with pytest.raises(ValueError, match="loss must be finite"):
        measurement(loss=1e101)
    assert finished(reason="r" * 1024).reason == "r" * 1024
    with pytest.raises(ValueError, match="reason is 1025 characters, at most 1024"):
        finished(reason="r" * 1025)
    with pytest.raises(ValueError, match="1025 characters"):
        measurement(run_id="r" * 1025)
