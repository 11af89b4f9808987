"""The carbon-intensity table: one home for the figures the job prices with, the dashboard's
what-if and any trainer-side summary.

``carbon_intensity.csv`` in this package has one row per zone (``WORLD``, a country by ISO 3166-1
alpha-2, or a cloud region as ``provider:region``) with its yearly average grid intensity in
g CO2e per kWh, the source of the figure and its year. The ``#`` lines at its top are the
attribution; ``schemas/README.md`` says where each figure comes from and how to update them.
"""

import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

TABLE = "carbon_intensity.csv"
WORLD = "WORLD"
"""The zone that prices a region not in the table (flagged as a fallback by its users)."""
COLUMNS = ("zone", "intensity_g_per_kwh", "source", "year", "location")


@dataclass(frozen=True)
class Intensity:
    """One zone's figure."""

    zone: str
    intensity_g_per_kwh: float
    """Yearly average, life-cycle, location-based; whole grams as published or rounded."""
    source: str
    """Who published the figure: ``Ember`` (a country), ``Google Cloud`` (Google's own figure
    for one of its regions), or ``Ember (<ISO country>)`` for a region priced with its
    country's grid."""
    year: int
    """The year the figure averages."""
    location: str
    """Where the zone is, in words (city and country for a cloud region)."""

    @property
    def cited(self) -> str:
        """Source and year as stored with every priced document, e.g. ``Ember (SE) 2023``."""
        return f"{self.source} {self.year}"

    @property
    def label(self) -> str:
        return f"{self.zone}: {self.intensity_g_per_kwh:,.0f} g CO2e/kWh ({self.cited})"


def load(path: Path | None = None) -> dict[str, Intensity]:
    """The table by zone, from ``path`` or the package's own file.

    Raises ``ValueError`` naming the file and line for a malformed row, a repeated zone or a
    table without its ``WORLD`` row.
    """
    if path is None:
        with resources.files(__package__).joinpath(TABLE).open(encoding="utf-8") as f:
            return _parse(f, TABLE)
    with open(path, encoding="utf-8") as f:
        return _parse(f, str(path))


def _parse(lines: Iterable[str], name: str) -> dict[str, Intensity]:
    # Line numbers count the attribution lines too, so that an error points at the file's line.
    numbered = ((n, line) for n, line in enumerate(lines, 1) if not line.startswith("#"))
    first = next(numbered, None)
    header = next(csv.reader([first[1]])) if first else []
    if tuple(header) != COLUMNS:
        raise ValueError(f"{name}: expected the columns {','.join(COLUMNS)}, found {header}")
    table: dict[str, Intensity] = {}
    for number, line in numbered:
        row = _row(next(csv.reader([line]), []), f"{name} line {number}")
        if row.zone in table:
            raise ValueError(f"{name} line {number}: zone {row.zone!r} is listed twice")
        table[row.zone] = row
    if WORLD not in table:
        raise ValueError(f"{name} has no {WORLD} row (the fallback for unknown regions)")
    return table


def _row(cells: list[str], where: str) -> Intensity:
    if len(cells) != len(COLUMNS) or not all(cell.strip() for cell in cells[:4]):
        raise ValueError(f"{where}: expected {len(COLUMNS)} cells, zone to year not empty")
    zone, intensity, source, year, location = cells
    try:
        intensity_g_per_kwh = float(intensity)
    except ValueError:
        intensity_g_per_kwh = math.nan
    if not (intensity_g_per_kwh >= 0.0 and math.isfinite(intensity_g_per_kwh)):
        raise ValueError(f"{where}: intensity {intensity!r} is not a finite number ≥ 0 g/kWh")
    if not (year.isascii() and year.isdigit() and int(year) > 0):
        raise ValueError(f"{where}: year {year!r} is not a year")
    return Intensity(zone, intensity_g_per_kwh, source, int(year), location)
