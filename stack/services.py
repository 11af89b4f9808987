"""Bring the whole local stack up and down, in dependency order."""

from dataclasses import dataclass, field

from stack import flink, kafka, mongo, procs
from stack.settings import StackSettings

# Stopped in this order: the job's cluster first, so nothing writes into a stopping service.
_PROCESSES = ("flink-taskmanager", "flink-jobmanager", mongo.NAME, kafka.NAME)


@dataclass
class Started:
    """What one ``up`` call started, so that a caller can stop exactly that."""

    processes: list[str] = field(default_factory=list)
    job_id: str | None = None


def job_env(settings: StackSettings) -> dict[str, str]:
    """The settings the Flink job reads from its environment."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "JOULESTREAM_TOPIC": settings.topic,
        "MONGODB_URI": settings.mongo_uri,
        "MONGODB_DATABASE": settings.mongo_database,
    }


def up(settings: StackSettings, with_job: bool = True) -> Started:
    """Start Kafka, the MongoDB-compatible server, Flink and the job; skip what already runs.

    An external Kafka (``KAFKA_BOOTSTRAP_SERVERS``) or MongoDB (``MONGODB_URI``) is used as it is.
    """
    started = Started()
    if settings.kafka_bootstrap_servers is None and kafka.up(settings):
        started.processes.append(kafka.NAME)
    kafka.ensure_topic(settings.bootstrap_servers, settings.topic, settings.topic_partitions)
    if settings.mongodb_uri is None and mongo.up(settings):
        started.processes.append(mongo.NAME)
    mongo.ensure_indexes(settings.mongo_uri, settings.mongo_database)
    if flink.up(settings):
        started.processes += ["flink-jobmanager", "flink-taskmanager"]
    if with_job and flink.running_job(settings) is None:
        started.job_id = flink.submit(settings, job_env(settings))
    return started


def down(settings: StackSettings, only: list[str] | None = None) -> list[str]:
    """Stop the stack's processes (or ``only`` those named); return the names that were running."""
    stopped = []
    for name in _PROCESSES:
        if (only is None or name in only) and procs.stop(settings, name):
            stopped.append(name)
    return stopped


def status(settings: StackSettings) -> dict[str, str]:
    """A one-word state per service, and the job's state."""
    kafka_state = "up" if kafka.healthy(settings.bootstrap_servers) else "down"
    mongo_state = "up" if mongo.healthy(settings.mongo_uri) else "down"
    job_id = flink.running_job(settings)
    return {
        f"kafka ({settings.bootstrap_servers})": kafka_state
        + (" (external)" if settings.kafka_bootstrap_servers else ""),
        f"mongodb ({'external' if settings.mongodb_uri else mongo.server_kind()})": mongo_state,
        f"flink ({settings.flink_rest_url})": "up" if flink.healthy(settings) else "down",
        f"job {flink.JOB_NAME}": f"running ({job_id})" if job_id else "not running",
    }
