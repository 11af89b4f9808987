"""Fetch what the local services run: jars from Maven Central, FerretDB built with Go.

Everything lands in the machine-wide cache (``StackSettings.cache``), keyed by the content of its
recipe, so a second checkout or a CI run on the same machine reuses it.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from stack import tools
from stack.errors import FetchError
from stack.settings import REPO_ROOT, StackSettings

FERRETDB_VERSION = "v1.24.2"
FERRETDB_MODULE = "github.com/FerretDB/FerretDB"
MAVEN_DIR = REPO_ROOT / "stack" / "maven"
PATCH_DIR = REPO_ROOT / "stack" / "patches"


def digest(*parts: bytes) -> str:
    return hashlib.sha256(b"\0".join(parts)).hexdigest()[:16]


def jars(settings: StackSettings, name: str) -> list[Path]:
    """The runtime jars of ``stack/maven/<name>/pom.xml``, fetched with Maven on first use."""
    pom = MAVEN_DIR / name / "pom.xml"
    target = settings.cache / "jars" / f"{name}-{digest(*(p.read_bytes() for p in poms(pom)))}"
    marker = target / ".complete"
    if not marker.exists():
        mvn = tools.require("mvn")
        tools.require("java")
        shutil.rmtree(target, ignore_errors=True)
        result = subprocess.run(
            [
                mvn, "-B", "-q", "-f", str(pom), "dependency:copy-dependencies",
                f"-DoutputDirectory={target}", "-DincludeScope=runtime",
            ],
            capture_output=True,
            text=True,
            check=False,
        )  # fmt: skip
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
            raise FetchError(f"Maven could not fetch the {name} jars from {pom}:\n{tail}")
        marker.write_text("ok\n")
    found = sorted(target.glob("*.jar"))
    if not found:
        raise FetchError(f"no jars in {target}; delete it and retry")
    return found


def poms(pom: Path) -> list[Path]:
    """``pom`` and the parents it names by ``relativePath`` (the versions it inherits): together
    they decide its jars."""
    chain = [pom]
    while found := _RELATIVE_PATH.search(chain[-1].read_text()):
        parent = (chain[-1].parent / found.group(1).strip()).resolve()
        chain.append(parent / "pom.xml" if parent.is_dir() else parent)
    return chain


_RELATIVE_PATH = re.compile(r"<parent>.*?<relativePath>([^<]+)</relativePath>.*?</parent>", re.S)


def ferretdb(settings: StackSettings) -> Path:
    """The FerretDB binary, built with ``go install`` on first use, with ``stack/patches``."""
    patches = sorted(PATCH_DIR.glob(f"ferretdb-{FERRETDB_VERSION}-*.patch"))
    build_id = digest(*(p.read_bytes() for p in patches))
    binary = settings.cache / "bin" / f"ferretdb-{FERRETDB_VERSION}-{build_id}"
    if binary.exists():
        return binary
    go = tools.require("go")
    patch = tools.require("patch")
    env = dict(os.environ)
    download = _run([go, "mod", "download", "-json", f"{FERRETDB_MODULE}@{FERRETDB_VERSION}"], env)
    module_dir = Path(json.loads(download)["Dir"])
    # The module as published has an empty build/version/version.txt, which makes the binary
    # panic at start; a private, writable copy gets the version written in before building.
    src = settings.cache / "src" / f"ferretdb-{FERRETDB_VERSION}"
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(module_dir, src)
    for path in src.rglob("*"):
        path.chmod(path.stat().st_mode | 0o200)
    (src / "build" / "version" / "version.txt").write_text(FERRETDB_VERSION + "\n")
    for path in patches:
        _run([patch, "-p1", "--forward", "--quiet", "-i", str(path)], env, cwd=src)
    gobin = settings.cache / "build" / "gobin"
    env["GOBIN"] = str(gobin)
    env.setdefault("CGO_ENABLED", "0")
    _run([go, "install", "./cmd/ferretdb"], env, cwd=src)
    binary.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(gobin / "ferretdb", binary)
    return binary


def _run(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        raise FetchError(f"'{' '.join(argv[:3])}' failed while building FerretDB:\n{tail}")
    return result.stdout
