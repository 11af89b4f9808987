"""The suite's images, built from this machine's sources only, when no registry serves them.

- ``joulestream/debian-java``: a Debian root filesystem made with ``debootstrap`` from the
  Debian mirror this machine's apt uses (read from /etc/apt at run time), with a Java runtime,
  brought in with ``docker import``;
- ``joulestream/kafka``: Apache Kafka from the jars the local stack fetches
  (``stack/maven/kafka``), started as the official ``apache/kafka`` image is
  (``stack/images/kafka``);
- ``joulestream/ferretdb``: the stack's FerretDB build standing in for ``mongo:7``
  (``stack/images/ferretdb``).

Each tag ends in a digest of everything that goes into the image, so an image is built once
per content and found again afterwards. A build's output goes to ``logs/image-<name>.log``,
kept (and named in the error) when it fails.
"""

import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stack import fetch, private
from stack.errors import StackError
from stack.settings import REPO_ROOT, StackSettings

# The images users pull, and the variables that name local stand-ins when no registry serves
# them (tests/integration/services.py reads both).
OFFICIAL_KAFKA_IMAGE = "apache/kafka:4.1.2"
OFFICIAL_MONGO_IMAGE = "mongo:7"
KAFKA_IMAGE_VARIABLE = "JOULESTREAM_KAFKA_IMAGE"
MONGO_IMAGE_VARIABLE = "JOULESTREAM_MONGO_IMAGE"

IMAGES_DIR = REPO_ROOT / "stack" / "images"
DEBIAN_SUITE = "bookworm"
# What the root filesystem holds beyond debootstrap's minimal base.
DEBIAN_PACKAGES = ("openjdk-17-jre-headless",)
# Changing how the root filesystem is made changes its tag.
_ROOTFS_RECIPE = "minbase;no apt lists;no .deb cache;v1"


class ImageBuildError(StackError):
    """An image could not be built; the message names the kept log."""


@dataclass(frozen=True)
class Images:
    """The tags of the locally built images the suite runs."""

    kafka: str
    mongo: str


def apt_mirror(suite: str = DEBIAN_SUITE, sources: Iterable[Path] | None = None) -> str:
    """The first Debian mirror URI that this machine's apt configuration lists for ``suite``."""
    if sources is None:
        apt = Path("/etc/apt")
        sources = [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*"))]
    for path in sources:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if path.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = _deb822(stanza)
                enabled = fields.get("enabled", "yes").lower() != "no"
                deb = "deb" in fields.get("types", "").split()
                ours = suite in fields.get("suites", "").split() and fields.get("uris")
                if enabled and deb and ours:
                    return fields["uris"].split()[0]
        elif path.suffix == ".list" or path.name == "sources.list":
            for line in text.splitlines():
                words = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
                if len(words) >= 3 and words[0] == "deb" and words[2] == suite:
                    return words[1]
    raise ImageBuildError(
        f"no Debian mirror for {suite} in /etc/apt/sources.list or /etc/apt/sources.list.d/: "
        "debootstrap needs one to make the images' root filesystem"
    )


def _deb822(stanza: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    key = ""
    for line in stanza.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if line[0] in " \t" and key:
            fields[key] += " " + line.strip()
        else:
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
    return fields


def tree_digest(paths: Iterable[Path], *extra: str) -> str:
    """A digest of the files' names and contents (folders walked in order) and ``extra``."""
    parts: list[bytes] = [e.encode() for e in extra]
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            parts += [file.name.encode(), oct(file.stat().st_mode & 0o777).encode()]
            parts.append(file.read_bytes())
    return fetch.digest(*parts)


class Builder:
    """Builds (or finds) the images in the engine at ``docker_host``."""

    def __init__(self, settings: StackSettings, docker_host: str) -> None:
        import docker

        self.settings = settings
        self.client: Any = docker.DockerClient(base_url=docker_host, timeout=600)
        self.timings_s: dict[str, float] = {}

    def close(self) -> None:
        self.client.close()

    def pulled(self, *images: str) -> bool:
        """True when every image is here or could be pulled (a registry answers)."""
        import docker
        import requests

        for image in images:
            if self.exists(image):
                continue
            try:
                self.client.images.pull(image)
            except (docker.errors.APIError, requests.RequestException) as exc:
                # The engine's message names the registry: the kind of failure is enough here.
                print(f"{image} cannot be pulled ({type(exc).__name__})", flush=True)
                return False
        return True

    def exists(self, tag: str) -> bool:
        import docker

        try:
            self.client.images.get(tag)
        except docker.errors.ImageNotFound:
            return False
        return True

    def _log(self, name: str) -> Path:
        private.make_dir(self.settings.logs)
        return self.settings.logs / f"image-{name}.log"

    def built(self, name: str, tag: str, build: Callable[[Path], None]) -> str:
        """``tag``, built with ``build(log)`` unless the engine has it."""
        if self.exists(tag):
            return tag
        log = self._log(name)
        log.unlink(missing_ok=True)
        started = time.monotonic()
        print(f"building image {tag} (log: {log})", flush=True)
        try:
            build(log)
        except ImageBuildError:
            raise
        except Exception as exc:
            raise ImageBuildError(f"building {tag} failed: {exc} (log kept: {log})") from exc
        self.timings_s[name] = time.monotonic() - started
        print(f"built {tag} in {self.timings_s[name]:.0f} s", flush=True)
        return tag

    def debian_java(self) -> str:
        recipe = ";".join([DEBIAN_SUITE, *DEBIAN_PACKAGES, _ROOTFS_RECIPE])
        tag = f"joulestream/debian-java:{DEBIAN_SUITE}-{fetch.digest(recipe.encode())}"
        return self.rootfs_image(tag, "debian-java", DEBIAN_PACKAGES)

    def rootfs_image(
        self,
        tag: str,
        name: str,
        packages: Iterable[str],
        adjust: Callable[[Path], None] | None = None,
    ) -> str:
        """``tag``: a minimal Debian root filesystem with ``packages``, changed by ``adjust``
        (given the tree's root) before it is imported."""
        return self.built(
            name, tag, lambda log: self._debootstrap(tag, tuple(packages), log, adjust)
        )

    def _debootstrap(
        self,
        tag: str,
        packages: tuple[str, ...],
        log: Path,
        adjust: Callable[[Path], None] | None,
    ) -> None:
        debootstrap = shutil.which("debootstrap")
        if debootstrap is None:
            raise ImageBuildError("debootstrap is not installed (apt-get install debootstrap)")
        work = self.settings.cache / "rootfs"
        private.make_dir(work)
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            root = Path(tmp) / "root"
            argv = [
                debootstrap, "--variant=minbase", f"--include={','.join(packages)}",
                DEBIAN_SUITE, str(root), apt_mirror(),
            ]  # fmt: skip
            with log.open("ab") as out:
                result = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False)
            if result.returncode != 0:
                raise ImageBuildError(
                    f"debootstrap failed (exit {result.returncode}; log kept: {log}):\n{_tail(log)}"
                )
            for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
                for entry in (root / leftover).glob("*"):
                    if entry.is_file():
                        entry.unlink()
            if adjust is not None:
                adjust(root)
            archive = Path(tmp) / "rootfs.tar"
            packed = subprocess.run(
                ["tar", "--numeric-owner", "-C", str(root), "-cf", str(archive), "."],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if packed.returncode != 0:
                raise ImageBuildError(f"packing the root filesystem failed: {packed.stderr}")
            repository, _, version = tag.partition(":")
            self.client.api.import_image_from_file(str(archive), repository=repository, tag=version)

    def kafka(self, base: str) -> str:
        context = IMAGES_DIR / "kafka"
        jars = fetch.jars(self.settings, "kafka")
        digest = tree_digest([context, *jars], base)
        tag = f"joulestream/kafka:4.1.2-{digest}"

        def build(log: Path) -> None:
            with tempfile.TemporaryDirectory() as tmp:
                shutil.copytree(context, tmp, dirs_exist_ok=True)
                libs = Path(tmp) / "libs"
                libs.mkdir()
                for jar in jars:
                    shutil.copy2(jar, libs / jar.name)
                self.build(Path(tmp), tag, log, buildargs={"BASE": base})

        return self.built("kafka", tag, build)

    def ferretdb(self, base: str) -> str:
        context = IMAGES_DIR / "ferretdb"
        binary = fetch.ferretdb(self.settings)
        digest = tree_digest([context, binary], base)
        tag = f"joulestream/ferretdb:{fetch.FERRETDB_VERSION.lstrip('v')}-{digest}"

        def build(log: Path) -> None:
            with tempfile.TemporaryDirectory() as tmp:
                shutil.copytree(context, tmp, dirs_exist_ok=True)
                shutil.copy2(binary, Path(tmp) / "ferretdb")
                self.build(Path(tmp), tag, log, buildargs={"BASE": base})

        return self.built("ferretdb", tag, build)

    def build(
        self,
        context: Path,
        tag: str,
        log: Path,
        dockerfile: str = "Dockerfile",
        buildargs: dict[str, str] | None = None,
        network_mode: str | None = None,
    ) -> None:
        """``docker build`` of ``context``, its output appended to ``log``; never pulls."""
        failed = ""
        with log.open("a") as out:
            stream = self.client.api.build(
                path=str(context), dockerfile=dockerfile, tag=tag, buildargs=buildargs or {},
                rm=True, forcerm=True, decode=True, pull=False, network_mode=network_mode,
            )  # fmt: skip
            for chunk in stream:
                out.write(chunk.get("stream", ""))
                if "error" in chunk:
                    failed = str(chunk["error"])
                    out.write(f"error: {failed}\n")
        if failed:
            raise ImageBuildError(f"building {tag} failed: {failed} (log kept: {log})")

    def all(self) -> Images:
        base = self.debian_java()
        return Images(kafka=self.kafka(base), mongo=self.ferretdb(base))


def _tail(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
