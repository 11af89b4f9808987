import math
import time

import pytest

from joulestream import schemas
from joulestream.events import (
    GpuDevice,
    GpuEnergy,
    Measurement,
    RunFinished,
    RunStarted,
    event_from_record,
    event_id_for,
)
from joulestream.limits import MAX_TEXT_LEN

# A recent whole minute: events built from it are within the default event-time window (7 days
# back) for the length of any test session.
T0_MS = (time.time_ns() // 60_000_000_000 - 10) * 60_000


def measurement(**overrides: object) -> Measurement:
    fields: dict[str, object] = {
        "run_id": "run-1",
        "seq": 3,
        "interval_start_ms": T0_MS + 1_000,
        "ts_ms": T0_MS + 2_000,
        "user_id": "alice",
        "model": "resnet50",
        "region": "FR",
        "cpu_energy_j": 10.5,
        "gpu_energy_j": 200.25,
        "ram_energy_j": 3.0,
        "samples": 128,
    }
    fields.update(overrides)
    return Measurement(**fields)  # type: ignore[arg-type]


def test_event_id_is_deterministic_from_run_and_seq():
    """The same run and sequence number always give the same id."""
    assert event_id_for("run-1", 3) == "run-1:3"
    assert measurement().event_id == "run-1:3"


def test_energy_is_the_sum_of_components():
    """Total energy adds CPU, GPU and RAM joules."""
    assert measurement().energy_j == 213.75


def test_record_has_every_schema_field():
    """The Avro record carries the id, the type, and float energies even when given ints."""
    record = measurement(cpu_energy_j=10).to_record()
    assert (record["event_id"], record["event_type"], record["schema_version"]) == (
        "run-1:3", "measurement", 3
    )  # fmt: skip
    assert record["measurement"]["cpu_energy_j"] == 10.0
    assert isinstance(record["measurement"]["cpu_energy_j"], float)
    assert (record["run_started"], record["run_finished"]) == (None, None)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"run_id": ""}, "run_id must be a non-empty string"),
        ({"run_id": None}, "run_id must be a non-empty string"),
        ({"user_id": "u" * (MAX_TEXT_LEN + 1)}, "user_id is 257 characters"),
        ({"cpu_energy_j": -1.0}, "cpu_energy_j must be finite and within \\[0, 100000\\]"),
        ({"gpu_energy_j": math.nan}, "gpu_energy_j must be finite and within"),
        ({"ram_energy_j": math.inf}, "ram_energy_j must be finite and within"),
        ({"ram_energy_j": 1e308}, "ram_energy_j must be finite and within \\[0, 100000\\]"),
        ({"ram_energy_j": "3"}, "ram_energy_j must be a number"),
        ({"accuracy": 1.5}, "accuracy must be finite and within \\[0, 1\\]"),
        (
            {"gpu_energy_j": 5.0, "gpus": (GpuEnergy(index=0, energy_j=4.0, method="nvml"),)},
            "gpu_energy_j=5.0 is not the sum of gpus",
        ),
        ({"seq": -1}, "seq must be an int in \\[0, 1000000000000000\\]"),
        ({"seq": True}, "seq must be an int in"),
        ({"seq": 10**15 + 1}, "seq must be an int in"),
        ({"model": "bad\udc80"}, "model is not valid text"),
        ({"ts_ms": T0_MS + 999}, "interval ends before it starts"),
        ({"samples": -5}, "samples must be None or an int in"),
    ],
)
def test_bad_input_raises_value_error(overrides, message):
    """Invalid fields fail at construction with a message naming the field."""
    with pytest.raises(ValueError, match=message):
        measurement(**overrides)


def test_record_has_exactly_the_schema_fields_in_order():
    """to_record names every field of the .avsc, in the schema's order, and nothing else."""
    names = [f["name"] for f in schemas.load(schemas.TRAINING_EVENT)["fields"]]
    for event in (measurement(), started(), finished()):
        assert list(event.to_record()) == names


def started(**overrides: object) -> RunStarted:
    header = {"run_id": "run-1", "seq": 0, "ts_ms": T0_MS + 1_000, "user_id": "alice",
              "model": "resnet50", "region": "FR"}  # fmt: skip
    fields: dict[str, object] = {
        **header, "dataset": "imagenet", "pue": 1.2, "cpu_count": 16,
        "gpus": (GpuDevice(index=0, uuid="GPU-1", model="A100", max_power_w=400.0),),
        "hyperparameters": {"lr": "0.1"},
    }  # fmt: skip
    fields.update(overrides)
    return RunStarted(**fields)  # type: ignore[arg-type]


def finished(**overrides: object) -> RunFinished:
    fields: dict[str, object] = {
        "run_id": "run-1", "seq": 9, "ts_ms": T0_MS + 9_000, "user_id": "alice",
        "model": "resnet50", "region": "FR", "status": "completed",
    }  # fmt: skip
    fields.update(overrides)
    return RunFinished(**fields)  # type: ignore[arg-type]


def test_every_kind_of_event_round_trips_through_its_record():
    """A record read back (e.g. from the spool) gives the same validated event."""
    for event in (measurement(), measurement(samples=None), started(), finished(status="failed")):
        assert event_from_record(event.to_record()) == event


@pytest.mark.parametrize(
    ("record_change", "message"),
    [
        ({"event_type": "paused"}, "unknown event_type 'paused'"),
        ({"event_id": "run-1:7"}, "event_id 'run-1:7' is not 'run-1:3'"),
        ({"measurement": None}, "that section is missing"),
        (
            {"planned_steps": 100},
            "planned_steps is set on a measurement event: only a run_started carries the run's",
        ),
    ],
)
def test_a_bad_record_is_refused(record_change, message):
    """A record whose type, id or section does not add up is refused with the reason."""
    record = dict(measurement().to_record(), **record_change)
    with pytest.raises(ValueError, match=message):
        event_from_record(record)


def test_run_metadata_and_status_are_checked():
    """PUE below 1, non-text hyper-parameters and unknown statuses are refused."""
    with pytest.raises(ValueError, match=r"pue must be finite and within \[1, 3\], got 0\.9"):
        started(pue=0.9)
    with pytest.raises(ValueError, match="hyper-parameter 'lr' must be text"):
        started(hyperparameters={"lr": 0.1})
    with pytest.raises(ValueError, match="status must be one of"):
        finished(status="done")


def test_a_runs_plan_is_a_count_of_at_least_one():
    """A plan of 0 steps, a negative or fractional number of epochs is refused; None is not
    said."""
    with pytest.raises(ValueError, match=r"planned_steps must be None or an int in \[1, "):
        started(planned_steps=0)
    epochs = r"planned_epochs must be None or an int in \[1, 2147483647\], got -1"
    with pytest.raises(ValueError, match=epochs):
        started(planned_epochs=-1)
    with pytest.raises(ValueError, match="planned_epochs must be None or an int"):
        started(planned_epochs=2.5)
    assert (started().planned_steps, started(planned_epochs=3).planned_epochs) == (None, 3)
