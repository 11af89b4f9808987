"""The reference's own pricing: the intensity table read straight from its CSV file, and the
precedence rules written from ``docs/documents.md`` ("Pricing") and ``docs/carbon-data.md``.

Nothing here comes from the job's code (``flink_jobs/carbon.py``) or from the table's loader
(``schemas/intensity.py``): a pricing bug in either must make the integration tests fail, not be
reproduced by the reference. ``tests/test_reference_pricing.py`` checks that both agree.

Intensity of a run: the one in its ``run_started`` event (source ``run_started event``); else
the table's row for its region, spelled as the table spells zones (a country by its ISO 3166-1
alpha-2 code, ``FR``; a cloud region as ``provider:region``, ``aws:us-east-1``), source "<source>
<year>"; else the ``WORLD`` row, flagged as a fallback. ``WORLD`` is the fallback, not a zone a
run is in: a run that names it is flagged too.

PUE of a run: the one in its ``run_started`` event; else the configured one
(``JOULESTREAM_PUE``, ``aws=1.15,gcp:europe-north1=1.09``) of its region; else of its provider,
the part of the region before the first colon (a country is its own provider); else 1.0.

CO2e: ``energy_j * pue * intensity_g_per_kwh / 3_600_000`` grams, in that order.
"""

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TABLE_CSV = Path(__file__).resolve().parent.parent / "schemas" / "carbon_intensity.csv"
WORLD = "WORLD"
EVENT_SOURCE = "run_started event"
J_PER_KWH = 3_600_000.0


@dataclass(frozen=True)
class Figure:
    intensity_g_per_kwh: float
    source: str
    """Source and year, as stored in ``intensity_source``: ``Ember (SE) 2023``."""


def read_table(path: Path = TABLE_CSV) -> dict[str, Figure]:
    """Each zone's figure; ``#`` lines are the file's attribution."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    table = {
        row["zone"]: Figure(float(row["intensity_g_per_kwh"]), f"{row['source']} {row['year']}")
        for row in rows
    }
    if len(table) != len(rows) or WORLD not in table:
        raise ValueError(f"{path}: a zone listed twice, or no {WORLD} row")
    return table


def read_pue(setting: str) -> dict[str, float]:
    """``JOULESTREAM_PUE``: comma-separated ``<provider or region>=<PUE>``."""
    pue: dict[str, float] = {}
    for item in setting.split(","):
        if item.strip():
            key, value = item.split("=")
            pue[key.strip()] = float(value)
    return pue


def co2e_g(energy_j: float, pue: float, intensity_g_per_kwh: float) -> float:
    return energy_j * pue * intensity_g_per_kwh / J_PER_KWH


@dataclass(frozen=True)
class ReferencePricing:
    """The table and the configured PUEs (none unless the job under test is given some)."""

    table: Mapping[str, Figure] = field(default_factory=read_table)
    pue_by_key: Mapping[str, float] = field(default_factory=dict)

    def intensity(self, region: str, from_event: float | None) -> tuple[float, str, bool]:
        """(g CO2e per kWh, its source, whether it is the world fallback)."""
        if from_event is not None:
            return from_event, EVENT_SOURCE, False
        if region != WORLD and region in self.table:
            figure = self.table[region]
            return figure.intensity_g_per_kwh, figure.source, False
        world = self.table[WORLD]
        return world.intensity_g_per_kwh, world.source, True

    def pue(self, region: str, from_event: float | None) -> float:
        if from_event is not None:
            return from_event
        provider = region.split(":", 1)[0]
        for key in (region, provider):
            if key in self.pue_by_key:
                return self.pue_by_key[key]
        return 1.0

    def price(
        self, region: str, intensity_from_event: float | None, pue_from_event: float | None
    ) -> dict[str, Any]:
        """The priced documents' four pricing fields."""
        intensity, source, fallback = self.intensity(region, intensity_from_event)
        return {
            "pue": self.pue(region, pue_from_event),
            "intensity_g_per_kwh": intensity,
            "intensity_source": source,
            "intensity_fallback": fallback,
        }


@dataclass(frozen=True)
class GridFigure:
    """One period of a zone's grid series, as its latest publication gives it."""

    start_ms: int
    end_ms: int
    intensity_g_per_kwh: float
    source: str
    published_at_ms: int


@dataclass(frozen=True)
class GridSeries:
    """The zones' grid series, written from ``docs/carbon-data.md``: for one zone, kind and
    period start the latest publication is the figure; a time is priced by the period that
    contains it with the latest publication, and of those the one that starts last. Only the
    records of ``kind`` count."""

    periods: Mapping[str, list[GridFigure]] = field(default_factory=dict)

    @staticmethod
    def of(records: Iterable[Mapping[str, Any]], kind: str = "average") -> "GridSeries":
        """From ``grid.intensity`` records (dicts of the Avro fields), in any order."""
        latest: dict[tuple[str, int], GridFigure] = {}
        for r in records:
            if r["kind"] != kind:
                continue
            key = (r["zone"], r["start_ms"])
            figure = GridFigure(
                r["start_ms"], r["end_ms"], r["intensity_g_per_kwh"], r["source"],
                r["published_at_ms"],
            )  # fmt: skip
            if key not in latest or figure.published_at_ms >= latest[key].published_at_ms:
                latest[key] = figure
        periods: dict[str, list[GridFigure]] = {}
        for (zone, _), figure in latest.items():
            periods.setdefault(zone, []).append(figure)
        return GridSeries(periods)

    def at(self, zone: str, ts_ms: int) -> GridFigure | None:
        containing = [p for p in self.periods.get(zone, []) if p.start_ms <= ts_ms < p.end_ms]
        if not containing:
            return None
        return max(containing, key=lambda p: (p.published_at_ms, p.start_ms))
