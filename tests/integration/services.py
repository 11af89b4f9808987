"""Real services for the integration suite, from the first source that has them.

1. ``KAFKA_BOOTSTRAP_SERVERS`` / ``MONGODB_URI`` in the environment: used as they are.
2. A Docker engine that answers: Kafka (KRaft, with single-node transaction settings) and
   ``mongo:7`` from testcontainers.
3. Otherwise the project's local services (``python -m stack``), started and stopped here.

Flink always runs as the local session cluster of ``stack/flink.py``: the job is what is tested.
"""

import contextlib
import dataclasses
import os
import socket
from collections.abc import Iterator

from stack import services as stack_services
from stack.kafka import TRANSACTION_MAX_TIMEOUT_MS
from stack.settings import StackSettings

KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"
MONGO_IMAGE = "mongo:7"


def docker_answers(timeout_s: float = 3.0) -> bool:
    """True when a Docker engine answers ``GET /_ping`` on its socket (or on ``DOCKER_HOST``)."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        if host.startswith("unix://"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: str | tuple[str, int] = host.removeprefix("unix://")
        else:
            name, _, port = host.split("://")[-1].partition(":")
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            address = (name, int(port or 2375))
        with sock:
            sock.settimeout(timeout_s)
            sock.connect(address)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            status_line = sock.recv(64).split(b"\r\n", 1)[0]
            return status_line.startswith(b"HTTP/1.") and b" 200 " in status_line + b" "
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def containers(settings: StackSettings) -> Iterator[StackSettings]:
    """Kafka and MongoDB in containers; the returned settings point at them."""
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.mongodb import MongoDbContainer

    kafka = (
        KafkaContainer(KAFKA_IMAGE)
        .with_kraft()
        # The defaults break exactly-once on one broker: every internal topic needs one replica.
        .with_env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
        .with_env("KAFKA_TRANSACTION_MAX_TIMEOUT_MS", str(TRANSACTION_MAX_TIMEOUT_MS))
    )
    mongo = MongoDbContainer(MONGO_IMAGE)
    with kafka, mongo:
        yield dataclasses.replace(
            settings,
            kafka_bootstrap_servers=kafka.get_bootstrap_server(),
            mongodb_uri=mongo.get_connection_url(),
        )


@contextlib.contextmanager
def running_services() -> Iterator[StackSettings]:
    """Settings of running Kafka, MongoDB and Flink; whatever this started is stopped after."""
    settings = StackSettings.from_env()
    external = settings.kafka_bootstrap_servers and settings.mongodb_uri
    with contextlib.ExitStack() as stack:
        if not external and os.environ.get("JOULESTREAM_NO_DOCKER") != "1" and docker_answers():
            settings = stack.enter_context(containers(settings))
        started = stack_services.up(settings, with_job=False)
        try:
            yield settings
        finally:
            stack_services.down(settings, only=started.processes)
