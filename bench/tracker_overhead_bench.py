"""Tracker overhead: this tracker's own CPU beside CodeCarbon's, in one sitting.

    .venv/bin/python -m bench.tracker_overhead_bench [--seconds 3] [--repeats 3]
        [--idle-seconds 20] [--idle-repeats 3] [--tree-seconds 20] [--tree-repeats 3]

Three measurements, each interleaved (the order rotated per repeat, so drift on a shared machine
hits every condition alike), medians printed:

1. **Own CPU in-process** while the program sleeps, each condition in a fresh process: that
   process's CPU time (every thread, ended ones included), measured by the process itself to the
   nanosecond, with no tool, this tracker with the broker up (``KAFKA_BOOTSTRAP_SERVERS``, a
   topic of its own), this tracker with the broker down (a closed port: the events go to a
   spool), and CodeCarbon (newest installed, ``OfflineEmissionsTracker``, machine mode, no
   output), all at 1 s sampling. The tracker is made as a user makes it (its own producer, from
   the settings). The tool's own cost is the difference from no tool.
2. **Process-tree mode**: ``joulestream track`` (broker up and down) and CodeCarbon's
   ``tracking_mode="process"`` each measuring a tree of ``--sleepers`` sleeping processes, in a
   process of their own; the CPU time of that process alone (its children's is not counted) over
   ``--tree-seconds``, after a settling time, less that of a plain Python parent of the same tree.
3. **A pure-Python CPU-bound loop** with no tracker, this tracker (broker up) and CodeCarbon:
   wall and process CPU time.

The broker-up conditions need a Kafka at ``KAFKA_BOOTSTRAP_SERVERS``; ``--no-broker-up`` leaves
them out. Figures are quoted in ``docs/benchmarks.md``. Not a test: nothing here asserts a time.
"""

import argparse
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

from codecarbon import OfflineEmissionsTracker

from joulestream.settings import EmitterSettings
from joulestream.tracker import Tracker


def work(iterations: int) -> int:
    """A pure-Python CPU-bound loop (the interpreter's work, like a training step's glue)."""
    total = 0
    for i in range(iterations):
        total = (total + i * i) % 1_000_003
    return total


def calibrate(seconds: float) -> int:
    iterations = 200_000
    start = time.perf_counter()
    work(iterations)
    return int(iterations * seconds / (time.perf_counter() - start))


@contextmanager
def joulestream(bootstrap: str, topic: str, spool: Path) -> Iterator[None]:
    """The tracker as a user makes it: its own producer, from the settings (the environment)."""
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "JOULESTREAM_TOPIC": topic,
        "JOULESTREAM_SPOOL": str(spool),
    }
    settings = EmitterSettings.from_env(dict(os.environ, **env))
    # Broker down: after a second, the rest goes to the spool.
    with Tracker(
        model="bench",
        region="FR",
        user_id="bench",
        interval_s=1.0,
        settings=settings,
        stop_timeout_s=1.0,
    ):
        yield


@contextmanager
def codecarbon() -> Iterator[None]:
    tracker = OfflineEmissionsTracker(
        country_iso_code="FRA", measure_power_secs=1, save_to_file=False, log_level="error"
    )
    tracker.start()
    try:
        yield
    finally:
        tracker.stop()


def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"127.0.0.1:{port}"


def tree_code(sleepers: int, seconds: float) -> str:
    """Python that starts ``sleepers`` sleeping children and waits for them."""
    return (
        "import subprocess\n"
        f"kids = [subprocess.Popen(['sleep', '{seconds:g}']) for _ in range({sleepers})]\n"
        "[k.wait() for k in kids]\n"
    )


CODECARBON_PROCESS = """
import logging, subprocess, sys
from codecarbon import OfflineEmissionsTracker
logging.getLogger("codecarbon").setLevel(logging.ERROR)
tracker = OfflineEmissionsTracker(country_iso_code="FRA", measure_power_secs=1,
    save_to_file=False, log_level="error", tracking_mode="process")
tracker.start()
subprocess.run([sys.executable, "-c", sys.argv[1]], check=True)
tracker.stop()
"""


def tree_commands(
    sleepers: int, seconds: float, bootstraps: dict[str, str], spool: Path
) -> dict[str, list[str]]:
    tree = tree_code(sleepers, seconds)
    commands = {"none": [sys.executable, "-c", tree]}
    for name, bootstrap in bootstraps.items():
        commands[f"track, broker {name}"] = [
            sys.executable, "-m", "joulestream", "track", "--model", "bench", "--region", "FR",
            "--user", "bench", "--interval-s", "1", "--bootstrap-servers", bootstrap,
            "--topic", f"bench.track.{uuid.uuid4().hex[:8]}", "--", sys.executable, "-c", tree,
        ]  # fmt: skip
    commands["codecarbon process"] = [sys.executable, "-c", CODECARBON_PROCESS, tree]
    return commands


def own_process_cpu_s(pid: int) -> float:
    """User and system CPU seconds of one process, its children left out."""
    with open(f"/proc/{pid}/stat", "rb") as file:
        fields = file.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_cpu_ms_per_s(command: list[str], settle_s: float, seconds: float, spool: Path) -> float:
    """CPU time per second of the process that runs ``command`` (every thread of it, not its
    children), measured over ``seconds`` after ``settle_s`` (interpreter start, imports, the
    first samples)."""
    env = dict(os.environ, JOULESTREAM_SPOOL=str(spool))
    quiet = subprocess.DEVNULL
    with subprocess.Popen(command, env=env, stdout=quiet, stderr=quiet) as process:
        time.sleep(settle_s)
        start_s = own_process_cpu_s(process.pid)
        time.sleep(seconds)
        used_s = own_process_cpu_s(process.pid) - start_s
        process.wait(timeout=120)
    return 1000 * used_s / seconds


def hold(name: str, bootstrap: str, settle_s: float, seconds: float) -> None:
    """The child of measurement 1: one condition, held while the program sleeps; prints its own
    CPU time over ``seconds`` after ``settle_s`` (every thread, those ended meanwhile included:
    ``CLOCK_PROCESS_CPUTIME_ID``, to the nanosecond, where ``/proc`` counts 10 ms ticks)."""
    logging.getLogger("codecarbon").setLevel(logging.ERROR)
    logging.getLogger("joulestream").setLevel(logging.ERROR)
    condition: Callable[[], AbstractContextManager[None]] = nullcontext
    if name == "joulestream":
        spool = Path(tempfile.mkdtemp()) / "spool.jsonl"
        topic = f"bench.tracker.{uuid.uuid4().hex[:8]}"
        condition = lambda: joulestream(bootstrap, topic, spool)  # noqa: E731
    elif name == "codecarbon":
        condition = codecarbon
    with condition():
        time.sleep(settle_s)
        start_s = time.process_time()
        time.sleep(seconds)
        used_s = time.process_time() - start_s
    print(f"{used_s:.9f}")


def held_cpu_ms_per_s(command: list[str], seconds: float) -> float:
    """CPU time per second of a ``hold`` child over its window, as the child measured it."""
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=300)
    return 1000 * float(done.stdout.split()[-1]) / seconds


def hold_command(name: str, bootstrap: str, settle_s: float, seconds: float) -> list[str]:
    return [
        sys.executable, "-m", "bench.tracker_overhead_bench", "--hold", name,
        "--hold-bootstrap", bootstrap, "--hold-settle", f"{settle_s:g}",
        "--hold-seconds", f"{seconds:g}",
    ]  # fmt: skip


def rotated(names: list[str], repeat: int) -> list[str]:
    shift = repeat % len(names)
    return names[shift:] + names[:shift]


def report_own(title: str, own: dict[str, list[float]]) -> None:
    print(title)
    base_ms = statistics.median(own["none"])
    for name, values in own.items():
        ms_per_s = statistics.median(values)
        spread = f"{min(values):.2f}-{max(values):.2f}"
        print(
            f"  {name:22s} {ms_per_s:6.2f} ms/s (range {spread}); the tool's own: "
            f"{ms_per_s - base_ms:5.2f} ms/s = {(ms_per_s - base_ms) / 10:.3f} % of one core"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="loop length (default: 3)")
    parser.add_argument("--repeats", type=int, default=3, help="loop repeats (default: 3)")
    parser.add_argument(
        "--idle-seconds", type=float, default=20.0, help="own-cost window (default: 20)"
    )
    parser.add_argument("--idle-repeats", type=int, default=3, help="own-cost repeats (default: 3)")
    parser.add_argument(
        "--tree-seconds", type=float, default=20.0, help="tree window (default: 20)"
    )
    parser.add_argument("--tree-repeats", type=int, default=3, help="tree repeats (default: 3)")
    parser.add_argument("--sleepers", type=int, default=50, help="processes in the tree (50)")
    parser.add_argument(
        "--no-broker-up", action="store_true", help="leave out the conditions that need Kafka"
    )
    parser.add_argument("--hold", help=argparse.SUPPRESS)
    parser.add_argument("--hold-bootstrap", default="", help=argparse.SUPPRESS)
    parser.add_argument("--hold-settle", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--hold-seconds", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.hold is not None:
        hold(args.hold, args.hold_bootstrap, args.hold_settle, args.hold_seconds)
        return
    logging.getLogger("codecarbon").setLevel(logging.ERROR)
    logging.getLogger("joulestream").setLevel(logging.ERROR)  # the broker-down warning
    bootstraps = {"down": closed_port()}
    if not args.no_broker_up:
        bootstraps["up"] = EmitterSettings.from_env().bootstrap_servers
    topic = f"bench.tracker.{uuid.uuid4().hex[:8]}"
    iterations = calibrate(args.seconds)
    with tempfile.TemporaryDirectory() as tmp:
        spool = Path(tmp) / "spool.jsonl"
        conditions: dict[str, Callable[[], AbstractContextManager[None]]] = {"none": nullcontext}
        holds = {"none": hold_command("none", "", 5.0, args.idle_seconds)}
        for name, bootstrap in sorted(bootstraps.items(), reverse=True):
            conditions[f"joulestream, broker {name}"] = (
                lambda b=bootstrap: joulestream(b, topic, spool)  # type: ignore[misc]
            )
            holds[f"joulestream, broker {name}"] = hold_command(
                "joulestream", bootstrap, 5.0, args.idle_seconds
            )
        conditions["codecarbon"] = codecarbon
        holds["codecarbon"] = hold_command("codecarbon", "", 5.0, args.idle_seconds)
        names = list(conditions)
        # Each condition in a process of its own: threads a tool leaves behind (librdkafka's,
        # CodeCarbon's scheduler) would otherwise be charged to the conditions after it.
        own: dict[str, list[float]] = {name: [] for name in names}
        for repeat in range(args.idle_repeats):
            for name in rotated(names, repeat):
                own[name].append(held_cpu_ms_per_s(holds[name], args.idle_seconds))
        commands = tree_commands(
            args.sleepers, args.tree_seconds + 10.0, bootstraps, Path(tmp) / "track-spool.jsonl"
        )
        tree: dict[str, list[float]] = {name: [] for name in commands}
        for repeat in range(args.tree_repeats):
            for name in rotated(list(commands), repeat):
                tree[name].append(
                    process_cpu_ms_per_s(commands[name], 5.0, args.tree_seconds, spool)
                )
        loop_names = [n for n in names if n in ("none", "joulestream, broker up", "codecarbon")]
        times: dict[str, list[float]] = {name: [] for name in loop_names}
        cpu_times: dict[str, list[float]] = {name: [] for name in loop_names}
        for repeat in range(args.repeats):
            for name in rotated(loop_names, repeat):
                with conditions[name]():
                    start, start_cpu = time.perf_counter(), time.process_time()
                    work(iterations)
                    times[name].append(time.perf_counter() - start)
                    # All of this process's threads: the loop's and the tracker's own.
                    cpu_times[name].append(time.process_time() - start_cpu)
    report_own(
        f"1. own CPU of a sleeping program with the tool, each in a fresh process "
        f"({args.idle_repeats} interleaved repeats of {args.idle_seconds:g} s after 5 s, "
        "1 s sampling), medians:",
        own,
    )
    report_own(
        f"2. process-tree mode, CPU of the measuring process over {args.tree_seconds:g} s "
        f"({args.sleepers} sleeping children, {args.tree_repeats} interleaved repeats), medians:",
        tree,
    )
    medians = {name: statistics.median(values) for name, values in times.items()}
    base = medians["none"]
    print(f"3. loop: {iterations} iterations, {args.repeats} interleaved repeats, medians:")
    for name, median_s in medians.items():
        spread = f"{min(times[name]):.3f}-{max(times[name]):.3f}"
        print(
            f"  {name:22s} wall {median_s:.3f} s (range {spread}) "
            f"{100 * (median_s / base - 1):+.2f}%"
        )
    cpu = {name: statistics.median(values) for name, values in cpu_times.items()}
    for name, median_s in cpu.items():
        print(
            f"  {name:22s} process CPU {median_s:.3f} s {100 * (median_s / cpu['none'] - 1):+.2f}%"
        )


if __name__ == "__main__":
    main()
