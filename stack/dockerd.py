"""A Docker engine of the suite's own: ``dockerd`` with its data, state, pid file and socket
under ``~/.cache/joulestream/docker/`` (``StackSettings.cache``), reachable only through that
socket, and stopped by its pid.

Not under ``.joulestream/``: ``stack up`` makes everything there owner-only (0700 folders, 0600
files), which would strip the image layers' modes. In the cache the images also outlive a clean
checkout, as the jars and the FerretDB build do.

Nothing else on the machine is used or changed: no system Docker service, no TCP socket, no
firewall rules (published ports go through Docker's userland proxy, bound to 127.0.0.1). The
``docker0`` bridge the engine makes is removed again when this engine made it.
"""

import contextlib
import os
import platform
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from stack import private
from stack.errors import StackError
from stack.settings import StackSettings

BRIDGE = "docker0"


class DockerUnavailable(StackError):
    """This machine cannot run a Docker engine here; the message says why."""


@dataclass(frozen=True)
class Engine:
    """Where the private engine keeps everything."""

    root: Path

    @classmethod
    def of(cls, settings: StackSettings) -> "Engine":
        return cls(settings.cache / "docker")

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def host(self) -> str:
        """The ``DOCKER_HOST`` of this engine."""
        return f"unix://{self.socket}"

    @property
    def pidfile(self) -> Path:
        return self.root / "dockerd.pid"

    @property
    def log(self) -> Path:
        return self.root / "dockerd.log"


def why_not() -> str | None:
    """Why a private engine cannot start here, or None when it may."""
    if platform.system() != "Linux":
        return f"Docker's engine runs on Linux only (this is {platform.system()})"
    if os.geteuid() != 0:
        return "dockerd needs root (run make integration-containers as root)"
    if shutil.which("dockerd") is None:
        return "dockerd is not installed (Debian: apt-get install docker.io)"
    filesystems = Path("/proc/filesystems").read_text()
    if "\toverlay\n" not in filesystems:
        return "the kernel has no overlay filesystem, which the engine's storage needs"
    return None


def ping(host: str, timeout_s: float = 3.0) -> bool:
    """True when the engine at ``host`` (``unix://`` path) answers ``GET /_ping``."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout_s)
            sock.connect(host.removeprefix("unix://"))
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return sock.recv(64).split(b"\r\n", 1)[0].split(b" ")[1:2] == [b"200"]
    except OSError:
        return False


def _running_pid(engine: Engine) -> int | None:
    """The pid in our pid file when that process is a live ``dockerd``."""
    try:
        pid = int(engine.pidfile.read_text().strip())
        command = Path(f"/proc/{pid}/comm").read_text().strip()
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return pid if command == "dockerd" else None


def _bridge_exists() -> bool:
    return Path(f"/sys/class/net/{BRIDGE}").exists()


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def start(engine: Engine, timeout_s: float = 60.0) -> "subprocess.Popen[bytes]":
    """Start the engine and wait until it answers; DockerUnavailable (with its log's tail) when
    it cannot start."""
    reason = why_not()
    if reason is not None:
        raise DockerUnavailable(reason)
    if (pid := _running_pid(engine)) is not None:
        raise DockerUnavailable(
            f"a private dockerd already runs (pid {pid}, {engine.pidfile}): another run of "
            "make integration-containers holds it, or one that was killed left it; stop that "
            f"run, or that engine with: kill {pid}"
        )
    private.make_dir(engine.root)
    engine.socket.unlink(missing_ok=True)
    argv = [
        shutil.which("dockerd") or "dockerd",
        f"--data-root={engine.root / 'data'}",
        f"--exec-root={engine.root / 'exec'}",
        f"--pidfile={engine.pidfile}",
        f"--host={engine.host}",
        # No firewall rules: host-to-container traffic goes through the userland proxy.
        "--iptables=false",
        "--ip6tables=false",
        # Published ports listen on loopback only.
        "--ip=127.0.0.1",
    ]
    with private.open_append(engine.log) as log:
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout_s
    while not ping(engine.host):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(engine, proc)
            raise DockerUnavailable(
                f"dockerd did not start (log: {engine.log}):\n{_tail(engine.log)}"
            )
        time.sleep(0.5)
    return proc


def stop(engine: Engine, proc: "subprocess.Popen[bytes]", timeout_s: float = 60.0) -> None:
    """Stop the engine started as ``proc`` (SIGTERM, SIGKILL after ``timeout_s``): its
    containers stop with it. Only that process (and its own containerd) is signalled."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    engine.pidfile.unlink(missing_ok=True)


@contextlib.contextmanager
def running(settings: StackSettings) -> Iterator[str]:
    """A private engine for the duration of the block; yields its ``DOCKER_HOST``."""
    engine = Engine.of(settings)
    bridge_before = _bridge_exists()
    proc = start(engine)
    try:
        yield engine.host
    finally:
        _remove_containers(engine)
        stop(engine, proc)
        if not bridge_before and _bridge_exists():
            subprocess.run(["ip", "link", "delete", BRIDGE], check=False, capture_output=True)


def _remove_containers(engine: Engine) -> None:
    """Remove every container of this engine (a test that died may have left one running)."""
    import docker

    client = docker.DockerClient(base_url=engine.host, timeout=60)
    try:
        for container in client.containers.list(all=True):
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True)
    finally:
        client.close()
