"""The job's input, in pipeline order: the Kafka source (``events``), every record checked
(``checked_events``: valid, or why not) and the flat columns the run accounting reads
(``flat_events``)."""

from joulestream import schemas
from joulestream.flink_jobs import checks
from joulestream.flink_jobs.avro_ddl import column_ddl
from joulestream.flink_jobs.settings import JobSettings
from joulestream.flink_jobs.sql_text import literal, with_options
from joulestream.schemas import documents

SOURCE = "events"
CHECKED = "checked_events"
FLAT_EVENTS = "flat_events"
PART_ENERGY = documents.ENERGY[:-1]
"""The measured components' energies (``energy_j`` is their sum, computed in the job)."""


def _jaas(value: str) -> str:
    """A quoted JAAS option value."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def kafka_security(settings: JobSettings) -> dict[str, str]:
    """The Kafka client's security options. The password sits in ``sasl.jaas.config``, whose
    value Flink hides wherever it prints options and the Kafka client hides in its logs."""
    options = {"properties.security.protocol": settings.kafka_security_protocol}
    if settings.kafka_security_protocol.startswith("SASL_"):
        module = (
            "org.apache.kafka.common.security.plain.PlainLoginModule"
            if settings.kafka_sasl_mechanism == "PLAIN"
            else "org.apache.kafka.common.security.scram.ScramLoginModule"
        )
        options["properties.sasl.mechanism"] = settings.kafka_sasl_mechanism
        options["properties.sasl.jaas.config"] = (
            f"{module} required username={_jaas(settings.kafka_sasl_username)} "
            f"password={_jaas(settings.kafka_sasl_password)};"
        )
    return options


def source_ddl(settings: JobSettings, bounded: bool = False) -> str:
    """Kafka source: the Avro contract's columns (every event type), and where and when each
    record reached Kafka. No watermark: event time is judged per run (the run accounting), so
    no record can move another run's time.

    The ``joulestream-avro`` format (``flink_jobs/java``) turns a record it cannot decode into a
    row with ``decode_error`` and ``raw`` set instead of failing the job. ``bounded`` stops at
    the offsets that are latest when the job starts (for backfills and checks).
    """
    columns = column_ddl(schemas.load(schemas.TRAINING_EVENT))
    options = {
        "connector": "kafka",
        "topic": settings.topic,
        "properties.bootstrap.servers": settings.kafka_bootstrap_servers,
        "properties.group.id": settings.consumer_group,
        # A job started without state recomputes every total from the beginning of the topic;
        # restarts with state resume from the offsets in their checkpoint instead.
        "scan.startup.mode": "earliest-offset",
        "format": "joulestream-avro",
        **kafka_security(settings),
    }
    if bounded:
        options["scan.bounded.mode"] = "latest-offset"
    return f"""CREATE TABLE {SOURCE} (
{columns},
  decode_error STRING METADATA FROM 'value.error' VIRTUAL,
  raw_bytes BYTES METADATA FROM 'value.raw' VIRTUAL,
  kafka_partition INT METADATA FROM 'partition' VIRTUAL,
  kafka_offset BIGINT METADATA FROM 'offset' VIRTUAL,
  kafka_timestamp TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
  proc_time AS PROCTIME()
) WITH (
{with_options(options)}
)"""


def checked_view(settings: JobSettings) -> str:
    """Every record with ``invalid_reason``: null for a valid event, else why it is not one
    (``flink_jobs/checks.py``).

    The emitter refuses such events at its API; these rules protect the outputs from anything
    else that writes to the topic."""
    reason = checks.invalid_reason(settings.max_event_age_s, settings.max_event_ahead_s)
    return f"""CREATE TEMPORARY VIEW {CHECKED} AS
SELECT *,
  {reason} AS invalid_reason
FROM {SOURCE}"""


# The fields of the event sections that some output reads, as flat columns: the events cross
# the network to their run flat and without what no output needs (hyper-parameters, per-GPU
# details), which is most of the job's serialization cost.
_FLAT_SECTIONS = {
    "dataset": "run_started.dataset",
    "framework": "run_started.framework",
    "event_pue": "run_started.pue",
    "event_intensity": "run_started.intensity_g_per_kwh",
    "finished_status": "run_finished.status",
    "interval_start_ms": "measurement.interval_start_ms",
    **{c: f"measurement.{c}" for c in PART_ENERGY},
    "cpu_method": "measurement.cpu_method",
    "ram_method": "measurement.ram_method",
    # The first GPU's: a run's GPUs are measured alike. METHOD is a reserved word.
    "gpu_method": "(measurement.gpus[1]).`method`",
    "samples": "measurement.samples",
    "tokens": "measurement.tokens",
    "`epoch`": "CAST(measurement.`epoch` AS BIGINT)",
    "`step`": "measurement.`step`",
    "loss": "measurement.loss",
    "accuracy": "measurement.accuracy",
    # Appended in contract version 2: the intensity the trainer knew for this interval.
    "interval_intensity_g_per_kwh": "interval_intensity_g_per_kwh",
}


_LEADING = ("event_id", "event_type", "run_id", "seq", "ts_ms", "user_id", "project", "`model`")
_TRAILING = ("invalid_reason", "kafka_partition", "kafka_offset", "raw_bytes")
# Appended after the rest (no earlier index of RunAccounting moves): the run's plan (contract
# version 3) and each GPU's energy and utilisation, which the run accounting sums per device.
_APPENDED = {
    "planned_steps": "planned_steps",
    "planned_epochs": "CAST(planned_epochs AS BIGINT)",
    "gpus": "measurement.gpus",
}
# The columns of flat_events, in the order RunAccounting (flink_jobs/java) reads them.
EVENT_COLUMNS = (*_LEADING, "region", *_FLAT_SECTIONS, *_TRAILING, *_APPENDED)


def events_view() -> str:
    """Every record, valid or not, with the fields some output reads as flat columns (null where
    the event's type has no such section), in the order ``RunAccounting.INPUT`` reads them:
    events cross to their run without what no output needs."""
    sources = {**_FLAT_SECTIONS, **_APPENDED}
    columns = ",\n".join(f"  {sources.get(c, c)} AS {c}" for c in EVENT_COLUMNS)
    return f"""CREATE TEMPORARY VIEW {FLAT_EVENTS} AS
SELECT
{columns}
FROM {CHECKED}"""


GRID_SOURCE = "grid_records"
GRID_CHECKED = "checked_grid_records"
GRID_PERIODS = "grid_periods"
"""The valid grid periods of the job's kind, in the columns ``RunAccounting.GRID_INPUT``."""
INVALID_GRID = "invalid_grid_records"
GRID_COLUMNS = ("zone", "start_ms", "end_ms", "intensity_g_per_kwh", "source", "published_at_ms")


def grid_source_ddl(settings: JobSettings) -> str:
    """Kafka source of the zones' grid intensity series (``schemas/grid_intensity.avsc``), read
    from the beginning like the events: the run accounting keeps every zone's series in
    broadcast state (checkpointed), and a job started without state rebuilds it from the topic.
    A record that cannot be decoded is a row with ``decode_error`` set (a dead letter)."""
    columns = column_ddl(schemas.load(schemas.GRID_INTENSITY))
    options = {
        "connector": "kafka",
        "topic": settings.grid_topic,
        "properties.bootstrap.servers": settings.kafka_bootstrap_servers,
        "properties.group.id": settings.consumer_group,
        "scan.startup.mode": "earliest-offset",
        "format": "joulestream-avro",
        **kafka_security(settings),
    }
    return f"""CREATE TABLE {GRID_SOURCE} (
{columns},
  decode_error STRING METADATA FROM 'value.error' VIRTUAL,
  raw_bytes BYTES METADATA FROM 'value.raw' VIRTUAL,
  kafka_partition INT METADATA FROM 'partition' VIRTUAL,
  kafka_offset BIGINT METADATA FROM 'offset' VIRTUAL
) WITH (
{with_options(options)}
)"""


def grid_checked_view() -> str:
    """Every grid record with ``invalid_reason`` (``checks.grid_invalid_reason``)."""
    return f"""CREATE TEMPORARY VIEW {GRID_CHECKED} AS
SELECT *,
  {checks.grid_invalid_reason()} AS invalid_reason
FROM {GRID_SOURCE}"""


def grid_periods_view(settings: JobSettings) -> str:
    """The valid periods of the kind that prices runs (``JOULESTREAM_GRID_KIND``): the other
    kind is a valid figure for another question, not an error."""
    return f"""CREATE TEMPORARY VIEW {GRID_PERIODS} AS
SELECT {", ".join(GRID_COLUMNS)}
FROM {GRID_CHECKED}
WHERE invalid_reason IS NULL AND kind = {literal(settings.grid_kind)}"""


def invalid_grid_view() -> str:
    """The grid records that break their contract, as dead-letter rows (``outputs``)."""
    return f"""CREATE TEMPORARY VIEW {INVALID_GRID} AS
SELECT invalid_reason AS reason, kafka_partition, kafka_offset, raw_bytes
FROM {GRID_CHECKED}
WHERE invalid_reason IS NOT NULL"""
