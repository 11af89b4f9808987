"""DRAM energy estimated from the installed memory, where RAPL has no dram domain.

The model (method ``ram_model``, an estimate) charges a constant power per GiB installed::

    power_w = RAM_W_PER_GIB * ram_gib        energy_j = power_w * elapsed_s

``RAM_W_PER_GIB = 0.375``: about 3 W per 8 GiB of DDR3 or DDR4, the figure Crucial's
support article "How much power does memory use?" gives (CodeCarbon uses the same rule). DRAM
power depends little on how much of it is in use, so the whole installed memory is charged,
whatever the scope of the tracker.
"""

import time
from collections.abc import Callable

from emitter.meters.base import RamMeter

METHOD = "ram_model"
RAM_W_PER_GIB = 3.0 / 8.0
"""Watts per GiB of installed DRAM (a model constant, not a measurement)."""


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
