"""The pipeline's Flink SQL: source and sink DDL, a view of the measurements, two INSERTs.

All per-record work is SQL, so it runs in the JVM; no Python code runs per record.
The MongoDB document shapes these statements write are described in ``docs/documents.md``.
"""

import schemas
from flink_jobs.avro_ddl import column_ddl
from flink_jobs.settings import JobSettings

SOURCE = "events"
MEASUREMENTS = "measurements"
RUNS_SINK = "runs_sink"
WINDOWS_SINK = "windows_sink"
ENERGY = ("cpu_energy_j", "gpu_energy_j", "ram_energy_j")


def literal(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _with(options: dict[str, str]) -> str:
    return ",\n".join(f"  {literal(k)} = {literal(v)}" for k, v in options.items())


def source_ddl(s: JobSettings, bounded: bool = False) -> str:
    """Kafka source: the Avro contract's columns (every event type), event time from ``ts_ms``,
    a watermark.

    ``bounded`` stops at the offsets that are latest when the job starts (for backfills and
    checks) instead of reading for ever.
    """
    columns = column_ddl(schemas.load(schemas.TRAINING_EVENT))
    options = {
        "connector": "kafka",
        "topic": s.topic,
        "properties.bootstrap.servers": s.kafka_bootstrap_servers,
        "properties.group.id": s.consumer_group,
        # A job started without state recomputes every total from the beginning of the topic;
        # restarts with state resume from the offsets in their checkpoint instead.
        "scan.startup.mode": "earliest-offset",
        "format": "avro",
    }
    if bounded:
        options["scan.bounded.mode"] = "latest-offset"
    return f"""CREATE TABLE {SOURCE} (
{columns},
  event_time AS TO_TIMESTAMP_LTZ(ts_ms, 3),
  WATERMARK FOR event_time AS event_time - INTERVAL '{s.watermark_delay_s}' SECOND
) WITH (
{_with(options)}
)"""


def measurements_view() -> str:
    """The measurement events, flattened, keeping the source's event-time attribute."""
    fields = ",\n".join(f"  measurement.{c} AS {c}" for c in ENERGY)
    return f"""CREATE TEMPORARY VIEW {MEASUREMENTS} AS
SELECT
  run_id,
  event_time,
{fields}
FROM {SOURCE}
WHERE event_type = 'measurement'"""


def _mongo(s: JobSettings, collection: str) -> str:
    return _with(
        {
            "connector": "mongodb",
            "uri": s.mongodb_uri,
            "database": s.mongodb_database,
            "collection": collection,
            "sink.buffer-flush.interval": "1s",
            "sink.buffer-flush.max-rows": "1000",
        }
    )


_ENERGY_COLUMNS = ",\n".join(f"  {c} DOUBLE" for c in (*ENERGY, "energy_j"))


def runs_sink_ddl(s: JobSettings) -> str:
    """``runs``: one document per run, upserted by ``_id`` = run id."""
    return f"""CREATE TABLE {RUNS_SINK} (
  _id STRING,
  run_id STRING,
  user_id STRING,
  project STRING,
  `model` STRING,
  region STRING,
  status STRING,
  events BIGINT,
  last_seq BIGINT,
  started_at TIMESTAMP_LTZ(3),
  last_event_at TIMESTAMP_LTZ(3),
  samples BIGINT,
{_ENERGY_COLUMNS},
  PRIMARY KEY (_id) NOT ENFORCED
) WITH (
{_mongo(s, "runs")}
)"""


def windows_sink_ddl(s: JobSettings) -> str:
    """``windows``: one document per run per event-time window, ``_id`` = run id / start."""
    return f"""CREATE TABLE {WINDOWS_SINK} (
  _id STRING,
  run_id STRING,
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  events BIGINT,
{_ENERGY_COLUMNS},
  PRIMARY KEY (_id) NOT ENFORCED
) WITH (
{_mongo(s, "windows")}
)"""


def runs_insert() -> str:
    """Per-run cumulative totals over every event of the run: a keyed aggregate whose every
    update upserts the run. The sections of other event types are null and add nothing."""
    sums = ",\n".join(f"  COALESCE(SUM(measurement.{c}), 0.0)" for c in ENERGY)
    total = " + ".join(f"measurement.{c}" for c in ENERGY)
    return f"""INSERT INTO {RUNS_SINK}
SELECT
  run_id,
  run_id,
  LAST_VALUE(user_id),
  LAST_VALUE(project),
  LAST_VALUE(`model`),
  LAST_VALUE(region),
  COALESCE(LAST_VALUE(run_finished.status), 'running'),
  COUNT(measurement.interval_start_ms),
  MAX(seq),
  TO_TIMESTAMP_LTZ(MIN(measurement.interval_start_ms), 3),
  TO_TIMESTAMP_LTZ(MAX(CASE WHEN event_type = 'measurement' THEN ts_ms END), 3),
  COALESCE(SUM(measurement.samples), 0),
{sums},
  COALESCE(SUM({total}), 0.0)
FROM {SOURCE}
GROUP BY run_id"""


def windows_insert(s: JobSettings) -> str:
    """Per-run tumbling event-time windows over the measurements, emitted once each when the
    watermark passes the window's end."""
    sums = ",\n".join(f"  SUM({c})" for c in ENERGY)
    total = " + ".join(ENERGY)
    window = f"INTERVAL '{s.run_window_s}' SECOND"
    return f"""INSERT INTO {WINDOWS_SINK}
SELECT
  CONCAT(run_id, '/', DATE_FORMAT(window_start, 'yyyy-MM-dd''T''HH:mm:ss''Z''')),
  run_id,
  window_start,
  window_end,
  COUNT(*),
{sums},
  SUM({total})
FROM TABLE(TUMBLE(TABLE {MEASUREMENTS}, DESCRIPTOR(event_time), {window}))
GROUP BY run_id, window_start, window_end"""
