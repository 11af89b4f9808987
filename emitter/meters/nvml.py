"""NVIDIA GPU energy through NVML (``nvidia-ml-py``, the ``gpu`` extra).

Per device, the best method NVML offers:

- ``nvml_energy_counter``: ``nvmlDeviceGetTotalEnergyConsumption``, the driver's own
  millijoule counter (Volta and newer). Exact; nothing to sample.
- ``nvml_power_polling``: where that counter is not supported, ``nvmlDeviceGetPowerUsage``
  (milliwatts) read every ``POLL_INTERVAL_S`` by a background thread and integrated with the
  trapezoidal rule. Measured, but only as good as the sampling: flagged by its name.

Only the devices CUDA lets the process see are listed (``CUDA_VISIBLE_DEVICES``: indices or
``GPU-`` UUIDs, a prefix being enough, up to the first invalid entry as CUDA does; MIG
instances are not supported). Indices are mapped to NVML's order, the PCI bus order: set
``CUDA_DEVICE_ORDER=PCI_BUS_ID`` so that CUDA numbers devices the same way.
"""

import importlib
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any, cast

from joulestream.events import GpuDevice
from joulestream.meters.base import GpuMeter, GpuReading, MeterError, NvmlUnavailableError

log = logging.getLogger(__name__)

COUNTER = "nvml_energy_counter"
POLLING = "nvml_power_polling"
POLL_INTERVAL_S = 0.05
"""Power polling period: NVML refreshes power about every 20-100 ms depending on the board."""


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def visible_handles(nvml: Any, cuda_visible_devices: str | None) -> list[tuple[int, object]]:  # noqa: ANN401  (pynvml is untyped)
    """(index as CUDA numbers it, NVML handle) for each device the process can see."""
    count = int(nvml.nvmlDeviceGetCount())
    if cuda_visible_devices is None:
        return [(i, nvml.nvmlDeviceGetHandleByIndex(i)) for i in range(count)]
    uuids = [
        _text(nvml.nvmlDeviceGetUUID(nvml.nvmlDeviceGetHandleByIndex(i))) for i in range(count)
    ]
    chosen: list[int] = []
    for entry in (e.strip() for e in cuda_visible_devices.split(",")):
        if entry.isdigit() and int(entry) < count:
            nvml_index = int(entry)
        elif entry.startswith("GPU-") and sum(u.startswith(entry) for u in uuids) == 1:
            nvml_index = next(i for i, u in enumerate(uuids) if u.startswith(entry))
        else:
            break  # CUDA ignores this entry and every one after it
        if nvml_index in chosen:
            break  # a repeated device is invalid to CUDA too
        chosen.append(nvml_index)
    return [(cuda_index, nvml.nvmlDeviceGetHandleByIndex(n)) for cuda_index, n in enumerate(chosen)]


class _PowerIntegrator:
    """Trapezoidal integral of one device's power, sampled on demand."""

    def __init__(self, read_power_w: Callable[[], float], clock: Callable[[], float]) -> None:
        self._read_power_w = read_power_w
        self._clock = clock
        self._lock = threading.Lock()
        self._last = (clock(), read_power_w())
        self.energy_j = 0.0

    def sample(self) -> float:
        with self._lock:
            now_s, power_w = self._clock(), self._read_power_w()
            then_s, then_w = self._last
            self.energy_j += (now_s - then_s) * (power_w + then_w) / 2
            self._last = (now_s, power_w)
            return self.energy_j


class NvmlGpuMeter(GpuMeter):
    """Energy of each visible NVIDIA GPU: the energy counter, or power polling where the
    counter is not supported."""

    def __init__(
        self,
        nvml: object = None,
        cuda_visible_devices: str | None = None,
        poll_interval_s: float = POLL_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if nvml is None:
            try:
                # Imported by name: the optional `gpu` extra, absent from the images.
                nvml = importlib.import_module("pynvml")
            except ImportError as exc:
                raise NvmlUnavailableError(
                    "nvidia-ml-py is not installed (pip install 'joulestream[gpu]')"
                ) from exc
        # pynvml is untyped; tests pass a stand-in module here.
        self._nvml: Any = cast(Any, nvml)
        try:
            self._nvml.nvmlInit()
        except Exception as exc:  # NVMLError: no driver, no library
            raise NvmlUnavailableError(f"NVML did not start: {exc}") from exc
        if cuda_visible_devices is None:
            cuda_visible_devices = os.environ.get("CUDA_VISIBLE_DEVICES")
        try:
            self._handles = visible_handles(self._nvml, cuda_visible_devices)
            self._devices = tuple(self._device(i, h) for i, h in self._handles)
        except Exception as exc:
            self._nvml.nvmlShutdown()
            raise NvmlUnavailableError(f"NVML could not list the devices: {exc}") from exc
        if not self._handles:
            self._nvml.nvmlShutdown()
            raise NvmlUnavailableError(
                f"no visible NVIDIA device (CUDA_VISIBLE_DEVICES={cuda_visible_devices!r})"
            )
        self._start_mj: dict[int, int] = {}
        self._polled: dict[int, _PowerIntegrator] = {}
        for index, handle in self._handles:
            try:
                self._start_mj[index] = int(self._nvml.nvmlDeviceGetTotalEnergyConsumption(handle))
            except Exception:  # NVMLError_NotSupported before Volta
                self._polled[index] = _PowerIntegrator(self._power_reader(handle), clock)
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        if self._polled:
            self._poller = threading.Thread(
                target=self._poll, args=(poll_interval_s,), name="joulestream-nvml", daemon=True
            )
            self._poller.start()

    def _device(self, index: int, handle: object) -> GpuDevice:
        try:
            max_power_w: float | None = self._nvml.nvmlDeviceGetPowerManagementLimit(handle) / 1e3
        except Exception:
            max_power_w = None
        return GpuDevice(
            index=index,
            uuid=_text(self._nvml.nvmlDeviceGetUUID(handle)),
            model=_text(self._nvml.nvmlDeviceGetName(handle)),
            max_power_w=max_power_w,
        )

    def _power_reader(self, handle: object) -> Callable[[], float]:
        return lambda: float(self._nvml.nvmlDeviceGetPowerUsage(handle)) / 1e3

    def _poll(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            for integrator in self._polled.values():
                try:
                    integrator.sample()
                except Exception:  # a failed sample only widens the next trapezoid
                    log.debug("NVML power sample failed", exc_info=True)

    def devices(self) -> tuple[GpuDevice, ...]:
        return self._devices

    def methods(self) -> dict[int, str]:
        """The method of each device index."""
        return {i: POLLING if i in self._polled else COUNTER for i, _ in self._handles}

    def _utilisation(self, handle: object) -> float | None:
        try:
            return float(self._nvml.nvmlDeviceGetUtilizationRates(handle).gpu) / 100
        except Exception:
            return None

    def read(self) -> tuple[GpuReading, ...]:
        """Raises ``MeterError`` when NVML fails (a driver error, a GPU fallen off the bus)."""
        readings = []
        for index, handle in self._handles:
            try:
                if index in self._polled:
                    energy_j, method = self._polled[index].sample(), POLLING
                else:
                    now_mj = int(self._nvml.nvmlDeviceGetTotalEnergyConsumption(handle))
                    energy_j, method = (now_mj - self._start_mj[index]) / 1e3, COUNTER
            except Exception as exc:  # NVMLError and its many subclasses
                raise MeterError(f"NVML could not read GPU {index}: {exc}") from exc
            readings.append(GpuReading(index, energy_j, method, self._utilisation(handle)))
        return tuple(readings)

    def describe(self) -> str:
        methods = self.methods()
        parts = [f"{d.index}: {d.model} ({methods[d.index]})" for d in self._devices]
        return f"GPU: measured through NVML, {len(parts)} device(s): " + "; ".join(parts)

    def close(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(1.0)
        try:
            self._nvml.nvmlShutdown()
        except Exception:  # already shut down, or the driver went away: nothing to release
            return
