"""Start, find and stop the background processes of the local stack by pid file."""

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from stack import private
from stack.errors import ServiceError
from stack.settings import StackSettings

# The processes this Python process started, kept so that they are reaped (not left as zombies
# or reported as leaked) when stopped.
_CHILDREN: dict[int, "subprocess.Popen[bytes]"] = {}


def _pid_file(settings: StackSettings, name: str) -> Path:
    return settings.pids / f"{name}.pid"


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks since boot) of a live process, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, IndexError):
        return None
    return fields[0], fields[19]


def running_pid(settings: StackSettings, name: str) -> int | None:
    """The pid of service ``name`` if the process that file names is still the one we started.

    The pid file holds the pid and the process's start time: after a reboot or pid reuse, a
    different process with the same pid is not taken for ours.
    """
    try:
        pid_text, started = _pid_file(settings, name).read_text().split()
        pid = int(pid_text)
    except (FileNotFoundError, ValueError):
        return None
    stat = _proc_stat(pid)
    # A zombie (exited, not yet reaped) is not running either.
    if stat is None or stat[0] == "Z" or stat[1] != started:
        return None
    return pid


def start(
    settings: StackSettings,
    name: str,
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start ``argv`` in its own session with output to ``logs/<name>.log``; return its pid.

    The process runs with umask 077: what it creates (logs, data, a spool) is its owner's only.
    """
    private.make_dir(settings.pids)
    with private.open_append(settings.logs / f"{name}.log") as log:
        proc = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,  # so that `down` can stop the whole process group
            umask=private.UMASK,
        )
    stat = _proc_stat(proc.pid)
    private.write_text(_pid_file(settings, name), f"{proc.pid} {stat[1] if stat else 0}\n")
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
    _kill_and_reap(pid)
    return True


def kill(settings: StackSettings, name: str) -> None:
    """Kill -9 service ``name``'s process group, as a crash would (its pid file stays). For the
    fault tests and the recovery benchmark."""
    pid = running_pid(settings, name)
    if pid is None:
        raise ServiceError(f"{name} is not running")
    _kill_and_reap(pid)


def _kill_and_reap(pid: int) -> None:
    """SIGKILL the process group of ``pid``; reap it when this process started it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        child.wait(timeout=10)


def _alive(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is None:
            return True
        del _CHILDREN[pid]
        return False
    stat = _proc_stat(pid)
    return stat is not None and stat[0] != "Z"


def require_free_port(port: int, what: str) -> None:
    """Raise ServiceError when something already listens on 127.0.0.1:``port``.

    A service of this stack is only started on a free port: otherwise its health check would
    pass on someone else's server.
    """
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise ServiceError(
                f"port {port} is in use by another program, so {what} cannot start: stop that "
                "program, or choose other ports (JOULESTREAM_*_PORT, see README.md)"
            )


@contextlib.contextmanager
def stopped_on_error(settings: StackSettings, names: Sequence[str]) -> Iterator[None]:
    """Stop the services ``names`` when the block raises (a start that never became healthy
    must not leave its process behind), then re-raise."""
    try:
        yield
    except BaseException:
        for name in names:
            stop(settings, name)
        raise


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
