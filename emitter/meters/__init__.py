"""Energy meters: RAPL, NVML, and the TDP and RAM models where those cannot be read.

See ``base.py`` for the interfaces and errors, ``select.py`` for the automatic choice.
"""

from joulestream.meters.base import (
    CpuMeter,
    GpuMeter,
    GpuReading,
    MeterError,
    NoGpuMeter,
    NvmlUnavailableError,
    RamMeter,
    RaplPermissionError,
    RaplUnavailableError,
    UnknownMeterError,
    is_estimate,
)
from joulestream.meters.select import Meters, select_meters

__all__ = [
    "CpuMeter",
    "GpuMeter",
    "GpuReading",
    "MeterError",
    "Meters",
    "NoGpuMeter",
    "NvmlUnavailableError",
    "RamMeter",
    "RaplPermissionError",
    "RaplUnavailableError",
    "UnknownMeterError",
    "is_estimate",
    "select_meters",
]
