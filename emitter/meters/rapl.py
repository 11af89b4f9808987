"""CPU package and DRAM energy from Intel/AMD RAPL counters in ``/sys/class/powercap``.

The kernel lists every RAPL zone flat in ``/sys/class/powercap``: ``intel-rapl:N`` is a
package (``name`` ``package-N`` or, on multi-die parts, ``package-N-die-M``), ``intel-rapl:N:M``
a subzone of it (``core``, ``uncore``, ``dram``), and ``intel-rapl-mmio:N`` the same package
again through another interface. AMD processors use the same layout. The meters count each
package once and each package's ``dram`` once: a zone whose name (and parent's name) was
already taken is a duplicate and skipped (the MMIO copies, a die listed twice). Each zone's
``energy_uj`` is a counter in microjoules that wraps to 0 after ``max_energy_range_uj``; a read
lower than the one before means it wrapped once (reads are seconds apart, a wrap takes minutes
at full power).
"""

import re
from dataclasses import dataclass
from pathlib import Path

from emitter.meters.base import (
    CpuMeter,
    MeterError,
    RamMeter,
    RaplPermissionError,
    RaplUnavailableError,
)

METHOD = "rapl"
POWERCAP = Path("/sys/class/powercap")
_ZONE = re.compile(r"^intel-rapl(-mmio)?:(\d+)(:(\d+))?$")

PERMISSION_FIX = (
    "RAPL energy counters are readable by root only (Linux 5.10 and later, since "
    "CVE-2020-8694). Run as root, or let every user read them until the next boot with "
    "`sudo chmod a+r /sys/class/powercap/intel-rapl:*/energy_uj` (a udev rule makes that "
    "permanent), or choose the estimate explicitly with `--cpu-meter tdp_model`."
)


@dataclass(frozen=True, slots=True)
class RaplZone:
    """One RAPL counter."""

    path: Path
    """The zone's folder, holding ``energy_uj`` and ``max_energy_range_uj``."""
    key: str
    """The package's name, plus '/<subzone name>' for a subzone: unique per counted zone."""
    max_energy_range_uj: int
    """The counter wraps to 0 after this many microjoules."""

    def read_uj(self) -> int:
        """The counter now, microjoules."""
        try:
            return int((self.path / "energy_uj").read_text())
        except PermissionError as exc:
            raise RaplPermissionError(f"cannot read {exc.filename}: {PERMISSION_FIX}") from exc
        except (OSError, ValueError) as exc:
            raise MeterError(f"cannot read {self.path / 'energy_uj'}: {exc}") from exc


def _name(path: Path) -> str:
    return (path / "name").read_text().strip()


def find_zones(root: Path = POWERCAP) -> tuple[list[RaplZone], list[RaplZone]]:
    """The package zones and the dram zones under ``root``, duplicates removed, each checked
    readable. Raises ``RaplUnavailableError`` (no package zone) or ``RaplPermissionError``."""
    if not root.is_dir():
        raise RaplUnavailableError(f"{root} does not exist: this kernel exposes no RAPL zones")
    found: list[tuple[bool, int, int, Path]] = []
    for entry in root.iterdir():
        match = _ZONE.match(entry.name)
        if match:
            mmio, package, _, sub = match.groups()
            found.append((mmio is not None, int(package), int(sub or -1), entry))
    packages: dict[str, RaplZone] = {}
    drams: dict[str, RaplZone] = {}
    # The MSR interface first: its zones are the ones kept when MMIO repeats them.
    for _, _, sub, path in sorted(found):
        try:
            name = _name(path)
            parent = _name(path.parent / path.name.rsplit(":", 1)[0]) if sub >= 0 else name
            max_uj = int((path / "max_energy_range_uj").read_text())
        except PermissionError as exc:
            raise RaplPermissionError(f"cannot read {exc.filename}: {PERMISSION_FIX}") from exc
        except (OSError, ValueError):
            continue  # not a complete zone (a driver that lists a zone without counters)
        if sub < 0 and name.startswith("package"):
            packages.setdefault(name, RaplZone(path, name, max_uj))
        elif name == "dram":
            key = f"{parent}/{name}" if sub >= 0 else name
            drams.setdefault(key, RaplZone(path, key, max_uj))
    if not packages:
        raise RaplUnavailableError(f"{root} has no RAPL package zone")
    for zone in (*packages.values(), *drams.values()):
        zone.read_uj()  # raises RaplPermissionError now rather than in the middle of a run
    return sorted(packages.values(), key=lambda z: z.key), sorted(
        drams.values(), key=lambda z: z.key
    )


class _Counters:
    """Joules accumulated over several wrapping counters since creation."""

    def __init__(self, zones: list[RaplZone]) -> None:
        self.zones = zones
        self._last_uj = [zone.read_uj() for zone in zones]
        self._total_uj = 0

    def energy_j(self) -> float:
        for i, zone in enumerate(self.zones):
            now_uj = zone.read_uj()
            delta_uj = now_uj - self._last_uj[i]
            if delta_uj < 0:
                delta_uj += zone.max_energy_range_uj
            self._total_uj += delta_uj
            self._last_uj[i] = now_uj
        return self._total_uj / 1e6


class RaplCpuMeter(CpuMeter):
    """Energy of the CPU packages from RAPL (method ``rapl``)."""

    method = METHOD

    def __init__(self, zones: list[RaplZone]) -> None:
        self._counters = _Counters(zones)

    def energy_j(self) -> float:
        return self._counters.energy_j()

    def describe(self) -> str:
        names = ", ".join(z.key for z in self._counters.zones)
        return f"CPU: measured (rapl), {len(self._counters.zones)} package zone(s): {names}"


class RaplRamMeter(RamMeter):
    """Energy of the DRAM from RAPL's dram zones (method ``rapl``)."""

    method = METHOD

    def __init__(self, zones: list[RaplZone]) -> None:
        if not zones:
            raise RaplUnavailableError("RAPL has no dram zone on this host")
        self._counters = _Counters(zones)

    def energy_j(self) -> float:
        return self._counters.energy_j()

    def describe(self) -> str:
        names = ", ".join(z.key for z in self._counters.zones)
        return f"RAM: measured (rapl), {len(self._counters.zones)} dram zone(s): {names}"
