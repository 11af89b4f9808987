"""CPU package and DRAM energy from Intel/AMD RAPL counters in ``/sys/class/powercap``.

The kernel lists every RAPL zone flat in ``/sys/class/powercap``: ``intel-rapl:N`` is a
package (``name`` ``package-N`` or, on multi-die parts, ``package-N-die-M``), ``intel-rapl:N:M``
a subzone of it (``core``, ``uncore``, ``dram``), and ``intel-rapl-mmio:N`` the same package
again through another interface. AMD processors use the same layout.

Each package and each package's ``dram`` is counted once. By name: a zone whose name (and
parent's name) was already taken is skipped (the MMIO copy of a package). By value: on multi-die
AMD parts every die's zone (``package-0-die-0``, ``package-0-die-1``) may report the same
socket-wide counter under different names, so counters that hold the same value when the meter
starts are suspects, and one that then accumulates the same energy as the other is a copy and
left out (``find_mirrors``, ``_Counters``; CodeCarbon 3.3.2 spots them the same way,
``codecarbon/core/rapl.py`` and ``IntelRAPL._confirm_mirrored_files`` in ``core/cpu.py``, but
drops what a suspect accumulated before it is cleared).

Each zone's ``energy_uj`` is a counter in microjoules that wraps to 0 after
``max_energy_range_uj``; a read lower than the one before wrapped once. The meter reads every
zone at least twice per wrap time at ``MAX_ZONE_POWER_W`` (a background thread), whatever the
tracker's interval, and refuses a delta no package could draw in the time since its last read.
"""

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from joulestream.meters.base import (
    CpuMeter,
    MeterError,
    RamMeter,
    RaplPermissionError,
    RaplUnavailableError,
)

log = logging.getLogger(__name__)

METHOD = "rapl"
MAX_ZONE_POWER_W = 1000.0
"""Most power one RAPL zone (a package, its DRAM) can draw on average between two reads: twice
the largest server CPU's TDP today (500 W: AMD EPYC 9965, Intel Xeon 6980P, vendors' spec
pages), which leaves room for turbo above TDP. Bounds how far apart reads may be (wraps) and
which deltas are impossible."""
READ_SLACK_UJ = 1_000_000
"""1 J allowed above ``MAX_ZONE_POWER_W`` x elapsed: the clock and the counters are not read at
the same instant."""
MIRROR_TOLERANCE_UJ = 1_000_000
"""Two views of one counter, read one after the other, differ by what the package used between
the two reads: 1 J covers milliseconds at full power (CodeCarbon 3.3.2 uses the same 1 J,
``SEQUENTIAL_READ_TOLERANCE_KWH`` in ``codecarbon/core/rapl.py``)."""
MIRROR_RELATIVE = 1e-6
"""Relative tolerance on counter values (CodeCarbon's ``MIRRORED_COUNTER_TOLERANCE``)."""
MIRROR_CONFIRM_UJ = 10_000_000
"""A suspected copy is judged a copy once its reference has accumulated 10 J (ten times the
tolerance) with the copy still within 1 J of it; independent dies drift apart long before."""
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


def find_mirrors(values_uj: list[int]) -> dict[int, int]:
    """Which counters look like copies of an earlier one: {index: index of the earlier one}.

    Two independent counters almost never hold the same cumulative value (they range over
    ``max_energy_range_uj``, about 2.6e11 µJ on Intel), so values equal within
    ``MIRROR_TOLERANCE_UJ`` (or ``MIRROR_RELATIVE`` of the value) point at one counter listed
    twice. A zero counter says nothing and is never a candidate. Candidates are confirmed or
    cleared by what they accumulate (``_Counters``)."""
    references: list[int] = []
    mirrors: dict[int, int] = {}
    for i, value in enumerate(values_uj):
        if value <= 0:
            continue
        for ref in references:
            if _same(value, values_uj[ref]):
                mirrors[i] = ref
                break
        else:
            references.append(i)
    return mirrors


def _same(first_uj: int, second_uj: int) -> bool:
    tolerance = max(MIRROR_TOLERANCE_UJ, MIRROR_RELATIVE * max(first_uj, second_uj))
    return abs(first_uj - second_uj) <= tolerance


class _Counters:
    """Joules accumulated over several wrapping counters since creation.

    Copies: a counter whose value matched an earlier one's at creation (``find_mirrors``) is
    held back (accumulated, not counted) until it is judged: once the earlier counter has
    accumulated ``MIRROR_CONFIRM_UJ`` and the two totals still agree within
    ``MIRROR_TOLERANCE_UJ`` it is a copy and is dropped; as soon as they disagree it is an
    independent counter and everything it accumulated is counted from then on. The total
    never decreases either way.

    Wrap-around: a read lower than the last one wrapped once. That holds only if reads are
    closer than the time the counter takes to wrap at ``MAX_ZONE_POWER_W``, so a background
    thread reads every ``period_s`` (half that time) whatever the tracker's interval. A delta
    above ``MAX_ZONE_POWER_W`` over the time since the last read is impossible (a counter reset
    by a driver reload, a corrupt read): it is not counted, the counter is read again from
    there, and a warning is logged.
    """

    def __init__(
        self,
        zones: list[RaplZone],
        clock: Callable[[], float] = time.monotonic,
        refresh: bool = True,
    ) -> None:
        self.zones = zones
        self._clock = clock
        self._lock = threading.Lock()
        self._last_uj = [zone.read_uj() for zone in zones]
        self._last_s = clock()
        self._total_uj = [0] * len(zones)
        self._pending = find_mirrors(self._last_uj)
        self.dropped: dict[int, int] = {}
        """Counters judged copies: {index: index of the counter they copy}."""
        self._warned: set[str] = set()
        self.period_s = min(zone.max_energy_range_uj for zone in zones) / 1e6 / MAX_ZONE_POWER_W / 2
        """How often the background thread reads: half the shortest wrap time at
        ``MAX_ZONE_POWER_W`` (131 s for Intel's usual 262,143 J range, 33 s for AMD's 65,713
        J)."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if refresh:
            self._thread = threading.Thread(
                target=self._refresh, name="joulestream-rapl", daemon=True
            )
            self._thread.start()

    def _refresh(self) -> None:
        while not self._stop.wait(self.period_s):
            try:
                self.energy_j()
            except MeterError:  # the next read covers the interval (one wrap at most)
                log.debug("RAPL background read failed", exc_info=True)

    def energy_j(self) -> float:
        with self._lock:
            # All counters are read before any state changes: a failed read changes nothing.
            now_uj = [zone.read_uj() for zone in self.zones]
            now_s = self._clock()
            elapsed_s = max(0.0, now_s - self._last_s)
            if elapsed_s > self.period_s * 2:
                self._warn(
                    "gap",
                    "RAPL counters were read %.3g s apart, longer than the %.3g s in which one "
                    "can wrap at %g W: energy may be undercounted",
                    elapsed_s,
                    self.period_s * 2,
                    MAX_ZONE_POWER_W,
                )
            limit_uj = MAX_ZONE_POWER_W * elapsed_s * 1e6 + READ_SLACK_UJ
            for i, zone in enumerate(self.zones):
                delta_uj = now_uj[i] - self._last_uj[i]
                if delta_uj < 0:
                    delta_uj += zone.max_energy_range_uj
                if delta_uj > limit_uj:
                    self._warn(
                        zone.key,
                        "RAPL zone %s gained %.1f J in %.3f s, more than %g W can: counter "
                        "reset or bad read; that delta is not counted",
                        zone.key,
                        delta_uj / 1e6,
                        elapsed_s,
                        MAX_ZONE_POWER_W,
                    )
                    delta_uj = 0
                self._total_uj[i] += delta_uj
            self._last_uj, self._last_s = now_uj, now_s
            self._judge_mirrors()
            counted = (
                total
                for i, total in enumerate(self._total_uj)
                if i not in self._pending and i not in self.dropped
            )
            return sum(counted) / 1e6

    def _judge_mirrors(self) -> None:
        for i, ref in list(self._pending.items()):
            if abs(self._total_uj[i] - self._total_uj[ref]) > MIRROR_TOLERANCE_UJ:
                del self._pending[i]
                log.info("RAPL zone %s counts on its own: measured", self.zones[i].key)
            elif self._total_uj[ref] >= MIRROR_CONFIRM_UJ:
                del self._pending[i]
                self.dropped[i] = ref
                log.warning(
                    "RAPL zone %s (%s) mirrors %s (%s): left out, not counted twice",
                    self.zones[i].key,
                    self.zones[i].path.name,
                    self.zones[ref].key,
                    self.zones[ref].path.name,
                )

    def _warn(self, key: str, message: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message, *args)

    def describe(self) -> str:
        names = [
            z.key
            + (
                f" (copy of {self.zones[self.dropped[i]].key}, left out)"
                if i in self.dropped
                else ""
            )
            for i, z in enumerate(self.zones)
        ]
        return ", ".join(names)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(1.0)


class RaplCpuMeter(CpuMeter):
    """Energy of the CPU packages from RAPL (method ``rapl``)."""

    method = METHOD

    def __init__(
        self,
        zones: list[RaplZone],
        clock: Callable[[], float] = time.monotonic,
        refresh: bool = True,
    ) -> None:
        self._counters = _Counters(zones, clock, refresh)

    def energy_j(self) -> float:
        return self._counters.energy_j()

    def describe(self) -> str:
        names = self._counters.describe()
        return f"CPU: measured (rapl), {len(self._counters.zones)} package zone(s): {names}"

    def close(self) -> None:
        self._counters.close()


class RaplRamMeter(RamMeter):
    """Energy of the DRAM from RAPL's dram zones (method ``rapl``)."""

    method = METHOD

    def __init__(
        self,
        zones: list[RaplZone],
        clock: Callable[[], float] = time.monotonic,
        refresh: bool = True,
    ) -> None:
        if not zones:
            raise RaplUnavailableError("RAPL has no dram zone on this host")
        self._counters = _Counters(zones, clock, refresh)

    def energy_j(self) -> float:
        return self._counters.energy_j()

    def describe(self) -> str:
        names = self._counters.describe()
        return f"RAM: measured (rapl), {len(self._counters.zones)} dram zone(s): {names}"

    def close(self) -> None:
        self._counters.close()
