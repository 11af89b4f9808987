"""Code-region measurement within a run, in the style of Zeus's ``begin_window``/``end_window``.

``Tracker.begin_window(name)`` reads every meter's cumulative counter; ``end_window(name)``
reads them again and returns the differences with the time between. Windows nest: each one ends
before the window it was begun in, and a name is open once at a time. Ending a window that was
never begun, or ending one while a window begun inside it is still open, is a ``WindowError``
at the call, so that a mistake shows where it is made. Windows are returned to the caller only:
they are not events (the run's measurements already cover the same energy).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

COMPONENTS = ("cpu", "ram", "gpu")


class WindowError(RuntimeError):
    """A window ended that was never begun, ended out of order, or begun twice."""


@dataclass(frozen=True)
class Snapshot:
    """Every meter's cumulative reading at one moment."""

    ts_ms: int
    """The tracker's clock, UTC epoch milliseconds."""
    energy_j: Mapping[str, float | None]
    """Cumulative joules of ``cpu`` and ``ram``; None when the read failed."""
    gpu_energy_j: Mapping[int, float] | None
    """Cumulative joules per GPU index; None when the read failed."""
    meters: Mapping[str, object]
    """The meter read for each component: one replaced by its estimate between two snapshots
    (a fallback) counts from another zero, so their difference means nothing."""
    methods: Mapping[str, str]
    """The method of each component's meter (``rapl``, ``tdp_model``, ...)."""


@dataclass(frozen=True)
class WindowMeasurement:
    """The energy and time of one window (Zeus's ``Measurement``)."""

    name: str
    time_s: float
    """Seconds between ``begin_window`` and ``end_window`` (the tracker's clock, ms steps)."""
    energy_j: Mapping[str, float | None]
    """Device energy per component (``cpu``, ``ram``, ``gpu`` for all GPUs), joules, without
    PUE. None when that meter could not be read at the window's start or end, or was replaced
    by its estimate in between."""
    gpu_energy_j: Mapping[int, float]
    """Per GPU index, joules (empty without GPUs, or when ``energy_j['gpu']`` is None)."""
    methods: Mapping[str, str]
    """How each component was measured at the window's end; estimates end in ``_model``."""

    @property
    def total_energy_j(self) -> float | None:
        """All components together, joules; None if any of them is unknown."""
        parts = [self.energy_j[c] for c in COMPONENTS]
        return None if any(p is None for p in parts) else sum(p for p in parts if p is not None)


def measure(name: str, start: Snapshot, end: Snapshot) -> WindowMeasurement:
    """The window between two snapshots."""
    energy: dict[str, float | None] = {}
    for component in ("cpu", "ram"):
        first, last = start.energy_j[component], end.energy_j[component]
        same = start.meters[component] is end.meters[component]
        energy[component] = (
            max(0.0, last - first) if same and first is not None and last is not None else None
        )
    gpus: dict[int, float] = {}
    if (
        start.gpu_energy_j is not None
        and end.gpu_energy_j is not None
        and start.meters["gpu"] is end.meters["gpu"]
    ):
        gpus = {
            index: max(0.0, joules - start.gpu_energy_j.get(index, joules))
            for index, joules in sorted(end.gpu_energy_j.items())
        }
        energy["gpu"] = sum(gpus.values())
    else:
        energy["gpu"] = None
    return WindowMeasurement(
        name=name,
        time_s=max(0, end.ts_ms - start.ts_ms) / 1000,
        energy_j=energy,
        gpu_energy_j=gpus,
        methods=dict(end.methods),
    )


class Windows:
    """The open windows of one run, innermost last."""

    def __init__(self) -> None:
        self._open: list[tuple[str, Snapshot]] = []

    @property
    def open_names(self) -> list[str]:
        """Names of the open windows, outermost first."""
        return [name for name, _ in self._open]

    def begin(self, name: str, snapshot: Callable[[], Snapshot]) -> None:
        """Open ``name``, reading the meters with ``snapshot`` once the call is known good."""
        _check_name(name)
        if name in self.open_names:
            raise WindowError(f"window {name!r} is already open; end it before beginning it again")
        self._open.append((name, snapshot()))

    def end(self, name: str, snapshot: Callable[[], Snapshot]) -> WindowMeasurement:
        """Close ``name``, the innermost open window, and measure it."""
        _check_name(name)
        if name not in self.open_names:
            opened = ", ".join(repr(n) for n in self.open_names) or "none"
            raise WindowError(f"window {name!r} was never begun (open windows: {opened})")
        innermost = self._open[-1][0]
        if innermost != name:
            raise WindowError(
                f"window {name!r} ended out of order: {innermost!r}, begun inside it, is still "
                f"open; end {innermost!r} first"
            )
        _, start = self._open.pop()
        return measure(name, start, snapshot())


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError(f"a window's name must be a non-empty str, got {name!r}")
