"""``python -m stack up|status|down|demo``: the local services of joulestream.

Run through ``make up``, ``make status``, ``make down`` and ``make demo``.
"""

import argparse
import os
import signal
import subprocess
import sys
import time

from stack import procs, services
from stack.errors import StackError
from stack.settings import REPO_ROOT, StackSettings

DASH_URL = "http://127.0.0.1:8050"


def _up(settings: StackSettings) -> services.Started:
    started = services.up(settings)
    for name, state in services.status(settings).items():
        print(f"{name:48} {state}")
    print(f"logs and data: {settings.home}")
    return started


def _demo(settings: StackSettings) -> None:
    """Up, the simulated fleet and the dashboard; Ctrl-C stops everything this call started."""
    started = _up(settings)
    env = dict(os.environ)
    env.update(services.job_env(settings))
    children = [
        procs.start(
            settings, "demo-fleet",
            [sys.executable, "-m", "emitter", "simulate", "--runs", "8", "--speed", "10",
             "--duration-s", "3600"],
            env=env, cwd=REPO_ROOT,
        ),
        procs.start(settings, "demo-dashboard", [sys.executable, "-m", "dash_app"], env=env,
                    cwd=REPO_ROOT),
    ]  # fmt: skip
    print(f"\njoulestream dashboard: {DASH_URL}   (Ctrl-C stops the demo)\n", flush=True)
    try:
        while all(procs.running_pid(settings, n) for n in ("demo-fleet", "demo-dashboard")):
            time.sleep(1)
        print("a demo process exited; see the logs in", settings.logs)
    except KeyboardInterrupt:
        print("\nstopping the demo …")
    finally:
        del children
        procs.stop(settings, "demo-fleet")
        procs.stop(settings, "demo-dashboard")
        services.down(settings, only=started.processes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack", description=__doc__)
    parser.add_argument("command", choices=["up", "status", "down", "demo"])
    args = parser.parse_args(argv)
    settings = StackSettings.from_env()
    # A SIGTERM (from CI or a supervisor) takes the same clean path as Ctrl-C.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        if args.command == "up":
            _up(settings)
        elif args.command == "demo":
            _demo(settings)
        elif args.command == "down":
            stopped = services.down(settings)
            print("stopped:", ", ".join(stopped) if stopped else "nothing was running")
        else:
            state = services.status(settings)
            for name, value in state.items():
                print(f"{name:48} {value}")
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except subprocess.TimeoutExpired as exc:
        print(f"error: timed out: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
