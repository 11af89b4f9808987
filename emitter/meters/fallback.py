"""The estimate a measuring meter falls back to when its reads keep failing.

The tracker calls these when a meter has failed ``MAX_FAILED_READS`` reads in a row: RAPL's CPU
counters fall back to the TDP model, RAPL's DRAM counters to the RAM model, NVML to the GPU model
(``gpu_model.py``). Each is the model ``select.py`` would have chosen on a host without the
measurement, with the figures ``run_started`` reported (TDP, installed memory), so that a run's
estimate and its metadata agree.
"""

import time
from collections.abc import Callable, Mapping

from joulestream.meters import gpu_model, ram, tdp
from joulestream.meters.base import CpuMeter, GpuMeter, RamMeter, is_estimate
from joulestream.meters.load import MachineLoad
from joulestream.meters.select import Meters


def cpu_fallback(meters: Meters, clock: Callable[[], float] = time.monotonic) -> CpuMeter | None:
    """The TDP model of the meters' load, or None when the CPU meter is already an estimate."""
    if is_estimate(meters.cpu.method):
        return None
    host = meters.host
    packages = max(1, host.cpu_packages)
    found = tdp.Tdp(host.cpu_tdp_w / packages, "the TDP run_started reports", known=True)
    # A process tree shares the packages' idle floor with what else runs (tdp.py).
    machine = None if meters.load.scope == "machine" else MachineLoad()
    return tdp.TdpModelCpuMeter(
        meters.load,
        found,
        packages,
        clock,
        host_cpus=host.host_cpus or host.cpu_count,
        machine=machine,
    )


def ram_fallback(meters: Meters, clock: Callable[[], float] = time.monotonic) -> RamMeter | None:
    """The RAM model of the installed memory, or None when the RAM meter is already one."""
    if is_estimate(meters.ram.method):
        return None
    return ram.RamModelMeter(meters.host.ram_bytes, clock)


def gpu_fallback(
    meters: Meters,
    measured_j: Mapping[int, float],
    measured_s: float,
    start_s: float,
    clock: Callable[[], float] = time.monotonic,
) -> GpuMeter:
    """The GPU model from ``start_s`` on, each device at its mean power over the ``measured_s``
    seconds in which it used ``measured_j`` joules (else its power limit)."""
    devices = meters.gpu.devices()
    power_w = gpu_model.fallback_power_w(devices, measured_j, measured_s)
    return gpu_model.GpuModelMeter(devices, power_w, start_s, clock)
