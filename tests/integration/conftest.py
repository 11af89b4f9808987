import contextlib
import dataclasses
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient
from pymongo import MongoClient
from pymongo.database import Database

from joulestream.schemas.documents import ensure_indexes
from stack import flink, kafka, procs
from stack import services as stack_services
from stack.settings import StackSettings
from tests.integration.services import running_services

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # This hook sees every collected test, not only this folder's.
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def services() -> Iterator[StackSettings]:
    with running_services() as settings:
        yield settings


@dataclasses.dataclass
class Pipeline:
    """A job of its own on a fresh topic and database."""

    settings: StackSettings
    topic: str
    db: Database[dict[str, Any]]
    job_id: str
    job_env: dict[str, str] = dataclasses.field(default_factory=dict)
    job_name: str = ""


@contextlib.contextmanager
def running_pipeline(
    services: StackSettings,
    bootstrap_servers: str | None = None,
    partitions: int | None = None,
    settings: dict[str, str] | None = None,
) -> Iterator[Pipeline]:
    """A job of its own on a fresh topic and database, cancelled and cleaned up afterwards.

    ``bootstrap_servers`` puts the topic on another broker (a test's own, to stop it);
    ``partitions`` overrides the topic's partition count; ``settings`` are job settings (its
    environment variables) that differ from the defaults."""
    if bootstrap_servers is not None:
        services = dataclasses.replace(services, kafka_bootstrap_servers=bootstrap_servers)
    suffix = uuid.uuid4().hex[:10]
    topic, database, job_name = f"test.events.{suffix}", f"test_{suffix}", f"test-{suffix}"
    kafka.ensure_topic(services.bootstrap_servers, topic, partitions or services.topic_partitions)
    grid_topic = f"{topic}.grid"
    kafka.ensure_topic(services.bootstrap_servers, grid_topic, 1)
    client: MongoClient[dict[str, Any]] = MongoClient(services.mongo_uri, tz_aware=True)
    db = client[database]
    ensure_indexes(db)
    job_env = stack_services.job_env(
        dataclasses.replace(services, topic=topic, grid_topic=grid_topic, mongo_database=database),
        job_name,
    )
    job_env.update(settings or {})
    job = Pipeline(services, topic, db, job_id="", job_env=job_env, job_name=job_name)
    try:
        job.job_id = flink.submit(services, job_env, job_name=job_name)
        yield job
    finally:
        if job.job_id and flink.healthy(services):
            with contextlib.suppress(OSError):
                flink.cancel(services, job.job_id)
        client.drop_database(database)
        client.close()
        with contextlib.suppress(Exception):
            AdminClient({"bootstrap.servers": services.bootstrap_servers}).delete_topics(
                [topic, f"{topic}.windows", grid_topic]
            )


@pytest.fixture
def pipeline(services: StackSettings) -> Iterator[Pipeline]:
    with running_pipeline(services) as job:
        yield job


def free_ports(count: int) -> list[int]:
    """Ports free at this moment, all different (held open together while they are picked)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[StackSettings]:
    """A broker of this test's own, so that stopping it disturbs no other test."""
    env = dict(os.environ, JOULESTREAM_HOME=str(tmp_path / "home"))
    broker_port, controller_port = free_ports(2)
    env.update(JOULESTREAM_KAFKA_PORT=str(broker_port))
    env.update(JOULESTREAM_KAFKA_CONTROLLER_PORT=str(controller_port))
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    settings = StackSettings.from_env(env)
    kafka.up(settings)
    try:
        yield settings
    finally:
        procs.stop(settings, kafka.NAME)
