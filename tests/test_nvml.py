"""The NVML adapter against a stand-in pynvml module (no GPU here)."""

import pytest

from emitter.meters.base import NvmlUnavailableError
from emitter.meters.nvml import COUNTER, POLLING, NvmlGpuMeter, visible_handles


class NotSupported(Exception):
    pass


class FakeNvml:
    """Three devices: 0 and 2 have the energy counter, 1 (pre-Volta) only power."""

    def __init__(self) -> None:
        self.uuids = ["GPU-aaaa-1", "GPU-bbbb-2", "GPU-cccc-3"]
        self.energy_mj = [1_000_000, 0, 5_000]
        self.power_mw = [0, 100_000, 0]
        self.shut = False

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
        if h == 1:
            raise NotSupported
        return self.energy_mj[h]

    def nvmlDeviceGetPowerUsage(self, h):
        return self.power_mw[h]

    def nvmlDeviceGetUtilizationRates(self, h):
        return type("U", (), {"gpu": 50})()


@pytest.mark.parametrize(
    ("visible", "expected"),
    [
        (None, [(0, 0), (1, 1), (2, 2)]),
        ("", []),
        ("2,0", [(0, 2), (1, 0)]),
        ("GPU-bbbb", [(0, 1)]),
        ("1,7,0", [(0, 1)]),  # CUDA stops at the first invalid entry
        ("GPU-", []),  # ambiguous prefix: invalid
    ],
)
def test_cuda_visible_devices(visible, expected):
    assert visible_handles(FakeNvml(), visible) == expected


def test_counter_where_supported_polling_elsewhere():
    nvml, clock = FakeNvml(), [0.0]
    meter = NvmlGpuMeter(nvml, "0,1", poll_interval_s=3600, clock=lambda: clock[0])
    assert [(d.index, d.uuid, d.model, d.max_power_w) for d in meter.devices()] == [
        (0, "GPU-aaaa-1", "NVIDIA A100-SXM4-40GB", 400.0),
        (1, "GPU-bbbb-2", "Tesla P100", 400.0),
    ]
    nvml.energy_mj[0] += 2_500
    clock[0] = 2.0
    nvml.power_mw[1] = 300_000  # trapezoid from 100 W to 300 W over 2 s: 400 J
    readings = meter.read()
    assert [(r.index, r.energy_j, r.method, r.utilisation) for r in readings] == [
        (0, 2.5, COUNTER, 0.5),
        (1, 400.0, POLLING, 0.5),
    ]
    meter.close()
    assert nvml.shut


def test_no_visible_device_is_unavailable():
    with pytest.raises(NvmlUnavailableError, match="no visible NVIDIA device"):
        NvmlGpuMeter(FakeNvml(), "")
