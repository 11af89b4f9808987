"""GPU energy estimated at a constant power per device, where NVML stopped answering.

The model (method ``gpu_model``, an estimate) is only a fallback: the tracker switches a GPU
meter to it after repeated failed reads. Each device is charged, from the moment of its last good
read, the mean power NVML measured for it over the run until then (training holds a GPU's power
steady over minutes, so the run's own past is the best figure at hand); a device with nothing
measured yet is charged its power limit (``nvmlDeviceGetPowerManagementLimit``, the board's
vendor setting, an upper bound of its mean power), and one without either is charged nothing.
There is no model constant to source: both figures come from the device.
"""

import time
from collections.abc import Callable, Mapping

from joulestream.events import GpuDevice
from joulestream.meters.base import GpuMeter, GpuReading

METHOD = "gpu_model"


class GpuModelMeter(GpuMeter):
    """Constant power per device from ``start_s`` on (method ``gpu_model``)."""

    def __init__(
        self,
        devices: tuple[GpuDevice, ...],
        power_w: Mapping[int, float],
        start_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._devices = devices
        self.power_w = {d.index: max(0.0, power_w.get(d.index, 0.0)) for d in devices}
        self._start_s = start_s
        self._clock = clock

    def devices(self) -> tuple[GpuDevice, ...]:
        return self._devices

    def read(self) -> tuple[GpuReading, ...]:
        elapsed_s = max(0.0, self._clock() - self._start_s)
        return tuple(
            GpuReading(d.index, self.power_w[d.index] * elapsed_s, METHOD, None)
            for d in self._devices
        )

    def describe(self) -> str:
        parts = [f"{i}: {w:.1f} W" for i, w in self.power_w.items()]
        return "GPU: estimate (gpu_model), constant power per device: " + "; ".join(parts)


def fallback_power_w(
    devices: tuple[GpuDevice, ...], measured_j: Mapping[int, float], measured_s: float
) -> dict[int, float]:
    """Each device's mean measured power over ``measured_s`` seconds, else its power limit,
    else 0 (module docstring)."""
    power_w = {}
    for device in devices:
        energy_j = measured_j.get(device.index, 0.0)
        if measured_s > 0 and energy_j > 0:
            power_w[device.index] = energy_j / measured_s
        else:
            power_w[device.index] = device.max_power_w or 0.0
    return power_w
