"""Start, find and stop the background processes of the local stack by pid file."""

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from stack.errors import ServiceError
from stack.settings import StackSettings

# The processes this Python process started, kept so that they are reaped (not left as zombies
# or reported as leaked) when stopped.
_CHILDREN: dict[int, "subprocess.Popen[bytes]"] = {}


def _pid_file(settings: StackSettings, name: str) -> Path:
    return settings.pids / f"{name}.pid"


def running_pid(settings: StackSettings, name: str) -> int | None:
    """The pid of service ``name`` if its process is alive, else None."""
    path = _pid_file(settings, name)
    try:
        pid = int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    # A zombie (exited, not yet reaped) still answers kill(0); it is not running.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return None if stat.rsplit(")", 1)[1].split()[0] == "Z" else pid


def start(
    settings: StackSettings,
    name: str,
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start ``argv`` in its own session with output to ``logs/<name>.log``; return its pid."""
    settings.logs.mkdir(parents=True, exist_ok=True)
    settings.pids.mkdir(parents=True, exist_ok=True)
    with open(settings.logs / f"{name}.log", "ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,  # so that `down` can stop the whole process group
        )
    _pid_file(settings, name).write_text(str(proc.pid))
    _CHILDREN[proc.pid] = proc
    return proc.pid


def stop(settings: StackSettings, name: str, timeout_s: float = 30.0) -> bool:
    """Stop service ``name`` (SIGTERM, then SIGKILL after ``timeout_s``); True if it was running."""
    pid = running_pid(settings, name)
    _pid_file(settings, name).unlink(missing_ok=True)
    if pid is None:
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        child.wait(timeout=10)
    return True


def _alive(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is None:
            return True
        del _CHILDREN[pid]
        return False
    try:
        # Reap it if it is our child; otherwise just probe it.
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def wait_until(
    check: Callable[[], bool],
    what: str,
    timeout_s: float,
    settings: StackSettings | None = None,
    name: str | None = None,
) -> None:
    """Poll ``check`` until it returns True; raise ServiceError naming ``what`` on timeout.

    When ``name`` is given and its process dies while waiting, fail at once and point at its log.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        if settings is not None and name is not None and running_pid(settings, name) is None:
            raise ServiceError(
                f"{what} exited during start-up; see {settings.logs / (name + '.log')}"
            )
        time.sleep(0.5)
    hint = f"; see {settings.logs / (name + '.log')}" if settings and name else ""
    raise ServiceError(f"{what} not healthy after {timeout_s:.0f} s{hint}")
