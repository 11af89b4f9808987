"""DRAM energy estimated from the installed memory, where RAPL has no dram domain.

The model (method ``ram_model``, an estimate) charges a constant power per GiB installed::

    power_w = RAM_W_PER_GIB * ram_gib        energy_j = power_w * elapsed_s

``RAM_W_PER_GIB = 0.375``: 3 W per 8 GB of DDR3 or DDR4, the rule CodeCarbon 2 applied and
CodeCarbon 3.3.2 still quotes as its "before V3 heuristic" (``RAM`` docstring in
``codecarbon/external/ram.py``), citing Crucial's support article "How much power does memory
use?". That article, as Crucial publishes it now, gives no figure per GB ("we do not advertise
specific power usage"), only 5 W per module as a rule of thumb for sizing a power supply. A
measurement agrees with the rule for DDR4-2133 under load: Tom's Hardware (Core i7-5960X review,
2014-08-29, "Measuring DDR4 Power Consumption") measured Crucial DDR4-2133 at 2.98 W for one
8 GB module, 5.94 W for two, 11.85 W for four (0.37 W per GB). The whole installed memory is
charged, whatever the tracker's scope: DRAM draws refresh and background power for every module
installed, used or not.

CodeCarbon 3 (3.3.2 here) charges 5 W per DIMM instead (``RAM_SLOT_POWER_X86`` in
``codecarbon/external/ram.py``, the figure of Crucial's rule of thumb; 1.5 W per DIMM on ARM),
with fewer watts per extra DIMM beyond 4, 8 and 16 (90 %, 80 %, 70 %), at least 10 W on x86,
and a DIMM count guessed from the memory size in GB (``RAM._estimate_dimm_count``: 1 up to 2 GB,
2 up to 16 GB, 4 up to 64 GB, 8 up to 128 GB; above, as many modules of the largest common size
(4 to 128 GB) no larger than an eighth of the total as hold it, so 8 to 15, at most 32). In its
process mode it applies that rule to the RSS of the process tree rather than to the installed
memory. Both are estimates; they differ most on large servers: 16 GiB, 6 W here against 10 W;
64 GiB, 24 W against 20 W; 512 GiB, 192 W against 38 W; 1 TiB, 384 W against 38 W. A module
draws a few watts whatever its size, so this rule over-estimates hosts of large modules and
CodeCarbon's under-estimates hosts of many; neither knows the module count (it takes root to
read).
"""

import time
from collections.abc import Callable

from joulestream.meters.base import RamMeter

METHOD = "ram_model"
RAM_W_PER_GIB = 3.0 / 8.0
"""Watts per GiB of installed DRAM: 3 W per 8 GB, CodeCarbon 2's rule, near a measured 0.37 W
per GB of DDR4-2133 (module docstring). A model constant, not a measurement."""


class RamModelMeter(RamMeter):
    """DRAM energy estimated from installed memory (method ``ram_model``)."""

    method = METHOD

    def __init__(self, ram_bytes: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ram_gib = ram_bytes / 2**30
        self.power_w = RAM_W_PER_GIB * self.ram_gib
        self._clock = clock
        self._start_s = clock()

    def energy_j(self) -> float:
        return self.power_w * max(0.0, self._clock() - self._start_s)

    def describe(self) -> str:
        return (
            f"RAM: estimate (ram_model), {RAM_W_PER_GIB:g} W/GiB x {self.ram_gib:.1f} GiB "
            f"installed = {self.power_w:.2f} W constant"
        )
