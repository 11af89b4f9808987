"""A run's end-of-run summary in kWh and g CO2e, priced as the job prices it.

The figures come from the same table the job uses (``schemas.intensity``), with the job's
precedence (``flink_jobs/carbon.py``): the intensity in the run's ``run_started`` event, else the
table's row for the run's region, else the table's ``WORLD`` row, flagged as a fallback (a run that
names ``WORLD`` is flagged too, as the job does). PUE: the run's own (``run_started``), else 1.0.
The job may apply a PUE configured per provider or region instead (a server setting,
``JOULESTREAM_PUE``), which a trainer cannot see: where that is set, the job's CO2e is this one
times that PUE. CO2e is ``energy_j * pue * intensity_g_per_kwh / 3_600_000`` grams, the job's
formula; the job sums it per measurement, so its total may differ from this one in the last
digits of a double.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass

from joulestream.schemas import pricing
from joulestream.schemas.intensity import WORLD, Intensity
from joulestream.schemas.pricing import J_PER_KWH

EVENT_SOURCE = "run_started event"
"""The source named for an intensity the run itself gave (the job's name for it)."""
DEFAULT_PUE = 1.0


@dataclass(frozen=True)
class RunSummary:
    """What a run used and emitted, priced on the trainer side."""

    run_id: str
    energy_j: Mapping[str, float]
    """Device energy per component (``cpu``, ``ram``, ``gpu``), joules, without PUE."""
    energy_kwh: float
    """All components' device energy, kWh, without PUE."""
    co2e_g: float
    """g CO2e: the energy times the PUE times the intensity."""
    region: str
    """The run's region as given (a country, ``provider:region`` or ``WORLD``)."""
    zone: str
    """The table's zone that priced it: the region, or ``WORLD`` for a fallback; the region as
    well for an intensity from the event."""
    intensity_g_per_kwh: float
    intensity_source: str
    """Source and year of the figure, e.g. ``Ember 2023``, or ``run_started event``."""
    fallback: bool
    """True when the region is not in the table (or is ``WORLD``): priced with the world
    average."""
    pue: float

    def line(self) -> str:
        """One line for a terminal or a log, e.g. ``joulestream: run r1 used 0.0123 kWh, 5.90 g
        CO2e (FR, Ember 2023, PUE 1.0)``."""
        where = self.zone
        if self.fallback and self.region != WORLD:
            where = f"{WORLD} average, region {self.region!r} not in the table"
        elif self.fallback:
            where = f"{WORLD} average"
        return (
            f"joulestream: run {self.run_id} used {_figure(self.energy_kwh)} kWh, "
            f"{_figure(self.co2e_g)} g CO2e ({where}, {self.intensity_source}, "
            f"PUE {float(self.pue)})"
        )


def summarise(
    run_id: str,
    energy_j: Mapping[str, float],
    region: str,
    table: Mapping[str, Intensity],
    pue: float | None = None,
    intensity_g_per_kwh: float | None = None,
) -> RunSummary:
    """Price a run's energies (joules per component) for ``region`` with ``table``
    (``schemas.intensity.load()``). ``pue`` and ``intensity_g_per_kwh``: the run's own, as in its
    ``run_started`` event, or None. A negative or non-finite energy is a ``ValueError``."""
    for component, joules in energy_j.items():
        if not (math.isfinite(joules) and joules >= 0):
            raise ValueError(f"energy of {component} must be a finite number >= 0 J, got {joules}")
    total_j = sum(energy_j.values())
    applied_pue = DEFAULT_PUE if pue is None else pue
    if intensity_g_per_kwh is not None:
        zone, intensity, source, fallback = region, intensity_g_per_kwh, EVENT_SOURCE, False
    else:
        row = table.get(region) if region != WORLD else None
        fallback = row is None
        row = row or table[WORLD]
        zone, intensity, source = row.zone, row.intensity_g_per_kwh, row.cited
    return RunSummary(
        run_id=run_id,
        energy_j=dict(energy_j),
        energy_kwh=total_j / J_PER_KWH,
        co2e_g=pricing.co2e_g(total_j, applied_pue, intensity),
        region=region,
        zone=zone,
        intensity_g_per_kwh=intensity,
        intensity_source=source,
        fallback=fallback,
        pue=applied_pue,
    )


def _figure(value: float) -> str:
    """Three significant digits, at least one decimal, never in exponent notation."""
    if value == 0:
        return "0.0"
    decimals = max(1, 2 - math.floor(math.log10(abs(value))))
    return f"{value:.{decimals}f}"
