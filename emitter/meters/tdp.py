"""CPU energy estimated from utilisation and the CPU's TDP, where RAPL cannot be read.

The model (method ``tdp_model``, an estimate) is linear between an idle floor and the TDP::

    power_w(u) = tdp_w * packages * (IDLE_SHARE + (1 - IDLE_SHARE) * u)

where ``u`` in [0, 1] is the mean utilisation of the tracked scope (machine or process tree).
Integrated over an interval of ``elapsed_s`` seconds in which the scope was busy for
``busy_cpu_s`` CPU-seconds on ``cpu_count`` CPUs (so ``u = busy_cpu_s / (elapsed_s *
cpu_count)``)::

    energy_j = tdp_w * packages
               * (IDLE_SHARE * elapsed_s + (1 - IDLE_SHARE) * busy_cpu_s / cpu_count)

The energy comes from cumulative counters, so it is exact for the model whatever the sampling
interval. Constants: ``IDLE_SHARE = 0.1`` (a package at idle draws a small share of its TDP; the
floor keeps an idle but powered CPU from counting as free); ``DEFAULT_TDP_W = 85`` for a CPU model
not in ``data/cpu_tdp.csv`` (the fallback CodeCarbon uses for an unknown CPU). TDP is a thermal
envelope, not a measurement: figures from this model are estimates and named so.
"""

import csv
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from emitter.meters.base import CpuMeter
from emitter.meters.load import CpuLoad

METHOD = "tdp_model"
IDLE_SHARE = 0.1
"""Share of TDP a package draws at zero utilisation (a model constant, not a measurement)."""
DEFAULT_TDP_W = 85.0
"""TDP assumed for a CPU model not in the table, watts per package."""
TABLE = Path(__file__).parent / "data" / "cpu_tdp.csv"
_NOISE = re.compile(r"\((r|tm)\)|\bcpu\b|\bprocessor\b|@.*$")


@dataclass(frozen=True, slots=True)
class Tdp:
    """The TDP used for a CPU model, and where the figure comes from."""

    tdp_w: float
    """Watts per package."""
    source: str
    known: bool
    """False when the model is not in the table and DEFAULT_TDP_W is used."""


def normalise(model: str) -> str:
    """A CPU model name as the table is matched: lower case, no marks, no clock suffix."""
    return " ".join(_NOISE.sub(" ", model.lower()).split())


@cache
def _table(path: Path = TABLE) -> dict[str, Tdp]:
    with path.open(newline="") as file:
        lines = (line for line in file if not line.startswith("#"))
        return {
            normalise(row["model"]): Tdp(float(row["tdp_w"]), row["source"], known=True)
            for row in csv.DictReader(lines)
        }


def lookup(cpu_model: str | None, path: Path = TABLE) -> Tdp:
    """The TDP of a CPU model: the table's row whose name is in the model name (longest
    first, so 'xeon gold 6248r' is not taken for 'xeon gold 6248' when both are listed), else
    DEFAULT_TDP_W."""
    name = normalise(cpu_model or "")
    for key in sorted(_table(path), key=len, reverse=True):
        if re.search(rf"(^|\s){re.escape(key)}($|\s)", name):
            return _table(path)[key]
    return Tdp(DEFAULT_TDP_W, f"default for a CPU model not in {TABLE.name}", known=False)


def model_energy_j(
    tdp_w: float, packages: int, elapsed_s: float, busy_cpu_s: float, cpu_count: int
) -> float:
    """The model's energy over an interval (the formula in the module docstring)."""
    return tdp_w * packages * (IDLE_SHARE * elapsed_s + (1 - IDLE_SHARE) * busy_cpu_s / cpu_count)


class TdpModelCpuMeter(CpuMeter):
    """CPU energy estimated from utilisation and TDP (method ``tdp_model``)."""

    method = METHOD

    def __init__(
        self,
        load: CpuLoad,
        tdp: Tdp,
        packages: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.load = load
        self.tdp = tdp
        self.packages = packages
        self._clock = clock
        self._busy_s = load.busy_cpu_s()
        self._at_s = clock()
        self._energy_j = 0.0

    def energy_j(self) -> float:
        busy_s, at_s = self.load.busy_cpu_s(), self._clock()
        self._energy_j += model_energy_j(
            self.tdp.tdp_w,
            self.packages,
            max(0.0, at_s - self._at_s),
            max(0.0, busy_s - self._busy_s),
            self.load.cpu_count,
        )
        self._busy_s, self._at_s = busy_s, at_s
        return self._energy_j

    def describe(self) -> str:
        return (
            f"CPU: estimate (tdp_model) from {self.load.scope} utilisation on "
            f"{self.load.cpu_count} CPUs, TDP {self.tdp.tdp_w:g} W x {self.packages} package(s) "
            f"({self.tdp.source}), idle floor {IDLE_SHARE:.0%} of TDP"
        )
