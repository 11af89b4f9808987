"""``python -m stack.wheelcheck``: the trainer-side install, as a user gets it (`make wheel-check`).

Builds the wheel from pyproject.toml and the mapped folders only, then for each Python version
(3.10, 3.12 and 3.13 by default) makes a clean virtual environment, installs the wheel alone
(``pip install joulestream-*.whl``, no extra) and checks that:

- only ``joulestream`` is installed as a module;
- no server dependency came with it (``SERVER_DISTRIBUTIONS``);
- a tracker runs offline (``stack/wheel_smoke.py``, outside the repository): a bootstrap address
  nothing listens on, a short run, ``stop`` back within its deadline, every event in the spool,
  the kWh/CO2e summary logged; and the ``joulestream`` command answers.

On 3.10 the dependencies are installed at the lowest versions pyproject.toml allows, on the
others at the newest: both ends of each range are exercised. A version whose interpreter is not
found is skipped with the reason printed. Exit code 0 when every version found passed.
"""

import argparse
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from stack import packages
from stack.settings import REPO_ROOT

VERSIONS = ("3.10", "3.12", "3.13")
LOWEST_ON = "3.10"
"""The version whose environment gets the lowest versions the ranges allow."""
SERVER_DISTRIBUTIONS = frozenset(
    {"apache-flink", "pymongo", "dash", "plotly", "gunicorn", "apache-beam", "pyarrow"}
)
SMOKE = REPO_ROOT / "stack" / "wheel_smoke.py"
STOP_TIMEOUT_S = 1.0
STOP_SLACK_S = 1.5
"""``stop`` returns within its timeout plus this (the producer's last poll, closing meters)."""


class CheckFailed(Exception):
    """A check of the wheel or of one environment failed; the message says which."""


def interpreter(version: str) -> Path | None:
    """``pythonX.Y`` on PATH, else the newest pyenv build of that version."""
    found = shutil.which(f"python{version}")
    if found is not None and _runs(Path(found)):
        return Path(found)
    builds = sorted(Path.home().glob(f".pyenv/versions/{version}.*/bin/python{version}"))
    for candidate in reversed(builds):
        if _runs(candidate):
            return candidate
    return None


def _runs(python: Path) -> bool:
    """Whether the interpreter starts (a pyenv shim for a missing version does not)."""
    result = subprocess.run([python, "-c", "pass"], capture_output=True, check=False)
    return result.returncode == 0


def _run(argv: list[str | Path], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=cwd)
    if result.returncode != 0:
        raise CheckFailed(
            f"{' '.join(map(str, argv))} exited {result.returncode}:\n"
            f"{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )
    return result


def build_wheel(work: Path) -> Path:
    """The wheel, built from a copy of pyproject.toml, README.md and the mapped folders (no
    leftovers of an earlier build, no file of the checkout that is not packaged)."""
    source = work / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO_ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in sorted(set(packages.package_dirs().values())):
        shutil.copytree(REPO_ROOT / folder, source / folder, ignore=ignore)
    dist = work / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", dist, source])
    (wheel,) = dist.glob("joulestream-*.whl")
    return wheel


def check_wheel(wheel: Path) -> list[str]:
    """Top-level names in the wheel must be joulestream and its metadata; the requirements
    without an extra must name no server distribution. Returns the base requirements."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        text = archive.read(metadata).decode()
    top = {name.split("/")[0] for name in names}
    unexpected = {t for t in top if t != "joulestream" and not t.endswith(".dist-info")}
    if unexpected:
        raise CheckFailed(f"the wheel installs modules not named joulestream: {sorted(unexpected)}")
    base = [
        line.removeprefix("Requires-Dist: ")
        for line in text.splitlines()
        if line.startswith("Requires-Dist: ") and "extra ==" not in line
    ]
    server = {_name(r) for r in base} & SERVER_DISTRIBUTIONS
    if server:
        raise CheckFailed(f"the plain install requires server distributions: {sorted(server)}")
    return base


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    if match is None:
        raise CheckFailed(f"unreadable requirement {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def lowest_constraints(requirements: list[str]) -> str:
    """``name==lower`` for each requirement's ``>=`` bound."""
    lines = []
    for requirement in requirements:
        bound = re.search(r">=\s*([0-9][^,;\s]*)", requirement)
        if bound is None:
            raise CheckFailed(f"{requirement!r} has no lower bound (>=)")
        lines.append(f"{_name(requirement)}=={bound.group(1)}")
    return "\n".join(lines) + "\n"


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def check_version(version: str, python: Path, wheel: Path, lowest: str | None, work: Path) -> str:
    """Make the environment, install the wheel, check it; a one-line result."""
    venv = work / f"venv-{version}"
    _run([python, "-m", "venv", venv])
    venv_python = venv / "bin" / "python"
    install: list[str | Path] = [venv_python, "-m", "pip", "install", "--quiet", wheel]
    if lowest is not None:
        constraints = work / "lowest.txt"
        constraints.write_text(lowest)
        install += ["-c", constraints]
    _run(install)
    listed = json.loads(_run([venv_python, "-m", "pip", "list", "--format=json"]).stdout)
    installed = {_name(d["name"]): d["version"] for d in listed}
    server = sorted(set(installed) & SERVER_DISTRIBUTIONS)
    if server:
        raise CheckFailed(f"Python {version}: server distributions came with the wheel: {server}")
    run_dir = work / f"run-{version}"
    run_dir.mkdir()
    address = f"127.0.0.1:{free_port()}"
    deadline = [str(STOP_TIMEOUT_S), str(STOP_SLACK_S)]
    smoke = _run([venv_python, "-I", SMOKE, address, *deadline], cwd=run_dir)
    _run([venv / "bin" / "joulestream", "--help"], cwd=run_dir)
    tools = ("pip", "setuptools")
    versions = ", ".join(f"{n} {installed[n]}" for n in sorted(installed) if n not in tools)
    return f"{smoke.stdout.strip()}; installed: {versions}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.wheelcheck", description=__doc__)
    parser.add_argument(
        "--python", action="append", help="a version to check (default: 3.10, 3.12 and 3.13)"
    )
    args = parser.parse_args(argv)
    versions = args.python or list(VERSIONS)
    started = time.monotonic()
    failures = 0
    with tempfile.TemporaryDirectory(prefix="joulestream-wheelcheck-") as tmp:
        work = Path(tmp)
        try:
            wheel = build_wheel(work)
            base = check_wheel(wheel)
        except CheckFailed as exc:
            print(f"wheel: FAILED: {exc}", file=sys.stderr)
            return 1
        print(f"wheel: {wheel.name}, modules: joulestream only, requires: {', '.join(base)}")
        for version in versions:
            python = interpreter(version)
            if python is None:
                print(
                    f"Python {version}: SKIPPED: no python{version} on PATH or in "
                    f"~/.pyenv/versions (install it, e.g. `pyenv install {version}`)"
                )
                continue
            lowest = lowest_constraints(base) if version == LOWEST_ON else None
            kind = "lowest allowed versions" if lowest else "newest versions"
            try:
                result = check_version(version, python, wheel, lowest, work)
            except CheckFailed as exc:
                failures += 1
                print(f"Python {version} ({kind}): FAILED: {exc}")
                continue
            print(f"Python {version} ({kind}): ok: {result}")
    print(f"wheel check: {time.monotonic() - started:.0f} s, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
