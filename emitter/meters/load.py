"""How busy the CPUs are: cumulative busy CPU-seconds, for the whole machine or a process tree.

Both sources are cumulative counters, so any number of readers (the TDP model, the tracker's
``cpu_utilisation``) can take differences between their own reads without disturbing each
other, which ``psutil.cpu_percent(interval=None)``, a since-the-last-call value shared by the
whole process, would not allow.
"""

import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable

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


class MachineLoad(CpuLoad):
    """The whole machine: every CPU's non-idle time (``/proc/stat`` through psutil)."""

    scope = "machine"

    def __init__(self) -> None:
        self.cpu_count = psutil.cpu_count() or 1

    def busy_cpu_s(self) -> float:
        times = psutil.cpu_times()
        # Not idle, iowait (nothing to run) or steal (the hypervisor ran someone else); guest
        # time is left out because Linux already counts it in user and nice.
        return sum(float(getattr(times, name, 0.0)) for name in BUSY_FIELDS)


class ProcessTreeLoad(CpuLoad):
    """One process and all its descendants, including those that have exited.

    Each live process contributes its own user and system time plus that of the children it
    has reaped (``children_user``/``children_system``); the kernel adds a reaped child's own
    reaped children to those, so nothing is counted twice. A child that exited since the last
    read, not yet reaped, is missed until its parent reaps it; the counter is kept monotonic.
    """

    scope = "process tree"

    def __init__(self, pid: int, cpu_count: int | None = None) -> None:
        self.pid = pid
        self.cpu_count = cpu_count or logical_cpus()
        self._root = psutil.Process(pid)
        self._last_s = 0.0
        self._last_s = self.busy_cpu_s()

    def busy_cpu_s(self) -> float:
        try:
            procs = [self._root, *self._root.children(recursive=True)]
        except psutil.Error:
            procs = [self._root]
        total_s = 0.0
        for proc in procs:
            try:
                times = proc.cpu_times()
            except psutil.Error:  # gone since it was listed
                continue
            total_s += times.user + times.system + times.children_user + times.children_system
        self._last_s = max(self._last_s, total_s)
        return self._last_s


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
