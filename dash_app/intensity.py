"""The carbon-intensity table the job prices with, read for the what-if on the run page.

It is the job's data file (``flink_jobs/data/carbon_intensity.csv``), read as data: the dashboard
imports no code of the job. The app image copies it to the same path.
"""

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DEFAULT_TABLE = (
    Path(__file__).resolve().parent.parent / "flink_jobs" / "data" / "carbon_intensity.csv"
)


@dataclass(frozen=True)
class Intensity:
    region: str
    intensity_g_per_kwh: float
    source: str
    year: int

    @property
    def label(self) -> str:
        return (
            f"{self.region}: {self.intensity_g_per_kwh:,.0f} g CO2e/kWh ({self.source} {self.year})"
        )


@cache
def table(path: str | None = None) -> dict[str, Intensity]:
    """Region → intensity; empty when the file is missing (the what-if then says so)."""
    location = Path(path) if path else DEFAULT_TABLE
    if not location.exists():
        return {}
    with open(location, encoding="utf-8") as f:
        rows = csv.DictReader(line for line in f if not line.startswith("#"))
        return {
            row["region"]: Intensity(
                row["region"], float(row["intensity_g_per_kwh"]), row["source"], int(row["year"])
            )
            for row in rows
        }
