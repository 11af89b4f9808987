"""CPU energy estimated from utilisation and the CPU's TDP, where RAPL cannot be read.

The model (method ``tdp_model``, an estimate) is linear between an idle floor and the TDP::

    power_w = tdp_w * packages * (IDLE_SHARE * floor_share + (1 - IDLE_SHARE) * u)

where ``u`` in [0, 1] is the tracked scope's busy CPU-seconds per second over the host's
``host_cpus`` logical CPUs (the CPUs the TDP covers), and ``floor_share`` is the part of the
packages' idle floor charged to the scope: 1 for the whole machine; for a process tree, its share
of the machine's busy CPU time over the interval (all of it when nothing at all ran), so that
runs sharing a host share its floor instead of each paying all of it. Integrated over an
interval of ``elapsed_s`` seconds in which the scope was busy ``busy_cpu_s`` CPU-seconds::

    energy_j = tdp_w * packages
               * (IDLE_SHARE * floor_share * elapsed_s + (1 - IDLE_SHARE) * busy_cpu_s / host_cpus)

The energy comes from cumulative counters, so it is exact for the model whatever the sampling
interval. TDP is a thermal envelope, not a measurement: figures from this model are estimates and
named so. Sources of the constants:

- TDP: ``data/cpu_tdp.csv``, the vendor's specification page named on every row; every row but
  one has the same figure in CodeCarbon 3.3.2's ``data/hardware/cpu_power.csv`` (the Core
  i9-12900K, not there, is Intel's Processor Base Power). A CPU model not in it:
  ``DEFAULT_W_PER_THREAD`` = 4 W per logical CPU of the host, CodeCarbon 3.3.2's rule for a CPU
  it does not know (``DEFAULT_POWER_PER_CORE = 4`` in ``codecarbon/core/cpu.py``, multiplied by
  the thread count in ``TDP._main``). CodeCarbon uses 85 W (``POWER_CONSTANT`` in
  ``codecarbon/external/hardware.py``) only when it cannot read a model name at all, or psutil
  is missing; this model always knows the thread count, so it keeps 4 W per thread.
- ``IDLE_SHARE`` = 0.1: CodeCarbon 3.3.2's floor, "Minimum power consumption is 10% of TDP"
  (``CPU._calculate_power_from_cpu_load``, ``codecarbon/external/hardware.py``), the same 0.1
  its machine mode adds in ``_get_power_from_cpu_load``.
- The linear shape between floor and TDP is not fitted to a profile measured here. It lies
  between the two curves CodeCarbon 3.3.2 carries, share of TDP at u = 0.25 / 0.5 / 0.75:
  its machine mode, ``0.1 + 0.9 u^3`` (0.11 / 0.21 / 0.48, ``CPU._get_power_from_cpu_load``),
  and its piecewise Threadripper curve (``CPU._calculate_power_from_cpu_load_treadripper``,
  0.32 / 0.95 / 0.96; the code names no measured profile or machine behind it, and neither it nor
  ``_calculate_power_from_cpu_load`` is called anywhere in 3.3.2); this model gives 0.33 / 0.55 /
  0.78. Package power under RAPL rises faster than linear at low load (turbo, uncore) and
  flattens near TDP, as the Threadripper curve does; the linear model under-counts mid loads
  against it and over-counts against the cubic curve. CodeCarbon's process mode charges
  ``TDP x u`` with no floor at all.
"""

import csv
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from joulestream.meters.base import CpuMeter
from joulestream.meters.load import CpuLoad

METHOD = "tdp_model"
IDLE_SHARE = 0.1
"""Share of TDP a package draws at zero utilisation: CodeCarbon 3.3.2's 10 % floor (module
docstring). A model constant, not a measurement."""
DEFAULT_W_PER_THREAD = 4.0
"""TDP assumed per logical CPU of the host for a CPU model not in the table: CodeCarbon 3.3.2's
``DEFAULT_POWER_PER_CORE`` (``codecarbon/core/cpu.py``), applied per thread as it does."""
TABLE = Path(__file__).parent / "data" / "cpu_tdp.csv"
_NOISE = re.compile(r"\((r|tm)\)|\bcpu\b|\bprocessor\b|@.*$")


@dataclass(frozen=True, slots=True)
class Tdp:
    """The TDP used for a CPU model, and where the figure comes from."""

    tdp_w: float
    """Watts per package."""
    source: str
    known: bool
    """False when the model is not in the table and ``DEFAULT_W_PER_THREAD`` is used."""


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


def lookup(cpu_model: str | None, host_cpus: int = 1, packages: int = 1, path: Path = TABLE) -> Tdp:
    """The TDP per package of a CPU model: the table's row whose name is in the model name
    (longest first, so 'xeon gold 6248r' is not taken for 'xeon gold 6248' when both are
    listed), else ``DEFAULT_W_PER_THREAD`` x ``host_cpus`` logical CPUs over ``packages``."""
    name = normalise(cpu_model or "")
    for key in sorted(_table(path), key=len, reverse=True):
        if re.search(rf"(^|\s){re.escape(key)}($|\s)", name):
            return _table(path)[key]
    return Tdp(
        DEFAULT_W_PER_THREAD * host_cpus / packages,
        f"{DEFAULT_W_PER_THREAD:g} W x {host_cpus} logical CPUs, CodeCarbon's rule for a CPU "
        f"model it does not know (not in {TABLE.name})",
        known=False,
    )


def model_energy_j(
    tdp_w: float,
    packages: int,
    elapsed_s: float,
    busy_cpu_s: float,
    host_cpus: int,
    floor_share: float = 1.0,
) -> float:
    """The model's energy over an interval (the formula in the module docstring)."""
    return (
        tdp_w
        * packages
        * (IDLE_SHARE * floor_share * elapsed_s + (1 - IDLE_SHARE) * busy_cpu_s / host_cpus)
    )


class TdpModelCpuMeter(CpuMeter):
    """CPU energy estimated from utilisation and TDP (method ``tdp_model``)."""

    method = METHOD

    def __init__(
        self,
        load: CpuLoad,
        tdp: Tdp,
        packages: int = 1,
        clock: Callable[[], float] = time.monotonic,
        *,
        host_cpus: int | None = None,
        machine: CpuLoad | None = None,
    ) -> None:
        """``host_cpus``: the logical CPUs the TDP covers (default ``load.cpu_count``);
        ``machine``: the whole machine's load, when ``load`` is a process tree, to share the
        idle floor (without it the scope pays the whole floor)."""
        self.load = load
        self.tdp = tdp
        self.packages = packages
        self.host_cpus = host_cpus or load.cpu_count
        self.machine = machine
        self._clock = clock
        self._busy_s = load.busy_cpu_s()
        self._machine_s = machine.busy_cpu_s() if machine is not None else 0.0
        self._at_s = clock()
        self._energy_j = 0.0

    def energy_j(self) -> float:
        busy_s, at_s = self.load.busy_cpu_s(), self._clock()
        busy_delta_s = max(0.0, busy_s - self._busy_s)
        floor_share = 1.0
        if self.machine is not None:
            machine_s = self.machine.busy_cpu_s()
            machine_delta_s = machine_s - self._machine_s
            # Nothing ran at all: the floor is the tracked run's (the host is on for it).
            if machine_delta_s > 0:
                floor_share = min(1.0, busy_delta_s / machine_delta_s)
            self._machine_s = machine_s
        self._energy_j += model_energy_j(
            self.tdp.tdp_w,
            self.packages,
            max(0.0, at_s - self._at_s),
            busy_delta_s,
            self.host_cpus,
            floor_share,
        )
        self._busy_s, self._at_s = busy_s, at_s
        return self._energy_j

    def describe(self) -> str:
        floor = (
            "shared by CPU time with the rest of the machine"
            if self.machine is not None
            else "all charged"
        )
        return (
            f"CPU: estimate (tdp_model) from {self.load.scope} utilisation on "
            f"{self.host_cpus} CPUs, TDP {self.tdp.tdp_w:g} W x {self.packages} package(s) "
            f"({self.tdp.source}), idle floor {IDLE_SHARE:.0%} of TDP, {floor}"
        )
