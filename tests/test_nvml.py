"""The NVML adapter against a stand-in pynvml module (no GPU here)."""

import pytest

from joulestream.meters.base import MeterError, NvmlUnavailableError
from joulestream.meters.nvml import COUNTER, POLLING, NvmlGpuMeter, visible_handles
from tests.fakes import FakeNvml


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


def test_a_failed_read_is_a_meter_error():
    """An NVML error while reading (a GPU fallen off the bus) is a MeterError, which the
    tracker handles like any meter's."""
    nvml = FakeNvml()
    meter = NvmlGpuMeter(nvml, "0,2")
    nvml.failing = True
    with pytest.raises(MeterError, match="NVML could not read GPU 0: GPU is lost"):
        meter.read()
    meter.close()
