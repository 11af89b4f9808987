"""The pipeline's Flink SQL: source and sink DDL and the two INSERT statements.

All per-record work is SQL, so it runs in the JVM; no Python code runs per record.
The MongoDB document shapes these statements write are described in ``docs/documents.md``.
"""

import schemas
from flink_jobs.avro_ddl import column_ddl
from flink_jobs.settings import JobSettings

SOURCE = "measurements"
RUNS_SINK = "runs_sink"
WINDOWS_SINK = "windows_sink"


def literal(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _with(options: dict[str, str]) -> str:
    return ",\n".join(f"  {literal(k)} = {literal(v)}" for k, v in options.items())


def source_ddl(s: JobSettings, bounded: bool = False) -> str:
    """Kafka source: the Avro contract's columns, event time from ``ts_ms``, a watermark.

    ``bounded`` stops at the offsets that are latest when the job starts (for backfills and
    checks) instead of reading for ever.
    """
    columns = column_ddl(schemas.load(schemas.MEASUREMENT_V1))
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


_ENERGY_COLUMNS = """  cpu_energy_j DOUBLE,
  gpu_energy_j DOUBLE,
  ram_energy_j DOUBLE,
  energy_j DOUBLE"""


def runs_sink_ddl(s: JobSettings) -> str:
    """``runs``: one document per run, upserted by ``_id`` = run id."""
    return f"""CREATE TABLE {RUNS_SINK} (
  _id STRING,
  run_id STRING,
  user_id STRING,
  `model` STRING,
  region STRING,
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


_ENERGY_SUMS = """  SUM(cpu_energy_j),
  SUM(gpu_energy_j),
  SUM(ram_energy_j),
  SUM(cpu_energy_j + gpu_energy_j + ram_energy_j)"""


def runs_insert() -> str:
    """Per-run cumulative totals: a keyed aggregate whose every update upserts the run."""
    return f"""INSERT INTO {RUNS_SINK}
SELECT
  run_id,
  run_id,
  LAST_VALUE(user_id),
  LAST_VALUE(`model`),
  LAST_VALUE(region),
  COUNT(*),
  MAX(seq),
  TO_TIMESTAMP_LTZ(MIN(interval_start_ms), 3),
  TO_TIMESTAMP_LTZ(MAX(ts_ms), 3),
  SUM(COALESCE(samples, 0)),
{_ENERGY_SUMS}
FROM {SOURCE}
GROUP BY run_id"""


def windows_insert(s: JobSettings) -> str:
    """Per-run tumbling event-time windows, emitted once each when the watermark passes the end."""
    return f"""INSERT INTO {WINDOWS_SINK}
SELECT
  CONCAT(run_id, '/', DATE_FORMAT(window_start, 'yyyy-MM-dd''T''HH:mm:ss''Z''')),
  run_id,
  window_start,
  window_end,
  COUNT(*),
{_ENERGY_SUMS}
FROM TABLE(TUMBLE(TABLE {SOURCE}, DESCRIPTOR(event_time), INTERVAL '{s.run_window_s}' SECOND))
GROUP BY run_id, window_start, window_end"""
