"""The job's own jar: the Java parts of ``flink_jobs/java`` (the dead-letter format and the
guarded MongoDB sink), compiled with ``javac`` against the Flink and connector jars already here.

No build tool is needed: the sources depend only on jars the stack has fetched. The jar is cached
by the digest of its sources and class path, so it is rebuilt exactly when one of them changes.
"""

import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from stack import fetch, tools
from stack.errors import FetchError
from stack.settings import REPO_ROOT, StackSettings

SOURCES = REPO_ROOT / "flink_jobs" / "java"


def _flink_lib() -> Path:
    import pyflink  # imported here: only the job jar build needs the wheel's location

    return Path(pyflink.__file__).resolve().parent / "lib"


def build(settings: StackSettings) -> Path:
    """The job jar, compiled on first use."""
    sources = sorted(SOURCES.rglob("*.java"))
    resources = sorted(p for p in (SOURCES / "META-INF").rglob("*") if p.is_file())
    classpath = sorted(_flink_lib().glob("*.jar")) + fetch.jars(settings, "flink")
    digest = fetch.digest(
        *(p.relative_to(SOURCES).as_posix().encode() + p.read_bytes() for p in sources),
        *(p.read_bytes() for p in resources),
        *(p.name.encode() for p in classpath),
    )
    jar = settings.cache / "build" / f"joulestream-flink-{digest}.jar"
    if jar.exists():
        return jar
    javac = tools.require("javac")
    with tempfile.TemporaryDirectory() as tmp:
        classes = Path(tmp) / "classes"
        result = subprocess.run(
            [javac, "--release", "11", "-Xlint:all", "-Werror", "-d", str(classes),
             "-cp", ":".join(map(str, classpath)), *map(str, sources)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise FetchError(f"javac failed on {SOURCES}:\n{result.stdout}{result.stderr}")
        for resource in resources:
            target = classes / resource.relative_to(SOURCES)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(resource, target)
        partial = jar.with_suffix(".partial")
        partial.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(classes.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(classes).as_posix())
        partial.replace(jar)
    return jar
