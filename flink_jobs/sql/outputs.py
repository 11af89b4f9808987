"""The outputs in the order of the job's statement set: for each, the expression of every field
of its collection (``schemas/documents.py``) over the view it reads. ``sinks.Output`` makes the
sink table and the INSERT, with named columns, from each declaration.
"""

from joulestream.flink_jobs.carbon import Pricing
from joulestream.flink_jobs.settings import JobSettings
from joulestream.flink_jobs.sql.sinks import (
    DEAD_LETTERS_SINK,
    EPOCHS_SINK,
    GRID_INTENSITY_SINK,
    LATE_SINK,
    ROLLUPS_SINK,
    RUNS_SINK,
    WINDOWS_SINK,
    WINDOWS_TOPIC_SINK,
    Output,
    mongo_options,
    windows_topic_options,
)
from joulestream.flink_jobs.sql.sources import GRID_CHECKED, INVALID_GRID
from joulestream.flink_jobs.sql.views import (
    COMPONENTS,
    EPOCH_TOTALS,
    INVALID_RECORDS,
    LATE_MEASUREMENTS,
    PRICED_LATE,
    PRICED_WINDOWS,
    RUN_TOTALS,
    UTC_ISO,
    co2e,
    co2e_columns,
    co2e_name,
    part_co2e_columns,
    priced,
)
from joulestream.flink_jobs.sql_text import identifier, literal
from joulestream.schemas import documents

# CO2e of a run and period in rollups is rounded down to a multiple of 2**-20 g (about 1 µg):
# such numbers add up exactly in any order, so sums over runs do not depend on update order.
CO2E_QUANTUM = 2.0**-20


def _same(*names: str) -> dict[str, str]:
    """Columns the source has under the field's own name (quoted: some are reserved words)."""
    return {name: identifier(name) for name in names}


def _ltz(column_ms: str) -> str:
    return f"TO_TIMESTAMP_LTZ({column_ms}, 3)"


_PRICING = {
    **_same("pue", "intensity_g_per_kwh", "intensity_source", "intensity_fallback"),
    "interval_priced_energy_j": "energy_j_interval",
    "grid_priced_energy_j": "energy_j_grid",
}


def runs(settings: JobSettings, pricing: Pricing) -> Output:
    """Per-run cumulative totals over every event of the run (late ones too), priced with the
    run's own PUE and intensity or the table's: one row per run per flush of the run
    accounting, upserted by run id. A run without ``run_finished`` is ``running`` while it
    reports and ``lost`` once it has been silent for ``lost_after_s``; ``watermark_at`` is the
    run's own watermark."""
    # The smallest and largest method seen: a run uses at most a meter and its fallback per
    # component. ARRAY_REMOVE drops the nulls of a component never measured.
    methods = {
        f"{name}_methods": f"ARRAY_REMOVE(ARRAY_DISTINCT(ARRAY[{name}_method_min, "
        f"{name}_method_max]), CAST(NULL AS STRING))"
        for name in ("cpu", "ram", "gpu")
    }
    per = {
        f"{v}_per_{n[:-1]}": f"CASE WHEN {n} > 0 THEN {v} / {n} END"
        for n in ("samples", "tokens")
        for v in ("energy_j", "co2e_g")
    }
    columns = {
        "_id": "run_id",
        **_same("run_id", "user_id", "project", "model", "region", "dataset", "framework"),
        **_same("status", "events", "last_seq"),
        "started_at": _ltz("started_ms"),
        "last_event_at": _ltz("last_event_ms"),
        "finished_at": _ltz("finished_ms"),
        "watermark_at": _ltz("watermark_ms"),
        **_same("samples", "tokens", "power_w", "epoch", "step", "loss", "accuracy"),
        **_same(*COMPONENTS),
        **_PRICING,
        "grid_sources": "grid_sources",
        **_same(*(co2e_name(c) for c in COMPONENTS)),
        **per,
        **methods,
        "version": "version",
        **_same("planned_steps", "planned_epochs", "gpus"),
    }
    source = f"""FROM (
  SELECT *,
{co2e_columns()}
  FROM (
    SELECT *,
    {priced(pricing, "region", "event_pue", "event_intensity")}
    FROM {RUN_TOTALS}
  )
)"""
    return Output(
        RUNS_SINK, documents.RUNS, mongo_options(settings, documents.RUNS), columns, source
    )


def _window_columns() -> dict[str, str]:
    """A window's fields, from ``priced_windows``. The version is its events, and 1 more once
    the run's run_started has priced it (a window stored before that arrived is written again,
    priced), and 1 more each time a new grid figure priced it again."""
    names = [f.name for f in documents.WINDOWS.fields if f.name != "version"]
    return {**_same(*names), **_PRICING} | {"version": "events + priced + repriced"}


def windows(settings: JobSettings) -> Output:
    """``windows``: the priced windows (``views.windows_view``), upserted as they fill."""
    return Output(
        WINDOWS_SINK,
        documents.WINDOWS,
        mongo_options(settings, documents.WINDOWS),
        _window_columns(),
        f"FROM {PRICED_WINDOWS}",
    )


def windows_topic(settings: JobSettings) -> Output:
    """``windows`` again, to the Kafka topic of the closed windows (``sinks``)."""
    return Output(
        WINDOWS_TOPIC_SINK,
        documents.WINDOWS,
        windows_topic_options(settings),
        _window_columns(),
        f"FROM {PRICED_WINDOWS}",
    )


_ROLLUP_PARTS = "rollup_parts"


def state_ttl(table: str, settings: JobSettings) -> str:
    """The hint that gives the state of the aggregate over ``table`` the settings' state TTL.

    Flink 1.20 takes STATE_TTL hints on regular joins and group aggregates only, which is where
    the job's SQL keeps state: the rollups' aggregate (a period's parts, which expire once idle
    for ``state_ttl_s``). ``table.exec.state.ttl`` (``pipeline.table_config``) says the same for
    any other SQL state; the hint keeps the rollups' TTL with their statement."""
    return f"/*+ STATE_TTL({literal(table)} = {literal(f'{settings.state_ttl_s * 1000} ms')}) */"


def rollups(settings: JobSettings) -> Output:
    """Per user, model and region per period (default 1 hour): every measurement, late or not,
    added up from the closed windows and the late events, each priced like its run. So a period
    is complete once its windows have closed, and a run's energy is updated here once per window
    rather than once per event."""
    period_ms = settings.rollup_s * 1000
    energies = ", ".join(COMPONENTS)
    scale = f"CAST({1 / CO2E_QUANTUM!r} AS DOUBLE)"
    columns = {
        "_id": f"CONCAT_WS('/', user_id, `model`, region,\n"
        f"    DATE_FORMAT(TO_TIMESTAMP_LTZ(period_ms, 3), {UTC_ISO}))",
        **_same("user_id", "model", "region"),
        "period_start": _ltz("period_ms"),
        "period_end": _ltz(f"period_ms + {period_ms}"),
        "runs": "COUNT(DISTINCT run_id)",
        "events": "SUM(events)",
        **{c: f"SUM({c})" for c in COMPONENTS},
        "grid_priced_energy_j": "SUM(energy_j_grid)",
        "interval_priced_energy_j": "SUM(energy_j_interval)",
        "co2e_g": f"SUM(FLOOR(co2e_g * {scale}) / {scale})",
        "grid_co2e_g": f"SUM(FLOOR(grid_co2e_g * {scale}) / {scale})",
        "interval_co2e_g": f"SUM(FLOOR(interval_co2e_g * {scale}) / {scale})",
        "version": "SUM(events + priced + repriced)",
    }
    source = f"""FROM (
  SELECT run_id, user_id, `model`, region, events, {energies}, energy_j_grid,
    energy_j_interval, co2e_g, grid_co2e_g, interval_co2e_g, priced, repriced,
    window_start_ms - MOD(window_start_ms, {period_ms}) AS period_ms
  FROM {PRICED_WINDOWS}
  UNION ALL
  SELECT run_id, user_id, `model`, region, 1, {energies}, energy_j_grid, energy_j_interval,
    {co2e("energy_j")},
{part_co2e_columns()},
    priced, repriced, ts_ms - MOD(ts_ms, {period_ms})
  FROM {PRICED_LATE}
) AS {_ROLLUP_PARTS}
GROUP BY user_id, `model`, region, period_ms"""
    return Output(
        ROLLUPS_SINK,
        documents.ROLLUPS,
        mongo_options(settings, documents.ROLLUPS),
        columns,
        source,
        state_ttl(_ROLLUP_PARTS, settings),
    )


def epochs(settings: JobSettings, pricing: Pricing) -> Output:
    """Per run and epoch, every measurement that reports an epoch, late or not, counted in the
    epoch it reports (trackers end an interval at each epoch's end), priced like its run: the
    run accounting sends an epoch again, priced, when the run's ``run_started`` arrives. The
    version is the epoch's event count, and 1 more once priced."""
    columns = {
        "_id": "CONCAT(run_id, '/', CAST(`epoch` AS STRING))",
        **_same("run_id", "epoch", "events"),
        "started_at": _ltz("started_ms"),
        "ended_at": _ltz("ended_ms"),
        **_same(*COMPONENTS, "samples", "tokens", "loss", "accuracy"),
        **_PRICING,
        **_same(*(co2e_name(c) for c in COMPONENTS)),
        "version": "events + priced",
    }
    source = f"""FROM (
  SELECT *,
{co2e_columns()}
  FROM (
    SELECT *,
    {priced(pricing, "region", "event_pue", "event_intensity")}
    FROM {EPOCH_TOTALS}
  )
)"""
    return Output(
        EPOCHS_SINK, documents.EPOCHS, mongo_options(settings, documents.EPOCHS), columns, source
    )


def late_events(settings: JobSettings) -> Output:
    """Late measurements: kept one document each, never dropped silently, with their run's
    watermark when they arrived and why they are late."""
    columns = {
        "_id": "event_id",
        **_same("event_id", "run_id", "seq"),
        "event_at": _ltz("ts_ms"),
        "watermark_at": _ltz("watermark_ms"),
        **_same("reason", *COMPONENTS),
    }
    return Output(
        LATE_SINK,
        documents.LATE_EVENTS,
        mongo_options(settings, documents.LATE_EVENTS),
        columns,
        f"FROM {LATE_MEASUREMENTS}",
    )


def dead_letters(settings: JobSettings) -> Output:
    """Every record that is not a valid event, kept with its reason and where it came from; the
    bytes themselves when they could not be decoded (else the decoded ids, cut to the
    contract's length by ``RunAccounting``)."""
    columns = {
        "_id": "CONCAT(topic, '/', CAST(kafka_partition AS STRING), '/',\n"
        "    CAST(kafka_offset AS STRING))",
        **_same("reason", "kafka_partition", "kafka_offset", "raw_bytes"),
        **_same("event_id", "run_id", "event_type"),
        "received_at": _ltz("received_ms"),
    }
    # The grid topic's bad records too: their event fields are null, and the time the job read
    # them is to the second (UNIX_TIMESTAMP), which is what a person reading them needs.
    source = f"""FROM (
  SELECT {literal(settings.topic)} AS topic, reason, kafka_partition, kafka_offset, raw_bytes,
    event_id, run_id, event_type, received_ms
  FROM {INVALID_RECORDS}
  UNION ALL
  SELECT {literal(settings.grid_topic)}, reason, kafka_partition, kafka_offset, raw_bytes,
    CAST(NULL AS STRING), CAST(NULL AS STRING), CAST(NULL AS STRING), UNIX_TIMESTAMP() * 1000
  FROM {INVALID_GRID}
)"""
    return Output(
        DEAD_LETTERS_SINK,
        documents.DEAD_LETTERS,
        mongo_options(settings, documents.DEAD_LETTERS),
        columns,
        source,
    )


def grid_intensity(settings: JobSettings) -> Output:
    """Every valid grid record, of either kind, one document per zone, kind and period start:
    its version is the publication time, so the guarded sink keeps the latest publication
    whatever order the records come in (the same rule the run accounting prices by). The
    dashboard's "when would it have been greenest" what-if reads this series."""
    columns = {
        "_id": f"CONCAT_WS('/', {identifier('zone')}, {identifier('kind')},\n"
        f"    DATE_FORMAT(TO_TIMESTAMP_LTZ(start_ms, 3), {UTC_ISO}))",
        **_same("zone", "kind"),
        "period_start": _ltz("start_ms"),
        "period_end": _ltz("end_ms"),
        **_same("intensity_g_per_kwh", "source"),
        "published_at": _ltz("published_at_ms"),
        "estimated": "estimated",
        "version": "published_at_ms",
    }
    return Output(
        GRID_INTENSITY_SINK,
        documents.GRID_INTENSITY,
        mongo_options(settings, documents.GRID_INTENSITY),
        columns,
        f"FROM {GRID_CHECKED}\nWHERE invalid_reason IS NULL",
    )


def every_output(settings: JobSettings, pricing: Pricing) -> tuple[Output, ...]:
    """Every output, in the order of the job's statement set."""
    return (
        runs(settings, pricing),
        windows(settings),
        windows_topic(settings),
        rollups(settings),
        epochs(settings, pricing),
        late_events(settings),
        dead_letters(settings),
        grid_intensity(settings),
    )
