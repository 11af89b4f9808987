import itertools
import time
from typing import Any

import pytest

from emitter.events import Measurement, RunFinished, RunStarted
from emitter.tracker import Tracker
from tests.fakes import ListProducer, fake_meters


class Clock:
    def __init__(self) -> None:
        self.now_ms = 1_000_000

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
        1_000_000,
        "Fake CPU",
        85.0,
        8.0,
    )
    assert [g.uuid for g in started.gpus] == ["GPU-0", "GPU-1"]
    assert (first.interval_start_ms, first.ts_ms, first.epoch, first.step) == (
        1_000_000,
        1_001_500,
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
        1_001_500,
        1_002_000,
        1,
        None,
    )
    assert (second.cpu_energy_j, second.ram_energy_j, second.gpu_energy_j) == (10.0, 2.0, 0.0)
    assert (finished.status, finished.ts_ms) == ("completed", 1_002_000)
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
