"""``python -m emitter track -- cmd args`` and ``doctor``: wrap any training command, or say how
this host would be measured."""

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from emitter.meters.base import MeterError, is_estimate
from emitter.meters.select import select_meters
from emitter.producer import DEFAULT_SPOOL, EventProducer
from emitter.tracker import Tracker


def doctor(cpu: str, ram: str, gpu: str) -> int:
    """Print what would be measured how, and why; 1 if a meter named explicitly is unusable."""
    try:
        meters = select_meters(cpu, ram, gpu)
    except MeterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        host = meters.host
        print(
            f"host: {host.cpu_model or 'unknown CPU'}, {host.cpu_count} CPUs, "
            f"{host.cpu_packages} package(s), {host.ram_gb:.1f} GB RAM"
        )
        for meter in (meters.cpu, meters.ram, meters.gpu):
            print(meter.describe())
        print("why:")
        for reason in meters.reasons:
            print(f"  {reason}")
        estimates = [m.method for m in (meters.cpu, meters.ram) if is_estimate(m.method)]
        if estimates:
            print(f"estimates (method names ending in _model): {', '.join(estimates)}")
    finally:
        meters.close()
    return 0


def track(args: argparse.Namespace) -> int:
    """Run ``args.command`` to its end under a tracker of its process tree; its exit code."""
    command = list(args.argv)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        print("error: no command to track, e.g. `track -- python train.py`", file=sys.stderr)
        return 2
    child = subprocess.Popen(command)
    # The child gets Ctrl-C from the terminal itself; a SIGTERM sent to this process is
    # passed on, so that the run ends as the child decides and is recorded.
    signal.signal(signal.SIGTERM, lambda signum, frame: child.send_signal(signum))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    spool = Path(os.environ.get("JOULESTREAM_SPOOL", str(DEFAULT_SPOOL)))
    producer = EventProducer(args.bootstrap_servers, args.topic, spool_path=spool)
    try:
        meters = select_meters(args.cpu_meter, args.ram_meter, args.gpu_meter, pid=child.pid)
    except MeterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        child.terminate()
        child.wait()
        producer.close()
        return 1
    tracker = Tracker(
        model=args.model,
        region=args.region,
        user_id=args.user,
        project=args.project,
        run_id=args.run_id,
        dataset=args.dataset,
        framework=args.framework,
        interval_s=args.interval_s,
        meters=meters,
        producer=producer,
    )
    tracker.start()
    code = child.wait()
    if code == 0:
        tracker.stop("completed")
    elif code < 0 and -code in (signal.SIGINT, signal.SIGTERM):
        tracker.stop("cancelled", f"signal {-code}")
    else:
        tracker.stop("failed", f"exit code {code}")
    totals = tracker.totals_j
    meters.close()
    producer.close()
    stats = producer.stats
    print(
        f"tracked run {tracker.run_id}: cpu {totals['cpu']:.1f} J "
        f"({tracker.meters.cpu.method}), ram {totals['ram']:.1f} J "
        f"({tracker.meters.ram.method}), gpu {totals['gpu']:.1f} J; {stats.delivered} events "
        f"delivered to {args.topic}, {stats.spooled} spooled to {spool}",
        file=sys.stderr,
    )
    return code if code >= 0 else 128 - code
