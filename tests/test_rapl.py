import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from joulestream.meters.base import RaplPermissionError, RaplUnavailableError
from joulestream.meters.rapl import RaplCpuMeter, RaplRamMeter, RaplZone, find_mirrors, find_zones
from joulestream.meters.select import select_meters

MAX_UJ = 262143328850


class Clock:
    """Monotonic seconds, moved by the test."""

    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def zone(root: Path, name: str, label: str, energy_uj: int, max_uj: int = MAX_UJ) -> Path:
    """A zone as the kernel lists it: a folder with name, energy_uj and max_energy_range_uj."""
    path = root / name
    path.mkdir(parents=True)
    (path / "name").write_text(label + "\n")
    (path / "energy_uj").write_text(f"{energy_uj}\n")
    (path / "max_energy_range_uj").write_text(f"{max_uj}\n")
    return path


def set_uj(path: Path, energy_uj: int) -> None:
    (path / "energy_uj").write_text(f"{energy_uj}\n")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Two packages with core and dram subzones, and an MMIO copy of package-0."""
    root = tmp_path / "powercap"
    zone(root, "intel-rapl:0", "package-0", 1_000_000)
    zone(root, "intel-rapl:0:0", "core", 500_000)
    zone(root, "intel-rapl:0:1", "dram", 2_000_000)
    zone(root, "intel-rapl:1", "package-1", 3_000_000)
    zone(root, "intel-rapl:1:0", "dram", 4_000_000)
    zone(root, "intel-rapl-mmio:0", "package-0", 1_000_000)
    (root / "intel-rapl").mkdir()  # the control type's folder, not a zone
    return root


def test_zones_are_packages_and_drams_without_duplicates(tree):
    """Each package and each package's dram is counted once; the MMIO copy and core are not."""
    packages, drams = find_zones(tree)
    assert [(z.key, z.path.name) for z in packages] == [
        ("package-0", "intel-rapl:0"),
        ("package-1", "intel-rapl:1"),
    ]
    assert [(z.key, z.path.name) for z in drams] == [
        ("package-0/dram", "intel-rapl:0:1"),
        ("package-1/dram", "intel-rapl:1:0"),
    ]


def test_energy_is_the_sum_of_package_deltas_in_joules(tree):
    """Package energy is the sum over packages of the counter's increase, µJ to J."""
    packages, drams = find_zones(tree)
    clock = Clock()
    cpu, ram = RaplCpuMeter(packages, clock, refresh=False), RaplRamMeter(drams, clock, False)
    clock.now_s += 1
    set_uj(tree / "intel-rapl:0", 3_500_000)
    set_uj(tree / "intel-rapl:1", 4_000_000)
    set_uj(tree / "intel-rapl-mmio:0", 9_000_000)  # ignored
    set_uj(tree / "intel-rapl:0:1", 2_250_000)
    assert cpu.energy_j() == 3.5
    assert ram.energy_j() == 0.25
    set_uj(tree / "intel-rapl:1", 5_000_000)
    clock.now_s += 1
    assert cpu.energy_j() == 4.5
    assert cpu.method == ram.method == "rapl"


def test_counter_wrap_around_uses_max_energy_range(tmp_path):
    """A read below the previous one wrapped once at max_energy_range_uj."""
    root = tmp_path / "powercap"
    path = zone(root, "intel-rapl:0", "package-0", 990_000, max_uj=1_000_000)
    clock = Clock()
    cpu = RaplCpuMeter(find_zones(root)[0], clock, refresh=False)
    clock.now_s += 0.0005
    set_uj(path, 20_000)  # 10_000 to the wrap, then 20_000
    assert cpu.energy_j() == 0.03
    clock.now_s += 0.0005
    set_uj(path, 520_000)
    assert cpu.energy_j() == 0.53


def test_no_powercap_tree_is_unavailable(tmp_path):
    with pytest.raises(RaplUnavailableError, match="does not exist"):
        find_zones(tmp_path / "missing")


def test_tree_without_package_is_unavailable(tmp_path):
    zone(tmp_path, "intel-rapl:0", "psys", 1)
    with pytest.raises(RaplUnavailableError, match="no RAPL package zone"):
        find_zones(tmp_path)


UNREADABLE = """
import os, sys
from pathlib import Path
from joulestream.meters.base import RaplPermissionError
from joulestream.meters.rapl import find_zones
if os.geteuid() == 0:
    os.setgid(65534); os.setuid(65534)  # root reads anything: drop to nobody
try:
    find_zones(Path(sys.argv[1]))
except RaplPermissionError as exc:
    print(exc)
"""


def test_unreadable_counter_says_how_to_fix_it(tmp_path):
    """energy_uj readable by root only (as on Linux >= 5.10) gives the fix in the message."""
    tmp_path.chmod(0o755)
    for parent in tmp_path.parents:
        if parent.stat().st_uid == os.geteuid() and parent != Path("/"):
            parent.chmod(parent.stat().st_mode | 0o055)
    root = tmp_path / "powercap"
    path = zone(root, "intel-rapl:0", "package-0", 1)
    for item in (root, path, *path.iterdir()):
        item.chmod(0o755 if item.is_dir() else 0o444)
    (path / "energy_uj").chmod(0o400)
    repo = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-c", UNREADABLE, str(root)],
        capture_output=True,
        text=True,
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
        check=True,
    )
    assert result.stdout.startswith(f"cannot read {path / 'energy_uj'}: RAPL energy counters")
    assert "sudo chmod a+r /sys/class/powercap/intel-rapl:*/energy_uj" in result.stdout
    assert "--cpu-meter tdp_model" in result.stdout
    assert RaplPermissionError.__mro__[1].__name__ == "MeterError"


def test_auto_falls_back_to_models_without_rapl(tmp_path):
    meters = select_meters("auto", "auto", "none", powercap=tmp_path / "missing")
    assert (meters.cpu.method, meters.ram.method) == ("tdp_model", "ram_model")
    assert meters.reasons[0].startswith("CPU: estimate, RAPL is not usable:")


def test_auto_takes_rapl_where_readable(tree):
    meters = select_meters("auto", "auto", "none", powercap=tree)
    assert (meters.cpu.method, meters.ram.method) == ("rapl", "rapl")
    meters.close()


def test_rapl_asked_for_but_missing_is_an_error(tmp_path):
    with pytest.raises(RaplUnavailableError):
        select_meters("rapl", "auto", "none", powercap=tmp_path / "missing")


def dies(tmp_path: Path, die0_uj: int, die1_uj: int) -> Path:
    """One AMD socket listed as two dies, as multi-die parts do."""
    root = tmp_path / "powercap"
    zone(root, "intel-rapl:0", "package-0-die-0", die0_uj)
    zone(root, "intel-rapl:1", "package-0-die-1", die1_uj)
    return root


def test_dies_mirroring_one_socket_counter_are_counted_once(tmp_path, caplog):
    """package-0-die-0 and package-0-die-1 report the same counter: 50 J is 50 J, not 100."""
    root = dies(tmp_path, 7_000_000_000, 7_000_000_000)
    clock = Clock()
    cpu = RaplCpuMeter(find_zones(root)[0], clock, refresh=False)
    for step_uj in (20_000_000, 30_000_000):  # 20 J then 30 J, both files alike
        clock.now_s += 1
        for name, extra_uj in (("intel-rapl:0", 0), ("intel-rapl:1", 300)):  # read a moment later
            value_uj = int((root / name / "energy_uj").read_text())
            set_uj(root / name, value_uj + step_uj + extra_uj)
        cpu.energy_j()
    assert cpu.energy_j() == 50.0
    assert "package-0-die-1 (intel-rapl:1) mirrors package-0-die-0" in caplog.text
    assert "package-0-die-1 (copy of package-0-die-0, left out)" in cpu.describe()


def test_dies_that_start_alike_but_count_apart_are_both_counted(tmp_path):
    """Equal values at start only make a suspect: a die that then accumulates differently is
    independent, and what it accumulated while suspected is counted too."""
    root = dies(tmp_path, 5_000_000, 5_000_000)
    clock = Clock()
    cpu = RaplCpuMeter(find_zones(root)[0], clock, refresh=False)
    clock.now_s += 1
    set_uj(root / "intel-rapl:0", 5_500_000)  # +0.5 J
    set_uj(root / "intel-rapl:1", 5_600_000)  # +0.6 J: within 1 J, still suspect
    assert cpu.energy_j() == 0.5
    clock.now_s += 1
    set_uj(root / "intel-rapl:0", 9_000_000)  # +4.0 J in all
    set_uj(root / "intel-rapl:1", 25_000_000)  # +20.0 J in all: its own counter
    assert cpu.energy_j() == 24.0
    assert "copy" not in cpu.describe()


def test_mirror_candidates_need_equal_nonzero_values():
    """Values equal within 1 J (or 1e-6 of the value) are suspects; zeros never are."""
    assert find_mirrors([7_000_000_000, 7_000_400_000, 0, 0, 9_000_000_000]) == {1: 0}
    assert find_mirrors([200_000_000_000, 200_000_150_000]) == {1: 0}  # 0.15 J < 0.2 J (1e-6)
    assert find_mirrors([5_000_000, 6_500_000]) == {}


def test_impossible_delta_is_not_counted(tmp_path, caplog):
    """A counter that restarts from near zero (a driver reload) would look like a wrap worth
    262 kJ; that is more than 1000 W over 2 s, so the delta is dropped with a warning."""
    root = tmp_path / "powercap"
    path = zone(root, "intel-rapl:0", "package-0", 100_000_000_000)
    clock = Clock()
    cpu = RaplCpuMeter(find_zones(root)[0], clock, refresh=False)
    clock.now_s += 2
    set_uj(path, 50_000_000)
    with caplog.at_level(logging.WARNING):
        assert cpu.energy_j() == 0.0
    assert "more than 1000 W can" in caplog.text
    clock.now_s += 2
    set_uj(path, 250_000_000)  # 200 J in 2 s: counted from the new value
    assert cpu.energy_j() == 200.0


def test_reads_are_frequent_enough_for_one_wrap_at_most(tmp_path):
    """The background thread reads every half wrap time at 1000 W: 131 s for Intel's
    262,143 J range; with a 20 J range, every 10 ms."""
    root = tmp_path / "powercap"
    zone(root, "intel-rapl:0", "package-0", 1)
    intel = RaplCpuMeter(find_zones(root)[0], Clock(), refresh=False)
    assert intel._counters.period_s == MAX_UJ / 1e6 / 1000 / 2 == 131.071664425

    reads = threading.Semaphore(0)

    class CountedZone(RaplZone):
        def read_uj(self) -> int:
            reads.release()
            return super().read_uj()

    small = root / "intel-rapl:0"
    (small / "max_energy_range_uj").write_text("20000000\n")
    counted = CountedZone(small, "package-0", 20_000_000)
    meter = RaplCpuMeter([counted])
    assert meter._counters.period_s == 0.01
    try:
        for _ in range(4):  # the first read at creation, then the thread's
            assert reads.acquire(timeout=5)
    finally:
        meter.close()


def test_reads_further_apart_than_a_wrap_are_reported(tmp_path, caplog):
    """Reads further apart than a full wrap at 1000 W (the thread starved) may miss wraps:
    said in a warning."""
    root = tmp_path / "powercap"
    path = zone(root, "intel-rapl:0", "package-0", 1_000_000, max_uj=20_000_000)
    clock = Clock()
    cpu = RaplCpuMeter(find_zones(root)[0], clock, refresh=False)
    clock.now_s += 0.5
    set_uj(path, 3_000_000)
    with caplog.at_level(logging.WARNING):
        assert cpu.energy_j() == 2.0
    assert "read 0.5 s apart, longer than the 0.02 s in which one can wrap" in caplog.text
