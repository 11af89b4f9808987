"""The event model a trainer fills in; validated at the call site, before anything is sent."""

import math
from dataclasses import dataclass
from typing import Any

MAX_TEXT_LEN = 256
"""Longest accepted identifier or label, characters."""
MAX_LONG = 2**63 - 1
"""Largest Avro ``long``."""


def event_id_for(run_id: str, seq: int) -> str:
    """The deterministic id of a run's ``seq``-th event: a re-sent event keeps its id."""
    return f"{run_id}:{seq}"


@dataclass(frozen=True, slots=True)
class Measurement:
    """Energy a run used over ``[interval_start_ms, ts_ms)``, per component.

    Raises ``ValueError`` on construction when a field is missing, of the wrong type or out of
    range, so a bad call fails in the trainer and nothing is sent.
    """

    run_id: str
    seq: int
    """Per-run sequence number, from 0."""
    interval_start_ms: int
    """Start of the interval, UTC epoch milliseconds."""
    ts_ms: int
    """End of the interval and the event time, UTC epoch milliseconds."""
    user_id: str
    model: str
    region: str
    """ISO 3166-1 alpha-2 country code or cloud region, e.g. 'FR' or 'aws:us-east-1'."""
    cpu_energy_j: float
    gpu_energy_j: float
    ram_energy_j: float
    samples: int | None = None
    """Training samples processed in the interval; None when not reported."""

    def __post_init__(self) -> None:
        for name in ("run_id", "user_id", "model", "region"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string, got {value!r}")
            if len(value) > MAX_TEXT_LEN:
                raise ValueError(f"{name} is {len(value)} characters, at most {MAX_TEXT_LEN}")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValueError(f"{name} is not valid text: {exc.reason}") from exc
        for name in ("seq", "interval_start_ms", "ts_ms"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_LONG:
                raise ValueError(f"{name} must be an int in [0, 2**63), got {value!r}")
        if self.ts_ms < self.interval_start_ms:
            raise ValueError(
                f"interval ends before it starts: ts_ms={self.ts_ms} < "
                f"interval_start_ms={self.interval_start_ms}"
            )
        for name in ("cpu_energy_j", "gpu_energy_j", "ram_energy_j"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number of joules, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be finite and >= 0 joules, got {value!r}")
        if self.samples is not None and (
            isinstance(self.samples, bool)
            or not isinstance(self.samples, int)
            or not 0 <= self.samples <= MAX_LONG
        ):
            raise ValueError(f"samples must be None or an int in [0, 2**63), got {self.samples!r}")

    @property
    def event_id(self) -> str:
        return event_id_for(self.run_id, self.seq)

    @property
    def energy_j(self) -> float:
        """Total energy of the interval, joules."""
        return self.cpu_energy_j + self.gpu_energy_j + self.ram_energy_j

    def to_record(self) -> dict[str, Any]:
        """The Avro record (``schemas/measurement.v1.avsc``).

        Spelled out rather than ``dataclasses.asdict``, which costs ten times as much and is on
        the producer's per-event path.
        """
        return {
            "event_id": event_id_for(self.run_id, self.seq),
            "run_id": self.run_id,
            "seq": self.seq,
            "ts_ms": self.ts_ms,
            "interval_start_ms": self.interval_start_ms,
            "user_id": self.user_id,
            "model": self.model,
            "region": self.region,
            "cpu_energy_j": float(self.cpu_energy_j),
            "gpu_energy_j": float(self.gpu_energy_j),
            "ram_energy_j": float(self.ram_energy_j),
            "samples": self.samples,
        }
