"""The automatic choice of meters, with the reason for each, and its overrides.

``auto`` takes the best method this host allows: RAPL for the CPU packages and DRAM, else the
``tdp_model`` and ``ram_model`` estimates; NVML for NVIDIA GPUs, else no GPU. A method named
explicitly is used or fails with its reason (``MeterError``), never silently replaced. The
choice is what ``joulestream doctor`` prints.
"""

import os
import re
from dataclasses import dataclass
from pathlib import Path

import psutil

from joulestream.meters import forced, nvml, ram, rapl, tdp
from joulestream.meters.base import (
    CpuMeter,
    GpuMeter,
    MeterError,
    NoGpuMeter,
    RamMeter,
    RaplUnavailableError,
    UnknownMeterError,
)
from joulestream.meters.load import CpuLoad, MachineLoad, ProcessTreeLoad

CPU_CHOICES = ("auto", rapl.METHOD, tdp.METHOD)
RAM_CHOICES = ("auto", rapl.METHOD, ram.METHOD)
GPU_CHOICES = ("auto", "nvml", "none")
CPU_TOPOLOGY = Path("/sys/devices/system/cpu")


@dataclass(frozen=True)
class HostInfo:
    """What the run's ``run_started`` says about the host's hardware."""

    cpu_model: str | None
    cpu_count: int
    """Logical CPUs of the tracked scope."""
    cpu_packages: int
    cpu_tdp_w: float
    """TDP of all packages together, watts (the table's, or the default)."""
    ram_bytes: int
    host_cpus: int | None = None
    """Logical CPUs of the host, those the TDP covers; None: ``cpu_count``."""

    @property
    def ram_gb(self) -> float:
        return self.ram_bytes / 1e9


@dataclass
class Meters:
    """The meters chosen for a run, and why each was chosen."""

    cpu: CpuMeter
    ram: RamMeter
    gpu: GpuMeter
    load: CpuLoad
    """What ``cpu_utilisation`` is taken from (and the TDP model's input)."""
    host: HostInfo
    reasons: list[str]

    def close(self) -> None:
        for meter in (self.cpu, self.ram, self.gpu):
            meter.close()


def cpu_model_name(cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    """The CPU's model name as the kernel reports it, or None."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return None
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else None


def cpu_packages(topology: Path = CPU_TOPOLOGY) -> int:
    """Physical CPU packages (sockets) of the host, at least 1."""
    ids = set()
    for path in topology.glob("cpu[0-9]*/topology/physical_package_id"):
        try:
            ids.add(path.read_text().strip())
        except OSError:
            continue
    return max(1, len(ids))


def _check(kind: str, choice: str, choices: tuple[str, ...]) -> None:
    if choice not in choices:
        raise UnknownMeterError(f"unknown {kind} meter {choice!r}; choose one of {choices}")


def select_meters(
    cpu: str = "auto",
    ram_choice: str = "auto",
    gpu: str = "auto",
    *,
    pid: int | None = None,
    load: CpuLoad | None = None,
    powercap: Path = rapl.POWERCAP,
    nvml_module: object = None,
    cpu_power_w: float | None = None,
    ram_power_w: float | None = None,
    gpu_ids: str | None = None,
) -> Meters:
    """Meters for this host. ``pid``: estimate the CPU of that process tree rather than the
    machine (RAPL always measures the whole packages); ``load``: estimate from that (wins over
    ``pid``). ``cpu_power_w``, ``ram_power_w``: count that component at this constant power
    (``forced``), with ``auto`` only; ``gpu_ids``: the GPUs measured, as CUDA_VISIBLE_DEVICES
    names them (None: that variable). Raises ``MeterError`` for a method named explicitly that
    cannot be used."""
    _check("cpu", cpu, CPU_CHOICES)
    _check("ram", ram_choice, RAM_CHOICES)
    _check("gpu", gpu, GPU_CHOICES)
    for kind, choice, power_w in (("cpu", cpu, cpu_power_w), ("ram", ram_choice, ram_power_w)):
        if power_w is not None and choice != "auto":
            raise UnknownMeterError(
                f"{kind}: a forced power ({power_w:g} W) and the meter {choice!r} were both "
                "asked for; choose one"
            )
    reasons: list[str] = []
    if load is None:
        load = MachineLoad() if pid is None else ProcessTreeLoad(pid)
    model = cpu_model_name()
    packages = cpu_packages()
    host_cpus = psutil.cpu_count() or 1
    found = tdp.lookup(model, host_cpus, packages)
    host = HostInfo(
        model,
        load.cpu_count,
        packages,
        found.tdp_w * packages,
        psutil.virtual_memory().total,
        host_cpus,
    )

    zones: tuple[list[rapl.RaplZone], list[rapl.RaplZone]] | None = None
    rapl_error: MeterError | None = None
    if rapl.METHOD in (cpu, ram_choice) or "auto" in (cpu, ram_choice):
        try:
            zones = rapl.find_zones(powercap)
        except MeterError as exc:
            rapl_error = exc
    if rapl.METHOD in (cpu, ram_choice) and rapl_error is not None:
        raise rapl_error

    cpu_meter: CpuMeter
    if cpu_power_w is not None:
        cpu_meter = forced.ForcedPowerCpuMeter(cpu_power_w)
        reasons.append(f"CPU: forced to {cpu_power_w:g} W (JOULESTREAM_CPU_POWER_W)")
    elif zones is not None and cpu in ("auto", rapl.METHOD):
        cpu_meter = rapl.RaplCpuMeter(zones[0])
        reasons.append("CPU: RAPL package counters are readable")
    else:
        # A process tree shares the packages' idle floor with what else runs (tdp.py).
        machine = None if load.scope == "machine" else MachineLoad()
        cpu_meter = tdp.TdpModelCpuMeter(
            load, found, packages, host_cpus=host_cpus, machine=machine
        )
        why = "asked for" if cpu == tdp.METHOD else f"RAPL is not usable: {rapl_error}"
        known = (
            "in the TDP table"
            if found.known
            else f"not in the TDP table: {tdp.DEFAULT_W_PER_THREAD:g} W per logical CPU"
        )
        reasons.append(f"CPU: estimate, {why}; CPU model {model!r} {known}")

    ram_meter: RamMeter
    if ram_power_w is not None:
        ram_meter = forced.ForcedPowerRamMeter(ram_power_w)
        reasons.append(f"RAM: forced to {ram_power_w:g} W (JOULESTREAM_RAM_POWER_W)")
    elif zones is not None and zones[1] and ram_choice in ("auto", rapl.METHOD):
        ram_meter = rapl.RaplRamMeter(zones[1])
        reasons.append("RAM: RAPL dram counters are readable")
    elif ram_choice == rapl.METHOD:
        raise RaplUnavailableError(f"RAPL under {powercap} has no dram zone")
    else:
        ram_meter = ram.RamModelMeter(host.ram_bytes)
        why = (
            "asked for"
            if ram_choice == ram.METHOD
            else "RAPL has no dram zone"
            if zones is not None
            else f"RAPL is not usable: {rapl_error}"
        )
        reasons.append(f"RAM: estimate, {why}")

    gpu_meter: GpuMeter
    if gpu == "none":
        gpu_meter = NoGpuMeter("turned off")
        reasons.append("GPU: turned off")
    else:
        try:
            gpu_meter = nvml.NvmlGpuMeter(nvml_module, cuda_visible_devices=gpu_ids)
            reasons.append("GPU: NVML is available")
        except MeterError as exc:
            if gpu == "nvml":
                raise
            gpu_meter = NoGpuMeter(str(exc))
            reasons.append(f"GPU: none measured: {exc}")
    return Meters(cpu_meter, ram_meter, gpu_meter, load, host, reasons)


def choices_from_env(env: "os._Environ[str] | dict[str, str]") -> tuple[str, str, str]:
    """The meter choices named by JOULESTREAM_CPU_METER, _RAM_METER and _GPU_METER."""
    return (
        env.get("JOULESTREAM_CPU_METER", "auto"),
        env.get("JOULESTREAM_RAM_METER", "auto"),
        env.get("JOULESTREAM_GPU_METER", "auto"),
    )
