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


def _up(settings: StackSettings) -> services.Started:
    started = services.up(settings)
    for name, state in services.status(settings).items():
        print(f"{name:48} {state}")
    print(f"logs and data: {settings.home}")
    return started


def _dashboard_hint() -> None:
    host, port = os.environ.get("DASH_HOST", "127.0.0.1"), os.environ.get("DASH_PORT", "8050")
    print(
        f"dashboard: {sys.executable} -m joulestream.dash_app  →  http://{host}:{port}"
        "  (make demo starts it with a simulated fleet)"
    )


def _demo(settings: StackSettings) -> None:
    """Up, the simulated fleet and the dashboard; Ctrl-C stops everything this call started."""
    started = _up(settings)
    env = dict(os.environ)
    env.update(services.job_env(settings))
    env.setdefault("JOULESTREAM_SPOOL", str(settings.home / "demo-spool.jsonl"))
    url = f"http://{env.get('DASH_HOST', '127.0.0.1')}:{env.get('DASH_PORT', '8050')}"
    try:
        # A simulated diurnal grid series for the fleet's regions, from a day ago to a day
        # ahead: the job prices each window at its hour's figure, so prices move with the hour.
        grid = [sys.executable, "-m", "joulestream", "grid", "simulate", "--hours", "48"]
        if subprocess.run(grid, env=env, cwd=REPO_ROOT, check=False).returncode != 0:
            print("the simulated grid series was not all sent: the table prices the rest")
        for name, argv in (
            (
                "demo-fleet",
                # Real time: the dashboard shows the runs as they happen, a window at a time.
                [sys.executable, "-m", "joulestream", "simulate", "--runs", "8", "--speed", "1",
                 "--duration-s", "7200"],
            ),
            ("demo-dashboard", [sys.executable, "-m", "joulestream.dash_app"]),
        ):  # fmt: skip
            procs.start(settings, name, argv, env=env, cwd=REPO_ROOT)
        print(f"\njoulestream dashboard: {url}   (Ctrl-C stops the demo)\n", flush=True)
        fleet_running = True
        while procs.running_pid(settings, "demo-dashboard"):
            if fleet_running and not procs.running_pid(settings, "demo-fleet"):
                fleet_running = False
                print(f"the simulated fleet has stopped; see {settings.logs / 'demo-fleet.log'}")
            time.sleep(1)
        print(f"the dashboard exited; see {settings.logs / 'demo-dashboard.log'}")
    except KeyboardInterrupt:
        print("\nstopping the demo …")
    finally:
        procs.stop(settings, "demo-fleet")
        procs.stop(settings, "demo-dashboard")
        services.down(settings, only=started.processes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack", description=__doc__)
    parser.add_argument("command", choices=["up", "status", "down", "demo"])
    args = parser.parse_args(argv)
    settings = StackSettings.from_env()
    # Status lines must show up at once, also when the output goes to a file or a pipe.
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    # Ctrl-C and SIGTERM (from CI or a supervisor) take the same clean path, even when this was
    # started in the background, where the shell leaves SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        if args.command == "up":
            _up(settings)
            _dashboard_hint()
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
