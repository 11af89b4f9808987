"""The process-tree load against real child processes burning CPU, and the kernel's totals."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from joulestream.meters.load import CACHE_S, PROC, LaterProcessTreeLoad, ProcessTreeLoad
from joulestream.meters.tdp import IDLE_SHARE, Tdp, TdpModelCpuMeter

# The root starts two children that each burn 0.5 CPU-seconds, reaps them, and prints the
# kernel's total for itself and what it reaped just before it exits.
ROOT = """
import os, subprocess, sys
burn = "import time\\nwhile time.process_time() < 0.5: pass"
kids = [subprocess.Popen([sys.executable, "-c", burn]) for _ in range(2)]
for kid in kids:
    kid.wait()
t = os.times()
print(t.user + t.system + t.children_user + t.children_system, flush=True)
"""
EXIT_COST_S = 0.05
"""CPU the root may still use after its print (interpreter shutdown), plus a clock tick."""


def start_root() -> "subprocess.Popen[str]":
    return subprocess.Popen([sys.executable, "-c", ROOT], stdout=subprocess.PIPE, text=True)


@pytest.mark.parametrize("proc", [PROC, None], ids=["proc", "psutil"])
def test_tree_total_after_wait_is_the_kernels(proc: Path | None, tmp_path: Path) -> None:
    """Sampled once early, read again after ``wait``: the reading is the kernel's total for
    the whole tree (the root and both children), not the early sample's."""
    root = start_root()
    load = ProcessTreeLoad(root.pid, 2, proc=proc or tmp_path)  # tmp_path: no /proc there
    time.sleep(0.2)
    early_s = load.busy_cpu_s()
    out, _ = root.communicate(timeout=60)
    time.sleep(CACHE_S)
    kernel_s = float(out)
    assert early_s < kernel_s - 0.5  # most of the burn came after the early sample
    assert kernel_s >= 1.0
    assert kernel_s <= load.busy_cpu_s() <= kernel_s + EXIT_COST_S


def test_tdp_model_counts_the_whole_run_of_a_tracked_command() -> None:
    """As ``track`` does: meters made before the command starts, the tree attached after it
    started, sampled while it runs, read after ``wait``. The busy CPU-seconds the TDP model
    charges are the kernel's total, including what the child did before the first sample."""
    load = LaterProcessTreeLoad(cpu_count=4)
    clock = [0.0]
    meter = TdpModelCpuMeter(load, Tdp(100.0, "test", known=True), 1, clock=lambda: clock[0])
    root = start_root()
    time.sleep(0.3)  # the command runs before the tracker attaches
    load.attach(root.pid)
    samples_j = []
    while root.poll() is None:
        clock[0] += 1.0
        samples_j.append(meter.energy_j())
        time.sleep(0.2)
    kernel_s = float(root.communicate(timeout=60)[0])
    time.sleep(CACHE_S)
    clock[0] += 1.0
    total_j = meter.energy_j()
    floor_j = 100.0 * IDLE_SHARE * clock[0]
    busy_s = (total_j - floor_j) / (100.0 * (1 - IDLE_SHARE) / 4)
    assert kernel_s - 0.01 <= busy_s <= kernel_s + EXIT_COST_S
    assert samples_j[-1] < total_j


def test_tree_is_walked_once_per_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two reads within CACHE_S (the TDP model, then cpu_utilisation) walk the tree once."""
    load = ProcessTreeLoad(os.getpid())
    walks: list[float | None] = []
    walk = load._walk

    def counted() -> float | None:
        walks.append(walk())
        return walks[-1]

    monkeypatch.setattr(load, "_walk", counted)
    time.sleep(CACHE_S)
    load.busy_cpu_s()
    load.busy_cpu_s()
    assert len(walks) == 1


def stat_text(user: int, nice: int, system: int, irq: int, softirq: int) -> str:
    """/proc/stat with the given busy ticks (idle, iowait and steal large, as on a real host;
    guest counted in user already)."""
    return (
        f"cpu  {user} {nice} {system} 99000 700 {irq} {softirq} 500 40 0\n"
        "cpu0 1 2 3 4 5 6 7 8 9 10\nintr 12345 0 1\nctxt 999\n"
    )


def test_the_machine_load_reads_proc_stat_once_within_its_cache_time(tmp_path: Path):
    """Two reads within MACHINE_CACHE_S (the TDP model, then cpu_utilisation) read
    /proc/stat once; a later read sees the new value, and a counter that went back (a CPU
    taken offline) never makes the reading decrease. Busy is user, nice, system, irq and
    softirq, in clock ticks."""
    from joulestream.meters import load

    ticks_per_s = os.sysconf("SC_CLK_TCK")
    stat = tmp_path / "stat"
    stat.write_text(stat_text(1000, 0, 500, 0, 0))
    now_s = [100.0]
    machine = load.MachineLoad(clock=lambda: now_s[0], stat_path=str(stat))
    assert machine.busy_cpu_s() == 1500 / ticks_per_s
    stat.write_text(stat_text(1200, 10, 560, 20, 10))
    now_s[0] += load.MACHINE_CACHE_S / 2
    assert machine.busy_cpu_s() == 1500 / ticks_per_s  # within the cache time
    now_s[0] += load.MACHINE_CACHE_S
    assert machine.busy_cpu_s() == 1800 / ticks_per_s
    stat.write_text(stat_text(100, 0, 100, 0, 0))
    now_s[0] += load.MACHINE_CACHE_S * 2
    assert machine.busy_cpu_s() == 1800 / ticks_per_s


def test_the_machine_load_reads_the_real_proc_stat_as_psutil_does():
    """On this host the one-line read of /proc/stat gives psutil's busy seconds (read
    together, a tick apart at most)."""
    import psutil

    from joulestream.meters import load

    machine = load.MachineLoad()
    before = psutil.cpu_times()
    busy_s = machine.busy_cpu_s()
    after = psutil.cpu_times()
    low, high = (sum(getattr(t, n) for n in load.BUSY_FIELDS) for t in (before, after))
    assert low - 0.01 <= busy_s <= high + 0.01


@pytest.mark.parametrize("content", [None, "", "cpu 1 2\n", "intr 1 2 3\n", "cpu  a b c d e f g\n"])
def test_without_a_readable_proc_stat_the_machine_load_asks_psutil(
    content, monkeypatch, tmp_path: Path
):
    """No /proc/stat (not Linux), or one this reader does not expect: psutil's cpu_times, from
    then on."""
    from collections import namedtuple

    from joulestream.meters import load

    Times = namedtuple("Times", "user nice system irq softirq idle")
    readings = iter([Times(10, 0, 5, 0, 0, 99), Times(12, 1, 6, 1, 1, 99)])
    monkeypatch.setattr("joulestream.meters.load.psutil.cpu_times", lambda: next(readings))
    stat = tmp_path / "stat"
    if content is not None:
        stat.write_text(content)
    now_s = [100.0]
    machine = load.MachineLoad(clock=lambda: now_s[0], stat_path=str(stat))
    assert machine.busy_cpu_s() == 15.0
    stat.write_text(stat_text(1000, 0, 500, 0, 0))  # psutil all the same, once it was asked
    now_s[0] += 1
    assert machine.busy_cpu_s() == 21.0
