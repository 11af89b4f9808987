"""Where the local stack keeps its files and which addresses it binds.

Every value can be overridden from the environment; the defaults are for one developer machine.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

from joulestream.schemas import defaults
from stack.mongouri import MongoConnection, connection

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class StackSettings:
    """Paths and addresses of the local services. All servers bind 127.0.0.1."""

    home: Path
    """Git-ignored folder for data, logs, configs and pid files of this checkout."""
    cache: Path
    """Downloads and builds (jars, FerretDB) shared by every checkout on this machine."""
    kafka_port: int
    kafka_controller_port: int
    mongo_port: int
    flink_rest_port: int
    topic: str
    topic_partitions: int
    mongo_database: str
    kafka_bootstrap_servers: str | None
    """Set when an external Kafka is to be used: nothing of that kind is started then."""
    mongodb_uri: str | None
    """Set when an external MongoDB is to be used: nothing of that kind is started then. As the
    user gave it, so it may carry credentials: what leaves this process uses
    ``mongo_connection``."""
    mongodb_username: str | None = None
    mongodb_password: str | None = field(default=None, repr=False)
    grid_topic: str = defaults.GRID_TOPIC
    """The zones' grid intensity series (``JOULESTREAM_GRID_TOPIC``), read by the job."""

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def pids(self) -> Path:
        return self.home / "run"

    @property
    def bootstrap_servers(self) -> str:
        return self.kafka_bootstrap_servers or f"127.0.0.1:{self.kafka_port}"

    @property
    def mongo_uri(self) -> str:
        return self.mongodb_uri or f"mongodb://127.0.0.1:{self.mongo_port}/"

    @property
    def mongo_connection(self) -> MongoConnection:
        """The MongoDB address without credentials, and the credentials apart (ConfigError when
        the URI and ``MONGODB_USERNAME``/``MONGODB_PASSWORD`` disagree)."""
        return connection(self.mongo_uri, self.mongodb_username, self.mongodb_password)

    @property
    def flink_rest_url(self) -> str:
        return f"http://127.0.0.1:{self.flink_rest_port}"

    @staticmethod
    def from_env(env: dict[str, str] | None = None) -> "StackSettings":
        e = os.environ if env is None else env
        return StackSettings(
            home=Path(e.get("JOULESTREAM_HOME", str(REPO_ROOT / ".joulestream"))),
            cache=Path(e.get("JOULESTREAM_CACHE", str(Path.home() / ".cache" / "joulestream"))),
            kafka_port=int(e.get("JOULESTREAM_KAFKA_PORT", defaults.KAFKA_PORT)),
            kafka_controller_port=int(e.get("JOULESTREAM_KAFKA_CONTROLLER_PORT", "9093")),
            mongo_port=int(e.get("JOULESTREAM_MONGO_PORT", defaults.MONGO_PORT)),
            flink_rest_port=int(e.get("JOULESTREAM_FLINK_REST_PORT", "8081")),
            topic=e.get("JOULESTREAM_TOPIC", defaults.EVENTS_TOPIC),
            topic_partitions=int(e.get("JOULESTREAM_TOPIC_PARTITIONS", "3")),
            mongo_database=e.get("MONGODB_DATABASE", defaults.MONGODB_DATABASE),
            kafka_bootstrap_servers=e.get("KAFKA_BOOTSTRAP_SERVERS") or None,
            mongodb_uri=e.get("MONGODB_URI") or None,
            mongodb_username=e.get("MONGODB_USERNAME") or None,
            mongodb_password=e.get("MONGODB_PASSWORD") or None,
            grid_topic=e.get("JOULESTREAM_GRID_TOPIC", defaults.GRID_TOPIC),
        )
