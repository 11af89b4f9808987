"""``joulestream track -- cmd args``: wrap any training command and measure it.

``track`` checks everything it can before it starts the command (the command is found and
executable, the arguments, the meters, the Kafka settings), so that a mistake costs nothing; once
the command runs, it runs to its end unless the tracker fails, in which case it is ended (SIGTERM,
then SIGKILL after a grace period) rather than left to train unmeasured.
"""

import argparse
import math
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from joulestream.meters.base import MeterError
from joulestream.meters.load import LaterProcessTreeLoad
from joulestream.meters.select import select_meters
from joulestream.producer import DEFAULT_SPOOL, EventProducer
from joulestream.settings import EmitterSettings
from joulestream.tracker import DEFAULT_STOP_TIMEOUT_S, MAX_INTERVAL_S, Tracker

USAGE_ERROR = 2
"""Bad arguments, meters or Kafka settings: nothing was started."""
TRACKER_FAILED = 125
"""The tracker failed while the command ran, and the command was ended (as ``timeout`` and
``env`` use 125 for their own failure)."""
CANNOT_RUN = 126
"""The command exists but cannot be run (not executable), as in a shell."""
NOT_FOUND = 127
"""The command was not found, as in a shell."""
DEFAULT_KILL_AFTER_S = 10.0
"""After SIGTERM, how long an ended command has to stop before it gets SIGKILL."""
POLL_S = 0.25
"""How often ``track`` looks at the tracker while the command runs."""


def track(args: argparse.Namespace) -> int:
    """Run ``args.argv`` to its end under a tracker of its process tree; its exit code, or one of
    USAGE_ERROR, CANNOT_RUN, NOT_FOUND (nothing started) and TRACKER_FAILED."""
    command = list(args.argv)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        return _error("no command to track, e.g. `track -- python train.py`", USAGE_ERROR)
    interval_s = args.interval_s
    if not (math.isfinite(interval_s) and 0 < interval_s <= MAX_INTERVAL_S):
        message = f"--interval-s must be > 0 and <= {MAX_INTERVAL_S:g}, got {interval_s:g}"
        return _error(message, USAGE_ERROR)
    kill_after_s = getattr(args, "kill_after_s", DEFAULT_KILL_AFTER_S)
    if not (math.isfinite(kill_after_s) and kill_after_s >= 0):
        return _error(f"--kill-after-s must be >= 0, got {kill_after_s:g}", USAGE_ERROR)
    problem = _cannot_run(command[0])
    if problem is not None:
        return _error(*problem)

    try:
        settings = EmitterSettings.from_env()
    except ValueError as exc:
        return _error(str(exc), USAGE_ERROR)
    load = LaterProcessTreeLoad()
    try:
        meters = select_meters(
            args.cpu_meter,
            args.ram_meter,
            args.gpu_meter,
            load=load,
            cpu_power_w=settings.cpu_power_w,
            ram_power_w=settings.ram_power_w,
            gpu_ids=settings.gpu_ids,
        )
    except MeterError as exc:
        return _error(str(exc), USAGE_ERROR)
    spool = Path(os.environ.get("JOULESTREAM_SPOOL", str(DEFAULT_SPOOL)))
    try:
        producer = EventProducer(args.bootstrap_servers, args.topic, spool_path=spool)
    except ValueError as exc:  # Kafka settings from the environment
        meters.close()
        return _error(str(exc), USAGE_ERROR)
    try:
        tracker = Tracker(
            model=args.model,
            region=args.region,
            user_id=args.user,
            project=args.project,
            run_id=args.run_id,
            dataset=args.dataset,
            framework=args.framework,
            planned_steps=getattr(args, "planned_steps", None),
            planned_epochs=getattr(args, "planned_epochs", None),
            interval_s=interval_s,
            meters=meters,
            producer=producer,
            settings=settings,
        )
    except ValueError as exc:
        meters.close()
        producer.close(timeout_s=1)
        return _error(str(exc), USAGE_ERROR)

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        code = _run(command, tracker, load, kill_after_s)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        meters.close()
        # No broker: what Kafka has not taken by then is spooled, without a long stall.
        producer.close(timeout_s=DEFAULT_STOP_TIMEOUT_S)
    if code in (CANNOT_RUN, NOT_FOUND) and not tracker.started:
        return code
    print(_end_line(tracker, producer, args.topic, spool), file=sys.stderr)
    return code


def _end_line(tracker: Tracker, producer: EventProducer, topic: str, spool: Path) -> str:
    """The run in kWh and g CO2e (``Tracker.summary``; joules where it could not be priced),
    how each component was measured, and where the events went."""
    meters = tracker.meters
    methods = f"cpu {meters.cpu.method}, ram {meters.ram.method}"
    summary = tracker.summary
    if summary is not None:
        used = summary.line()
    else:
        totals = tracker.totals_j
        used = (
            f"joulestream: run {tracker.run_id} used cpu {totals['cpu']:.1f} J, "
            f"ram {totals['ram']:.1f} J, gpu {totals['gpu']:.1f} J (not priced)"
        )
    stats = producer.stats
    return (
        f"{used}; measured by {methods}; {stats.delivered} events delivered to {topic}, "
        f"{stats.spooled} spooled to {spool}"
    )


def _run(
    command: list[str], tracker: Tracker, load: LaterProcessTreeLoad, kill_after_s: float
) -> int:
    try:
        child = subprocess.Popen(command)
    except FileNotFoundError:
        return _error(f"command not found: {command[0]}", NOT_FOUND)
    except OSError as exc:
        return _error(f"cannot run {command[0]}: {exc.strerror or exc}", CANNOT_RUN)

    def forward(signum: int, frame: FrameType | None) -> None:
        child.send_signal(signum)

    # The child gets Ctrl-C from the terminal itself; a SIGTERM sent to this process is
    # passed on, so that the run ends as the child decides and is recorded.
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        load.attach(child.pid)
        tracker.start()
    except Exception as exc:  # a meter that fails on its first read
        tracker.error = exc
    while tracker.error is None:
        try:
            code = child.wait(POLL_S)
            break
        except subprocess.TimeoutExpired:
            continue
    if tracker.error is not None:
        how = _end(child, kill_after_s)
        tracker.stop("failed", f"tracker failed: {tracker.error}")
        return _error(
            f"the tracker failed while the command ran ({tracker.error}); the command was "
            f"ended ({how})",
            TRACKER_FAILED,
        )
    if code == 0:
        tracker.stop("completed")
    elif code < 0 and -code in (signal.SIGINT, signal.SIGTERM):
        tracker.stop("cancelled", f"signal {-code}")
    else:
        tracker.stop("failed", f"exit code {code}")
    return code if code >= 0 else 128 - code


def _cannot_run(program: str) -> tuple[str, int] | None:
    """Why ``program`` cannot be started (message, exit code), as a shell would say it."""
    if os.sep in program:
        path = Path(program)
        if not path.exists():
            return f"command not found: {program} (no such file)", NOT_FOUND
        if path.is_dir() or not os.access(path, os.X_OK):
            return f"cannot run {program}: not an executable file", CANNOT_RUN
        return None
    if shutil.which(program) is None:
        return f"command not found: {program} (not on PATH)", NOT_FOUND
    return None


def _end(child: "subprocess.Popen[Any]", kill_after_s: float) -> str:
    """Terminate ``child``, kill it if it is still there after ``kill_after_s``; what it took."""
    if child.poll() is not None:
        return f"it had already exited with {child.returncode}"
    child.terminate()
    try:
        child.wait(kill_after_s)
        return "SIGTERM"
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        return f"SIGTERM, then SIGKILL after {kill_after_s:g} s"


def _error(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code
