"""Tracker overhead: the same CPU-bound loop with no tracker, this tracker and CodeCarbon.

    .venv/bin/python -m bench.tracker_overhead_bench [--seconds 4] [--repeats 7]

Each repeat runs the loop three times, once per condition, in an order rotated per repeat
(interleaved, so drift on a shared machine hits every condition alike). Only the loop is timed:
the trackers are started before and stopped after it, as around a training loop. Wall time
and the process's CPU time (all its threads, so the trackers' own work counts) are both
reported: on a machine shared with other work, CPU time is the steadier of the two. Both trackers
sample every 1 s; this tracker emits to Kafka (KAFKA_BOOTSTRAP_SERVERS, a topic of its own) and
CodeCarbon runs offline with no output. Prints the medians and the ratios of one run; figures are
quoted in ``docs/benchmarks.md``. Not a test: nothing here asserts a time.
"""

import argparse
import logging
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

from codecarbon import OfflineEmissionsTracker

from joulestream.producer import EventProducer
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
    producer = EventProducer(bootstrap, topic, spool)
    with Tracker(model="bench", region="FR", user_id="bench", interval_s=1.0, producer=producer):
        yield
    producer.close()


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


def own_cpu_ms_per_s(
    condition: Callable[[], AbstractContextManager[None]], seconds: float
) -> float:
    """CPU time the measuring tool itself takes per second, every thread of the process, while
    the program sleeps: the loop's overhead without the loop's noise (after 1 s to settle)."""
    with condition():
        time.sleep(1.0)
        start_cpu = time.process_time()
        time.sleep(seconds)
        return 1000 * (time.process_time() - start_cpu) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="loop length (default: 4)")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved repeats (default: 7)")
    parser.add_argument(
        "--idle-seconds", type=float, default=20.0, help="own-cost measurement (default: 20)"
    )
    parser.add_argument(
        "--idle-repeats", type=int, default=5, help="interleaved own-cost repeats (default: 5)"
    )
    args = parser.parse_args()
    logging.getLogger("codecarbon").setLevel(logging.ERROR)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    topic = f"bench.tracker.{uuid.uuid4().hex[:8]}"
    iterations = calibrate(args.seconds)
    with tempfile.TemporaryDirectory() as tmp:
        spool = Path(tmp) / "spool.jsonl"
        conditions: dict[str, Callable[[], AbstractContextManager[None]]] = {
            "none": nullcontext,
            "joulestream": lambda: joulestream(bootstrap, topic, spool),
            "codecarbon": codecarbon,
        }
        times: dict[str, list[float]] = {name: [] for name in conditions}
        cpu_times: dict[str, list[float]] = {name: [] for name in conditions}
        names = list(conditions)
        # Interleaved, with the sleeping program alone as the baseline: this machine charges
        # even a sleeping thread a few tenths of a millisecond per second.
        own: dict[str, list[float]] = {name: [] for name in names}
        for repeat in range(args.idle_repeats):
            for name in names[repeat % 3 :] + names[: repeat % 3]:
                own[name].append(own_cpu_ms_per_s(conditions[name], args.idle_seconds))
        for repeat in range(args.repeats):
            order = names[repeat % 3 :] + names[: repeat % 3]
            for name in order:
                with conditions[name]():
                    start, start_cpu = time.perf_counter(), time.process_time()
                    work(iterations)
                    times[name].append(time.perf_counter() - start)
                    # All of this process's threads: the loop's and the tracker's own.
                    cpu_times[name].append(time.process_time() - start_cpu)
    medians = {name: statistics.median(values) for name, values in times.items()}
    base = medians["none"]
    print(f"loop: {iterations} iterations, {args.repeats} interleaved repeats, medians:")
    for name, median_s in medians.items():
        spread = f"{min(times[name]):.3f}-{max(times[name]):.3f}"
        print(
            f"  {name:12s} {median_s:.3f} s (range {spread})  "
            f"overhead {100 * (median_s / base - 1):+.2f}%"
        )
    cpu = {name: statistics.median(values) for name, values in cpu_times.items()}
    print("process CPU time (every thread of the process, insensitive to other processes):")
    for name, median_s in cpu.items():
        print(f"  {name:12s} {median_s:.3f} s  overhead {100 * (median_s / cpu['none'] - 1):+.2f}%")
    print(
        f"process CPU while the program sleeps ({args.idle_repeats} interleaved repeats of "
        f"{args.idle_seconds:.0f} s, 1 s interval), medians:"
    )
    base_ms = statistics.median(own["none"])
    for name, values in own.items():
        ms_per_s = statistics.median(values)
        spread = f"{min(values):.2f}-{max(values):.2f}"
        print(
            f"  {name:12s} {ms_per_s:.2f} ms/s (range {spread}); the tool's own: "
            f"{ms_per_s - base_ms:.2f} ms/s = {(ms_per_s - base_ms) / 10:.3f} % of one core"
        )


if __name__ == "__main__":
    main()
