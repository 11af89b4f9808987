"""Carbon pricing: the shared intensity table, PUE settings, and their SQL.

A run is priced with, in order of precedence: the intensity in its ``run_started`` event, the
table's figure for its region (``schemas/carbon_intensity.csv``, read by ``schemas.intensity``),
or the table's ``WORLD`` figure, flagged as a fallback. Its PUE is the one in ``run_started``,
else the configured PUE of its region, else of its provider (the part of ``aws:us-east-1``
before the colon), else 1.0.

CO2e of an energy: ``energy_j * pue * intensity_g_per_kwh / 3_600_000`` grams, in this order of
operations everywhere (``schemas.pricing``: the job's SQL here is the same expression).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from joulestream.schemas import intensity
from joulestream.schemas.intensity import WORLD, Intensity
from joulestream.schemas.pricing import J_PER_KWH, co2e_g

__all__ = ["J_PER_KWH", "co2e_g"]
EVENT_SOURCE = "run_started event"


def load(path: Path | None = None) -> dict[str, Intensity]:
    """The intensity table by zone: the shared one, or the file at ``path`` (for tests)."""
    return intensity.load(path)


def parse_pue(text: str) -> dict[str, float]:
    """``"aws=1.15,gcp:europe-north1=1.09"`` → PUE per provider or region; each must be ≥ 1."""
    pue: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not sep or not key.strip() or not number >= 1.0:
            raise ValueError(f"PUE setting {item!r}: expected <provider or region>=<number ≥ 1>")
        pue[key.strip()] = number
    return pue


def _string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _double(value: float) -> str:
    return f"CAST({value!r} AS DOUBLE)"


def _map(entries: Mapping[str, str]) -> str:
    return "MAP[" + ", ".join(f"{_string(k)}, {v}" for k, v in entries.items()) + "]"


@dataclass(frozen=True)
class Pricing:
    """The intensity table and PUE settings, as Python lookups and as SQL expressions."""

    table: Mapping[str, Intensity]
    pue_by_key: Mapping[str, float]

    def intensity(self, region: str, from_event: float | None) -> tuple[float, str, bool]:
        """(g CO2e per kWh, source, fallback?) for a run."""
        if from_event is not None:
            return from_event, EVENT_SOURCE, False
        # WORLD is the fallback, not a region: a run that names it is flagged like an unknown one
        # (as fallback_sql does).
        row = self.table.get(region) if region != WORLD else None
        fallback = row is None
        row = row or self.table[WORLD]
        return row.intensity_g_per_kwh, row.cited, fallback

    def pue(self, region: str, from_event: float | None) -> float:
        if from_event is not None:
            return from_event
        provider = region.split(":")[0]
        return self.pue_by_key.get(region, self.pue_by_key.get(provider, 1.0))

    def intensity_sql(self, region: str, from_event: str) -> str:
        values = {k: _double(v.intensity_g_per_kwh) for k, v in self.table.items()}
        world = _double(self.table[WORLD].intensity_g_per_kwh)
        return f"COALESCE({from_event}, {_map(values)}[{region}], {world})"

    def source_sql(self, region: str, from_event: str) -> str:
        sources = {k: _string(v.cited) for k, v in self.table.items()}
        world = self.table[WORLD]
        return (
            f"CASE WHEN {from_event} IS NOT NULL THEN {_string(EVENT_SOURCE)} "
            f"ELSE COALESCE({_map(sources)}[{region}], "
            f"{_string(world.cited)}) END"
        )

    def fallback_sql(self, region: str, from_event: str) -> str:
        known = ", ".join(_string(k) for k in self.table if k != WORLD)
        return f"({from_event} IS NULL AND {region} NOT IN ({known}))"

    def pue_sql(self, region: str, from_event: str) -> str:
        options = [from_event]
        regions = {k: _double(v) for k, v in self.pue_by_key.items() if ":" in k}
        providers = {k: _double(v) for k, v in self.pue_by_key.items() if ":" not in k}
        if regions:
            options.append(f"{_map(regions)}[{region}]")
        if providers:
            options.append(f"{_map(providers)}[SPLIT_INDEX({region}, ':', 0)]")
        return f"COALESCE({', '.join(options)}, CAST(1.0 AS DOUBLE))"


def co2e_sql(energy_j: str, pue: str, intensity: str) -> str:
    return f"{energy_j} * {pue} * {intensity} / {_double(J_PER_KWH)}"
