"""The events a trainer emits; validated at the call site, before anything is sent.

Three kinds share a header (run, sequence number, event time, who and where): ``RunStarted``
(metadata), ``Measurement`` (energy over an interval, with training progress) and
``RunFinished`` (status). Each maps to one ``TrainingEvent`` record of
``schemas/training_event.avsc``. A bad field raises ``ValueError`` naming it, when the event is
built: nothing invalid is ever sent. The limits, with their reasons, are ``joulestream.limits``; the
event-time window is checked against this host's clock when an event is built (widen it with
``joulestream.limits.event_time_window`` to build old or future events).
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from joulestream import codec, limits
from joulestream.limits import (
    MAX_COMPONENT_POWER_W,
    MAX_COUNT,
    MAX_CPU_COUNT,
    MAX_DEVICE_POWER_W,
    MAX_EPOCH,
    MAX_GPUS,
    MAX_HYPERPARAMETER_VALUE_LEN,
    MAX_HYPERPARAMETERS,
    MAX_INTENSITY_G_PER_KWH,
    MAX_INTERVAL_MS,
    MAX_PUE,
    MAX_RAM_GB,
    MAX_REASON_LEN,
    MAX_TEXT_LEN,
    MIN_INTENSITY_G_PER_KWH,
    MIN_PUE,
)

SCHEMA_VERSION = 3
"""Version 2 appended ``interval_intensity_g_per_kwh`` and ``interval_intensity_source``;
version 3 ``planned_steps`` and ``planned_epochs``."""
MAX_LONG = 2**63 - 1
"""Largest Avro ``long``."""
MAX_INT = 2**31 - 1
"""Largest Avro ``int``."""
STATUSES = ("completed", "failed", "cancelled")


def event_id_for(run_id: str, seq: int) -> str:
    """The deterministic id of a run's ``seq``-th event: a re-sent event keeps its id."""
    return f"{run_id}:{seq}"


def _text(
    name: str,
    value: object,
    nullable: bool = False,
    max_len: int = MAX_TEXT_LEN,
    empty: bool = False,
) -> None:
    if value is None and nullable:
        return
    if not isinstance(value, str) or (not value and not empty):
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    if len(value) > max_len:
        raise ValueError(f"{name} is {len(value)} characters, at most {max_len}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{name} is not valid text: {exc.reason}") from exc


def _int(name: str, value: object, nullable: bool = False, maximum: int = MAX_COUNT) -> None:
    if value is None and nullable:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        kind = "None or an int" if nullable else "an int"
        raise ValueError(f"{name} must be {kind} in [0, {maximum}], got {value!r}")


def _number(name: str, value: object, maximum: float, nullable: bool = False) -> None:
    limits.check_range(name, value, 0.0, maximum, nullable)


def _share(name: str, value: object) -> None:
    limits.check_range(name, value, 0.0, 1.0, nullable=True)


def _planned(name: str, value: object, maximum: int) -> None:
    """A plan is a count of at least 1: a run planned to take 0 steps has no end to foresee."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise ValueError(f"{name} must be None or an int in [1, {maximum}], got {value!r}")


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """What every event carries."""

    run_id: str
    seq: int
    """Per-run sequence number, from 0."""
    ts_ms: int
    """Event time, UTC epoch milliseconds."""
    user_id: str
    model: str
    region: str
    """ISO 3166-1 alpha-2 country code or cloud region, e.g. 'FR' or 'aws:us-east-1'."""
    project: str = "default"

    EVENT_TYPE = ""

    def __post_init__(self) -> None:
        for name in ("run_id", "user_id", "model", "region", "project"):
            _text(name, getattr(self, name))
        _int("seq", self.seq)
        limits.check_ts_ms("ts_ms", self.ts_ms)

    @property
    def event_id(self) -> str:
        return event_id_for(self.run_id, self.seq)

    def _header(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "event_id": event_id_for(self.run_id, self.seq),
            "event_type": self.EVENT_TYPE,
            "run_id": self.run_id,
            "seq": self.seq,
            "ts_ms": self.ts_ms,
            "user_id": self.user_id,
            "project": self.project,
            "model": self.model,
            "region": self.region,
            "run_started": None,
            "measurement": None,
            "run_finished": None,
            "interval_intensity_g_per_kwh": None,
            "interval_intensity_source": None,
            "planned_steps": None,
            "planned_epochs": None,
        }

    def to_record(self) -> dict[str, Any]:
        """The Avro record (``schemas/training_event.avsc``)."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True, kw_only=True)
class GpuDevice:
    """One GPU a run uses."""

    index: int
    uuid: str
    model: str
    idle_power_w: float | None = None
    max_power_w: float | None = None

    def __post_init__(self) -> None:
        _int("gpu index", self.index, maximum=MAX_GPUS - 1)
        _text("gpu uuid", self.uuid)
        _text("gpu model", self.model)
        _number("idle_power_w", self.idle_power_w, MAX_DEVICE_POWER_W, nullable=True)
        _number("max_power_w", self.max_power_w, MAX_DEVICE_POWER_W, nullable=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class GpuEnergy:
    """Energy of one GPU over a measured interval."""

    index: int
    energy_j: float
    method: str
    utilisation: float | None = None

    def __post_init__(self) -> None:
        _int("gpu index", self.index, maximum=MAX_GPUS - 1)
        # The bound over the interval is the measurement's check; here only finite and >= 0.
        _number("gpu energy_j", self.energy_j, math.inf)
        _text("gpu method", self.method)
        _share("gpu utilisation", self.utilisation)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunStarted(Event):
    """A run's metadata, sent once as its first event. ``None`` means not known."""

    dataset: str | None = None
    framework: str | None = None
    host: str | None = None
    pue: float | None = None
    """Power usage effectiveness of the site, >= 1."""
    intensity_g_per_kwh: float | None = None
    """Carbon intensity to price this run with, g CO2e per kWh (wins over the job's table)."""
    cpu_model: str | None = None
    cpu_count: int | None = None
    cpu_tdp_w: float | None = None
    ram_gb: float | None = None
    gpus: tuple[GpuDevice, ...] = ()
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    planned_steps: int | None = None
    """Optimizer steps the run will take in all (its plan), so that its end can be foreseen."""
    planned_epochs: int | None = None
    """Epochs the run will take in all."""

    EVENT_TYPE = "run_started"

    def __post_init__(self) -> None:
        Event.__post_init__(self)
        for name in ("dataset", "framework", "host", "cpu_model"):
            _text(name, getattr(self, name), nullable=True)
        limits.check_range("pue", self.pue, MIN_PUE, MAX_PUE, nullable=True)
        limits.check_range(
            "intensity_g_per_kwh",
            self.intensity_g_per_kwh,
            MIN_INTENSITY_G_PER_KWH,
            MAX_INTENSITY_G_PER_KWH,
            nullable=True,
        )
        _number("cpu_tdp_w", self.cpu_tdp_w, MAX_COMPONENT_POWER_W, nullable=True)
        _number("ram_gb", self.ram_gb, MAX_RAM_GB, nullable=True)
        _int("cpu_count", self.cpu_count, nullable=True, maximum=MAX_CPU_COUNT)
        _planned("planned_steps", self.planned_steps, MAX_COUNT)
        _planned("planned_epochs", self.planned_epochs, MAX_EPOCH)
        if len(self.gpus) > MAX_GPUS:
            raise ValueError(f"{len(self.gpus)} gpus, at most {MAX_GPUS}")
        if len(self.hyperparameters) > MAX_HYPERPARAMETERS:
            raise ValueError(
                f"{len(self.hyperparameters)} hyper-parameters, at most {MAX_HYPERPARAMETERS}"
            )
        for key, value in self.hyperparameters.items():
            _text("hyper-parameter name", key)
            if not isinstance(value, str):
                raise ValueError(f"hyper-parameter {key!r} must be text, got {value!r}")
            _text(
                f"hyper-parameter {key!r}", value, max_len=MAX_HYPERPARAMETER_VALUE_LEN, empty=True
            )
        # The one kind of event that can grow past the size limit: measure it now, once per run.
        codec.encode(self.to_record())

    def to_record(self) -> dict[str, Any]:
        record = self._header()
        record["run_started"] = {
            "dataset": self.dataset,
            "framework": self.framework,
            "host": self.host,
            "pue": _float(self.pue),
            "intensity_g_per_kwh": _float(self.intensity_g_per_kwh),
            "cpu_model": self.cpu_model,
            "cpu_count": self.cpu_count,
            "cpu_tdp_w": _float(self.cpu_tdp_w),
            "ram_gb": _float(self.ram_gb),
            "gpus": [
                {
                    "index": g.index,
                    "uuid": g.uuid,
                    "model": g.model,
                    "idle_power_w": _float(g.idle_power_w),
                    "max_power_w": _float(g.max_power_w),
                }
                for g in self.gpus
            ],
            "hyperparameters": dict(self.hyperparameters),
        }
        record["planned_steps"] = self.planned_steps
        record["planned_epochs"] = self.planned_epochs
        return record


@dataclass(frozen=True, slots=True, kw_only=True)
class Measurement(Event):
    """Energy a run used over ``[interval_start_ms, ts_ms)``, per component, and its progress."""

    interval_start_ms: int
    """Start of the interval, UTC epoch milliseconds."""
    cpu_energy_j: float
    gpu_energy_j: float
    """All GPUs together; equal to the sum of ``gpus`` when those are given."""
    ram_energy_j: float
    cpu_method: str = "unknown"
    ram_method: str = "unknown"
    gpus: tuple[GpuEnergy, ...] = ()
    cpu_utilisation: float | None = None
    epoch: int | None = None
    step: int | None = None
    samples: int | None = None
    """Training samples processed in the interval; None when not reported."""
    tokens: int | None = None
    loss: float | None = None
    accuracy: float | None = None
    interval_intensity_g_per_kwh: float | None = None
    """Carbon intensity the trainer knew for this interval (e.g. from a live grid API), g CO2e
    per kWh; ``None``: not known, the job prices the interval itself."""
    interval_intensity_source: str | None = None
    """Who published ``interval_intensity_g_per_kwh``, e.g. ``Electricity Maps``; only with it."""

    EVENT_TYPE = "measurement"

    def __post_init__(self) -> None:
        Event.__post_init__(self)
        # Absolute bounds only: the window is the end's (ts_ms), and the interval is bounded.
        limits.check_ts_ms("interval_start_ms", self.interval_start_ms, limits.ANY_TIME)
        interval_ms = self.ts_ms - self.interval_start_ms
        if interval_ms < 0:
            raise ValueError(
                f"interval ends before it starts: ts_ms={self.ts_ms} < "
                f"interval_start_ms={self.interval_start_ms}"
            )
        if interval_ms > MAX_INTERVAL_MS:
            raise ValueError(
                f"interval is {interval_ms} ms long (ts_ms - interval_start_ms), at most "
                f"{MAX_INTERVAL_MS}"
            )
        component_max_j = limits.max_energy_j(interval_ms, MAX_COMPONENT_POWER_W)
        for name in ("cpu_energy_j", "gpu_energy_j", "ram_energy_j"):
            _number(name, getattr(self, name), component_max_j)
        _text("cpu_method", self.cpu_method)
        _text("ram_method", self.ram_method)
        if len(self.gpus) > MAX_GPUS:
            raise ValueError(f"{len(self.gpus)} gpus, at most {MAX_GPUS}")
        device_max_j = limits.max_energy_j(interval_ms, MAX_DEVICE_POWER_W)
        for gpu in self.gpus:
            if gpu.energy_j > device_max_j:
                raise ValueError(
                    f"gpu {gpu.index} energy_j={gpu.energy_j!r} is more than {device_max_j:g} J "
                    f"({MAX_DEVICE_POWER_W:g} W over {max(interval_ms, 1000)} ms)"
                )
        if self.gpus:
            total_j = math.fsum(g.energy_j for g in self.gpus)
            if not math.isclose(total_j, self.gpu_energy_j, rel_tol=1e-9, abs_tol=1e-9):
                raise ValueError(
                    f"gpu_energy_j={self.gpu_energy_j!r} is not the sum of gpus ({total_j!r})"
                )
        _share("cpu_utilisation", self.cpu_utilisation)
        _share("accuracy", self.accuracy)
        _int("epoch", self.epoch, nullable=True, maximum=MAX_EPOCH)
        for name in ("step", "samples", "tokens"):
            _int(name, getattr(self, name), nullable=True)
        limits.check_range(
            "loss", self.loss, -limits.MAX_ABS_LOSS, limits.MAX_ABS_LOSS, nullable=True
        )
        limits.check_range(
            "interval_intensity_g_per_kwh",
            self.interval_intensity_g_per_kwh,
            MIN_INTENSITY_G_PER_KWH,
            MAX_INTENSITY_G_PER_KWH,
            nullable=True,
        )
        _text("interval_intensity_source", self.interval_intensity_source, nullable=True)
        if self.interval_intensity_source is not None and self.interval_intensity_g_per_kwh is None:
            raise ValueError(
                f"interval_intensity_source={self.interval_intensity_source!r} is given without "
                "interval_intensity_g_per_kwh: a source names the publisher of that figure"
            )

    @property
    def energy_j(self) -> float:
        """Total energy of the interval, joules."""
        return self.cpu_energy_j + self.gpu_energy_j + self.ram_energy_j

    def to_record(self) -> dict[str, Any]:
        # Spelled out rather than dataclasses.asdict, which costs ten times as much and is on
        # the producer's per-event path.
        record = self._header()
        record["measurement"] = {
            "interval_start_ms": self.interval_start_ms,
            "cpu_energy_j": float(self.cpu_energy_j),
            "cpu_method": self.cpu_method,
            "ram_energy_j": float(self.ram_energy_j),
            "ram_method": self.ram_method,
            "gpu_energy_j": float(self.gpu_energy_j),
            "gpus": [
                {
                    "index": g.index,
                    "energy_j": float(g.energy_j),
                    "method": g.method,
                    "utilisation": _float(g.utilisation),
                }
                for g in self.gpus
            ],
            "cpu_utilisation": _float(self.cpu_utilisation),
            "epoch": self.epoch,
            "step": self.step,
            "samples": self.samples,
            "tokens": self.tokens,
            "loss": _float(self.loss),
            "accuracy": _float(self.accuracy),
        }
        record["interval_intensity_g_per_kwh"] = _float(self.interval_intensity_g_per_kwh)
        record["interval_intensity_source"] = self.interval_intensity_source
        return record


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFinished(Event):
    """The end of a run."""

    status: str
    """One of STATUSES."""
    reason: str | None = None

    EVENT_TYPE = "run_finished"

    def __post_init__(self) -> None:
        Event.__post_init__(self)
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        if self.reason is not None and not isinstance(self.reason, str):
            raise ValueError(f"reason must be text, got {self.reason!r}")
        _text("reason", self.reason, nullable=True, max_len=MAX_REASON_LEN, empty=True)

    def to_record(self) -> dict[str, Any]:
        record = self._header()
        record["run_finished"] = {"status": self.status, "reason": self.reason}
        return record


EVENT_TYPES: tuple[type[Event], ...] = (RunStarted, Measurement, RunFinished)
INTERVAL_INTENSITY_FIELDS = ("interval_intensity_g_per_kwh", "interval_intensity_source")
"""Top-level fields of the record that only a measurement sets (appended in version 2)."""
PLAN_FIELDS = ("planned_steps", "planned_epochs")
"""Top-level fields of the record that only a run_started sets (appended in version 3)."""


def event_from_record(record: Mapping[str, Any]) -> Event:
    """The validated event of a record (e.g. from a spool); ``ValueError`` says what is wrong."""
    kinds = {kind.EVENT_TYPE: kind for kind in EVENT_TYPES}
    kind = kinds.get(record.get("event_type"))  # type: ignore[arg-type]
    if kind is None:
        raise ValueError(f"unknown event_type {record.get('event_type')!r}")
    header: dict[str, Any] = {
        k: record.get(k)
        for k in ("run_id", "seq", "ts_ms", "user_id", "model", "region", "project")
    }
    section = record.get(kind.EVENT_TYPE)
    if not isinstance(section, Mapping):
        raise ValueError(f"event_type is {kind.EVENT_TYPE!r} but that section is missing")
    fields = dict(section)
    if kind is RunStarted:
        fields["gpus"] = tuple(GpuDevice(**g) for g in fields.get("gpus") or ())
        fields["hyperparameters"] = dict(fields.get("hyperparameters") or {})
    elif kind is Measurement:
        fields["gpus"] = tuple(GpuEnergy(**g) for g in fields.get("gpus") or ())
    # Top-level fields appended in versions 2 and 3; absent from older records (an old spool).
    for owner, names, why in (
        (Measurement, INTERVAL_INTENSITY_FIELDS, "only a measurement has an interval"),
        (RunStarted, PLAN_FIELDS, "only a run_started carries the run's plan"),
    ):
        appended = {name: record.get(name) for name in names}
        if kind is owner:
            fields.update(appended)
            continue
        for name, value in appended.items():
            if value is not None:
                raise ValueError(f"{name} is set on a {kind.EVENT_TYPE} event: {why}")
    event = kind(**header, **fields)
    if record.get("event_id") != event.event_id:
        raise ValueError(f"event_id {record.get('event_id')!r} is not {event.event_id!r}")
    return event
