"""The "when would it have been greenest" what-if: the run's measured energy shifted in time as a
block, by whole grid periods, and priced with its region's stored grid series
(``grid_intensity``), to find the start within a range at which it would have emitted least.

Pure computation; the run page (``pages/run.py``) reads the windows and the series and says
what comes out. Priced like the job prices a window: the energy of a window counts in the grid
period that contains the window's start, with the run's PUE (``schemas.pricing``); a period
without a figure is priced with the run's own intensity (``runs.intensity_g_per_kwh``: its
``run_started`` figure or the table's), and the result says how much energy that was.

The windows' energy is added up per step of the series' grid (its shortest period, on the grid
of its earliest period's start), in window order, and each step's energy is priced with the
figure at the step's start. Sources publish periods on one grid (hourly at the hour, half-hourly,
5 or 15 minutes), where this is the period of each window's start; a period that starts off that
grid would price a whole step with the figure at the step's start.
"""

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from joulestream.schemas import pricing


@dataclass(frozen=True)
class Period:
    """One stored grid period of the run's region and the kind the job prices with."""

    start_ms: int
    end_ms: int
    intensity_g_per_kwh: float
    published_at_ms: int


@dataclass(frozen=True)
class Start:
    """The run priced as if it had started ``shift_ms`` later (earlier when negative)."""

    shift_ms: int
    co2e_g: float
    unpriced_energy_j: float
    """Energy in periods without a figure, priced with the run's own intensity."""


@dataclass(frozen=True)
class Greenest:
    """The best start, and what it was chosen from."""

    best: Start
    step_ms: int
    """The shift's unit: the series' shortest period."""
    candidates: int
    """Starts in the range at which some of the energy falls in a period with a figure."""


class Series:
    """The figure at a time by the job's rule: of the periods that contain it, the latest
    publication, and of those the one that starts last."""

    def __init__(self, periods: Sequence[Period]) -> None:
        self._periods = sorted(periods, key=lambda p: p.start_ms)
        self._starts = [p.start_ms for p in self._periods]
        self._longest_ms = max((p.end_ms - p.start_ms for p in periods), default=0)

    def at(self, ts_ms: int) -> float | None:
        best: Period | None = None
        i = bisect_right(self._starts, ts_ms) - 1
        while i >= 0 and self._periods[i].start_ms > ts_ms - self._longest_ms:
            p = self._periods[i]
            if ts_ms < p.end_ms and (best is None or p.published_at_ms > best.published_at_ms):
                best = p
            i -= 1
        return None if best is None else best.intensity_g_per_kwh


def greenest(
    windows: Sequence[tuple[int, float]],
    periods: Sequence[Period],
    start_ms: int,
    range_ms: tuple[int, int],
    pue: float,
    own_intensity_g_per_kwh: float,
    other_energy_j: float = 0.0,
) -> Greenest | None:
    """The start in ``range_ms`` (both ends included) at which ``windows`` ((window start in
    epoch ms, energy in J), in time order), shifted as a block by whole periods from the run's
    ``start_ms``, would have emitted least CO2e; ``None`` when there is no window, no period,
    or no start in the range at which any of the energy meets a figure.

    ``other_energy_j`` (the run's energy in no window: its late events) is priced with the
    run's own intensity at every start. Of equal totals, the start nearest the run's own wins,
    then the earlier."""
    if not windows or not periods:
        return None
    step_ms = min(p.end_ms - p.start_ms for p in periods)
    phase_ms = min(p.start_ms for p in periods) % step_ms
    energy_j: dict[int, float] = {}
    for window_ms, window_j in windows:
        step = (window_ms - phase_ms) // step_ms
        energy_j[step] = energy_j.get(step, 0.0) + window_j
    series = Series(periods)
    figures: dict[int, float | None] = {}
    other_g = pricing.co2e_g(other_energy_j, pue, own_intensity_g_per_kwh)
    since_ms, until_ms = range_ms
    starts: list[Start] = []
    for shift in range(-((start_ms - since_ms) // step_ms), (until_ms - start_ms) // step_ms + 1):
        co2e_g, unpriced_j, priced = 0.0, 0.0, False
        for step, step_j in energy_j.items():
            if step + shift not in figures:
                figures[step + shift] = series.at(phase_ms + (step + shift) * step_ms)
            figure = figures[step + shift]
            if figure is None:
                unpriced_j += step_j
                figure = own_intensity_g_per_kwh
            else:
                priced = True
            co2e_g += pricing.co2e_g(step_j, pue, figure)
        if priced:
            starts.append(Start(shift * step_ms, co2e_g + other_g, unpriced_j))
    if not starts:
        return None
    best = min(starts, key=lambda s: (s.co2e_g, abs(s.shift_ms), s.shift_ms))
    return Greenest(best, step_ms, len(starts))
