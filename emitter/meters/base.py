"""What every energy meter is, and the errors meters raise.

Three device families, each an abstract base: ``CpuMeter`` (CPU packages), ``RamMeter``
(DRAM) and ``GpuMeter`` (one entry per GPU). A meter is a cumulative counter: ``energy_j()``
returns the joules used since the meter was created, never decreasing; the tracker takes
differences between two reads, so a meter never needs to know the tracker's interval.
``NoGpuMeter`` is the GPU meter of a host without GPUs, so callers never branch on "is there a
GPU".

Errors (catch ``MeterError`` for all of them)::

    MeterError                  a meter cannot be set up or read
    ├── RaplUnavailableError    no RAPL powercap tree, or no package domain in it
    ├── RaplPermissionError     RAPL is there but its counters are not readable (says the fix)
    ├── NvmlUnavailableError    no NVIDIA driver, no nvidia-ml-py, or no visible device
    └── UnknownMeterError       a meter name that does not exist was asked for
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass

from joulestream.events import GpuDevice

ESTIMATE_SUFFIX = "_model"
"""Every method name of an estimate ends with this, e.g. ``tdp_model``, ``ram_model``."""


def is_estimate(method: str) -> bool:
    """Whether a method name (``cpu_method``, ``ram_method``, ``gpus[].method``) is an
    estimate from a model rather than a measurement."""
    return method.endswith(ESTIMATE_SUFFIX)


class MeterError(Exception):
    """A meter cannot be set up or read."""


class RaplUnavailableError(MeterError):
    """This host exposes no RAPL powercap tree (not Intel/AMD, a VM, or no driver loaded)."""


class RaplPermissionError(MeterError):
    """RAPL counters exist but cannot be read by this user; the message says how to fix it."""


class NvmlUnavailableError(MeterError):
    """NVML cannot be used: no nvidia-ml-py, no driver, or no visible device."""


class UnknownMeterError(MeterError):
    """A meter was asked for by a name that does not exist."""


class EnergyMeter(ABC):
    """A cumulative energy counter for one component of the host."""

    method: str
    """Method name written into events (``cpu_method``, ``ram_method``); estimates end in
    ``_model``."""

    @abstractmethod
    def energy_j(self) -> float:
        """Joules used since the meter was created; never decreases."""

    @abstractmethod
    def describe(self) -> str:
        """One line for ``doctor``: what is measured, and how."""

    def close(self) -> None:  # noqa: B027  (most meters hold nothing to release)
        """Release what the meter holds (threads, library handles)."""


class CpuMeter(EnergyMeter):
    """Energy of the CPU packages."""


class RamMeter(EnergyMeter):
    """Energy of the DRAM."""


@dataclass(frozen=True, slots=True)
class GpuReading:
    """One GPU at one moment."""

    index: int
    """Device index as the trainer sees it (after ``CUDA_VISIBLE_DEVICES``)."""
    energy_j: float
    """Joules since the meter was created; never decreases."""
    method: str
    utilisation: float | None
    """Utilisation share in [0, 1] over the driver's last sample period; None if unknown."""


class GpuMeter(ABC):
    """Energy of the GPUs a run can see, one reading per device."""

    @abstractmethod
    def devices(self) -> tuple[GpuDevice, ...]:
        """The visible GPUs, in index order."""

    @abstractmethod
    def read(self) -> tuple[GpuReading, ...]:
        """One reading per device of ``devices()``, same order."""

    @abstractmethod
    def describe(self) -> str:
        """One line for ``doctor``: what is measured, and how."""

    def close(self) -> None:  # noqa: B027  (most meters hold nothing to release)
        """Release what the meter holds (threads, library handles)."""


class NoGpuMeter(GpuMeter):
    """The GPU meter of a host with no (visible, measurable) GPU: no devices, no readings."""

    def __init__(self, reason: str = "no GPU") -> None:
        self.reason = reason

    def devices(self) -> tuple[GpuDevice, ...]:
        return ()

    def read(self) -> tuple[GpuReading, ...]:
        return ()

    def describe(self) -> str:
        return f"GPU: none measured ({self.reason})"
