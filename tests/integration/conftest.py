import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient
from pymongo import MongoClient
from pymongo.database import Database

from flink_jobs.indexes import ensure_indexes
from stack import flink, kafka
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


@dataclass
class Pipeline:
    """A job of its own on a fresh topic and database."""

    settings: StackSettings
    topic: str
    db: Database[dict[str, Any]]
    job_id: str


@pytest.fixture
def pipeline(services: StackSettings) -> Iterator[Pipeline]:
    suffix = uuid.uuid4().hex[:10]
    topic, database, job_name = f"test.events.{suffix}", f"test_{suffix}", f"test-{suffix}"
    kafka.ensure_topic(services.bootstrap_servers, topic, services.topic_partitions)
    client: MongoClient[dict[str, Any]] = MongoClient(services.mongo_uri, tz_aware=True)
    db = client[database]
    ensure_indexes(db)
    job_env = {
        "KAFKA_BOOTSTRAP_SERVERS": services.bootstrap_servers,
        "JOULESTREAM_TOPIC": topic,
        "JOULESTREAM_CONSUMER_GROUP": job_name,
        "MONGODB_URI": services.mongo_uri,
        "MONGODB_DATABASE": database,
    }
    job_id = None
    try:
        job_id = flink.submit(services, job_env, job_name=job_name)
        yield Pipeline(services, topic, db, job_id)
    finally:
        if job_id is not None:
            flink.cancel(services, job_id)
        client.drop_database(database)
        client.close()
        AdminClient({"bootstrap.servers": services.bootstrap_servers}).delete_topics([topic])
