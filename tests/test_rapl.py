import os
import subprocess
import sys
from pathlib import Path

import pytest

from emitter.meters.base import RaplPermissionError, RaplUnavailableError
from emitter.meters.rapl import RaplCpuMeter, RaplRamMeter, find_zones
from emitter.meters.select import select_meters

MAX_UJ = 262143328850


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
    cpu, ram = RaplCpuMeter(packages), RaplRamMeter(drams)
    set_uj(tree / "intel-rapl:0", 3_500_000)
    set_uj(tree / "intel-rapl:1", 4_000_000)
    set_uj(tree / "intel-rapl-mmio:0", 9_000_000)  # ignored
    set_uj(tree / "intel-rapl:0:1", 2_250_000)
    assert cpu.energy_j() == 3.5
    assert ram.energy_j() == 0.25
    set_uj(tree / "intel-rapl:1", 5_000_000)
    assert cpu.energy_j() == 4.5
    assert cpu.method == ram.method == "rapl"


def test_counter_wrap_around_uses_max_energy_range(tmp_path):
    """A read below the previous one wrapped once at max_energy_range_uj."""
    root = tmp_path / "powercap"
    path = zone(root, "intel-rapl:0", "package-0", 990_000, max_uj=1_000_000)
    cpu = RaplCpuMeter(find_zones(root)[0])
    set_uj(path, 20_000)  # 10_000 to the wrap, then 20_000
    assert cpu.energy_j() == 0.03
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
from emitter.meters.base import RaplPermissionError
from emitter.meters.rapl import find_zones
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


def test_rapl_asked_for_but_missing_is_an_error(tmp_path):
    with pytest.raises(RaplUnavailableError):
        select_meters("rapl", "auto", "none", powercap=tmp_path / "missing")
