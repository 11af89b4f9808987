"""``python -m stack.k8simages``: the Kubernetes images of ``k8s/flink-operator/images`` built on
the private engine (``stack/dockerd.py``) where their bases can be produced here, each started once.

- ``app.Dockerfile`` (dashboard and fleet): its base ``python:3.11-slim-bookworm`` is stood in for
  by Debian bookworm's own Python 3.11 from ``debootstrap``, with the lock's wheels for the
  ``dashboard`` extra (fetched with this machine's pip) as its only package index, since a build
  here reaches no network. The stand-in carries the official name in this private engine only,
  so the Dockerfile is built as it is. Smoke test: the dashboard answers ``GET /``.
- ``pipeline.Dockerfile``: not built; ``SKIPPED`` says why (its stages fetch from the network).
"""

import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from stack import dockerd, imagebuild, private
from stack.errors import StackError
from stack.imagebuild import Builder, ImageBuildError
from stack.settings import REPO_ROOT, StackSettings

IMAGES = REPO_ROOT / "k8s" / "flink-operator" / "images"
PYTHON_BASE = "python:3.11-slim-bookworm"
# What app.Dockerfile copies (its .dockerignore lets nothing else in).
APP_COPIES: tuple[str, ...] = (
    "requirements.lock", "pyproject.toml", "README.md",
    "emitter", "schemas", "flink_jobs", "dash_app",
)  # fmt: skip
PIPELINE_WHY = (
    "pipeline.Dockerfile is not built: its stages fetch while they build (Maven Central in the "
    "maven:3.9-eclipse-temurin-17 stages, Ubuntu's archive and PyPI in the flink:1.20.5-java17 "
    "stage, and CPython 3.11 downloaded by uv), and a build on this engine reaches no network "
    "(no registry, no NAT); a Flink base from the apache-flink wheel would not change that"
)


def _say(message: str) -> None:
    print(f"k8s-images: {message}", flush=True)


def wheelhouse(settings: StackSettings) -> Path:
    """The wheels of the ``dashboard`` extra at the lock's pins, and the build backend's."""
    inputs = [REPO_ROOT / "requirements.lock", REPO_ROOT / "pyproject.toml"]
    target = settings.cache / "wheelhouse" / f"app-{imagebuild.tree_digest(inputs)}"
    if (target / ".complete").exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    private.make_dir(target)
    argv = [sys.executable, "-m", "pip", "download", "-q", "-d", str(target)]
    argv += [
        "-c",
        str(REPO_ROOT / "requirements.lock"),
        f"{REPO_ROOT}[dashboard]",
        "setuptools>=77",
    ]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ImageBuildError(f"pip could not fetch the app's wheels:\n{result.stderr[-2000:]}")
    # pip download leaves the project's own sdist or wheel: the Dockerfile builds it from /src.
    for own in target.glob("joulestream*"):
        own.unlink()
    (target / ".complete").write_text("ok\n")
    return target


def python_base(builder: Builder) -> str:
    """The stand-in for ``python:3.11-slim-bookworm``, tagged with that name in this engine."""
    wheels = wheelhouse(builder.settings)
    recipe = imagebuild.tree_digest([wheels], "python3;python3-pip;no-index;v1")
    tag = f"joulestream/python-base:3.11-bookworm-{recipe}"

    def adjust(root: Path) -> None:
        (root / "usr/lib/python3.11/EXTERNALLY-MANAGED").unlink(missing_ok=True)
        (root / "usr/bin/python").symlink_to("python3")
        shutil.copytree(wheels, root / "opt/wheelhouse")
        (root / "etc/pip.conf").write_text(
            "[global]\nno-index = true\nfind-links = /opt/wheelhouse\n"
        )

    builder.rootfs_image(tag, "python-base", ("python3", "python3-pip"), adjust)
    builder.client.images.get(tag).tag(PYTHON_BASE)
    return tag


def app(builder: Builder) -> str:
    """``app.Dockerfile`` built from a context of what it copies (its own .dockerignore kept)."""
    sources = imagebuild.tree_digest([REPO_ROOT / c for c in APP_COPIES], python_base(builder))
    tag = f"joulestream-app:0.1.0-{sources}"

    def build(log: Path) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            context = Path(tmp)
            for name in APP_COPIES:
                source = REPO_ROOT / name
                if source.is_dir():
                    ignore = shutil.ignore_patterns("__pycache__")
                    shutil.copytree(source, context / name, ignore=ignore)
                else:
                    shutil.copy2(source, context / name)
            shutil.copy2(IMAGES / "app.Dockerfile", context / "app.Dockerfile")
            shutil.copy2(IMAGES / "app.Dockerfile.dockerignore", context / ".dockerignore")
            builder.build(context, tag, log, dockerfile="app.Dockerfile", network_mode="none")

    return builder.built("app", tag, build)


def smoke_app(builder: Builder, tag: str, timeout_s: float = 90.0) -> None:
    """Start the app image as its CMD says and wait until the dashboard answers ``GET /``."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    container = builder.client.containers.run(
        tag, detach=True, ports={"8050/tcp": ("127.0.0.1", port)},
        environment={"MONGODB_URI": "mongodb://127.0.0.1:1/"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
                    _say(f"{tag}: the dashboard answers GET / with {answer.status}")
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                if time.monotonic() > deadline:
                    logs = container.logs(tail=30).decode(errors="replace")
                    raise StackError(
                        f"{tag}: the dashboard did not answer ({exc}):\n{logs}"
                    ) from exc
            time.sleep(1)
    finally:
        container.remove(force=True)


def main() -> int:
    settings = StackSettings.from_env()
    reason = dockerd.why_not()
    if reason is not None:
        _say(f"SKIPPED, no Docker engine can start here: {reason}")
        return 0
    try:
        with dockerd.running(settings) as host:
            builder = Builder(settings, host)
            try:
                started = time.monotonic()
                tag = app(builder)
                _say(f"app image {tag} ready in {time.monotonic() - started:.0f} s")
                smoke_app(builder, tag)
            finally:
                builder.close()
            _say(f"SKIPPED: {PIPELINE_WHY}")
            return 0
    except StackError as exc:
        _say(f"FAILED: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
