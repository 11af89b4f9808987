import math

import pytest

import schemas
from emitter.events import MAX_TEXT_LEN, Measurement, event_id_for


def measurement(**overrides: object) -> Measurement:
    fields: dict[str, object] = {
        "run_id": "run-1",
        "seq": 3,
        "interval_start_ms": 1_000,
        "ts_ms": 2_000,
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
    """The Avro record carries the id and float energies, even when given ints."""
    record = measurement(cpu_energy_j=10).to_record()
    assert record["event_id"] == "run-1:3"
    assert record["cpu_energy_j"] == 10.0
    assert isinstance(record["cpu_energy_j"], float)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"run_id": ""}, "run_id must be a non-empty string"),
        ({"run_id": None}, "run_id must be a non-empty string"),
        ({"user_id": "u" * (MAX_TEXT_LEN + 1)}, "user_id is 257 characters"),
        ({"cpu_energy_j": -1.0}, "cpu_energy_j must be finite and >= 0"),
        ({"gpu_energy_j": math.nan}, "gpu_energy_j must be finite and >= 0"),
        ({"ram_energy_j": math.inf}, "ram_energy_j must be finite and >= 0"),
        ({"ram_energy_j": "3"}, "ram_energy_j must be a number of joules"),
        ({"seq": -1}, "seq must be an int in \\[0, 2\\*\\*63\\)"),
        ({"seq": True}, "seq must be an int in"),
        ({"seq": 2**63}, "seq must be an int in"),
        ({"model": "bad\udc80"}, "model is not valid text"),
        ({"ts_ms": 999}, "interval ends before it starts"),
        ({"samples": -5}, "samples must be None or an int in"),
    ],
)
def test_bad_input_raises_value_error(overrides, message):
    """Invalid fields fail at construction with a message naming the field."""
    with pytest.raises(ValueError, match=message):
        measurement(**overrides)


def test_record_has_exactly_the_schema_fields_in_order():
    """to_record names every field of the .avsc, in the schema's order, and nothing else."""
    names = [f["name"] for f in schemas.load(schemas.MEASUREMENT_V1)["fields"]]
    assert list(measurement().to_record()) == names
