"""Code-region windows (Zeus-style) and a tracker used again, with fake meters and a fake clock."""

from typing import Any

import pytest

from joulestream import Tracker, WindowError, WindowMeasurement
from tests.fakes import FakeCpu, ListProducer, fake_meters
from tests.test_tracker import T0_MS, Clock


def running(run_id: str | None = "r1") -> tuple[Tracker, ListProducer, Clock, Any]:
    producer, clock, meters = ListProducer(), Clock(), fake_meters()
    tracker = Tracker(
        model="mlp",
        region="FR",
        user_id="me",
        run_id=run_id,
        interval_s=3600.0,
        producer=producer,
        meters=meters,
        clock_ms=clock,
    )
    return tracker, producer, clock, meters


def spend(meters, cpu_j: float, ram_j: float, gpu_j: tuple[float, float], clock: Clock, ms: int):
    meters.cpu.total_j += cpu_j
    meters.ram.total_j += ram_j
    meters.gpu.total_j[0] += gpu_j[0]
    meters.gpu.total_j[1] += gpu_j[1]
    clock.now_ms += ms


def test_nested_windows_measure_their_own_regions():
    """An outer window covers an inner one; each gets the energy spent while it was open."""
    tracker, _, clock, meters = running()
    with tracker:
        spend(meters, 100.0, 1.0, (9.0, 9.0), clock, 1000)  # before any window
        tracker.begin_window("step")
        spend(meters, 10.0, 1.0, (5.0, 3.0), clock, 250)
        tracker.begin_window("forward")
        spend(meters, 20.0, 2.0, (40.0, 30.0), clock, 500)
        forward = tracker.end_window("forward")
        spend(meters, 5.0, 0.5, (1.0, 2.0), clock, 125)
        step = tracker.end_window("step")
    assert forward == WindowMeasurement(
        name="forward",
        time_s=0.5,
        energy_j={"cpu": 20.0, "ram": 2.0, "gpu": 70.0},
        gpu_energy_j={0: 40.0, 1: 30.0},
        methods={"cpu": "rapl", "ram": "ram_model", "gpu": "nvml_energy_counter"},
    )
    assert step.time_s == 0.875
    assert step.energy_j == {"cpu": 35.0, "ram": 3.5, "gpu": 81.0}
    assert step.gpu_energy_j == {0: 46.0, 1: 35.0}
    assert step.total_energy_j == 119.5


def test_ending_a_window_never_begun_is_an_error():
    tracker, _, _, _ = running()
    with tracker:
        tracker.begin_window("step")
        with pytest.raises(
            WindowError, match=r"window 'fwd' was never begun \(open windows: 'step'\)"
        ):
            tracker.end_window("fwd")
        tracker.end_window("step")
        with pytest.raises(
            WindowError, match=r"window 'step' was never begun \(open windows: none\)"
        ):
            tracker.end_window("step")


def test_ending_a_window_out_of_order_is_an_error_and_changes_nothing():
    """The outer window cannot end while the inner one is open; both can still end in order."""
    tracker, _, clock, meters = running()
    with tracker:
        tracker.begin_window("outer")
        tracker.begin_window("inner")
        with pytest.raises(
            WindowError,
            match=r"window 'outer' ended out of order: 'inner', begun inside it, is still open; "
            r"end 'inner' first",
        ):
            tracker.end_window("outer")
        spend(meters, 4.0, 0.0, (0.0, 0.0), clock, 100)
        assert tracker.end_window("inner").energy_j["cpu"] == 4.0
        assert tracker.end_window("outer").energy_j["cpu"] == 4.0


def test_a_name_is_open_once_and_must_be_text():
    tracker, _, _, _ = running()
    with tracker:
        tracker.begin_window("step")
        with pytest.raises(WindowError, match="window 'step' is already open"):
            tracker.begin_window("step")
        with pytest.raises(ValueError, match="a window's name must be a non-empty str, got ''"):
            tracker.begin_window("")


def test_windows_need_a_running_tracker():
    tracker, _, _, _ = running()
    with pytest.raises(RuntimeError, match="begin_window needs a running tracker"):
        tracker.begin_window("step")
    with tracker:
        pass
    with pytest.raises(RuntimeError, match="end_window needs a running tracker"):
        tracker.end_window("step")


class FailingOnce(FakeCpu):
    def __init__(self) -> None:
        super().__init__()
        self.fail_next = False

    def energy_j(self) -> float:
        if self.fail_next:
            self.fail_next = False
            raise OSError("EIO")
        return self.total_j


def test_a_meter_that_fails_in_a_window_makes_that_component_unknown():
    """The training code never sees a meter's error: the window reports cpu as None."""
    tracker, _, clock, meters = running()
    meters.cpu = FailingOnce()
    with tracker:
        tracker.begin_window("step")
        spend(meters, 7.0, 1.0, (2.0, 2.0), clock, 100)
        meters.cpu.fail_next = True
        window = tracker.end_window("step")
    assert window.energy_j == {"cpu": None, "ram": 1.0, "gpu": 4.0}
    assert window.total_energy_j is None


def test_a_window_over_a_fallback_is_unknown_for_that_component():
    """A meter replaced by its estimate between begin and end counts from another zero."""
    tracker, _, clock, meters = running()
    with tracker:
        tracker.begin_window("step")
        spend(meters, 7.0, 1.0, (2.0, 2.0), clock, 100)
        meters.cpu = FakeCpu()  # what a fallback does to the Meters
        window = tracker.end_window("step")
    assert window.energy_j == {"cpu": None, "ram": 1.0, "gpu": 4.0}


def test_open_windows_at_the_end_of_a_run_are_dropped_with_a_warning(caplog):
    tracker, producer, _, _ = running()
    with tracker:
        tracker.begin_window("epoch")
    assert producer.events[-1].status == "completed"
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        "run r1 ended with windows still open, not measured: epoch"
    ]


def test_a_tracker_used_again_measures_a_new_run_each_time():
    """As a decorator, each call is a run of its own: a new run id, seq from 0, fresh totals."""
    tracker, producer, clock, meters = running(run_id=None)

    @tracker
    def train(joules: float) -> str:
        meters.cpu.total_j += joules
        clock.now_ms += 1000
        return tracker.run_id

    first, second = train(10.0), train(3.0)
    assert first != second
    runs = [(e.run_id, e.seq, type(e).__name__) for e in producer.events]
    assert runs == [
        (first, 0, "RunStarted"),
        (first, 1, "Measurement"),
        (first, 2, "RunFinished"),
        (second, 0, "RunStarted"),
        (second, 1, "Measurement"),
        (second, 2, "RunFinished"),
    ]
    assert [e.cpu_energy_j for e in producer.events if hasattr(e, "cpu_energy_j")] == [10, 3]
    assert tracker.totals_j == {"cpu": 3.0, "ram": 0.0, "gpu": 0.0}
    assert producer.events[3].ts_ms == T0_MS + 1000


def test_a_tracker_given_a_run_id_measures_that_run_once():
    tracker, _, _, _ = running(run_id="r1")
    with tracker:
        pass
    with pytest.raises(RuntimeError, match="run 'r1' has ended: a tracker given a run_id"), tracker:
        pass


def test_a_tracker_runs_one_run_at_a_time():
    tracker, _, _, _ = running()
    with tracker, pytest.raises(RuntimeError, match="run r1 is being measured"):
        tracker.start()
