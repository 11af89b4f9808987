"""``make integration-containers``: the integration suite with Kafka and the MongoDB-compatible
server from testcontainers, on a private Docker engine (``stack/dockerd.py``).

The official images are used when a registry serves them; otherwise the images of
``stack/imagebuild.py``, built here from local sources. The suite is the same one
``make integration`` runs (``tests/integration``, every test). When no engine can start here the
container path is skipped, with the reason printed; ``make integration`` runs the local path.

``python -m stack.containers [pytest arguments]``; extra arguments go to pytest.
"""

import os
import subprocess
import sys
import time

from stack import dockerd, imagebuild
from stack.errors import StackError
from stack.settings import REPO_ROOT, StackSettings


def _say(message: str) -> None:
    print(f"integration-containers: {message}", flush=True)


def main(pytest_args: list[str]) -> int:
    settings = StackSettings.from_env()
    reason = dockerd.why_not()
    if reason is not None:
        _say(f"SKIPPED, no Docker engine can start here: {reason}")
        return 0
    started = time.monotonic()
    try:
        with dockerd.running(settings) as host:
            _say(f"private dockerd answers at {host} ({time.monotonic() - started:.0f} s)")
            env = dict(os.environ, DOCKER_HOST=host, TESTCONTAINERS_RYUK_DISABLED="true")
            # Ports are published on 127.0.0.1 only; testcontainers would otherwise pick the
            # bridge's gateway where it believes it runs inside a container.
            env["TESTCONTAINERS_CONNECTION_MODE"] = "docker_host"
            env["TESTCONTAINERS_HOST_OVERRIDE"] = "127.0.0.1"
            # Services named in the environment would be used instead of the containers.
            for name in ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URI", "JOULESTREAM_NO_DOCKER"):
                env.pop(name, None)
            builder = imagebuild.Builder(settings, host)
            try:
                images_started = time.monotonic()
                official = (imagebuild.OFFICIAL_KAFKA_IMAGE, imagebuild.OFFICIAL_MONGO_IMAGE)
                if builder.pulled(*official):
                    _say(f"using the official images {', '.join(official)}")
                else:
                    images = builder.all()
                    env[imagebuild.KAFKA_IMAGE_VARIABLE] = images.kafka
                    env[imagebuild.MONGO_IMAGE_VARIABLE] = images.mongo
                    _say(f"no registry: using the local builds {images.kafka}, {images.mongo}")
                _say(f"images ready in {time.monotonic() - images_started:.0f} s")
            finally:
                builder.close()
            suite_started = time.monotonic()
            argv = [sys.executable, "-m", "pytest", "-m", "integration", "tests/integration"]
            result = subprocess.run([*argv, *pytest_args], env=env, cwd=REPO_ROOT, check=False)
            _say(
                f"suite ran in {time.monotonic() - suite_started:.0f} s (exit {result.returncode})"
            )
            return result.returncode
    except dockerd.DockerUnavailable as exc:
        _say(f"SKIPPED, Docker cannot start: {exc}")
        return 0
    except StackError as exc:
        _say(f"FAILED: {exc}")
        return 1
    finally:
        _say(f"done in {time.monotonic() - started:.0f} s; the private dockerd is stopped")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
