"""The pipeline's Flink SQL: source and sink DDL, views, and one INSERT per output.

All per-record work is SQL, so it runs in the JVM; no Python code runs per record.
The MongoDB document shapes these statements write are described in ``docs/documents.md``.

Data flow: ``events`` (Kafka) → ``deduped`` (first arrival of each ``event_id``) →
``measurements`` (flattened) → split at the watermark into windows (on time) and
``late_events`` (behind it); ``runs`` and ``rollups`` count every valid event, late or not.
"""

import schemas
from flink_jobs.avro_ddl import column_ddl
from flink_jobs.carbon import Pricing, co2e_sql
from flink_jobs.settings import JobSettings

SOURCE = "events"
CHECKED = "checked_events"
DEDUPED = "deduped"
MEASUREMENTS = "measurements"
RUN_META = "run_meta"
RUNS_SINK = "runs_sink"
WINDOWS_SINK = "windows_sink"
WINDOWS_TOPIC_SINK = "windows_topic_sink"
PRICED_WINDOWS = "priced_windows"
PRICED_LATE = "priced_late_events"
LATE_MEASUREMENTS = "late_measurements"
ROLLUPS_SINK = "rollups_sink"
EPOCHS_SINK = "epochs_sink"
LATE_SINK = "late_events_sink"
DEAD_LETTERS_SINK = "dead_letters_sink"
ENERGY = ("cpu_energy_j", "gpu_energy_j", "ram_energy_j")
COMPONENTS = (*ENERGY, "energy_j")
# CO2e of a run and period in rollups is rounded down to a multiple of 2**-20 g (about 1 µg):
# such numbers add up exactly in any order, so sums over runs do not depend on update order.
CO2E_QUANTUM = 2.0**-20


# A function of the job's jar (flink_jobs/java): the value at the highest seq, whatever the
# order in which the events arrived.
LATEST_BY_SEQ_DDL = (
    "CREATE TEMPORARY SYSTEM FUNCTION LATEST_BY_SEQ AS "
    "'io.joulestream.flink.LatestBySeq' LANGUAGE JAVA"
)


def literal(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _with(options: dict[str, str]) -> str:
    return ",\n".join(f"  {literal(k)} = {literal(v)}" for k, v in options.items())


def source_ddl(s: JobSettings, bounded: bool = False) -> str:
    """Kafka source: the Avro contract's columns (every event type), event time from ``ts_ms``,
    a watermark, and where each record came from.

    The ``joulestream-avro`` format (``flink_jobs/java``) turns a record it cannot decode into a
    row with ``decode_error`` and ``raw`` set instead of failing the job. ``bounded`` stops at
    the offsets that are latest when the job starts (for backfills and checks).
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
        "format": "joulestream-avro",
    }
    if bounded:
        options["scan.bounded.mode"] = "latest-offset"
    return f"""CREATE TABLE {SOURCE} (
{columns},
  decode_error STRING METADATA FROM 'value.error' VIRTUAL,
  raw_bytes BYTES METADATA FROM 'value.raw' VIRTUAL,
  kafka_partition INT METADATA FROM 'partition' VIRTUAL,
  kafka_offset BIGINT METADATA FROM 'offset' VIRTUAL,
  proc_time AS PROCTIME(),
  event_time AS TO_TIMESTAMP_LTZ(ts_ms, 3),
  WATERMARK FOR event_time AS event_time - INTERVAL '{s.watermark_delay_s}' SECOND
) WITH (
{_with(options)}
)"""


EVENT_TYPES = ("run_started", "measurement", "run_finished")


def _energy_problem(column: str) -> str:
    """True for a negative number, NaN or an infinity; null passes.

    Spelled with ``x - x`` (0 for every finite x, NaN otherwise) because the planner compares
    doubles in ranges with ``Double.compare``, where NaN sorts above every number: a ``BETWEEN``
    would let NaN through (and MongoDB-compatible servers may refuse to store it)."""
    return f"({column} < 0 OR {column} - {column} <> 0)"


def checked_view() -> str:
    """Every record with ``invalid_reason``: null for a valid event, else why it is not one.

    The emitter refuses such events at its API; these rules protect the totals from anything
    else that writes to the topic."""
    types = ", ".join(literal(t) for t in EVENT_TYPES)
    energies = " OR ".join(
        _energy_problem(f"measurement.{c}") for c in (*ENERGY, "interval_start_ms")
    )
    return f"""CREATE TEMPORARY VIEW {CHECKED} AS
SELECT *,
  CASE
    WHEN decode_error IS NOT NULL THEN CONCAT('undecodable: ', decode_error)
    WHEN event_type NOT IN ({types}) THEN CONCAT('unknown event_type: ', event_type)
    WHEN run_id = '' OR event_id = '' THEN 'empty run_id or event_id'
    WHEN ts_ms < 0 OR seq < 0 THEN 'negative ts_ms or seq'
    WHEN event_type = 'measurement' AND measurement IS NULL
      THEN 'a measurement event without its measurement section'
    WHEN event_type = 'run_finished' AND run_finished IS NULL
      THEN 'a run_finished event without its run_finished section'
    WHEN {energies} THEN 'negative, NaN or infinite energy'
    WHEN measurement.interval_start_ms > ts_ms THEN 'the interval ends before it starts'
  END AS invalid_reason
FROM {SOURCE}"""


# The fields of the event sections that some output reads, as flat columns: the events cross
# the network to the de-duplication flat and without what no output needs (hyper-parameters,
# per-GPU details, Kafka metadata), which is most of the job's serialization cost.
_FLAT_SECTIONS = {
    "dataset": "run_started.dataset",
    "framework": "run_started.framework",
    "event_pue": "run_started.pue",
    "event_intensity": "run_started.intensity_g_per_kwh",
    "finished_status": "run_finished.status",
    "interval_start_ms": "measurement.interval_start_ms",
    **{c: f"measurement.{c}" for c in ENERGY},
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
}


def deduped_view() -> str:
    """Each ``event_id`` once: the first arrival wins; a re-sent or replayed copy is dropped.

    Ordered by processing time, so the result is append-only and keeps the event-time
    attribute (Flink's deduplication keeping the first row). The sections' fields are flat
    columns (null where the event's type has no such section)."""
    flat = ",\n".join(f"    {expr} AS {name}" for name, expr in _FLAT_SECTIONS.items())
    return f"""CREATE TEMPORARY VIEW {DEDUPED} AS
SELECT * FROM (
  SELECT
    event_id, event_type, run_id, seq, ts_ms, user_id, project, `model`, region, event_time,
{flat},
    ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY proc_time ASC) AS arrival
  FROM {CHECKED}
  WHERE invalid_reason IS NULL
) WHERE arrival = 1"""


def measurements_view() -> str:
    """The de-duplicated measurement events, flattened; a component not measured counts 0 J."""
    energies = ",\n".join(f"  COALESCE({c}, 0.0) AS {c}" for c in ENERGY)
    total = " + ".join(f"COALESCE({c}, 0.0)" for c in ENERGY)
    return f"""CREATE TEMPORARY VIEW {MEASUREMENTS} AS
SELECT
  event_id,
  run_id,
  user_id,
  project,
  `model`,
  region,
  seq,
  ts_ms,
  event_time,
  interval_start_ms,
{energies},
  {total} AS energy_j,
  samples,
  tokens,
  `epoch`,
  `step`,
  loss,
  accuracy
FROM {DEDUPED}
WHERE event_type = 'measurement'"""


def run_meta_view() -> str:
    """What prices a run, from its ``run_started`` event (null where it does not say)."""
    return f"""CREATE TEMPORARY VIEW {RUN_META} AS
SELECT run_id, event_pue, event_intensity
FROM {DEDUPED}
WHERE event_type = 'run_started'"""


REPLACE_IF_NEWER = "replace-if-newer"
INSERT_ONCE = "insert-once"


def _mongo(s: JobSettings, collection: str, mode: str) -> str:
    """The guarded MongoDB sink (``flink_jobs/java``): a document is replaced only by one with
    a larger ``version``, or, for final results, written once; a replay after a restore cannot
    bring an older value back."""
    return _with(
        {
            "connector": "joulestream-mongodb",
            "uri": s.mongodb_uri,
            "database": s.mongodb_database,
            "collection": collection,
            "write-mode": mode,
            "sink.buffer-flush.interval": "1s",
            "sink.buffer-flush.max-rows": "1000",
        }
    )


def _doubles(names: tuple[str, ...]) -> str:
    return ",\n".join(f"  {c} DOUBLE" for c in names)


def _co2e_name(energy: str) -> str:
    return energy.replace("energy_j", "co2e_g")


_ENERGY_COLUMNS = _doubles(COMPONENTS)
_CO2E_COLUMNS = _doubles(tuple(_co2e_name(c) for c in COMPONENTS))
_PRICING_COLUMNS = """  pue DOUBLE,
  intensity_g_per_kwh DOUBLE,
  intensity_source STRING,
  intensity_fallback BOOLEAN"""
_PROGRESS_COLUMNS = """  `epoch` BIGINT,
  `step` BIGINT,
  loss DOUBLE,
  accuracy DOUBLE"""
_WINDOW_PROGRESS_COLUMNS = """  `epoch` BIGINT,
  samples BIGINT,
  tokens BIGINT,
  loss DOUBLE,
  accuracy DOUBLE"""
# A window's fields after its _id, in the MongoDB documents and the Kafka topic alike.
_WINDOW_COLUMNS = f"""  run_id STRING,
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  events BIGINT,
{_WINDOW_PROGRESS_COLUMNS},
{_ENERGY_COLUMNS},
{_PRICING_COLUMNS},
{_CO2E_COLUMNS},
  version BIGINT"""
_UTC_ISO = "'yyyy-MM-dd''T''HH:mm:ss''Z'''"


def _sink(name: str, columns: str, s: JobSettings, collection: str, mode: str) -> str:
    return f"""CREATE TABLE {name} (
  _id STRING,
{columns},
  PRIMARY KEY (_id) NOT ENFORCED
) WITH (
{_mongo(s, collection, mode)}
)"""


def runs_sink_ddl(s: JobSettings) -> str:
    """``runs``: one document per run, upserted by ``_id`` = run id."""
    columns = f"""  run_id STRING,
  user_id STRING,
  project STRING,
  `model` STRING,
  region STRING,
  dataset STRING,
  framework STRING,
  status STRING,
  events BIGINT,
  last_seq BIGINT,
  started_at TIMESTAMP_LTZ(3),
  last_event_at TIMESTAMP_LTZ(3),
  finished_at TIMESTAMP_LTZ(3),
  samples BIGINT,
  tokens BIGINT,
  power_w DOUBLE,
{_PROGRESS_COLUMNS},
{_ENERGY_COLUMNS},
{_PRICING_COLUMNS},
{_CO2E_COLUMNS},
  energy_j_per_sample DOUBLE,
  co2e_g_per_sample DOUBLE,
  energy_j_per_token DOUBLE,
  co2e_g_per_token DOUBLE,
  cpu_methods ARRAY<STRING>,
  ram_methods ARRAY<STRING>,
  gpu_methods ARRAY<STRING>,
  version BIGINT"""
    return _sink(RUNS_SINK, columns, s, "runs", REPLACE_IF_NEWER)


def windows_sink_ddl(s: JobSettings) -> str:
    """``windows``: one document per run per event-time window, ``_id`` = run id / start."""
    return _sink(WINDOWS_SINK, _WINDOW_COLUMNS, s, "windows", REPLACE_IF_NEWER)


def rollups_sink_ddl(s: JobSettings) -> str:
    """``rollups``: per user, model and region per period, ``_id`` = user/model/region/start."""
    columns = f"""  user_id STRING,
  `model` STRING,
  region STRING,
  period_start TIMESTAMP_LTZ(3),
  period_end TIMESTAMP_LTZ(3),
  runs BIGINT,
  events BIGINT,
{_ENERGY_COLUMNS},
  co2e_g DOUBLE,
  version BIGINT"""
    return _sink(ROLLUPS_SINK, columns, s, "rollups", REPLACE_IF_NEWER)


def late_sink_ddl(s: JobSettings) -> str:
    """``late_events``: measurements that arrived behind the watermark, ``_id`` = event id."""
    columns = f"""  event_id STRING,
  run_id STRING,
  seq BIGINT,
  event_at TIMESTAMP_LTZ(3),
  watermark_at TIMESTAMP_LTZ(3),
{_ENERGY_COLUMNS}"""
    return _sink(LATE_SINK, columns, s, "late_events", INSERT_ONCE)


def dead_letters_sink_ddl(s: JobSettings) -> str:
    """``dead_letters``: records that are not valid events, ``_id`` = partition/offset."""
    columns = """  reason STRING,
  kafka_partition INT,
  kafka_offset BIGINT,
  raw_bytes BYTES,
  event_id STRING,
  run_id STRING,
  event_type STRING,
  received_at TIMESTAMP_LTZ(3)"""
    return _sink(DEAD_LETTERS_SINK, columns, s, "dead_letters", INSERT_ONCE)


def dead_letters_insert(s: JobSettings) -> str:
    """Every record that is not a valid event, kept with its reason and where it came from; the
    bytes themselves when they could not be decoded (else the decoded ids)."""
    return f"""INSERT INTO {DEAD_LETTERS_SINK}
SELECT
  CONCAT({literal(s.topic)}, '/', CAST(kafka_partition AS STRING), '/',
    CAST(kafka_offset AS STRING)),
  invalid_reason,
  kafka_partition,
  kafka_offset,
  raw_bytes,
  NULLIF(event_id, ''),
  NULLIF(run_id, ''),
  NULLIF(event_type, ''),
  CAST(proc_time AS TIMESTAMP_LTZ(3))
FROM {CHECKED}
WHERE invalid_reason IS NOT NULL"""


def _priced(pricing: Pricing, region: str, pue: str, intensity: str) -> str:
    """The pricing columns for a row with ``region`` and the run's own PUE and intensity."""
    return f"""{pricing.pue_sql(region, pue)} AS pue,
    {pricing.intensity_sql(region, intensity)} AS intensity_g_per_kwh,
    {pricing.source_sql(region, intensity)} AS intensity_source,
    {pricing.fallback_sql(region, intensity)} AS intensity_fallback"""


def _co2e_columns() -> str:
    return ",\n".join(
        f"  {co2e_sql(c, 'pue', 'intensity_g_per_kwh')} AS {_co2e_name(c)}" for c in COMPONENTS
    )


def runs_insert(pricing: Pricing) -> str:
    """Per-run cumulative totals over every event of the run (late ones too): a keyed aggregate
    whose every update upserts the run. The sections of other event types are null and add
    nothing."""
    sums = ",\n".join(f"      COALESCE(SUM({c}), 0.0) AS {c}" for c in ENERGY)
    total = " + ".join(f"COALESCE({c}, 0.0)" for c in ENERGY)
    methods = ",\n".join(
        # MIN and MAX, not ARRAY_AGG(DISTINCT): a third of the job's throughput for the same
        # answer whenever a run used at most two methods per component (a meter and its
        # fallback). ARRAY_REMOVE drops the nulls of a component never measured.
        f"      ARRAY_REMOVE(ARRAY_DISTINCT(ARRAY[MIN({name}_method), MAX({name}_method)]),"
        f" CAST(NULL AS STRING)) AS {name}_methods"
        for name in ("cpu", "ram", "gpu")
    )
    per = ",\n".join(
        f"  CASE WHEN {n} > 0 THEN {v} / {n} END AS {v}_per_{n[:-1]}"
        for n in ("samples", "tokens")
        for v in ("energy_j", "co2e_g")
    )
    return f"""INSERT INTO {RUNS_SINK}
SELECT
  run_id, run_id, user_id, project, `model`, region, dataset, framework, status, events,
  last_seq, started_at, last_event_at, finished_at, samples, tokens, power_w,
  `epoch`, `step`, loss, accuracy,
  {", ".join(COMPONENTS)},
  pue, intensity_g_per_kwh, intensity_source, intensity_fallback,
  {", ".join(_co2e_name(c) for c in COMPONENTS)},
{per},
  cpu_methods, ram_methods, gpu_methods,
  version
FROM (
  SELECT *,
{_co2e_columns()}
  FROM (
    SELECT *,
    {_priced(pricing, "region", "event_pue", "event_intensity")}
    FROM (
      SELECT
      run_id,
      LAST_VALUE(user_id) AS user_id,
      LAST_VALUE(project) AS project,
      LAST_VALUE(`model`) AS `model`,
      LAST_VALUE(region) AS region,
      -- LAST_VALUE skips nulls: these keep what the run's events last said.
      LAST_VALUE(dataset) AS dataset,
      LAST_VALUE(framework) AS framework,
      COALESCE(LAST_VALUE(finished_status), 'running') AS status,
      COUNT(CASE WHEN event_type = 'measurement' THEN 1 END) AS events,
      MAX(seq) AS last_seq,
      TO_TIMESTAMP_LTZ(MIN(interval_start_ms), 3) AS started_at,
      TO_TIMESTAMP_LTZ(MAX(CASE WHEN event_type = 'measurement' THEN ts_ms END), 3)
        AS last_event_at,
      TO_TIMESTAMP_LTZ(MAX(CASE WHEN event_type = 'run_finished' THEN ts_ms END), 3)
        AS finished_at,
      COALESCE(SUM(samples), 0) AS samples,
      COALESCE(SUM(tokens), 0) AS tokens,
      MAX(`epoch`) AS `epoch`,
      MAX(`step`) AS `step`,
      LATEST_BY_SEQ(
        CASE WHEN event_type = 'measurement' AND ts_ms > interval_start_ms
          THEN ({total}) * CAST(1000 AS DOUBLE) / (ts_ms - interval_start_ms) END,
        seq) AS power_w,
      LATEST_BY_SEQ(loss, seq) AS loss,
      LATEST_BY_SEQ(accuracy, seq) AS accuracy,
{sums},
      COALESCE(SUM({total}), 0.0) AS energy_j,
      MAX(event_pue) AS event_pue,
      MAX(event_intensity) AS event_intensity,
{methods},
      COUNT(*) AS version
      FROM {DEDUPED}
      GROUP BY run_id
    )
  )
)"""


def _on_time(ahead: bool) -> str:
    """Rows ahead of the watermark where they are read (``ahead``) or behind it. Until the
    first watermark (the job has just started) every row is ahead."""
    if ahead:
        return (
            "(CURRENT_WATERMARK(event_time) IS NULL OR event_time > CURRENT_WATERMARK(event_time))"
        )
    return "event_time <= CURRENT_WATERMARK(event_time)"


def windows_view(s: JobSettings, pricing: Pricing) -> str:
    """Per-run tumbling event-time windows over the on-time measurements, emitted once each
    when the watermark passes the window's end, priced with the run's ``run_started``."""
    sums = ",\n".join(f"      SUM({c}) AS {c}" for c in COMPONENTS)
    window = f"INTERVAL '{s.run_window_s}' SECOND"
    window_ms = s.run_window_s * 1000
    return f"""CREATE TEMPORARY VIEW {PRICED_WINDOWS} AS
SELECT
  CONCAT(run_id, '/', DATE_FORMAT(window_start, {_UTC_ISO})) AS _id,
  run_id, window_start, window_end, events, `epoch`, samples, tokens, loss, accuracy,
  {", ".join(COMPONENTS)},
  pue, intensity_g_per_kwh, intensity_source, intensity_fallback,
{_co2e_columns()},
  user_id, `model`, region, window_start_ms, priced
FROM (
  SELECT w.*, CASE WHEN m.run_id IS NULL THEN 0 ELSE 1 END AS priced,
    {_priced(pricing, "w.region", "m.event_pue", "m.event_intensity")}
  FROM (
    SELECT
      run_id,
      user_id,
      `model`,
      region,
      window_start,
      window_end,
      MIN(ts_ms) - MOD(MIN(ts_ms), {window_ms}) AS window_start_ms,
      COUNT(*) AS events,
      MAX(`epoch`) AS `epoch`,
      COALESCE(SUM(samples), 0) AS samples,
      COALESCE(SUM(tokens), 0) AS tokens,
      LATEST_BY_SEQ(loss, seq) AS loss,
      LATEST_BY_SEQ(accuracy, seq) AS accuracy,
{sums}
    FROM TABLE(TUMBLE(
      TABLE on_time_{MEASUREMENTS},
      DESCRIPTOR(event_time), {window}))
    GROUP BY run_id, user_id, `model`, region, window_start, window_end
  ) AS w
  LEFT JOIN {RUN_META} AS m ON w.run_id = m.run_id
)"""


def priced_late_view(pricing: Pricing) -> str:
    """The late measurements, priced like their run (for the rollups)."""
    return f"""CREATE TEMPORARY VIEW {PRICED_LATE} AS
SELECT l.*, CASE WHEN m.run_id IS NULL THEN 0 ELSE 1 END AS priced,
  {_priced(pricing, "l.region", "m.event_pue", "m.event_intensity")}
FROM {LATE_MEASUREMENTS} AS l
LEFT JOIN {RUN_META} AS m ON l.run_id = m.run_id"""


_WINDOW_DOC_COLUMNS = (
    "_id, run_id, window_start, window_end, events, `epoch`, samples, tokens, loss, accuracy, "
    + ", ".join(COMPONENTS)
    + ", pue, intensity_g_per_kwh, intensity_source, intensity_fallback, "
    + ", ".join(_co2e_name(c) for c in COMPONENTS)
    # 0 until the run's run_started has priced the window, then 1: a window closed before it
    # arrived is written again, priced.
    + ", CAST(priced AS BIGINT)"
)


def windows_insert() -> str:
    return f"INSERT INTO {WINDOWS_SINK} SELECT {_WINDOW_DOC_COLUMNS} FROM {PRICED_WINDOWS}"


def windows_topic_sink_ddl(s: JobSettings) -> str:
    """The closed windows, also to a Kafka topic through Flink's two-phase-commit Kafka sink:
    a consumer reading with ``isolation.level=read_committed`` sees each checkpoint's windows
    once, after the checkpoint completes. Key: the window's ``_id``; value: JSON, the fields of
    the ``windows`` document (dates as ISO-8601 strings)."""
    options = {
        "connector": "upsert-kafka",
        "topic": s.windows_topic,
        "properties.bootstrap.servers": s.kafka_bootstrap_servers,
        "key.format": "raw",
        "value.format": "json",
        "value.fields-include": "ALL",
        "value.json.timestamp-format.standard": "ISO-8601",
        "sink.delivery-guarantee": "exactly-once",
        # Unique per job and stable across its restarts: a restored job aborts the
        # transactions its previous attempt left open.
        "sink.transactional-id-prefix": f"{s.job_name}-windows",
        # Above a checkpoint interval plus a restart, below the broker's maximum (1 h).
        "properties.transaction.timeout.ms": "900000",
    }
    return f"""CREATE TABLE {WINDOWS_TOPIC_SINK} (
  _id STRING,
{_WINDOW_COLUMNS},
  PRIMARY KEY (_id) NOT ENFORCED
) WITH (
{_with(options)}
)"""


def windows_topic_insert() -> str:
    return f"INSERT INTO {WINDOWS_TOPIC_SINK} SELECT {_WINDOW_DOC_COLUMNS} FROM {PRICED_WINDOWS}"


def on_time_view() -> str:
    """The measurements ahead of the watermark: what windows may still take."""
    return f"""CREATE TEMPORARY VIEW on_time_{MEASUREMENTS} AS
SELECT * FROM {MEASUREMENTS} WHERE {_on_time(True)}"""


def late_view() -> str:
    """The measurements behind the watermark: ``late_events`` and the rollups read them."""
    return f"""CREATE TEMPORARY VIEW {LATE_MEASUREMENTS} AS
SELECT * FROM {MEASUREMENTS} WHERE {_on_time(False)}"""


def late_insert() -> str:
    """Measurements behind the watermark: kept one document each, never dropped silently."""
    return f"""INSERT INTO {LATE_SINK}
SELECT
  event_id, event_id, run_id, seq, event_time, CURRENT_WATERMARK(event_time),
  {", ".join(COMPONENTS)}
FROM {LATE_MEASUREMENTS}"""


def rollups_insert(s: JobSettings) -> str:
    """Per user, model and region per period (default 1 hour): every measurement, late or not,
    added up from the closed windows and the late events, each priced like its run. So a period
    is complete once its windows have closed, and a run's energy is updated here once per window
    rather than once per event."""
    period_ms = s.rollup_s * 1000
    energies = ", ".join(COMPONENTS)
    sums = ",\n".join(f"  SUM({c})" for c in COMPONENTS)
    scale = f"CAST({1 / CO2E_QUANTUM!r} AS DOUBLE)"
    late_co2e = co2e_sql("energy_j", "pue", "intensity_g_per_kwh")
    return f"""INSERT INTO {ROLLUPS_SINK}
SELECT
  CONCAT_WS('/', user_id, `model`, region,
    DATE_FORMAT(TO_TIMESTAMP_LTZ(period_ms, 3), {_UTC_ISO})),
  user_id,
  `model`,
  region,
  TO_TIMESTAMP_LTZ(period_ms, 3),
  TO_TIMESTAMP_LTZ(period_ms + {period_ms}, 3),
  COUNT(DISTINCT run_id),
  SUM(events),
{sums},
  SUM(FLOOR(co2e_g * {scale}) / {scale}),
  SUM(events + priced)
FROM (
  SELECT run_id, user_id, `model`, region, events, {energies}, co2e_g, priced,
    window_start_ms - MOD(window_start_ms, {period_ms}) AS period_ms
  FROM {PRICED_WINDOWS}
  UNION ALL
  SELECT run_id, user_id, `model`, region, 1, {energies}, {late_co2e}, priced,
    ts_ms - MOD(ts_ms, {period_ms})
  FROM {PRICED_LATE}
)
GROUP BY user_id, `model`, region, period_ms"""


def epochs_sink_ddl(s: JobSettings) -> str:
    """``epochs``: per run per training epoch, ``_id`` = run id / epoch."""
    columns = f"""  run_id STRING,
  `epoch` BIGINT,
  events BIGINT,
  started_at TIMESTAMP_LTZ(3),
  ended_at TIMESTAMP_LTZ(3),
{_ENERGY_COLUMNS},
  samples BIGINT,
  tokens BIGINT,
  loss DOUBLE,
  accuracy DOUBLE,
  version BIGINT"""
    return _sink(EPOCHS_SINK, columns, s, "epochs", REPLACE_IF_NEWER)


def epochs_insert() -> str:
    """Per run and epoch, every measurement that reports an epoch, late or not, counted in the
    epoch it reports (trackers end an interval at each epoch's end). Not priced: the run's
    pricing may still change when its ``run_started`` arrives, and the run document has it."""
    sums = ",\n".join(f"  SUM({c})" for c in COMPONENTS)
    return f"""INSERT INTO {EPOCHS_SINK}
SELECT
  CONCAT(run_id, '/', CAST(`epoch` AS STRING)),
  run_id,
  `epoch`,
  COUNT(*),
  TO_TIMESTAMP_LTZ(MIN(interval_start_ms), 3),
  TO_TIMESTAMP_LTZ(MAX(ts_ms), 3),
{sums},
  COALESCE(SUM(samples), 0),
  COALESCE(SUM(tokens), 0),
  LATEST_BY_SEQ(loss, seq),
  LATEST_BY_SEQ(accuracy, seq),
  COUNT(*)
FROM {MEASUREMENTS}
WHERE `epoch` IS NOT NULL
GROUP BY run_id, `epoch`"""
