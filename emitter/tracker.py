"""Measure a real training run: ``run_started``, one ``measurement`` per interval, ``run_finished``.

``Tracker`` is a context manager and a decorator, and can be used again: each ``start`` after a
run has finished begins a new run (a new run id). ``begin_window``/``end_window`` measure a
region of code within a run (``joulestream.windows``). A background thread closes an interval every
``interval_s`` seconds: it reads the meters (cumulative counters, so the interval's energy is a
difference and the intervals tile the run without gap or overlap) and emits a measurement with
the progress ``log`` attached since the last one. ``end_epoch`` closes the interval at once, so
that each epoch's energy is exact where the job counts a measurement in the epoch it reports.
Emitting only queues (``EventProducer``): training never waits for Kafka. The same thread
hands the queued events to Kafka for a producer made with ``pump=True`` (the tracker's own, and
``track``'s), so a tracker wakes one thread once an interval, not two; it does so on the wakes
at least ``settings.send_interval_s`` apart (5 s: at 1 s sampling, five events at a time, a fifth
of librdkafka's wakes for them). ``stop`` waits at
most ``stop_timeout_s`` for Kafka to take what is left (the rest goes to the spool), then logs the
run's summary in kWh and g CO2e (``joulestream.summary``) and keeps it as ``summary``.
"""

import functools
import getpass
import logging
import math
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from joulestream import csv_output, limits
from joulestream.events import GpuEnergy, Measurement, RunFinished, RunStarted
from joulestream.meters import fallback
from joulestream.meters.base import EnergyMeter
from joulestream.meters.gpu_model import GpuModelMeter
from joulestream.meters.load import Utilisation
from joulestream.meters.select import Meters, select_meters
from joulestream.producer import PUMP_WAIT_S, EventProducer
from joulestream.schemas import intensity
from joulestream.settings import EmitterSettings
from joulestream.summary import RunSummary, summarise
from joulestream.windows import Snapshot, WindowMeasurement, Windows

P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger(__name__)

MAX_FAILED_READS = 3
"""Reads of one meter failing in a row after which it is replaced by its estimate (its
``_model`` fallback, ``joulestream.meters.fallback``). Fewer are skipped: the interval goes on and
the next good read, of cumulative counters, covers it. Three skipped intervals of at most an hour
keep a measurement far within ``limits.MAX_INTERVAL_MS``."""
Reading = tuple[float, float, dict[int, tuple[float, str, float | None]]]
"""Cumulative CPU and RAM joules, and per GPU index (joules, method, utilisation)."""

DEFAULT_STOP_TIMEOUT_S = 5.0
"""How long ``stop`` waits for Kafka to acknowledge the last events before it spools them: a
reachable broker acknowledges within a second, and a training script that ends should not hang
for longer when there is none."""

MAX_INTERVAL_S = 3600.0
"""Longest tracker interval: an hour, within the measurement limit (``limits.MAX_INTERVAL_MS``,
a day) and short enough for a live dashboard to show something."""


def now_ms() -> int:
    """UTC epoch milliseconds."""
    return time.time_ns() // 1_000_000


@dataclass
class _Progress:
    """Training progress reported since the last measurement (samples, tokens) or last seen."""

    epoch: int | None = None
    step: int | None = None
    samples: int = 0
    tokens: int = 0
    loss: float | None = None
    accuracy: float | None = None
    counted: set[str] = field(default_factory=set)
    """Which of samples and tokens were reported at all (0 and "not reported" differ)."""


class Tracker:
    """Samples the meters in the background and emits a run's events through ``producer``."""

    def __init__(
        self,
        *,
        model: str,
        region: str | None = None,
        user_id: str | None = None,
        project: str = "default",
        run_id: str | None = None,
        dataset: str | None = None,
        framework: str | None = None,
        hyperparameters: Mapping[str, str] | None = None,
        pue: float | None = None,
        intensity_g_per_kwh: float | None = None,
        planned_steps: int | None = None,
        planned_epochs: int | None = None,
        interval_s: float = 1.0,
        producer: EventProducer | None = None,
        meters: Meters | None = None,
        pid: int | None = None,
        clock_ms: Callable[[], int] = now_ms,
        stop_timeout_s: float = DEFAULT_STOP_TIMEOUT_S,
        settings: EmitterSettings | None = None,
    ) -> None:
        """What is not given comes from ``settings`` (default ``EmitterSettings.from_env()``,
        where each variable is documented): ``region`` (JOULESTREAM_REGION, else 'WORLD',
        priced with the world average), ``user_id`` (JOULESTREAM_USER, else the login name),
        ``pue`` (JOULESTREAM_RUN_PUE) and ``intensity_g_per_kwh``
        (JOULESTREAM_INTENSITY_G_PER_KWH), both sent in run_started. ``planned_steps`` and
        ``planned_epochs``: how many the run will take in all, sent in run_started for the
        dashboard's ETA (the callbacks fill them from the framework, see ``plan``). Without
        ``producer`` one is made from the settings' Kafka address, topic and spool, and closed
        with the tracker.
        Without ``meters`` they are chosen automatically, with the settings' overrides (forced
        CPU/RAM power, meter choices, GPU ids); ``pid`` estimates that process tree's CPU
        rather than the machine's. With the settings' ``csv_path``, ``stop`` appends the run's
        row there (``csv_output``). ``stop_timeout_s``: how long ``stop`` (and the end of a
        ``with`` block) waits for Kafka to take the last events before it spools them; it
        returns within about a second of it, broker or not. It bounds the close of a producer
        the tracker made; a producer passed in is closed by its owner."""
        if (
            isinstance(interval_s, bool)
            or not isinstance(interval_s, int | float)
            or not 0 < interval_s <= MAX_INTERVAL_S
        ):
            raise ValueError(
                f"interval_s must be > 0 and <= {MAX_INTERVAL_S:g}, got {interval_s!r}"
            )
        if not (
            isinstance(stop_timeout_s, int | float)
            and not isinstance(stop_timeout_s, bool)
            and math.isfinite(stop_timeout_s)
            and stop_timeout_s >= 0
        ):
            raise ValueError(f"stop_timeout_s must be a number >= 0, got {stop_timeout_s!r}")
        self.settings = settings if settings is not None else EmitterSettings.from_env()
        self.interval_s = interval_s
        self.stop_timeout_s = float(stop_timeout_s)
        self.run_id = run_id or uuid.uuid4().hex
        self._fixed_run_id = run_id is not None
        self._who: dict[str, Any] = {
            "run_id": self.run_id,
            "user_id": user_id or self.settings.user_id or getpass.getuser(),
            "project": project,
            "model": model,
            "region": region or self.settings.region,
        }
        self._metadata: dict[str, Any] = {
            "dataset": dataset,
            "framework": framework,
            "hyperparameters": dict(hyperparameters or {}),
            "pue": pue if pue is not None else self.settings.pue,
            "intensity_g_per_kwh": (
                intensity_g_per_kwh
                if intensity_g_per_kwh is not None
                else self.settings.intensity_g_per_kwh
            ),
            "planned_steps": planned_steps,
            "planned_epochs": planned_epochs,
        }
        self._check_metadata()
        self._planned_by_person = {
            name for name in ("planned_steps", "planned_epochs") if self._metadata[name] is not None
        }
        self._own_producer = producer is None
        self._producer = producer
        self._own_meters = meters is None
        self._meters = meters
        self._pid = pid
        self._clock_ms = clock_ms
        self._lock = threading.Lock()
        # Released to wake the sampling thread before its interval is due (stop, end_epoch):
        # a plain lock's timed acquire is the cheapest wait, where a Condition's costs a new
        # lock and its own bookkeeping per wait, once an interval.
        self._wakeup = threading.Lock()
        self._wakeup.acquire()
        self._reset_run()
        self.summary: RunSummary | None = None
        """The run's energy in kWh and CO2e in g, priced with the shared intensity table, once
        ``stop`` has run (None before, or if it could not be priced)."""

    def _reset_run(self) -> None:
        """The state of one run, fresh for each ``start``."""
        self._progress = _Progress()
        self._seq = 0
        self._started = False
        self._finished = False
        self._thread: threading.Thread | None = None
        self.totals_j = {"cpu": 0.0, "ram": 0.0, "gpu": 0.0}
        """Energy emitted so far per component, joules."""
        self.error: Exception | None = None
        """Why the sampler stopped early (an estimate that failed with nothing left to fall
        back to, an impossible reading); the run goes on unmeasured, and ``track`` ends the
        command. A measuring meter that fails is not an error: it falls back to its estimate."""
        self._failures = {"cpu": 0, "ram": 0, "gpu": 0}
        self._shadows: dict[str, EnergyMeter] = {}
        """The CPU and RAM estimates a failing meter falls back to, read at every closed
        interval so that the one that takes over covers the gap since then."""
        self._shadow_j: dict[str, float] = {}
        self._windows = Windows()

    def _check_metadata(self) -> None:
        """Fail now, not at ``start``, on metadata run_started would refuse: the same checks,
        on an event built at the earliest valid time."""
        with limits.event_time_window(limits.ANY_TIME):
            RunStarted(**self._who, seq=0, ts_ms=limits.MIN_TS_MS, **self._metadata)

    def plan(self, planned_steps: int | None = None, planned_epochs: int | None = None) -> None:
        """The steps and epochs the next run will take, for its run_started (None: not
        known), where the constructor was not given them (what a person says wins over a
        framework's count); each call replaces the plan of the call before.
        ``ValueError`` for a value run_started would refuse; the plan is left as it was."""
        before = dict(self._metadata)
        for name, value in (("planned_steps", planned_steps), ("planned_epochs", planned_epochs)):
            if name not in self._planned_by_person:
                self._metadata[name] = value
        try:
            self._check_metadata()
        except ValueError:
            self._metadata = before
            raise

    @property
    def started(self) -> bool:
        """Whether the current (or last) run has started."""
        return self._started

    @property
    def running(self) -> bool:
        """Whether a run is being measured: started and not yet stopped."""
        return self._started and not self._finished

    @property
    def meters(self) -> Meters:
        if self._meters is None:
            raise RuntimeError("the tracker has not started")
        return self._meters

    # Life cycle.
    def start(self) -> "Tracker":
        """Choose the meters, emit ``run_started`` and start sampling. Once a run has stopped,
        ``start`` begins a new one with a new run id (a tracker made with ``run_id`` measures
        that one run only); one run at a time."""
        if self._started and not self._finished:
            raise RuntimeError(f"run {self.run_id} is being measured: a tracker runs one at a time")
        if self._finished:
            if self._fixed_run_id:
                raise RuntimeError(
                    f"run {self.run_id!r} has ended: a tracker given a run_id measures that run "
                    "once; leave run_id out to measure each use as a new run"
                )
            self.run_id = self._who["run_id"] = uuid.uuid4().hex
            self._reset_run()
            self.summary = None
            if self._own_producer:
                self._producer = None
            if self._own_meters:
                self._meters = None
        settings = self.settings
        if self._producer is None:
            # Sent from the sampling thread, which wakes once an interval anyway: no sender
            # thread of its own to wake.
            self._producer = EventProducer(
                settings.bootstrap_servers, settings.topic, spool_path=settings.spool, pump=True
            )
        if self._meters is None:
            self._meters = select_meters(
                settings.cpu_meter,
                settings.ram_meter,
                settings.gpu_meter,
                pid=self._pid,
                cpu_power_w=settings.cpu_power_w,
                ram_power_w=settings.ram_power_w,
                gpu_ids=settings.gpu_ids,
            )
        meters = self._meters
        host = meters.host
        self._utilisation = Utilisation(meters.load)
        self._start_ms = self._interval_start_ms = self._clock_ms()
        for name, shadow in (
            ("cpu", fallback.cpu_fallback(meters, self._meter_clock_s)),
            ("ram", fallback.ram_fallback(meters, self._meter_clock_s)),
        ):
            if shadow is not None:
                self._shadows[name] = shadow
                self._shadow_j[name] = shadow.energy_j()
        # Nothing to cover yet: a meter that cannot give its first reading falls back at once.
        first = self._read(allowed_failures=1)
        assert first is not None  # with one allowed failure, a meter falls back or raises
        self._last = self._first = first
        self._emit(
            RunStarted(
                **self._who,
                seq=self._next_seq(),
                ts_ms=self._start_ms,
                host=socket.gethostname(),
                cpu_model=host.cpu_model,
                cpu_count=host.cpu_count,
                cpu_tdp_w=host.cpu_tdp_w,
                ram_gb=host.ram_gb,
                gpus=meters.gpu.devices(),
                **self._metadata,
            )
        )
        self._started = True
        self._thread = threading.Thread(target=self._run, name="joulestream-tracker", daemon=True)
        self._thread.start()
        return self

    def stop(self, status: str = "completed", reason: str | None = None) -> None:
        """Close the last interval (unless the sampler failed), emit ``run_finished`` and
        release what was opened. ``reason`` is cut to ``limits.MAX_REASON_LEN`` characters."""
        with self._lock:
            if not self._started or self._finished:
                return
            self._finished = True
            self._wake_sampler()
            if self._windows.open_names:
                log.warning(
                    "run %s ended with windows still open, not measured: %s",
                    self.run_id,
                    ", ".join(self._windows.open_names),
                )
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            if self.error is None:
                try:
                    self._close_interval()
                except Exception as exc:  # a failing meter must not lose run_finished
                    self._failed(exc)
            if reason is not None and len(reason) > limits.MAX_REASON_LEN:
                reason = reason[: limits.MAX_REASON_LEN - 3] + "..."
            self._end_ms = max(self._clock_ms(), self._interval_start_ms)
            self._emit(
                RunFinished(
                    **self._who,
                    seq=self._next_seq(),
                    ts_ms=self._end_ms,
                    status=status,
                    reason=reason,
                )
            )
        if self._own_meters:
            self.meters.close()
        if self._own_producer and self._producer is not None:
            self._producer.close(timeout_s=self.stop_timeout_s)
        self.summary = self._summarise()
        if self.summary is not None:
            log.info("%s", self.summary.line())
            if self.settings.csv_path is not None:
                self._write_csv(self.settings.csv_path, self.summary, status)

    def _write_csv(self, path: Path, summary: RunSummary, status: str) -> None:
        """The run's row in the local CSV (``csv_output``); never raises."""
        meters = self.meters  # closed by now: only what they were is read
        gpu_methods = sorted({method for _, method, _ in self._last[2].values()})
        record = csv_output.RunRecord(
            project=self._who["project"],
            model=self._who["model"],
            user_id=self._who["user_id"],
            status=status,
            start_ms=self._start_ms,
            end_ms=self._end_ms,
            cpu_count=meters.host.cpu_count,
            cpu_model=meters.host.cpu_model,
            ram_gb=meters.host.ram_gb,
            gpus=meters.gpu.devices(),
            tracking_mode="machine" if meters.load.scope == "machine" else "process",
            methods={
                "cpu": meters.cpu.method,
                "ram": meters.ram.method,
                "gpu": ",".join(gpu_methods) or "none",
            },
        )
        try:
            csv_output.append(path, csv_output.row(summary, record))
        except Exception as exc:  # a local file must never fail the end of a run
            log.warning("run %s: no CSV row (%s)", self.run_id, exc)

    def _summarise(self) -> RunSummary | None:
        """The run priced as the job prices it; None, with a warning, if the table cannot be
        read (the events are sent all the same)."""
        try:
            return summarise(
                self.run_id,
                self.totals_j,
                self._who["region"],
                intensity.load(),
                pue=self._metadata["pue"],
                intensity_g_per_kwh=self._metadata["intensity_g_per_kwh"],
            )
        except Exception as exc:  # a summary must never fail the end of a run
            log.warning("run %s: no CO2e summary (%s)", self.run_id, exc)
            return None

    def __enter__(self) -> "Tracker":
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.stop("completed")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.stop("cancelled", "KeyboardInterrupt")
        else:
            self.stop("failed", f"{exc_type.__name__}: {exc}")

    def __call__(self, func: Callable[P, R]) -> Callable[P, R]:
        """Track every call of ``func`` (a decorator)."""

        @functools.wraps(func)
        def tracked(*args: P.args, **kwargs: P.kwargs) -> R:
            with self:
                return func(*args, **kwargs)

        return tracked

    # Code regions (Zeus-style windows).
    def begin_window(self, name: str) -> None:
        """Start measuring the region of code ``name`` within the run. Windows nest; a name is
        open once at a time (``WindowError``). A meter that cannot be read here makes that
        component unknown (None) in the window's measurement, never an error."""
        with self._lock:
            self._require_running("begin_window")
            self._windows.begin(name, self._snapshot)

    def end_window(self, name: str) -> WindowMeasurement:
        """Stop measuring ``name`` and return its energy per component and its time. It must be
        the innermost open window: ending one never begun, or one with a window begun inside
        it still open, is a ``WindowError``."""
        with self._lock:
            self._require_running("end_window")
            return self._windows.end(name, self._snapshot)

    def _require_running(self, what: str) -> None:
        if not self._started or self._finished:
            raise RuntimeError(
                f"{what} needs a running tracker: start it (or enter its with block)"
            )

    def _snapshot(self) -> Snapshot:
        """Every meter's cumulative reading now, for a window. Holds the lock."""
        meters = self.meters
        energy: dict[str, float | None] = {}
        for name, meter in (("cpu", meters.cpu), ("ram", meters.ram)):
            try:
                energy[name] = meter.energy_j()
            except Exception as exc:  # never into the training loop
                log.debug("run %s: window read of the %s meter failed: %s", self.run_id, name, exc)
                energy[name] = None
        gpus: dict[int, float] | None
        try:
            readings = meters.gpu.read()
            gpus = {r.index: r.energy_j for r in readings}
            gpu_method = ",".join(sorted({r.method for r in readings})) or "none"
        except Exception as exc:  # never into the training loop
            log.debug("run %s: window read of the GPUs failed: %s", self.run_id, exc)
            gpus, gpu_method = None, "unknown"
        return Snapshot(
            ts_ms=self._clock_ms(),
            energy_j=energy,
            gpu_energy_j=gpus,
            meters={"cpu": meters.cpu, "ram": meters.ram, "gpu": meters.gpu},
            methods={"cpu": meters.cpu.method, "ram": meters.ram.method, "gpu": gpu_method},
        )

    # Progress, from the training loop.
    def log(
        self,
        *,
        step: int | None = None,
        epoch: int | None = None,
        samples: int | None = None,
        tokens: int | None = None,
        loss: float | None = None,
        accuracy: float | None = None,
    ) -> None:
        """Attach progress to the current interval: ``samples`` and ``tokens`` are added up
        (processed since the last call), the others are the latest values.

        A count that is not an int in [0, ``limits.MAX_COUNT``] (epoch: the schema's int) or
        an accuracy outside [0, 1] is a ``ValueError`` here, at the call. A loss or accuracy
        that is not finite (a diverged run), or a loss beyond ``limits.MAX_ABS_LOSS``, is
        reported as unknown (None)."""
        _check_progress(step, epoch, samples, tokens, accuracy)
        with self._lock:
            self._update(step, epoch, samples, tokens, loss, accuracy)

    def end_epoch(
        self,
        epoch: int,
        *,
        step: int | None = None,
        samples: int | None = None,
        tokens: int | None = None,
        loss: float | None = None,
        accuracy: float | None = None,
    ) -> None:
        """``epoch`` has just ended: close the interval now, reporting it, and start a new one.
        Arguments are checked as by ``log``."""
        _check_progress(step, epoch, samples, tokens, accuracy)
        with self._lock:
            self._update(step, epoch, samples, tokens, loss, accuracy)
            if self._started and not self._finished and self.error is None:
                try:
                    self._close_interval()
                except Exception as exc:  # never into the training loop
                    self._failed(exc)
                self._wake_sampler()  # the next interval is a full one from now

    def _update(
        self,
        step: int | None,
        epoch: int | None,
        samples: int | None,
        tokens: int | None,
        loss: float | None,
        accuracy: float | None,
    ) -> None:
        progress = self._progress
        if epoch is not None:
            progress.epoch = epoch
        if step is not None:
            progress.step = step
        if samples is not None:
            progress.samples += samples
            progress.counted.add("samples")
        if tokens is not None:
            progress.tokens += tokens
            progress.counted.add("tokens")
        if loss is not None:
            loss = float(loss)
            # Unknown rather than refused: a diverged loss is a fact of training, not a bug.
            progress.loss = loss if abs(loss) <= limits.MAX_ABS_LOSS else None
        if accuracy is not None:
            progress.accuracy = float(accuracy) if math.isfinite(accuracy) else None

    # Sampling.
    def _run(self) -> None:
        """Close an interval when it is due; with a producer that its owner pumps, send what
        was emitted (outside the lock: a probe of a broker that is down may take
        ``producer.PROBE_TIMEOUT_S``) at most every ``settings.send_interval_s``, and wake at
        least every ``producer.PUMP_WAIT_S``."""
        producer = self._producer
        pump = producer.pump if producer is not None and producer.pumped_by_owner else None
        longest_wait_s = PUMP_WAIT_S if pump is not None else math.inf
        send_every_s = self.settings.send_interval_s
        wake_period_s = min(self.interval_s, PUMP_WAIT_S)
        last_send_s = -math.inf
        while True:
            if pump is not None:
                now_s = time.monotonic()
                if send_due(now_s - last_send_s, send_every_s, wake_period_s):
                    pump()
                    last_send_s = now_s
            with self._lock:
                if self._finished or self.error is not None:
                    return
                wait_s = self._due_in_s()
            if wait_s > 0:
                # Outside the lock; a wake between the lines above and this one is kept by
                # the released lock, so the acquire returns at once.
                self._wakeup.acquire(timeout=min(wait_s, longest_wait_s))
            with self._lock:
                if self._finished or self.error is not None:
                    return
                # Due now: closed before the next send, so that send takes it.
                if self._due_in_s() <= 0:
                    try:
                        self._close_interval()
                    except Exception as exc:
                        self._failed(exc)
                        return

    def _wake_sampler(self) -> None:
        """Wake the sampling thread now, to look at the run again. Holds the lock, so that two
        callers never both release."""
        if self._wakeup.locked():
            self._wakeup.release()

    def _due_in_s(self) -> float:
        """Seconds until the current interval is due to close (<= 0: now). Holds the lock."""
        due_ms = self._interval_start_ms + self.interval_s * 1000
        return (due_ms - self._clock_ms()) / 1000

    def _failed(self, exc: Exception) -> None:
        log.error("the tracker stopped measuring run %s: %s", self.run_id, exc, exc_info=exc)
        self.error = exc

    def _meter_clock_s(self) -> float:
        """The tracker's clock in seconds: fallbacks estimate over the intervals it emits."""
        return self._clock_ms() / 1000

    def _read_one(self, name: str) -> float | dict[int, tuple[float, str, float | None]]:
        meters = self.meters
        if name == "cpu":
            return meters.cpu.energy_j()
        if name == "ram":
            return meters.ram.energy_j()
        return {r.index: (r.energy_j, r.method, r.utilisation) for r in meters.gpu.read()}

    def _read(self, allowed_failures: int = MAX_FAILED_READS) -> Reading | None:
        """Every meter's cumulative reading, or None when one failed this time (the interval
        is skipped; counters lose nothing). A meter that fails ``allowed_failures`` times in a
        row is replaced by its estimate, whose reading is then used; one with no estimate to
        fall back to raises its error."""
        values: dict[str, Any] = {}
        for name in ("cpu", "ram", "gpu"):
            try:
                values[name] = self._read_one(name)
                self._failures[name] = 0
                continue
            except Exception as exc:
                self._failures[name] += 1
                if self._failures[name] < allowed_failures:
                    if self._failures[name] == 1:
                        log.info(
                            "run %s: reading the %s meter failed (%s); the next good read "
                            "covers this interval",
                            self.run_id,
                            name,
                            exc,
                        )
                    continue
                if not self._fall_back(name, exc):
                    raise
            values[name] = self._read_one(name)
        if len(values) < 3:
            return None
        return values["cpu"], values["ram"], values["gpu"]

    def _fall_back(self, name: str, exc: Exception) -> bool:
        """Replace the failing meter ``name`` by its estimate, which covers the time since the
        last closed interval; False when there is none."""
        meters = self.meters
        cpu_j, ram_j, gpus = self._last if self._started else (0.0, 0.0, {})
        failing: EnergyMeter | Any
        if name in self._shadows:
            shadow = self._shadows.pop(name)
            base_j = self._shadow_j.pop(name)
            failing = getattr(meters, name)
            setattr(meters, name, shadow)
            method = shadow.method
            if name == "cpu":
                cpu_j = base_j
            else:
                ram_j = base_j
        elif name == "gpu" and meters.gpu.devices() and not isinstance(meters.gpu, GpuModelMeter):
            failing = meters.gpu
            first_gpus = self._first[2] if self._started else {}
            measured_j = {i: e - first_gpus.get(i, (0.0,))[0] for i, (e, _, _) in gpus.items()}
            meters.gpu = fallback.gpu_fallback(
                meters,
                measured_j,
                (self._interval_start_ms - self._start_ms) / 1000,
                self._interval_start_ms / 1000,
                self._meter_clock_s,
            )
            method = "gpu_model"
            gpus = {i: (0.0, method, None) for i in gpus}
        else:
            return False
        self._last = (cpu_j, ram_j, gpus)
        log.warning(
            "run %s: the %s meter failed %d reads in a row (%s); estimating with %s from the "
            "last good read on",
            self.run_id,
            name,
            self._failures[name],
            exc,
            method,
        )
        self._failures[name] = 0
        try:
            failing.close()
        except Exception:  # it is failing already; what it holds goes with the process
            log.debug("closing the failed %s meter failed", name, exc_info=True)
        return True

    def _close_interval(self) -> None:
        """Emit the measurement of [interval start, now) and start the next interval. Holds
        the lock."""
        meters = self.meters
        end_ms = max(self._clock_ms(), self._interval_start_ms)
        reading = self._read()
        if reading is None:
            return  # a meter failed this time: the interval goes on
        cpu_j, ram_j, gpus = reading
        last_cpu_j, last_ram_j, last_gpus = self._last
        gpu_energy = tuple(
            GpuEnergy(
                index=index,
                energy_j=max(0.0, energy_j - last_gpus.get(index, (0.0,))[0]),
                method=method,
                utilisation=utilisation,
            )
            for index, (energy_j, method, utilisation) in sorted(gpus.items())
        )
        progress = self._progress
        measurement = Measurement(
            **self._who,
            seq=self._next_seq(),
            ts_ms=end_ms,
            interval_start_ms=self._interval_start_ms,
            cpu_energy_j=max(0.0, cpu_j - last_cpu_j),
            cpu_method=meters.cpu.method,
            ram_energy_j=max(0.0, ram_j - last_ram_j),
            ram_method=meters.ram.method,
            gpu_energy_j=sum(g.energy_j for g in gpu_energy),
            gpus=gpu_energy,
            cpu_utilisation=self._utilisation.since_last(),
            epoch=progress.epoch,
            step=progress.step,
            samples=progress.samples if "samples" in progress.counted else None,
            tokens=progress.tokens if "tokens" in progress.counted else None,
            loss=progress.loss,
            accuracy=progress.accuracy,
        )
        self._emit(measurement)
        self.totals_j["cpu"] += measurement.cpu_energy_j
        self.totals_j["ram"] += measurement.ram_energy_j
        self.totals_j["gpu"] += measurement.gpu_energy_j
        self._last = (cpu_j, ram_j, gpus)
        for name, shadow in self._shadows.items():
            self._shadow_j[name] = shadow.energy_j()
        self._interval_start_ms = end_ms
        progress.samples = progress.tokens = 0
        progress.counted.clear()

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq - 1

    def _emit(self, event: RunStarted | Measurement | RunFinished) -> None:
        assert self._producer is not None
        self._producer.emit(event)


def send_due(since_send_s: float, send_every_s: float, wake_period_s: float) -> bool:
    """Whether the sampling thread hands the queued events to Kafka on this wake: at least
    ``send_every_s`` since the last time, less half the period of its wakes (``wake_period_s``:
    the interval, or ``producer.PUMP_WAIT_S`` if shorter), so that a send rides on a wake that
    closes an interval rather than on one of its own."""
    return since_send_s >= send_every_s - wake_period_s / 2


def _check_progress(
    step: int | None,
    epoch: int | None,
    samples: int | None,
    tokens: int | None,
    accuracy: float | None,
) -> None:
    for name, value, maximum in (
        ("step", step, limits.MAX_COUNT),
        ("epoch", epoch, limits.MAX_EPOCH),
        ("samples", samples, limits.MAX_COUNT),
        ("tokens", tokens, limits.MAX_COUNT),
    ):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum
        ):
            raise ValueError(f"{name} must be None or an int in [0, {maximum}], got {value!r}")
    if accuracy is not None and not (
        isinstance(accuracy, int | float)
        and not isinstance(accuracy, bool)
        and (0 <= accuracy <= 1 or not math.isfinite(accuracy))
    ):
        raise ValueError(f"accuracy must be None or a share in [0, 1], got {accuracy!r}")
