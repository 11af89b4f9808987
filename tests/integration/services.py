"""Real services for the integration suite, from the first source that has them.

1. ``KAFKA_BOOTSTRAP_SERVERS`` / ``MONGODB_URI`` in the environment: used as they are.
2. A Docker engine that answers: Kafka (``apache/kafka``, KRaft, with single-node transaction
   settings) and ``mongo:7`` from testcontainers; where no registry serves them,
   ``make integration-containers`` names local stand-ins built from this project's sources
   (``stack/imagebuild.py``: Kafka from the same jars, FerretDB for ``mongo:7``).
3. Otherwise the project's local services (``python -m stack``), started and stopped here.

Flink always runs as the local session cluster of ``stack/flink.py``: the job is what is tested.
"""

import contextlib
import dataclasses
import os
import socket
import time
from collections.abc import Iterator

import docker
from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import LogMessageWaitStrategy

from stack import kafka
from stack import services as stack_services
from stack.errors import ServiceError
from stack.imagebuild import (
    KAFKA_IMAGE_VARIABLE,
    MONGO_IMAGE_VARIABLE,
    OFFICIAL_KAFKA_IMAGE,
    OFFICIAL_MONGO_IMAGE,
)
from stack.kafka import TRANSACTION_MAX_TIMEOUT_MS
from stack.settings import StackSettings


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


def image(official: str, variable: str) -> str:
    """The image to run: ``official``, unless ``variable`` names a local stand-in (set by
    ``make integration-containers`` when no registry serves the official one)."""
    return os.environ.get(variable) or official


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class KafkaContainer(DockerContainer):
    """One KRaft node (broker and controller) of the ``apache/kafka`` image, configured by its
    environment variables, with the single-node transaction settings exactly-once needs.

    The broker advertises ``127.0.0.1:<port>`` to its clients, so the port is published as the
    same number on the host (a free one, chosen here)."""

    def __init__(self, image_name: str) -> None:
        super().__init__(image_name)
        self.port = _free_port()
        listener = f"PLAINTEXT://127.0.0.1:{self.port}"
        self.with_bind_ports(self.port, self.port)
        for name, value in {
            "KAFKA_NODE_ID": "1",
            "KAFKA_PROCESS_ROLES": "broker,controller",
            "KAFKA_LISTENERS": f"PLAINTEXT://0.0.0.0:{self.port},CONTROLLER://127.0.0.1:9093",
            "KAFKA_ADVERTISED_LISTENERS": listener,
            "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@127.0.0.1:9093",
            # The defaults break exactly-once on one broker: every internal topic needs one replica.
            "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
            "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
            "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
            "KAFKA_TRANSACTION_MAX_TIMEOUT_MS": str(TRANSACTION_MAX_TIMEOUT_MS),
            "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
            "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
            "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
            "KAFKA_HEAP_OPTS": "-Xms512m -Xmx1g",
        }.items():
            self.with_env(name, value)
        self.waiting_for(LogMessageWaitStrategy("Kafka Server started").with_startup_timeout(120))

    def start(self) -> "KafkaContainer":
        try:
            super().start()
        except docker.errors.APIError as exc:
            if "address already in use" in str(exc) or "port is already allocated" in str(exc):
                raise ServiceError(
                    f"port {self.port} was taken between choosing it and starting Kafka's "
                    "container: run the suite again"
                ) from exc
            raise
        # Readiness as a client sees it: a metadata request answered.
        deadline = time.monotonic() + 60
        while not kafka.healthy(self.get_bootstrap_server()):
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"Kafka in {self.image} does not answer on 127.0.0.1:{self.port}"
                )
            time.sleep(0.5)
        return self

    def get_bootstrap_server(self) -> str:
        return f"127.0.0.1:{self.port}"


@contextlib.contextmanager
def containers(settings: StackSettings) -> Iterator[StackSettings]:
    """Kafka and MongoDB in containers; the returned settings point at them."""
    from testcontainers.community.mongodb import MongoDbContainer

    kafka_container = KafkaContainer(image(OFFICIAL_KAFKA_IMAGE, KAFKA_IMAGE_VARIABLE))
    mongo = MongoDbContainer(image(OFFICIAL_MONGO_IMAGE, MONGO_IMAGE_VARIABLE))
    with kafka_container, mongo:
        yield dataclasses.replace(
            settings,
            kafka_bootstrap_servers=kafka_container.get_bootstrap_server(),
            # 127.0.0.1, not "localhost": the ports are published on loopback's IPv4 only.
            mongodb_uri=mongo.get_connection_url().replace("@localhost:", "@127.0.0.1:"),
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
