"""The pipeline's Flink SQL: source and sink DDL, views, and one INSERT per output.

All per-record work runs in the JVM; no Python code runs per record. The MongoDB document
shapes these statements write are described in ``docs/documents.md``.

Data flow: ``events`` (Kafka) → ``checked_events`` (valid, or a dead letter with its reason) →
``flat_events`` (what any output reads, as flat columns) → the run accounting of the job's jar
(``RunAccounting``, keyed once by run: de-duplication, the run's own event time, totals,
windows, epochs, late events, silences) → the views it registers, priced here and stored;
``rollups`` add up the windows and the late events per user, model, region and period.
"""

from joulestream import schemas
from joulestream.flink_jobs import checks
from joulestream.flink_jobs.avro_ddl import column_ddl
from joulestream.flink_jobs.carbon import Pricing, co2e_sql
from joulestream.flink_jobs.settings import JobSettings

SOURCE = "events"
CHECKED = "checked_events"
FLAT_EVENTS = "flat_events"
# The views RunAccounting (flink_jobs/java) registers.
RUN_TOTALS = "run_totals"
WINDOW_TOTALS = "window_totals"
EPOCH_TOTALS = "epoch_totals"
LATE_MEASUREMENTS = "late_measurements"
LATE_PARTS = "late_parts"
INVALID_RECORDS = "invalid_records"
RUNS_SINK = "runs_sink"
WINDOWS_SINK = "windows_sink"
WINDOWS_TOPIC_SINK = "windows_topic_sink"
PRICED_WINDOWS = "priced_windows"
PRICED_LATE = "priced_late_events"
ROLLUPS_SINK = "rollups_sink"
EPOCHS_SINK = "epochs_sink"
LATE_SINK = "late_events_sink"
DEAD_LETTERS_SINK = "dead_letters_sink"
ENERGY = ("cpu_energy_j", "gpu_energy_j", "ram_energy_j")
COMPONENTS = (*ENERGY, "energy_j")
# CO2e of a run and period in rollups is rounded down to a multiple of 2**-20 g (about 1 µg):
# such numbers add up exactly in any order, so sums over runs do not depend on update order.
CO2E_QUANTUM = 2.0**-20


def literal(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _with(options: dict[str, str]) -> str:
    return ",\n".join(f"  {literal(k)} = {literal(v)}" for k, v in options.items())


def _jaas(value: str) -> str:
    """A quoted JAAS option value."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _kafka_security(s: JobSettings) -> dict[str, str]:
    """The Kafka client's security options. The password sits in ``sasl.jaas.config``, whose
    value Flink hides wherever it prints options and the Kafka client hides in its logs."""
    options = {"properties.security.protocol": s.kafka_security_protocol}
    if s.kafka_security_protocol.startswith("SASL_"):
        module = (
            "org.apache.kafka.common.security.plain.PlainLoginModule"
            if s.kafka_sasl_mechanism == "PLAIN"
            else "org.apache.kafka.common.security.scram.ScramLoginModule"
        )
        options["properties.sasl.mechanism"] = s.kafka_sasl_mechanism
        options["properties.sasl.jaas.config"] = (
            f"{module} required username={_jaas(s.kafka_sasl_username)} "
            f"password={_jaas(s.kafka_sasl_password)};"
        )
    return options


def source_ddl(s: JobSettings, bounded: bool = False) -> str:
    """Kafka source: the Avro contract's columns (every event type), and where and when each
    record reached Kafka. No watermark: event time is judged per run (``progressed_view``), so
    no record can move another run's time.

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
        **_kafka_security(s),
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
{_with(options)}
)"""


def checked_view(s: JobSettings) -> str:
    """Every record with ``invalid_reason``: null for a valid event, else why it is not one
    (``flink_jobs/checks.py``).

    The emitter refuses such events at its API; these rules protect the outputs from anything
    else that writes to the topic."""
    return f"""CREATE TEMPORARY VIEW {CHECKED} AS
SELECT *,
  {checks.invalid_reason(s.max_event_age_s, s.max_event_ahead_s)} AS invalid_reason
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


SLOW_FLUSH = ("windows", "rollups")
REPLACE_IF_NEWER = "replace-if-newer"
INSERT_ONCE = "insert-once"


def _mongo(s: JobSettings, collection: str, mode: str) -> str:
    """The guarded MongoDB sink (``flink_jobs/java``): a document is replaced only by one with
    a larger ``version``, or, for final results, written once; a replay after a restore cannot
    bring an older value back. Credentials travel apart from the URI; Flink hides the value
    of ``password`` wherever it prints options."""
    options = {
        "connector": "joulestream-mongodb",
        "uri": s.mongodb_uri,
        "database": s.mongodb_database,
        "collection": collection,
        "write-mode": mode,
        # Windows and rollups change with every mini-batch while they fill; writing them every
        # 5 s instead of every second took a quarter of the job's time back on the local
        # store (docs/benchmarks.md). Runs stay at 1 s: "power now" and totals are live.
        "sink.buffer-flush.interval": "5s" if collection in SLOW_FLUSH else "1s",
        "sink.buffer-flush.max-rows": "1000",
    }
    if s.mongodb_username:
        options |= {"username": s.mongodb_username, "password": s.mongodb_password}
    return _with(options)


def _doubles(names: tuple[str, ...]) -> str:
    return ",\n".join(f"  {c} DOUBLE" for c in names)


def _co2e_name(energy: str) -> str:
    return energy.replace("energy_j", "co2e_g")


_ENERGY_COLUMNS = _doubles(COMPONENTS)
_CO2E_COLUMNS = _doubles(tuple(_co2e_name(c) for c in COMPONENTS))
_PRICING_COLUMNS = """  pue DOUBLE,
  intensity_g_per_kwh DOUBLE,
  intensity_source STRING,
  intensity_fallback BOOLEAN,
  interval_priced_energy_j DOUBLE"""
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
  watermark_at TIMESTAMP_LTZ(3),
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
  version BIGINT,
  planned_steps BIGINT,
  planned_epochs BIGINT,
  gpus ARRAY<ROW<gpu_index BIGINT, energy_j DOUBLE, mean_utilisation DOUBLE>>"""
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
    """``late_events``: measurements that arrived late, ``_id`` = event id."""
    columns = f"""  event_id STRING,
  run_id STRING,
  seq BIGINT,
  event_at TIMESTAMP_LTZ(3),
  watermark_at TIMESTAMP_LTZ(3),
  reason STRING,
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
    bytes themselves when they could not be decoded (else the decoded ids, cut to the
    contract's length by ``RunAccounting``)."""
    return f"""INSERT INTO {DEAD_LETTERS_SINK}
SELECT
  CONCAT({literal(s.topic)}, '/', CAST(kafka_partition AS STRING), '/',
    CAST(kafka_offset AS STRING)),
  reason,
  kafka_partition,
  kafka_offset,
  raw_bytes,
  event_id,
  run_id,
  event_type,
  TO_TIMESTAMP_LTZ(received_ms, 3)
FROM {INVALID_RECORDS}"""


def _priced(pricing: Pricing, region: str, pue: str, intensity: str) -> str:
    """The pricing columns for a row with ``region`` and the run's own PUE and intensity."""
    return f"""{pricing.pue_sql(region, pue)} AS pue,
    {pricing.intensity_sql(region, intensity)} AS intensity_g_per_kwh,
    {pricing.source_sql(region, intensity)} AS intensity_source,
    {pricing.fallback_sql(region, intensity)} AS intensity_fallback"""


def _co2e(energy: str) -> str:
    """CO2e of a component of a document: the energy of intervals that carried their own
    intensity is priced with it, the rest with the run's (``docs/documents.md``). With no such
    interval this is exactly ``co2e_sql`` of the whole energy (adding 0.0 changes no double)."""
    own = co2e_sql(f"{energy}_x_interval_intensity", "pue", "CAST(1.0 AS DOUBLE)")
    rest = co2e_sql(f"({energy} - {energy}_interval)", "pue", "intensity_g_per_kwh")
    return f"{rest} + {own}"


def _co2e_columns() -> str:
    return ",\n".join(f"  {_co2e(c)} AS {_co2e_name(c)}" for c in COMPONENTS)


def runs_insert(s: JobSettings, pricing: Pricing) -> str:
    """Per-run cumulative totals over every event of the run (late ones too), priced with the
    run's own PUE and intensity or the table's: one row per run per flush of the run
    accounting, upserted by run id. A run without ``run_finished`` is ``running`` while it
    reports and ``lost`` once it has been silent for ``lost_after_s``; ``watermark_at`` is the
    run's own watermark."""
    methods = ",\n".join(
        # The smallest and largest method seen: a run uses at most a meter and its fallback
        # per component. ARRAY_REMOVE drops the nulls of a component never measured.
        f"  ARRAY_REMOVE(ARRAY_DISTINCT(ARRAY[{name}_method_min, {name}_method_max]),"
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
  last_seq,
  TO_TIMESTAMP_LTZ(started_ms, 3),
  TO_TIMESTAMP_LTZ(last_event_ms, 3),
  TO_TIMESTAMP_LTZ(finished_ms, 3),
  TO_TIMESTAMP_LTZ(watermark_ms, 3),
  samples, tokens, power_w, `epoch`, `step`, loss, accuracy,
  {", ".join(COMPONENTS)},
  pue, intensity_g_per_kwh, intensity_source, intensity_fallback, energy_j_interval,
  {", ".join(_co2e_name(c) for c in COMPONENTS)},
{per},
{methods},
  version,
  planned_steps, planned_epochs, gpus
FROM (
  SELECT *,
{_co2e_columns()}
  FROM (
    SELECT *,
    {_priced(pricing, "region", "event_pue", "event_intensity")}
    FROM {RUN_TOTALS}
  )
)"""


def windows_view(s: JobSettings, pricing: Pricing) -> str:
    """Per-run tumbling event-time windows over the on-time measurements, priced with the run's
    ``run_started`` (the run accounting sends a window again when that arrives). A window is
    stored while it fills and complete once its run's watermark has passed its end, the run
    has finished or it is lost: it never waits for other runs' traffic."""
    window_ms = s.run_window_s * 1000
    return f"""CREATE TEMPORARY VIEW {PRICED_WINDOWS} AS
SELECT
  CONCAT(run_id, '/', DATE_FORMAT(TO_TIMESTAMP_LTZ(window_start_ms, 3), {_UTC_ISO})) AS _id,
  run_id, window_start, window_end, events, `epoch`, samples, tokens, loss, accuracy,
  {", ".join(COMPONENTS)},
  pue, intensity_g_per_kwh, intensity_source, intensity_fallback, energy_j_interval,
{_co2e_columns()},
  user_id, `model`, region, window_start_ms, priced
FROM (
  SELECT *,
    CAST(TO_TIMESTAMP_LTZ(window_start_ms, 3) AS TIMESTAMP(3)) AS window_start,
    CAST(TO_TIMESTAMP_LTZ(window_start_ms + {window_ms}, 3) AS TIMESTAMP(3)) AS window_end,
    {_priced(pricing, "region", "event_pue", "event_intensity")}
  FROM {WINDOW_TOTALS}
)"""


def priced_late_view(pricing: Pricing) -> str:
    """The late measurements' parts of the rollups, priced like their run."""
    return f"""CREATE TEMPORARY VIEW {PRICED_LATE} AS
SELECT *,
  {_priced(pricing, "region", "event_pue", "event_intensity")}
FROM {LATE_PARTS}"""


_WINDOW_DOC_COLUMNS = (
    "_id, run_id, window_start, window_end, events, `epoch`, samples, tokens, loss, accuracy, "
    + ", ".join(COMPONENTS)
    + ", pue, intensity_g_per_kwh, intensity_source, intensity_fallback, energy_j_interval, "
    + ", ".join(_co2e_name(c) for c in COMPONENTS)
    # Its events, and 1 more once the run's run_started has priced it: a window stored before
    # that arrived is written again, priced.
    + ", events + priced"
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
        **_kafka_security(s),
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


def late_insert() -> str:
    """Late measurements: kept one document each, never dropped silently, with their run's
    watermark when they arrived and why they are late."""
    return f"""INSERT INTO {LATE_SINK}
SELECT
  event_id, event_id, run_id, seq, TO_TIMESTAMP_LTZ(ts_ms, 3),
  TO_TIMESTAMP_LTZ(watermark_ms, 3), reason,
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
    late_co2e = _co2e("energy_j")
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
    pricing may still change when its ``run_started`` arrives, and the run document has it.
    The version is the epoch's event count."""
    return f"""INSERT INTO {EPOCHS_SINK}
SELECT
  CONCAT(run_id, '/', CAST(`epoch` AS STRING)),
  run_id,
  `epoch`,
  events,
  TO_TIMESTAMP_LTZ(started_ms, 3),
  TO_TIMESTAMP_LTZ(ended_ms, 3),
  {", ".join(COMPONENTS)},
  samples,
  tokens,
  loss,
  accuracy,
  events
FROM {EPOCH_TOTALS}"""
