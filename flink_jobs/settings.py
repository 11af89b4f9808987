"""The job's settings: every address, name and interval, read from the environment in ``main``."""

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class JobSettings:
    """Settings of the pipeline job; defaults fit the local stack (``make up``)."""

    job_name: str = "joulestream-pipeline"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    topic: str = "training.events"
    consumer_group: str = "joulestream-pipeline"
    mongodb_uri: str = "mongodb://127.0.0.1:27017/"
    mongodb_database: str = "joulestream"
    run_window_s: int = 60
    """Length of the per-run tumbling windows, seconds."""
    watermark_delay_s: int = 5
    """Bounded out-of-orderness of event time, seconds."""
    idle_timeout_s: int = 10
    """A Kafka partition quiet for this long stops holding the watermark back, seconds."""
    rollup_s: int = 3600
    """Length of the periods of the per user, model and region rollups, seconds."""
    pue: str = ""
    """PUE by provider or region, e.g. ``aws=1.15,gcp:europe-north1=1.09``; others use 1.0."""
    dedup_ttl_s: int = 86_400
    """How long an event id is remembered: a copy arriving later than this counts again."""
    state_ttl_s: int = 7 * 86_400
    """How long other per-key state lives without updates (run totals are kept for ever)."""
    windows_topic_name: str = ""
    """Kafka topic of the closed windows (exactly-once); empty: ``<topic>.windows``."""
    mini_batch_ms: int = 1000
    """Run and epoch totals fold each key's events of this long into one update, milliseconds
    (0: one update per event)."""
    mini_batch_size: int = 5000
    """At most this many events wait in one mini-batch."""

    def __post_init__(self) -> None:
        # Rollups add up closed windows, so a window must never straddle two periods.
        if self.run_window_s <= 0 or self.rollup_s % self.run_window_s != 0:
            raise ValueError(
                f"JOULESTREAM_ROLLUP_S ({self.rollup_s}) must be a multiple of "
                f"JOULESTREAM_RUN_WINDOW_S ({self.run_window_s})"
            )

    @property
    def windows_topic(self) -> str:
        return self.windows_topic_name or f"{self.topic}.windows"

    @staticmethod
    def from_env(env: Mapping[str, str] | None = None) -> "JobSettings":
        e = os.environ if env is None else env
        d = JobSettings()
        return JobSettings(
            job_name=e.get("JOULESTREAM_JOB_NAME", d.job_name),
            kafka_bootstrap_servers=e.get("KAFKA_BOOTSTRAP_SERVERS", d.kafka_bootstrap_servers),
            topic=e.get("JOULESTREAM_TOPIC", d.topic),
            consumer_group=e.get("JOULESTREAM_CONSUMER_GROUP", d.consumer_group),
            mongodb_uri=e.get("MONGODB_URI", d.mongodb_uri),
            mongodb_database=e.get("MONGODB_DATABASE", d.mongodb_database),
            run_window_s=int(e.get("JOULESTREAM_RUN_WINDOW_S", d.run_window_s)),
            watermark_delay_s=int(e.get("JOULESTREAM_WATERMARK_DELAY_S", d.watermark_delay_s)),
            idle_timeout_s=int(e.get("JOULESTREAM_IDLE_TIMEOUT_S", d.idle_timeout_s)),
            rollup_s=int(e.get("JOULESTREAM_ROLLUP_S", d.rollup_s)),
            pue=e.get("JOULESTREAM_PUE", d.pue),
            dedup_ttl_s=int(e.get("JOULESTREAM_DEDUP_TTL_S", d.dedup_ttl_s)),
            state_ttl_s=int(e.get("JOULESTREAM_STATE_TTL_S", d.state_ttl_s)),
            windows_topic_name=e.get("JOULESTREAM_WINDOWS_TOPIC", d.windows_topic_name),
            mini_batch_ms=int(e.get("JOULESTREAM_MINI_BATCH_MS", d.mini_batch_ms)),
            mini_batch_size=int(e.get("JOULESTREAM_MINI_BATCH_SIZE", d.mini_batch_size)),
        )
