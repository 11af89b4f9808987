"""The job's settings: every address, name and interval, read from the environment in ``main``."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from joulestream.schemas import defaults, limits


@dataclass(frozen=True)
class JobSettings:
    """Settings of the pipeline job; defaults fit the local stack (``make up``)."""

    job_name: str = "joulestream-pipeline"
    kafka_bootstrap_servers: str = defaults.KAFKA_BOOTSTRAP_SERVERS
    topic: str = defaults.EVENTS_TOPIC
    consumer_group: str = "joulestream-pipeline"
    mongodb_uri: str = defaults.MONGODB_URI
    """Without credentials: they come apart (``mongodb_username``, ``mongodb_password``)."""
    mongodb_database: str = defaults.MONGODB_DATABASE
    mongodb_username: str = ""
    mongodb_password: str = field(default="", repr=False)
    kafka_security_protocol: str = "PLAINTEXT"
    """``PLAINTEXT``, ``SSL``, ``SASL_PLAINTEXT`` or ``SASL_SSL``."""
    kafka_sasl_mechanism: str = ""
    """``SCRAM-SHA-512``, ``SCRAM-SHA-256`` or ``PLAIN`` with a ``SASL_*`` protocol."""
    kafka_sasl_username: str = ""
    kafka_sasl_password: str = field(default="", repr=False)
    run_window_s: int = 60
    """Length of the per-run tumbling windows, seconds."""
    watermark_delay_s: int = 5
    """Bounded out-of-orderness of a run's events, seconds: a measurement is late when its run
    has already sent an event this much later in event time."""
    max_event_age_s: int = limits.DEFAULT_MAX_AGE_MS // 1000
    """A record whose ts_ms is more than this before it reached Kafka is a dead letter."""
    max_event_ahead_s: int = limits.DEFAULT_MAX_AHEAD_MS // 1000
    """A record whose ts_ms is more than this after it reached Kafka is a dead letter."""
    lost_after_s: int = 300
    """An unfinished run silent for this long (processing time) is ``lost``, seconds."""
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
    """The rollups fold the window updates of this long into one update, milliseconds (0: one
    update per change)."""
    mini_batch_size: int = 5000
    """At most this many updates wait in one mini-batch."""
    grid_topic: str = defaults.GRID_TOPIC
    """Topic of the zones' grid intensity series (``schemas/grid_intensity.avsc``)."""
    grid_kind: str = "average"
    """Which kind of grid figure prices runs: ``average`` or ``marginal`` (the other is read
    and ignored)."""
    grid_reprice_horizon_s: int = 86_400
    """How long after a window's start (in its run's event time) a late or revised grid figure
    still prices it again, seconds; older windows keep the price they have."""

    def __post_init__(self) -> None:
        if self.grid_kind not in limits.GRID_INTENSITY_KINDS:
            raise ValueError(
                f"JOULESTREAM_GRID_KIND must be one of {limits.GRID_INTENSITY_KINDS}, "
                f"got {self.grid_kind!r}"
            )
        if self.grid_reprice_horizon_s <= 0:
            raise ValueError(
                f"JOULESTREAM_GRID_REPRICE_HORIZON_S must be > 0, got {self.grid_reprice_horizon_s}"
            )
        for name in ("watermark_delay_s", "max_event_age_s", "max_event_ahead_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if "@" in self.mongodb_uri.split("://", 1)[-1].split("/", 1)[0]:
            raise ValueError(
                "MONGODB_URI holds credentials: give them as MONGODB_USERNAME and "
                "MONGODB_PASSWORD, so that no logged URI carries them"
            )
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_sasl_mechanism and self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
            )
        if self.lost_after_s <= 0:
            raise ValueError(f"JOULESTREAM_LOST_AFTER_S must be > 0, got {self.lost_after_s}")
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
            mongodb_username=e.get("MONGODB_USERNAME", d.mongodb_username),
            mongodb_password=e.get("MONGODB_PASSWORD", d.mongodb_password),
            kafka_security_protocol=e.get("KAFKA_SECURITY_PROTOCOL", d.kafka_security_protocol),
            kafka_sasl_mechanism=e.get("KAFKA_SASL_MECHANISM", d.kafka_sasl_mechanism),
            kafka_sasl_username=e.get("KAFKA_SASL_USERNAME", d.kafka_sasl_username),
            kafka_sasl_password=e.get("KAFKA_SASL_PASSWORD", d.kafka_sasl_password),
            run_window_s=int(e.get("JOULESTREAM_RUN_WINDOW_S", d.run_window_s)),
            watermark_delay_s=int(e.get("JOULESTREAM_WATERMARK_DELAY_S", d.watermark_delay_s)),
            max_event_age_s=int(e.get("JOULESTREAM_MAX_EVENT_AGE_S", d.max_event_age_s)),
            max_event_ahead_s=int(e.get("JOULESTREAM_MAX_EVENT_AHEAD_S", d.max_event_ahead_s)),
            lost_after_s=int(e.get("JOULESTREAM_LOST_AFTER_S", d.lost_after_s)),
            rollup_s=int(e.get("JOULESTREAM_ROLLUP_S", d.rollup_s)),
            pue=e.get("JOULESTREAM_PUE", d.pue),
            dedup_ttl_s=int(e.get("JOULESTREAM_DEDUP_TTL_S", d.dedup_ttl_s)),
            state_ttl_s=int(e.get("JOULESTREAM_STATE_TTL_S", d.state_ttl_s)),
            windows_topic_name=e.get("JOULESTREAM_WINDOWS_TOPIC", d.windows_topic_name),
            mini_batch_ms=int(e.get("JOULESTREAM_MINI_BATCH_MS", d.mini_batch_ms)),
            mini_batch_size=int(e.get("JOULESTREAM_MINI_BATCH_SIZE", d.mini_batch_size)),
            grid_topic=e.get("JOULESTREAM_GRID_TOPIC", d.grid_topic),
            grid_kind=e.get("JOULESTREAM_GRID_KIND", d.grid_kind),
            grid_reprice_horizon_s=int(
                e.get("JOULESTREAM_GRID_REPRICE_HORIZON_S", d.grid_reprice_horizon_s)
            ),
        )
