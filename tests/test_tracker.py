import itertools
import logging
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from joulestream.events import Measurement, RunFinished, RunStarted
from joulestream.meters.base import MeterError
from joulestream.meters.nvml import NvmlGpuMeter
from joulestream.settings import EmitterSettings
from joulestream.spool import read_lines
from joulestream.tracker import MAX_FAILED_READS, Tracker, send_due
from tests.fakes import FakeCpu, FakeNvml, ListProducer, fake_meters

# A recent whole second: events are built within the default event-time window.
T0_MS = (time.time_ns() // 1_000_000_000 - 60) * 1000


class Clock:
    def __init__(self) -> None:
        self.now_ms = T0_MS

    def __call__(self) -> int:
        return self.now_ms


def make(interval_s: float = 3600.0) -> tuple[Tracker, ListProducer, Clock]:
    producer, clock = ListProducer(), Clock()
    tracker = Tracker(
        model="mlp",
        region="FR",
        user_id="me",
        run_id="r1",
        interval_s=interval_s,
        producer=producer,
        meters=fake_meters(),
        clock_ms=clock,
        dataset="toy",
    )
    return tracker, producer, clock


def test_end_epoch_closes_the_interval_with_exact_energy():
    """Each epoch's end emits a measurement ending then, carrying that epoch and its energy."""
    tracker, producer, clock = make()
    meters: Any = tracker._meters
    with tracker:
        tracker.log(epoch=0)
        clock.now_ms += 1500
        meters.cpu.total_j = 30.0
        meters.gpu.total_j = {0: 100.0, 1: 50.0}
        tracker.log(step=10, samples=64, loss=2.0)
        tracker.log(step=20, samples=64, loss=1.5)
        tracker.end_epoch(0, accuracy=0.5)
        tracker.log(epoch=1)
        clock.now_ms += 500
        meters.cpu.total_j = 40.0
        meters.ram.total_j = 2.0
    events = producer.events
    assert [type(e) for e in events] == [RunStarted, Measurement, Measurement, RunFinished]
    started, first, second, finished = events
    assert [e.seq for e in events] == [0, 1, 2, 3]
    assert (started.ts_ms, started.cpu_model, started.cpu_tdp_w, started.ram_gb) == (
        T0_MS,
        "Fake CPU",
        85.0,
        8.0,
    )
    assert [g.uuid for g in started.gpus] == ["GPU-0", "GPU-1"]
    assert (first.interval_start_ms, first.ts_ms, first.epoch, first.step) == (
        T0_MS,
        T0_MS + 1_500,
        0,
        20,
    )
    assert (first.cpu_energy_j, first.gpu_energy_j, first.ram_energy_j) == (30.0, 150.0, 0.0)
    assert [(g.index, g.energy_j, g.method) for g in first.gpus] == [
        (0, 100.0, "nvml_energy_counter"),
        (1, 50.0, "nvml_energy_counter"),
    ]
    assert (first.samples, first.loss, first.accuracy) == (128, 1.5, 0.5)
    assert (first.cpu_method, first.ram_method) == ("rapl", "ram_model")
    assert (second.interval_start_ms, second.ts_ms, second.epoch, second.samples) == (
        T0_MS + 1_500,
        T0_MS + 2_000,
        1,
        None,
    )
    assert (second.cpu_energy_j, second.ram_energy_j, second.gpu_energy_j) == (10.0, 2.0, 0.0)
    assert (finished.status, finished.ts_ms) == ("completed", T0_MS + 2_000)
    assert tracker.totals_j == {"cpu": 40.0, "ram": 2.0, "gpu": 150.0}


def test_background_thread_closes_intervals_on_time():
    """With a real clock, the sampler emits about one measurement per interval."""
    producer = ListProducer()
    tracker = Tracker(
        model="m",
        region="FR",
        user_id="u",
        interval_s=0.05,
        producer=producer,
        meters=fake_meters(),
    )
    with tracker:
        time.sleep(0.5)
    measurements = [e for e in producer.events if isinstance(e, Measurement)]
    assert 6 <= len(measurements) <= 12
    for before, after in itertools.pairwise(measurements):
        assert after.interval_start_ms == before.ts_ms  # intervals tile the run


def test_an_exception_finishes_the_run_as_failed_and_propagates():
    tracker, producer, _ = make()
    with pytest.raises(ZeroDivisionError), tracker:
        1 / 0  # noqa: B018
    finished = producer.events[-1]
    assert isinstance(finished, RunFinished)
    assert (finished.status, finished.reason) == ("failed", "ZeroDivisionError: division by zero")


def test_decorator_tracks_the_call():
    tracker, producer, _ = make()

    @tracker
    def train(x: int) -> int:
        return x * 2

    assert train(21) == 42
    assert [e.EVENT_TYPE for e in producer.events] == ["run_started", "measurement", "run_finished"]


def test_interval_must_be_positive():
    with pytest.raises(ValueError, match="interval_s must be > 0"):
        Tracker(model="m", interval_s=0)


def test_interval_has_an_upper_bound():
    """An interval longer than an hour, or not a number, is refused at construction."""
    Tracker(model="m", interval_s=3600, producer=ListProducer(), meters=fake_meters())
    with pytest.raises(ValueError, match="interval_s must be > 0 and <= 3600, got 3601"):
        Tracker(model="m", interval_s=3601)
    with pytest.raises(ValueError, match="interval_s must be > 0 and <= 3600, got nan"):
        Tracker(model="m", interval_s=float("nan"))


def test_metadata_run_started_would_refuse_fails_at_construction():
    """A bad model name or PUE is an error when the tracker is made, before anything runs."""
    with pytest.raises(ValueError, match="model must be a non-empty string"):
        Tracker(model="", producer=ListProducer(), meters=fake_meters())
    with pytest.raises(ValueError, match="pue must be finite and within"):
        Tracker(model="m", pue=7.0, producer=ListProducer(), meters=fake_meters())


def test_progress_is_checked_at_the_call_and_a_diverged_loss_is_unknown():
    """A negative count is an error in the training loop; a NaN or infinite loss, or NaN
    accuracy, is reported as None instead of stopping the sampler."""
    tracker, producer, clock = make()
    with tracker:
        with pytest.raises(ValueError, match="samples must be None or an int in"):
            tracker.log(samples=-1)
        with pytest.raises(ValueError, match="accuracy must be None or a share in"):
            tracker.log(accuracy=1.5)
        tracker.log(loss=float("nan"), accuracy=float("nan"), samples=3)
        clock.now_ms += 1000
        tracker.end_epoch(0)
        tracker.log(loss=1e300)
        clock.now_ms += 1000
    first, second = (e for e in producer.events if isinstance(e, Measurement))
    assert (first.loss, first.accuracy, first.samples) == (None, None, 3)
    assert second.loss is None
    assert tracker.error is None


def test_a_long_reason_is_cut_to_the_limit():
    """run_finished's reason is at most 1024 characters, ending in '...' when cut."""
    tracker, producer, _ = make()
    with pytest.raises(RuntimeError), tracker:
        raise RuntimeError("x" * 5000)
    reason = producer.events[-1].reason
    assert len(reason) == 1024
    assert reason.startswith("RuntimeError: xxx")
    assert reason.endswith("x...")


class FlakyCpu(FakeCpu):
    """Fails every read while ``failing`` is set, as a vanished sysfs file would."""

    def __init__(self, method: str = "rapl") -> None:
        super().__init__()
        self.method = method
        self.failing = False

    def energy_j(self) -> float:
        if self.failing:
            raise MeterError("cannot read energy_uj: No such device")
        return self.total_j


def flaky_tracker(method: str = "rapl") -> tuple[Tracker, ListProducer, Clock, FlakyCpu]:
    tracker, producer, clock = make()
    meters: Any = tracker._meters
    meters.cpu = cpu = FlakyCpu(method)
    return tracker, producer, clock, cpu


def test_a_transient_read_error_skips_the_sample_and_loses_nothing(caplog):
    """One failed read closes no interval; the next good read's difference covers the whole
    time since the last measurement, so the energy is exact and intervals still tile."""
    tracker, producer, clock, cpu = flaky_tracker()
    with tracker:
        clock.now_ms += 1_000
        cpu.total_j = 10.0
        tracker.end_epoch(0)
        clock.now_ms += 1_000
        cpu.total_j, cpu.failing = 25.0, True
        tracker.end_epoch(1)  # skipped
        clock.now_ms += 1_000
        cpu.total_j, cpu.failing = 30.0, False
        tracker.end_epoch(2)
    first, second, last = (e for e in producer.events if isinstance(e, Measurement))
    assert (first.interval_start_ms, first.ts_ms, first.cpu_energy_j) == (
        T0_MS,
        T0_MS + 1_000,
        10.0,
    )
    assert (second.interval_start_ms, second.ts_ms, second.cpu_energy_j) == (
        T0_MS + 1_000,
        T0_MS + 3_000,
        20.0,
    )
    assert (second.epoch, second.cpu_method, last.ts_ms) == (2, "rapl", T0_MS + 3_000)
    assert tracker.totals_j["cpu"] == 30.0
    assert tracker.error is None
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_repeated_failures_switch_the_meter_to_its_model_with_one_warning(caplog):
    """After MAX_FAILED_READS failed reads in a row the CPU meter becomes the TDP model, which
    covers the time since the last good read; one warning; the training code never sees an
    error and run_finished is sent."""
    tracker, producer, clock, cpu = flaky_tracker()
    meters: Any = tracker._meters
    with tracker:
        clock.now_ms += 1_000
        cpu.total_j = 10.0
        tracker.end_epoch(0)
        cpu.failing = True
        for _ in range(MAX_FAILED_READS):
            clock.now_ms += 1_000
            meters.load.busy_s += 1.0  # one of the 2 CPUs busy
            tracker.end_epoch(1)
        clock.now_ms += 1_000
        meters.load.busy_s += 2.0
        tracker.end_epoch(2)
    events = producer.events
    first, gap, after, at_stop = (e for e in events if isinstance(e, Measurement))
    assert (first.cpu_method, first.cpu_energy_j) == ("rapl", 10.0)
    # TDP model, 85 W, 2 CPUs: 85 x (0.1 x 3 s + 0.9 x 3 CPU-s / 2) over the 3 s gap.
    assert (gap.interval_start_ms, gap.ts_ms, gap.cpu_method) == (
        T0_MS + 1_000,
        T0_MS + 4_000,
        "tdp_model",
    )
    assert round(gap.cpu_energy_j, 9) == round(85 * (0.1 * 3 + 0.9 * 3 / 2), 9) == 140.25
    assert round(after.cpu_energy_j, 9) == round(85 * (0.1 * 1 + 0.9 * 2 / 2), 9) == 85.0
    assert (at_stop.cpu_method, at_stop.cpu_energy_j) == ("tdp_model", 0.0)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "the cpu meter failed 3 reads in a row" in warnings[0]
    assert "estimating with tdp_model" in warnings[0]
    assert (events[-1].EVENT_TYPE, events[-1].status) == ("run_finished", "completed")
    assert tracker.error is None


def test_an_nvml_read_error_takes_the_same_path(caplog):
    """A lost GPU (NVML read errors) switches the GPUs to the GPU model: each at the mean power
    NVML measured for it so far, from its last good read on."""
    meters = fake_meters()
    nvml = FakeNvml()
    meters.gpu = NvmlGpuMeter(nvml, "0,2")
    producer, clock = ListProducer(), Clock()
    tracker = Tracker(
        model="m",
        region="FR",
        user_id="u",
        interval_s=3600,
        producer=producer,
        meters=meters,
        clock_ms=clock,
    )
    with tracker:
        clock.now_ms += 2_000
        nvml.energy_mj[0] += 200_000  # 100 W over 2 s
        nvml.energy_mj[2] += 100_000  # 50 W
        tracker.end_epoch(0)
        nvml.failing = True
        for _ in range(MAX_FAILED_READS):
            clock.now_ms += 1_000
            tracker.end_epoch(1)
    first, gap, last = (e for e in producer.events if isinstance(e, Measurement))
    assert [(g.index, g.energy_j, g.method) for g in first.gpus] == [
        (0, 200.0, "nvml_energy_counter"),
        (1, 100.0, "nvml_energy_counter"),
    ]
    assert [(g.index, g.energy_j, g.method) for g in gap.gpus] == [
        (0, 300.0, "gpu_model"),
        (1, 150.0, "gpu_model"),
    ]
    assert (gap.interval_start_ms, gap.ts_ms, gap.gpu_energy_j) == (
        T0_MS + 2_000,
        T0_MS + 5_000,
        450.0,
    )
    assert last.ts_ms == T0_MS + 5_000
    assert nvml.shut  # the failed meter was closed
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "the gpu meter failed 3 reads in a row (NVML could not read GPU 0" in warnings[0]
    assert producer.events[-1].EVENT_TYPE == "run_finished"


def test_a_meter_that_fails_at_start_falls_back_at_once():
    """No first reading: the estimate is used from the start, and the run is measured."""
    tracker, producer, clock, cpu = flaky_tracker()
    cpu.failing = True
    with tracker:
        clock.now_ms += 1_000
    _, measurement, finished = producer.events
    assert (measurement.cpu_method, round(measurement.cpu_energy_j, 9)) == ("tdp_model", 8.5)
    assert finished.status == "completed"


class BrokenCpu(FakeCpu):
    """An estimate (nothing to fall back to) that reads fine for ``good_reads`` reads, then
    fails as a vanished file would."""

    method = "tdp_model"

    def __init__(self, good_reads: int) -> None:
        super().__init__()
        self.reads = 0
        self.good_reads = good_reads

    def energy_j(self) -> float:
        self.reads += 1
        if self.reads > self.good_reads:
            raise OSError("energy_uj: No such device")
        return 0.0


def test_a_failing_estimate_stops_the_sampler_and_is_reported():
    """An estimate has nothing to fall back to: after MAX_FAILED_READS failures the sampler
    records the error and stops, the training code goes on, and stop() still emits
    run_finished."""
    meters = fake_meters()
    meters.cpu = cpu = BrokenCpu(good_reads=1)
    producer = ListProducer()
    tracker = Tracker(
        model="m", region="FR", user_id="u", interval_s=0.02, producer=producer, meters=meters
    )
    with tracker:
        deadline = time.monotonic() + 5
        while tracker.error is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert isinstance(tracker.error, OSError)
        assert cpu.reads == 1 + MAX_FAILED_READS
        tracker.end_epoch(0)  # does not raise
    assert [e.EVENT_TYPE for e in producer.events][-1] == "run_finished"


def test_end_epoch_never_raises_into_training_code():
    """An impossible reading (1 TJ in a second) makes the measurement invalid: recorded in
    tracker.error, not raised from end_epoch, and run_finished is sent."""
    tracker, producer, clock, cpu = flaky_tracker()
    with tracker:
        clock.now_ms += 1_000
        cpu.total_j = 1e12
        tracker.end_epoch(0)
        assert isinstance(tracker.error, ValueError)
    assert [e.EVENT_TYPE for e in producer.events] == ["run_started", "run_finished"]


def test_stop_prices_the_run_and_logs_the_summary(caplog):
    """After stop: summary in kWh and g CO2e from the shared table (FR, 56 g/kWh, Ember 2023)
    and the run's PUE: 36 kJ x 1.5 x 56 g/kWh = 0.84 g; the same line is logged at INFO."""
    caplog.set_level(logging.INFO, logger="joulestream")
    producer, clock = ListProducer(), Clock()
    tracker = Tracker(
        model="m", region="FR", run_id="r1", pue=1.5, producer=producer,
        meters=fake_meters(), clock_ms=clock, interval_s=3600,
    )  # fmt: skip
    meters: Any = tracker._meters
    assert tracker.summary is None
    with tracker:
        clock.now_ms += 1_000
        meters.cpu.total_j = 30_000.0
        meters.ram.total_j = 6_000.0
    summary = tracker.summary
    assert summary is not None
    assert (summary.energy_kwh, summary.co2e_g, summary.pue) == (0.01, 0.84, 1.5)
    assert (summary.zone, summary.intensity_source, summary.fallback) == ("FR", "Ember 2023", False)
    assert dict(summary.energy_j) == {"cpu": 30_000.0, "ram": 6_000.0, "gpu": 0.0}
    line = "joulestream: run r1 used 0.0100 kWh, 0.840 g CO2e (FR, Ember 2023, PUE 1.5)"
    assert summary.line() == line
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.INFO] == [line]


def test_stop_timeout_must_be_a_number_at_least_zero():
    for bad in (-1.0, float("nan"), True, "5"):
        with pytest.raises(ValueError, match="stop_timeout_s must be a number >= 0"):
            Tracker(model="m", stop_timeout_s=bad, producer=ListProducer())  # type: ignore[arg-type]


def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"127.0.0.1:{port}"


def test_with_no_broker_stop_keeps_its_deadline_and_spools_every_event(
    monkeypatch, tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog
):
    """No broker: leaving the with block returns within stop_timeout_s + 1.5 s, the run's
    events are all in JOULESTREAM_SPOOL, librdkafka prints nothing, and one warning
    (Python logging) is about the broker."""
    caplog.set_level(logging.DEBUG, logger="joulestream")
    spool = tmp_path / "spool.jsonl"
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", closed_port())
    monkeypatch.setenv("JOULESTREAM_SPOOL", str(spool))
    tracker = Tracker(model="m", region="FR", run_id="r9", meters=fake_meters(), stop_timeout_s=1.0)
    with tracker:
        for epoch in range(3):
            tracker.end_epoch(epoch)
        time.sleep(0.5)  # librdkafka retries meanwhile
        started_s = time.monotonic()
    assert time.monotonic() - started_s < 1.0 + 1.5
    records = [record for _, record in read_lines(spool) if isinstance(record, dict)]
    assert [r["seq"] for r in records] == [0, 1, 2, 3, 4, 5]
    assert [r["run_id"] for r in records] == ["r9"] * 6
    captured = capfd.readouterr()
    assert "rdkafka" not in captured.err + captured.out
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.name for r in warnings] == ["joulestream.producer"]
    assert warnings[0].getMessage().startswith("Kafka at 127.0.0.1:")
    assert tracker.summary is not None
    assert tracker.summary.run_id == "r9"


@pytest.mark.parametrize(
    ("since_send_s", "send_every_s", "wake_period_s", "due"),
    [
        (0.0, 0.0, 1.0, True),  # 0: every wake sends
        (4.4, 5.0, 1.0, False),  # 1 s sampling: the fifth wake after a send sends again
        (4.5, 5.0, 1.0, True),
        (1.9, 5.0, 5.0, False),  # a long interval: wakes every PUMP_WAIT_S, each one sends
        (2.5, 5.0, 5.0, True),
        (0.98, 1.0, 0.05, True),
        (0.97, 1.0, 0.05, False),
    ],
)
def test_sends_ride_on_the_wakes_that_close_intervals(
    since_send_s, send_every_s, wake_period_s, due
):
    """A send is due at send_every_s since the last one, less half a wake's period, so that it
    is made on a wake that closes an interval rather than on one of its own."""
    assert send_due(since_send_s, send_every_s, wake_period_s) is due


class PumpedListProducer(ListProducer):
    """A producer its owner pumps: records how many events were emitted at each pump."""

    pumped_by_owner = True

    def __init__(self) -> None:
        super().__init__()
        self.pumps: list[int] = []

    def pump(self) -> None:
        self.pumps.append(len(self.events))


def test_the_sampling_thread_sends_run_started_at_once_then_in_batches():
    """With a producer it pumps, the sampling thread sends run_started at once, then what was
    emitted at most every send_interval_s (here 0.3 s, at 0.05 s sampling: a few times in 1 s,
    not at each of the 20 intervals)."""
    producer = PumpedListProducer()
    settings = EmitterSettings(send_interval_s=0.3)
    tracker = Tracker(
        model="m", region="FR", user_id="u", interval_s=0.05, producer=producer,
        meters=fake_meters(), settings=settings,
    )  # fmt: skip
    with tracker:
        deadline_s = time.monotonic() + 5
        while len(producer.events) < 21 and time.monotonic() < deadline_s:
            time.sleep(0.05)
    assert producer.pumps[0] == 1  # run_started, before any interval closed
    assert len(producer.events) >= 22  # run_started, 20 measurements or more, run_finished
    assert 2 <= len(producer.pumps) <= len(producer.events) // 3
