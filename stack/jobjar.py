"""The job's own jar: the Maven module ``flink_jobs/java`` (the dead-letter format, the guarded
MongoDB sink and the run accounting), built with ``mvn package``.

Flink and the connectors are ``provided`` (the PyFlink wheel and ``fetch.jars(settings, "flink")``
supply them at run time), so the jar holds only the module's classes. The jar is cached by the
digest of the module's poms and main sources, so it is rebuilt exactly when one of them changes.
Maven works offline once its local repository (``~/.m2``) holds the build's plugins and jars; the
first build, or one after a version change, resolves them online. The unit tests are not run
here: ``make java-test`` (part of ``make test``) runs them.
"""

import shutil
import subprocess
import tempfile
from pathlib import Path

from stack import fetch, tools
from stack.errors import FetchError
from stack.settings import REPO_ROOT, StackSettings

MODULE = REPO_ROOT / "flink_jobs" / "java"
# Maven's words when an offline build lacks a plugin or jar in the local repository.
_NOT_CACHED = "offline mode"


def inputs() -> list[Path]:
    """What the jar is built from: the poms and the main sources and resources (not the tests)."""
    main = sorted(p for p in (MODULE / "src" / "main").rglob("*") if p.is_file())
    # The module's pom and its parent, the versions it shares with stack/maven/flink/pom.xml.
    return [*fetch.poms(MODULE / "pom.xml"), *main]


def build(settings: StackSettings) -> Path:
    """The job jar, built on first use."""
    digest = fetch.digest(
        *(p.relative_to(REPO_ROOT).as_posix().encode() + p.read_bytes() for p in inputs())
    )
    jar = settings.cache / "build" / f"joulestream-flink-{digest}.jar"
    if jar.exists():
        return jar
    mvn = tools.require("mvn")
    tools.require("javac")  # Maven compiles with the JDK it runs on
    with tempfile.TemporaryDirectory() as tmp:
        argv = [
            mvn, "-B", "-q", "-f", str(MODULE / "pom.xml"), "package",
            "-Dmaven.test.skip=true", f"-Djoulestream.build.directory={tmp}",
        ]  # fmt: skip
        result = _run([*argv, "-o"])
        if result.returncode != 0 and _NOT_CACHED in result.stdout + result.stderr:
            result = _run(argv)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
            raise FetchError(f"Maven could not build {MODULE}:\n{tail}")
        partial = jar.with_suffix(".partial")
        partial.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(tmp) / "joulestream-flink.jar", partial)
        partial.replace(jar)
    return jar


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False)
