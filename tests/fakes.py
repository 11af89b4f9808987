"""Fakes that subclass the real interfaces: meters with set counters, a producer into a list."""

from typing import Any

from joulestream.events import Event, GpuDevice
from joulestream.meters.base import CpuMeter, GpuMeter, GpuReading, RamMeter
from joulestream.meters.load import CpuLoad
from joulestream.meters.select import HostInfo, Meters
from joulestream.producer import EventProducer


class FakeLoad(CpuLoad):
    scope = "machine"

    def __init__(self, cpu_count: int = 2) -> None:
        self.cpu_count = cpu_count
        self.busy_s = 0.0

    def busy_cpu_s(self) -> float:
        return self.busy_s


class FakeCpu(CpuMeter):
    method = "rapl"

    def __init__(self) -> None:
        self.total_j = 0.0

    def energy_j(self) -> float:
        return self.total_j

    def describe(self) -> str:
        return "fake cpu"


class FakeRam(RamMeter):
    method = "ram_model"

    def __init__(self) -> None:
        self.total_j = 0.0

    def energy_j(self) -> float:
        return self.total_j

    def describe(self) -> str:
        return "fake ram"


class FakeGpu(GpuMeter):
    def __init__(self) -> None:
        self.total_j = {0: 0.0, 1: 0.0}

    def devices(self) -> tuple[GpuDevice, ...]:
        return tuple(GpuDevice(index=i, uuid=f"GPU-{i}", model="Fake") for i in self.total_j)

    def read(self) -> tuple[GpuReading, ...]:
        return tuple(GpuReading(i, j, "nvml_energy_counter", 0.5) for i, j in self.total_j.items())

    def describe(self) -> str:
        return "fake gpu"


class NotSupported(Exception):
    pass


class GpuIsLost(Exception):
    """As pynvml's NVMLError_GpuIsLost."""


class FakeNvml:
    """Three devices: 0 and 2 have the energy counter, 1 (pre-Volta) only power."""

    def __init__(self) -> None:
        self.uuids = ["GPU-aaaa-1", "GPU-bbbb-2", "GPU-cccc-3"]
        self.energy_mj = [1_000_000, 0, 5_000]
        self.power_mw = [0, 100_000, 0]
        self.shut = False
        self.failing = False
        """Energy and power reads raise GpuIsLost."""

    def nvmlInit(self):
        pass

    def nvmlShutdown(self):
        self.shut = True

    def nvmlDeviceGetCount(self):
        return 3

    def nvmlDeviceGetHandleByIndex(self, i):
        return i

    def nvmlDeviceGetUUID(self, h):
        return self.uuids[h]

    def nvmlDeviceGetName(self, h):
        return b"Tesla P100" if h == 1 else "NVIDIA A100-SXM4-40GB"

    def nvmlDeviceGetPowerManagementLimit(self, h):
        return 400_000

    def nvmlDeviceGetTotalEnergyConsumption(self, h):
        if self.failing:
            raise GpuIsLost("GPU is lost")
        if h == 1:
            raise NotSupported
        return self.energy_mj[h]

    def nvmlDeviceGetPowerUsage(self, h):
        return self.power_mw[h]

    def nvmlDeviceGetUtilizationRates(self, h):
        return type("U", (), {"gpu": 50})()


def fake_meters() -> Meters:
    host = HostInfo("Fake CPU", 2, 1, 85.0, 8 * 10**9)
    return Meters(FakeCpu(), FakeRam(), FakeGpu(), FakeLoad(), host, ["fake"])


class ListProducer(EventProducer):
    """Keeps emitted events in a list; no Kafka."""

    def __init__(self) -> None:
        # Any: tests read the fields of each kind of event.
        self.events: list[Any] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def close(self, timeout_s: float = 30.0) -> None:
        return None
