"""This tracker's energies beside CodeCarbon's, both measuring the same CPU burn at once.

    .venv/bin/python -m bench.estimates_vs_codecarbon [--seconds 20] [--workers 1]

Two sittings: the whole machine (both tools' machine mode), then this process tree (this
tracker's ``pid=`` and CodeCarbon's ``tracking_mode="process"``). In each, both tools start, the
burn runs (``--workers`` child processes spinning for ``--seconds``), both stop, and their CPU and
RAM energies are printed side by side in joules with the mean power over the sitting. Both use
their automatic meters (RAPL where readable, else their models); CodeCarbon runs offline with no
output and PUE 1. Not a test: the figures go to ``emitter/README.md``.
"""

import argparse
import logging
import multiprocessing
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from codecarbon import OfflineEmissionsTracker

from joulestream.events import Event
from joulestream.producer import EventProducer
from joulestream.schemas.pricing import J_PER_KWH
from joulestream.tracker import Tracker


class NoProducer(EventProducer):
    """Events are not the point here: nothing is sent."""

    def __init__(self) -> None:
        pass

    def emit(self, event: Event) -> None:
        return None

    def close(self, timeout_s: float = 30.0) -> None:
        return None


def spin(seconds: float) -> None:
    end_s = time.monotonic() + seconds
    total = 0
    while time.monotonic() < end_s:
        for i in range(10_000):
            total = (total + i * i) % 1_000_003


@dataclass(frozen=True)
class Energies:
    cpu_j: float
    ram_j: float
    duration_s: float
    cpu_method: str


@contextmanager
def both(process: bool) -> Iterator[dict[str, Energies]]:
    results: dict[str, Energies] = {}
    codecarbon = OfflineEmissionsTracker(
        country_iso_code="FRA",
        measure_power_secs=1,
        save_to_file=False,
        log_level="error",
        tracking_mode="process" if process else "machine",
    )
    ours = Tracker(
        model="compare",
        region="FR",
        user_id="bench",
        interval_s=1.0,
        producer=NoProducer(),
        pid=os.getpid() if process else None,
    )
    start_s = time.monotonic()
    codecarbon.start()
    ours.start()
    try:
        yield results
    finally:
        ours.stop()
        codecarbon.stop()
        duration_s = time.monotonic() - start_s
        data = codecarbon.final_emissions_data
        results["codecarbon"] = Energies(
            data.cpu_energy * J_PER_KWH, data.ram_energy * J_PER_KWH, duration_s, "codecarbon"
        )
        assert ours.summary is not None
        energy = ours.summary.energy_j
        results["joulestream"] = Energies(
            energy["cpu"], energy["ram"], duration_s, ours.meters.cpu.method
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="burn length (default: 20)")
    parser.add_argument("--workers", type=int, default=1, help="burning processes (default: 1)")
    args = parser.parse_args()
    logging.getLogger("codecarbon").setLevel(logging.ERROR)
    print(
        f"{args.workers} process(es) burning {args.seconds:g} s on "
        f"{os.cpu_count()} logical CPUs; energies in J (mean W over the sitting)"
    )
    print(f"{'mode':8s} {'tool':12s} {'cpu':>16s} {'ram':>16s}")
    for process in (False, True):
        with both(process) as results:
            workers = [
                multiprocessing.Process(target=spin, args=(args.seconds,))
                for _ in range(args.workers)
            ]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
        for tool, e in results.items():
            mode = "process" if process else "machine"
            cpu = f"{e.cpu_j:.1f} ({e.cpu_j / e.duration_s:.2f} W)"
            ram = f"{e.ram_j:.1f} ({e.ram_j / e.duration_s:.2f} W)"
            print(f"{mode:8s} {tool:12s} {cpu:>16s} {ram:>16s}")


if __name__ == "__main__":
    main()
