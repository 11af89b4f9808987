from pathlib import Path

from emitter.meters import is_estimate
from emitter.meters.ram import RAM_W_PER_GIB, RamModelMeter
from emitter.meters.tdp import DEFAULT_TDP_W, IDLE_SHARE, TdpModelCpuMeter, lookup, normalise
from tests.fakes import FakeLoad


class Clock:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


def test_tdp_model_follows_its_formula():
    """energy = tdp * packages * (0.1 * elapsed + 0.9 * busy_cpu_s / cpu_count)."""
    load, clock = FakeLoad(cpu_count=4), Clock()
    meter = TdpModelCpuMeter(load, lookup("AMD EPYC 7763 64-Core Processor"), 2, clock)
    assert meter.energy_j() == 0.0
    clock.now_s += 10
    load.busy_s += 20  # half of 4 CPUs for 10 s
    expected_j = 280 * 2 * (IDLE_SHARE * 10 + (1 - IDLE_SHARE) * 20 / 4)
    assert meter.energy_j() == expected_j == 3080.0
    clock.now_s += 5  # idle
    assert meter.energy_j() == expected_j + 280 * 2 * IDLE_SHARE * 5
    assert meter.method == "tdp_model"
    assert is_estimate(meter.method)


def test_tdp_table_matches_vendor_names_and_falls_back():
    """Model names match after normalisation; an unknown model gets the default, flagged."""
    assert normalise("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz") == "intel xeon gold 6248"
    gold = lookup("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz")
    assert (gold.tdp_w, gold.known) == (150.0, True)
    assert gold.source.startswith("Intel ARK")
    assert lookup("Intel(R) Xeon(R) Gold 62480 CPU").known is False
    unknown = lookup("Intel(R) Xeon(R) Processor")
    assert (unknown.tdp_w, unknown.known) == (DEFAULT_TDP_W, False)


def test_every_tdp_row_names_a_source():
    table = Path(__file__).resolve().parent.parent / "emitter/meters/data/cpu_tdp.csv"
    rows = [r for r in table.read_text().splitlines()[1:] if r and not r.startswith("#")][1:]
    assert len(rows) == 22
    assert all(len(r.split(",")) == 3 and r.split(",")[2] for r in rows)


def test_ram_model_is_constant_power_per_gib():
    clock = Clock()
    meter = RamModelMeter(16 * 2**30, clock)
    clock.now_s += 10
    assert meter.power_w == RAM_W_PER_GIB * 16 == 6.0
    assert meter.energy_j() == 60.0
    assert meter.method == "ram_model"
    assert is_estimate(meter.method)


def test_measured_methods_are_not_estimates():
    assert not any(map(is_estimate, ("rapl", "nvml_energy_counter", "nvml_power_polling")))
