"""The opt-in local result: one CSV row per run, with CodeCarbon's ``emissions.csv`` columns.

Set JOULESTREAM_CSV (``settings.EmitterSettings.csv_path``) and every run a ``Tracker`` stops
appends a row, so a CodeCarbon user finds the file they know. The columns are CodeCarbon 3.3.2's
(``codecarbon/output_methods/emissions_data.py``, ``EmissionsData``), in its order, where the
meaning is the same, then joulestream's own. As in CodeCarbon, the energies (kWh) include the
PUE and the powers (W) do not; ``emissions`` is kg CO2e. Differences, documented in
emitter/README.md: ``timestamp`` is UTC; powers are the run's mean (CodeCarbon's: the last
sample); ``country_iso_code`` is ISO 3166-1 alpha-2 (CodeCarbon's: alpha-3).

Writing never fails the run: a file whose header is not these columns is left alone, and any
error is logged as a warning.
"""

import csv
import logging
import platform
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from joulestream.events import GpuDevice
from joulestream.schemas.pricing import J_PER_KWH
from joulestream.summary import RunSummary

log = logging.getLogger(__name__)

CODECARBON_COLUMNS = (
    "timestamp",
    "project_name",
    "run_id",
    "duration",
    "emissions",
    "emissions_rate",
    "cpu_power",
    "gpu_power",
    "ram_power",
    "cpu_energy",
    "gpu_energy",
    "ram_energy",
    "energy_consumed",
    "country_iso_code",
    "region",
    "cloud_provider",
    "cloud_region",
    "os",
    "python_version",
    "cpu_count",
    "cpu_model",
    "gpu_count",
    "gpu_model",
    "ram_total_size",
    "tracking_mode",
    "pue",
)
"""CodeCarbon's names, in its order, for the columns that mean the same here. Left out:
experiment_id, water_consumed, country_name, codecarbon_version, longitude, latitude, the
utilisation percentages, ram_used_gb, on_cloud and wue."""
OWN_COLUMNS = (
    "joulestream_version",
    "model",
    "user_id",
    "status",
    "intensity_g_per_kwh",
    "intensity_source",
    "cpu_method",
    "ram_method",
    "gpu_method",
)
COLUMNS = CODECARBON_COLUMNS + OWN_COLUMNS


@dataclass(frozen=True)
class RunRecord:
    """What the row says about a run besides its priced energy."""

    project: str
    model: str
    user_id: str
    status: str
    start_ms: int
    end_ms: int
    cpu_count: int
    cpu_model: str | None
    ram_gb: float
    gpus: Sequence[GpuDevice]
    tracking_mode: str
    """``machine``, or ``process`` for a process tree (``track``, ``pid=``)."""
    methods: dict[str, str]


def row(summary: RunSummary, record: RunRecord) -> dict[str, str]:
    """The CSV row of a run (every value as text, as the file holds it)."""
    duration_s = max(0, record.end_ms - record.start_ms) / 1000
    energy_j = {c: summary.energy_j.get(c, 0.0) for c in ("cpu", "gpu", "ram")}
    emissions_kg = summary.co2e_g / 1000
    provider, _, cloud_region = summary.region.partition(":")
    is_cloud = bool(cloud_region)
    models = Counter(gpu.model for gpu in record.gpus)
    values: dict[str, object] = {
        "timestamp": datetime.fromtimestamp(record.end_ms / 1000, timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S"
        ),
        "project_name": record.project,
        "run_id": summary.run_id,
        "duration": duration_s,
        "emissions": emissions_kg,
        "emissions_rate": emissions_kg / duration_s if duration_s else 0.0,
        **{f"{c}_power": energy_j[c] / duration_s if duration_s else 0.0 for c in energy_j},
        **{f"{c}_energy": energy_j[c] * summary.pue / J_PER_KWH for c in energy_j},
        "energy_consumed": sum(energy_j.values()) * summary.pue / J_PER_KWH,
        "country_iso_code": "" if is_cloud or summary.region == "WORLD" else summary.region,
        "region": "",
        "cloud_provider": provider if is_cloud else "",
        "cloud_region": cloud_region,
        "os": platform.platform(),
        "python_version": platform.python_version(),
        "cpu_count": record.cpu_count,
        "cpu_model": record.cpu_model or "",
        "gpu_count": len(record.gpus),
        "gpu_model": ", ".join(f"{n} x {m}" for m, n in sorted(models.items())),
        "ram_total_size": record.ram_gb,
        "tracking_mode": record.tracking_mode,
        "pue": summary.pue,
        "joulestream_version": _version(),
        "model": record.model,
        "user_id": record.user_id,
        "status": record.status,
        "intensity_g_per_kwh": summary.intensity_g_per_kwh,
        "intensity_source": summary.intensity_source,
        "cpu_method": record.methods.get("cpu", ""),
        "ram_method": record.methods.get("ram", ""),
        "gpu_method": record.methods.get("gpu", ""),
    }
    return {column: str(values[column]) for column in COLUMNS}


def append(path: Path, values: dict[str, str]) -> bool:
    """Append a row to ``path``, with the header if the file is new or empty; False (and a
    warning) when the file has another header or cannot be written."""
    try:
        fresh = not path.exists() or path.stat().st_size == 0
        if not fresh:
            with path.open(newline="") as existing:
                header = next(csv.reader(existing), [])
            if tuple(header) != COLUMNS:
                log.warning(
                    "not writing the run's row to %s: its header is not joulestream's columns "
                    "(an older file, or CodeCarbon's own); move it aside or set JOULESTREAM_CSV",
                    path,
                )
                return False
        with path.open("a", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=COLUMNS)
            if fresh:
                writer.writeheader()
            writer.writerow(values)
        return True
    except OSError as exc:
        log.warning("could not write the run's row to %s: %s", path, exc)
        return False


def _version() -> str:
    try:
        return metadata.version("joulestream")
    except metadata.PackageNotFoundError:
        return "unknown"
