"""How busy the CPUs are: cumulative busy CPU-seconds, for the whole machine or a process tree.

Both sources are cumulative counters, so any number of readers (the TDP model, the tracker's
``cpu_utilisation``) can take differences between their own reads without disturbing each
other, which ``psutil.cpu_percent(interval=None)``, a since-the-last-call value shared by the
whole process, would not allow.
"""

import math
import os
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

import psutil


def logical_cpus() -> int:
    """Logical CPUs this process may run on (its affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class CpuLoad(ABC):
    """Cumulative busy CPU-seconds of what is tracked, and how many CPUs it may use."""

    cpu_count: int
    scope: str
    """'machine' or 'process tree'."""

    @abstractmethod
    def busy_cpu_s(self) -> float:
        """CPU-seconds spent busy since an arbitrary origin; never decreases."""


BUSY_FIELDS = ("user", "nice", "system", "irq", "softirq")
MACHINE_CACHE_S = 0.005
"""The machine's reading is reused for this long: the tracker reads it twice per interval (the
TDP model, then ``cpu_utilisation``), microseconds apart. ``/proc/stat`` counts in ticks of
1/100 s, so two reads this close are almost always equal anyway."""
PROC_STAT = "/proc/stat"
STAT_COLUMNS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
"""The first columns of ``/proc/stat``'s ``cpu`` line, in the kernel's order (proc(5))."""
_BUSY_COLUMNS = tuple(STAT_COLUMNS.index(name) + 1 for name in BUSY_FIELDS)
STAT_HEAD_BYTES = 512
"""Bytes read from the start of ``/proc/stat``: its first line is ``cpu`` and ten counters of at
most 20 digits (about 230 bytes)."""


class MachineLoad(CpuLoad):
    """The whole machine: every CPU's non-idle time, from ``/proc/stat``'s ``cpu`` line.

    On Linux the file is opened once and each reading is one ``pread`` of its head: a sampling
    thread that wakes once a second runs with cold caches, and there psutil's ``cpu_times()``
    (open, read, parse every column, close) took about 100 us a call, a ``pread`` and the parse
    of five columns about 40 us. Elsewhere, or if the file cannot be read, psutil."""

    scope = "machine"

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, *, stat_path: str = PROC_STAT
    ) -> None:
        self.cpu_count = psutil.cpu_count() or 1
        self._clock = clock
        self._read_at_s = -math.inf
        self._busy_s = 0.0
        self._ticks_per_s = float(os.sysconf("SC_CLK_TCK")) if hasattr(os, "sysconf") else 100.0
        self._stat_fd: int | None = None
        try:
            self._stat_fd = os.open(stat_path, os.O_RDONLY)  # not inherited (PEP 446)
        except (OSError, AttributeError):
            return  # not Linux: psutil
        # Closed with this object; a raw descriptor, so no ResourceWarning if never closed.
        weakref.finalize(self, os.close, self._stat_fd)

    def busy_cpu_s(self) -> float:
        """Reused for ``MACHINE_CACHE_S``: ``/proc/stat`` read once per interval, not twice."""
        now_s = self._clock()
        if now_s - self._read_at_s > MACHINE_CACHE_S:
            busy_s = self._read_busy_s()
            self._busy_s = max(self._busy_s, busy_s)  # never decreases, as promised
            self._read_at_s = now_s
        return self._busy_s

    def _read_busy_s(self) -> float:
        # Not idle, iowait (nothing to run) or steal (the hypervisor ran someone else); guest
        # time is left out because Linux already counts it in user and nice.
        if self._stat_fd is not None:
            try:
                head = os.pread(self._stat_fd, STAT_HEAD_BYTES, 0)
                line, newline, _ = head.partition(b"\n")
                columns = line.split()
                if newline and columns[0] == b"cpu":
                    return sum(int(columns[i]) for i in _BUSY_COLUMNS) / self._ticks_per_s
            except (OSError, ValueError, IndexError):
                pass
            self._stat_fd = None  # not the file this expects: psutil from now on
        times = psutil.cpu_times()
        return sum(float(getattr(times, name, 0.0)) for name in BUSY_FIELDS)


PROC = Path("/proc")
CACHE_S = 0.05
"""A process tree's reading is reused for this long: the tracker reads it twice per interval
(the TDP model, then ``cpu_utilisation``), microseconds apart, so the tree is walked once."""


def _own_children_s() -> float:
    """CPU seconds of this process's reaped children (and everything they reaped)."""
    times = os.times()
    return times.children_user + times.children_system


class ProcessTreeLoad(CpuLoad):
    """One process and all its descendants, including those that have exited.

    Each live process contributes its own user and system time plus that of the children it
    has reaped (``cutime``/``cstime``); the kernel adds a reaped child's own reaped children to
    those, so nothing is counted twice, and an exited child not yet reaped (a zombie) still
    has its times. The origin is the root's start: CPU it used before this object was made
    counts, so a meter made before the command started misses nothing.

    When the root has exited and been reaped by this process (``track`` waits for its
    command), its final times and those of everything it reaped are in this process's
    ``children_user``/``children_system``: the reading after ``wait`` is the kernel's exact
    total, not the last sample's. Descendants the root did not reap before it died (orphans,
    reparented to init) are missed from then on.

    On Linux the tree is walked through ``/proc/<pid>/task/<tid>/children`` and
    ``/proc/<pid>/stat``: one read per process and thread of the tree, about 3x cheaper than
    psutil's ``children(recursive=True)``, which reads every process of the host (figures in
    ``emitter/README.md``); elsewhere through psutil.
    """

    scope = "process tree"

    def __init__(
        self,
        pid: int,
        cpu_count: int | None = None,
        *,
        proc: Path = PROC,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pid = pid
        self.cpu_count = cpu_count or logical_cpus()
        self._proc = proc
        self._clock = clock
        self._root = psutil.Process(pid)  # NoSuchProcess now rather than a silent zero later
        self._ticks_per_s = float(os.sysconf("SC_CLK_TCK")) if hasattr(os, "sysconf") else 100.0
        self._use_proc = (proc / str(pid) / "task" / str(pid) / "children").exists()
        self._root_start = self._start_ticks(pid) if self._use_proc else None
        self._reaps_root = self._root.ppid() == os.getpid()
        self._reaped_base_s = _own_children_s()
        self._root_gone = False
        self._last_s = 0.0
        self._read_at_s: float | None = None
        self.busy_cpu_s()

    def busy_cpu_s(self) -> float:
        now_s = self._clock()
        if self._read_at_s is not None and now_s - self._read_at_s < CACHE_S:
            return self._last_s
        total_s = None if self._root_gone else self._walk()
        if total_s is None:
            self._root_gone = True
            if self._reaps_root:
                total_s = _own_children_s() - self._reaped_base_s
        if total_s is not None:
            self._last_s = max(self._last_s, total_s)
        self._read_at_s = now_s
        return self._last_s

    def _walk(self) -> float | None:
        """The tree's busy seconds now, or None if the root is gone."""
        return self._walk_proc() if self._use_proc else self._walk_psutil()

    def _stat(self, pid: int) -> list[bytes]:
        """Fields of /proc/<pid>/stat from the state on (the command name may hold spaces)."""
        # Plain strings and open(): pathlib costs about as much as the read itself here.
        with open(f"{self._proc}/{pid}/stat", "rb") as file:
            data = file.read()
        return data[data.rindex(b")") + 2 :].split()

    def _start_ticks(self, pid: int) -> int:
        return int(self._stat(pid)[19])  # starttime: tells a reused pid from the root

    def _walk_proc(self) -> float | None:
        total_ticks = 0
        stack = [self.pid]
        while stack:
            pid = stack.pop()
            try:
                fields = self._stat(pid)
                if pid == self.pid and int(fields[19]) != self._root_start:
                    return None
                # utime, stime, cutime, cstime
                total_ticks += sum(int(f) for f in fields[11:15])
                tasks = f"{self._proc}/{pid}/task"
                for tid in os.listdir(tasks):
                    with open(f"{tasks}/{tid}/children", "rb") as file:
                        stack.extend(int(c) for c in file.read().split())
            except (OSError, ValueError, IndexError):
                if pid == self.pid:
                    return None
                continue  # exited since it was listed: its parent's cutime will have it
        return total_ticks / self._ticks_per_s

    def _walk_psutil(self) -> float | None:
        try:
            procs = [self._root, *self._root.children(recursive=True)]
        except psutil.Error:
            procs = [self._root]
        total_s = 0.0
        for proc in procs:
            try:
                times = proc.cpu_times()
            except psutil.Error:  # gone since it was listed
                if proc is self._root:
                    return None
                continue
            total_s += times.user + times.system + times.children_user + times.children_system
        return total_s


class LaterProcessTreeLoad(CpuLoad):
    """A process tree that does not exist yet: no busy time until ``attach(pid)``, then that
    tree's. Lets every meter be chosen and checked before the command it measures starts."""

    scope = "process tree"

    def __init__(self, cpu_count: int | None = None) -> None:
        self.cpu_count = cpu_count or logical_cpus()
        self._tree: ProcessTreeLoad | None = None

    def attach(self, pid: int) -> None:
        self._tree = ProcessTreeLoad(pid, self.cpu_count)

    def busy_cpu_s(self) -> float:
        return 0.0 if self._tree is None else self._tree.busy_cpu_s()


class Utilisation:
    """Mean utilisation share of a ``CpuLoad`` between two calls of ``since_last()``."""

    def __init__(self, load: CpuLoad, clock: Callable[[], float] = time.monotonic) -> None:
        self._load = load
        self._clock = clock
        self._busy_s = load.busy_cpu_s()
        self._at_s = clock()

    def since_last(self) -> float | None:
        """Share in [0, 1] since the previous call (or creation); None over no time."""
        busy_s, at_s = self._load.busy_cpu_s(), self._clock()
        elapsed_s = at_s - self._at_s
        share = (busy_s - self._busy_s) / (elapsed_s * self._load.cpu_count) if elapsed_s else None
        self._busy_s, self._at_s = busy_s, at_s
        return None if share is None else min(1.0, max(0.0, share))
