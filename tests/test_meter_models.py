from pathlib import Path
from typing import Any

from joulestream.meters import is_estimate
from joulestream.meters.ram import RAM_W_PER_GIB, RamModelMeter
from joulestream.meters.tdp import (
    DEFAULT_W_PER_THREAD,
    IDLE_SHARE,
    Tdp,
    TdpModelCpuMeter,
    lookup,
    normalise,
)
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
    unknown = lookup("Intel(R) Xeon(R) Processor", host_cpus=96, packages=2)
    assert (unknown.tdp_w, unknown.known) == (4.0 * 96 / 2, False)  # 4 W per thread
    assert unknown.source.startswith("4 W x 96 logical CPUs, CodeCarbon's rule")


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


def test_process_tree_shares_the_idle_floor_by_cpu_time():
    """A process tree pays the floor in proportion to its share of the machine's busy CPU
    time, and the dynamic part over the host's CPUs (those the TDP covers), not its own."""
    tree, machine, clock = FakeLoad(cpu_count=2), FakeLoad(cpu_count=8), Clock()
    meter = TdpModelCpuMeter(tree, Tdp(100.0, "t", True), 1, clock, host_cpus=8, machine=machine)
    clock.now_s += 10
    tree.busy_s += 5  # a quarter of the 20 CPU-seconds the machine was busy
    machine.busy_s += 20
    assert round(meter.energy_j(), 9) == 100 * (0.1 * 10 * 0.25 + 0.9 * 5 / 8) == 81.25
    clock.now_s += 10  # nothing ran anywhere: the floor is the run's
    assert round(meter.energy_j(), 9) == 81.25 + 100 * 0.1 * 10


def test_model_constants_are_codecarbons_where_the_docs_say_so():
    """The fallback per thread and the idle floor are CodeCarbon 3.3.2's (its code, as cited
    in tdp.py), and the RAM comparison quoted in ram.py holds for the installed CodeCarbon."""
    from codecarbon._version import __version__
    from codecarbon.core.cpu import DEFAULT_POWER_PER_CORE
    from codecarbon.external.hardware import CPU
    from codecarbon.external.ram import RAM

    assert __version__ == "3.3.2"
    assert DEFAULT_W_PER_THREAD == DEFAULT_POWER_PER_CORE
    floor: Any = CPU._calculate_power_from_cpu_load  # untyped in CodeCarbon
    assert floor(100.0, 0.0, "x") == 100 * IDLE_SHARE
    ram = RAM.__new__(RAM)
    ram.is_arm_cpu = False
    quoted = {16: (6.0, 10), 64: (24.0, 20), 512: (192.0, 38.0), 1024: (384.0, 38.0)}
    for gib, (ours_w, theirs_w) in quoted.items():
        assert (RAM_W_PER_GIB * gib, ram._calculate_ram_power(gib)) == (ours_w, theirs_w)


def test_tdp_table_agrees_with_codecarbons_table():
    """Every row but the Core i9-12900K (not in CodeCarbon's table; Intel's Processor Base
    Power) has the figure of CodeCarbon 3.3.2's data/hardware/cpu_power.csv, as tdp.py says."""
    import csv

    import codecarbon

    theirs_path = Path(codecarbon.__file__).parent / "data" / "hardware" / "cpu_power.csv"
    with theirs_path.open(newline="") as file:
        # Text: one of its rows holds "27.29.5".
        theirs_text = {row["Name"]: row["TDP"] for row in csv.DictReader(file)}
    from joulestream.meters.tdp import TABLE

    with TABLE.open(newline="") as file:
        ours = {
            row["model"]: float(row["tdp_w"])
            for row in csv.DictReader(line for line in file if not line.startswith("#"))
        }
    theirs = {m: float(theirs_text[m]) for m in ours if m in theirs_text}
    differ = {m: (w, theirs.get(m)) for m, w in ours.items() if theirs.get(m) != w}
    assert differ == {"Intel Core i9-12900K": (125.0, None)}
