"""A single-node Apache Kafka broker in KRaft mode, run from the Maven Central jars."""

import base64
import subprocess
import uuid
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from stack import fetch, private, procs, tools
from stack.errors import ServiceError
from stack.settings import StackSettings

NAME = "kafka"
# At least the Flink Kafka sink's transaction.timeout.ms (1 h by default), or its
# exactly-once transactions are refused by the broker.
TRANSACTION_MAX_TIMEOUT_MS = 3_600_000


def server_properties(settings: StackSettings, data_dir: Path) -> str:
    """The broker's configuration: one node that is both broker and controller, on loopback."""
    host = "127.0.0.1"
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@{host}:{settings.kafka_controller_port}",
            f"listeners=PLAINTEXT://{host}:{settings.kafka_port},"
            f"CONTROLLER://{host}:{settings.kafka_controller_port}",
            f"advertised.listeners=PLAINTEXT://{host}:{settings.kafka_port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            f"log.dirs={data_dir}",
            f"num.partitions={settings.topic_partitions}",
            # One broker: every internal topic has one replica, or exactly-once cannot work.
            "offsets.topic.replication.factor=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            f"transaction.max.timeout.ms={TRANSACTION_MAX_TIMEOUT_MS}",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "",
        ]
    )


_LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = WARN
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
"""


def _cluster_id() -> str:
    # KRaft cluster ids are 16 random bytes in unpadded URL-safe base64.
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def healthy(bootstrap_servers: str, timeout_s: float = 2.0) -> bool:
    """True when a broker answers a metadata request."""
    admin = AdminClient({"bootstrap.servers": bootstrap_servers, "log_level": 0})
    try:
        admin.list_topics(timeout=timeout_s)
    except KafkaException:
        return False
    return True


def up(settings: StackSettings, timeout_s: float = 90.0) -> bool:
    """Start the broker unless it runs already; True if this call started it."""
    if procs.running_pid(settings, NAME) is not None:
        return False
    procs.require_free_port(settings.kafka_port, "Kafka")
    procs.require_free_port(settings.kafka_controller_port, "the Kafka controller")
    java = tools.require("java")
    classpath = ":".join(str(j) for j in fetch.jars(settings, "kafka"))
    base = settings.home / "kafka"
    data_dir = base / "data"
    config = base / "server.properties"
    private.make_dir(base)
    private.write_text(config, server_properties(settings, data_dir))
    log4j = base / "log4j2.properties"
    private.write_text(log4j, _LOG4J2.format(log=settings.logs / "kafka-server.log"))
    jvm = [java, "-Xms512m", "-Xmx1g", f"-Dlog4j2.configurationFile={log4j}", "-cp", classpath]
    if not (data_dir / "meta.properties").exists():
        result = subprocess.run(
            [
                *jvm,
                "kafka.tools.StorageTool",
                "format",
                # "=": a random id may start with "-", which would read as an option.
                f"--cluster-id={_cluster_id()}",
                f"--config={config}",
            ],
            capture_output=True,
            text=True,
            check=False,
            umask=private.UMASK,
        )
        if result.returncode != 0:
            raise ServiceError(f"formatting KRaft storage failed: {result.stderr.strip()[-500:]}")
    procs.start(settings, NAME, [*jvm, "kafka.Kafka", str(config)])
    with procs.stopped_on_error(settings, [NAME]):
        procs.wait_until(
            lambda: healthy(settings.bootstrap_servers), "Kafka broker", timeout_s, settings, NAME
        )
    return True


def ensure_topic(bootstrap_servers: str, topic: str, partitions: int) -> None:
    """Create ``topic`` if it does not exist (an existing one is left as it is), with the
    broker's clock as each record's timestamp."""
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    if topic in admin.list_topics(timeout=10).topics:
        return
    # The broker stamps each record as it arrives: the job's event-time window is judged
    # against that stamp, which a producer's clock cannot move.
    config = {"message.timestamp.type": "LogAppendTime"}
    futures = admin.create_topics(
        [NewTopic(topic, num_partitions=partitions, replication_factor=1, config=config)]
    )
    try:
        futures[topic].result(timeout=30)
    except KafkaException as exc:
        if "TOPIC_ALREADY_EXISTS" not in str(exc):
            raise
