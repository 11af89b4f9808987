"""A component counted at a power the user gives (method ``forced_power_model``).

CodeCarbon's ``force_cpu_power`` and ``force_ram_power``: where a site knows its hardware's draw
better than any model here (a measured wall-socket figure, a vendor's sizing), the CPU or the RAM
is counted at that constant power for the run's whole duration. It is an estimate like the
models, so its method ends in ``_model``; set with JOULESTREAM_CPU_POWER_W and
JOULESTREAM_RAM_POWER_W (``settings.EmitterSettings``).
"""

import time
from collections.abc import Callable

from joulestream.meters.base import CpuMeter, RamMeter

METHOD = "forced_power_model"


class _ForcedPower:
    method = METHOD
    component = ""

    def __init__(self, power_w: float, clock: Callable[[], float] = time.monotonic) -> None:
        if not power_w >= 0:
            raise ValueError(f"a forced power must be >= 0 W, got {power_w!r}")
        self.power_w = power_w
        self._clock = clock
        self._start_s = clock()

    def energy_j(self) -> float:
        return self.power_w * max(0.0, self._clock() - self._start_s)

    def describe(self) -> str:
        return f"{self.component}: estimate (forced_power_model), {self.power_w:g} W as configured"


class ForcedPowerCpuMeter(_ForcedPower, CpuMeter):
    component = "CPU"


class ForcedPowerRamMeter(_ForcedPower, RamMeter):
    component = "RAM"
