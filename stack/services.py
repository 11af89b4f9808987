"""Bring the whole local stack up and down, in dependency order."""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from stack import flink, kafka, mongo, private, procs
from stack.settings import StackSettings

# Stopped in this order: the job's cluster first, so nothing writes into a stopping service.
_PROCESSES = ("flink-taskmanager", "flink-jobmanager", mongo.NAME, kafka.NAME)


@dataclass
class Started:
    """What one ``up`` call started, so that a caller can stop exactly that."""

    processes: list[str] = field(default_factory=list)


def job_env(settings: StackSettings, consumer_group: str | None = None) -> dict[str, str]:
    """The settings the Flink job reads from its environment (``consumer_group``: a job's own,
    for a job beside the default one)."""
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "JOULESTREAM_TOPIC": settings.topic,
        "JOULESTREAM_GRID_TOPIC": settings.grid_topic,
        # MONGODB_URI without credentials, MONGODB_USERNAME and MONGODB_PASSWORD apart.
        **settings.mongo_connection.env(),
        "MONGODB_DATABASE": settings.mongo_database,
    }
    if consumer_group is not None:
        env["JOULESTREAM_CONSUMER_GROUP"] = consumer_group
    return env


def up(settings: StackSettings, with_job: bool = True) -> Started:
    """Start Kafka, the MongoDB-compatible server, Flink and the job; skip what already runs.

    The three services start side by side. An external Kafka (``KAFKA_BOOTSTRAP_SERVERS``) or
    MongoDB (``MONGODB_URI``) is used as it is. When anything fails, what this call started is
    stopped again before the error is raised. ``settings.home`` and all in it is made private
    first (0700 folders, 0600 files), also what an older version left readable.
    """
    mongo_connection = settings.mongo_connection  # a contradictory setting fails before any start
    private.make_dir(settings.home)
    private.tighten(settings.home)
    starters: list[tuple[Callable[[StackSettings], bool], list[str]]] = [
        (flink.up, ["flink-jobmanager", "flink-taskmanager"])
    ]
    if settings.kafka_bootstrap_servers is None:
        starters.append((kafka.up, [kafka.NAME]))
    if settings.mongodb_uri is None:
        starters.append((mongo.up, [mongo.NAME]))
    started = Started()
    pool = ThreadPoolExecutor(max_workers=len(starters))
    futures = [(pool.submit(start, settings), names) for start, names in starters]
    try:
        pool.shutdown(wait=True)
        errors = [e for f, _ in futures if (e := f.exception()) is not None]
        if errors:
            raise errors[0]
        started.processes = [n for f, names in futures if f.result() for n in names]
        kafka.ensure_topic(settings.bootstrap_servers, settings.topic, settings.topic_partitions)
        # Key = zone: one partition keeps every zone's periods in order for the job.
        kafka.ensure_topic(settings.bootstrap_servers, settings.grid_topic, 1)
        mongo.ensure_indexes(mongo_connection, settings.mongo_database)
        if with_job and flink.running_job(settings) is None:
            flink.submit(settings, job_env(settings))
    except BaseException:
        # Also on Ctrl-C while the services start: wait for the starters, stop what they began.
        pool.shutdown(wait=True)
        ours = [n for f, names in futures if not f.exception() and f.result() for n in names]
        down(settings, only=ours)
        raise
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
    mongo_state = "up" if mongo.healthy(settings.mongo_connection) else "down"
    job_id = flink.running_job(settings)
    return {
        f"kafka ({settings.bootstrap_servers})": kafka_state
        + (" (external)" if settings.kafka_bootstrap_servers else ""),
        f"mongodb ({'external' if settings.mongodb_uri else mongo.server_kind()})": mongo_state,
        f"flink ({settings.flink_rest_url})": "up" if flink.healthy(settings) else "down",
        f"job {flink.JOB_NAME}": f"running ({job_id})" if job_id else "not running",
    }
