"""Why a record is not a valid event, as SQL: the contract's bounds (``schemas/limits.py``)
applied to every field that reaches an output, each with a reason a person can read.

Nothing a record contains may stop the job or move another run's results, so every text that
reaches a document or the windows topic has a bounded length, every number is finite and
within a physical bound, and the event time lies within a window around the time the record
reached Kafka (a record outside it is a dead letter before it reaches any run's progress).
"""

from joulestream.flink_jobs.sql_text import double
from joulestream.schemas import limits

# Every text field that an output reads, with its column expression in the source table.
TEXTS = {
    "event_id": "event_id",
    "event_type": "event_type",
    "run_id": "run_id",
    "user_id": "user_id",
    "project": "project",
    "model": "`model`",
    "region": "region",
    "run_started.dataset": "run_started.dataset",
    "run_started.framework": "run_started.framework",
    "measurement.cpu_method": "measurement.cpu_method",
    "measurement.ram_method": "measurement.ram_method",
    "measurement.gpus[1].method": "(measurement.gpus[1]).`method`",
    "run_finished.status": "run_finished.status",
}
ENERGIES = ("cpu_energy_j", "gpu_energy_j", "ram_energy_j")
COUNTS = ("samples", "tokens", "step")


def _show(value: str) -> str:
    """A value in a reason: numbers as Flink prints them (NaN, Infinity), text cut short."""
    return f"SUBSTRING(CAST({value} AS STRING), 1, 40)"


def _not_within(column: str, low: float, high: float) -> str:
    """True for a number outside [low, high], NaN or an infinity; null passes.

    NaN is caught by ``x - x <> 0`` (0 for every finite x, NaN otherwise): the planner compares
    doubles with ``Double.compare``, where NaN sorts above every number, so a range alone is not
    enough for the low side."""
    return f"({column} < {double(low)} OR {column} > {double(high)} OR {column} - {column} <> 0)"


def _reason(field: str, value: str, rule: str) -> str:
    return f"CONCAT('{field} = ', {_show(value)}, ' {rule}')"


def invalid_reason(max_age_s: int, max_ahead_s: int) -> str:
    """A CASE giving null for a valid record, else the first rule it breaks.

    ``kafka_timestamp`` (when the record reached Kafka; the broker's clock on a topic with
    ``message.timestamp.type=LogAppendTime``) is the reference of the event-time window: the
    same on every read of the record, so a job that reads the topic again after a restore or
    from the beginning judges each record as before."""
    m = "measurement"
    interval_ms = f"GREATEST(ts_ms - {m}.interval_start_ms, {limits.MIN_CREDITED_INTERVAL_MS})"
    cases = [
        ("decode_error IS NOT NULL", "CONCAT('undecodable: ', decode_error)"),
        (
            "event_type NOT IN ('run_started', 'measurement', 'run_finished')",
            f"CONCAT('unknown event_type: ', {_show('event_type')})",
        ),
        ("run_id = '' OR event_id = ''", "'empty run_id or event_id'"),
    ]
    for field, column in TEXTS.items():
        cases.append(
            (
                f"CHAR_LENGTH({column}) > {limits.MAX_TEXT_LEN}",
                f"CONCAT('{field} is ', CAST(CHAR_LENGTH({column}) AS STRING), "
                f"' characters long, at most {limits.MAX_TEXT_LEN}')",
            )
        )
    cases += [
        (
            f"ts_ms < {limits.MIN_TS_MS} OR ts_ms > {limits.MAX_TS_MS}",
            _reason(
                "ts_ms",
                "ts_ms",
                "is not UTC epoch milliseconds from 2000 to 9999 (seconds or nanoseconds?)",
            ),
        ),
        # Millisecond arithmetic on ts_ms (bounded just above), not on the Kafka timestamp:
        # date arithmetic on a TIMESTAMP_LTZ goes through time zones for every record.
        (
            f"TO_TIMESTAMP_LTZ(ts_ms + {max_age_s * 1000}, 3) < kafka_timestamp",
            f"CONCAT('ts_ms = ', CAST(ts_ms AS STRING), ' is more than {max_age_s} s before "
            f"the record reached Kafka at ', DATE_FORMAT(kafka_timestamp, "
            f"'yyyy-MM-dd HH:mm:ss'), ' UTC')",
        ),
        (
            f"TO_TIMESTAMP_LTZ(ts_ms - {max_ahead_s * 1000}, 3) > kafka_timestamp",
            f"CONCAT('ts_ms = ', CAST(ts_ms AS STRING), ' is more than {max_ahead_s} s after "
            f"the record reached Kafka at ', DATE_FORMAT(kafka_timestamp, "
            f"'yyyy-MM-dd HH:mm:ss'), ' UTC (a clock ahead?)')",
        ),
        (
            f"seq < 0 OR seq > {limits.MAX_COUNT}",
            _reason("seq", "seq", f"is not in [0, {limits.MAX_COUNT}]"),
        ),
        (
            "event_type = 'measurement' AND measurement IS NULL",
            "'a measurement event without its measurement section'",
        ),
        (
            "event_type = 'run_finished' AND run_finished IS NULL",
            "'a run_finished event without its run_finished section'",
        ),
        (
            f"{m}.interval_start_ms > ts_ms",
            "'the measurement interval ends before it starts (interval_start_ms > ts_ms)'",
        ),
        (
            f"{m}.interval_start_ms < ts_ms - {limits.MAX_INTERVAL_MS}",
            f"'the measurement interval is longer than {limits.MAX_INTERVAL_MS} ms'",
        ),
    ]
    power = limits.MAX_COMPONENT_POWER_W
    for energy in ENERGIES:
        column = f"{m}.{energy}"
        # J per ms as a DOUBLE: a literal such as 100000.0 is a DECIMAL in Flink SQL, and
        # DECIMAL arithmetic for every record cost the job a large share of its throughput.
        bound = (
            f"{double(power / 1000)} * COALESCE({interval_ms}, {limits.MIN_CREDITED_INTERVAL_MS})"
        )
        cases.append(
            (
                f"({column} < 0 OR {column} - {column} <> 0 OR {column} > {bound})",
                _reason(
                    column,
                    column,
                    f"J is not finite or not within 0 and {power:g} W over the interval",
                ),
            )
        )
    cases += [
        (
            _not_within("run_started.pue", limits.MIN_PUE, limits.MAX_PUE),
            _reason(
                "run_started.pue",
                "run_started.pue",
                f"is not within [{limits.MIN_PUE:g}, {limits.MAX_PUE:g}]",
            ),
        ),
        (
            _not_within(
                "run_started.intensity_g_per_kwh",
                limits.MIN_INTENSITY_G_PER_KWH,
                limits.MAX_INTENSITY_G_PER_KWH,
            ),
            _reason(
                "run_started.intensity_g_per_kwh",
                "run_started.intensity_g_per_kwh",
                f"g/kWh is not within [{limits.MIN_INTENSITY_G_PER_KWH:g}, "
                f"{limits.MAX_INTENSITY_G_PER_KWH:g}]",
            ),
        ),
        (
            _not_within(
                "interval_intensity_g_per_kwh",
                limits.MIN_INTENSITY_G_PER_KWH,
                limits.MAX_INTENSITY_G_PER_KWH,
            ),
            _reason(
                "interval_intensity_g_per_kwh",
                "interval_intensity_g_per_kwh",
                f"g/kWh is not within [{limits.MIN_INTENSITY_G_PER_KWH:g}, "
                f"{limits.MAX_INTENSITY_G_PER_KWH:g}]",
            ),
        ),
    ]
    for count in COUNTS:
        column = f"{m}.`{count}`"
        cases.append(
            (
                f"{column} < 0 OR {column} > {limits.MAX_COUNT}",
                _reason(f"{m}.{count}", column, f"is not in [0, {limits.MAX_COUNT}]"),
            )
        )
    cases.append((f"{m}.`epoch` < 0", _reason(f"{m}.epoch", f"{m}.`epoch`", "is negative")))
    # The run's plan (contract version 3): a count of at least one. Per-GPU figures are
    # checked by the run accounting's split (an array's every element is beyond a CASE).
    for planned, most in (
        ("planned_steps", limits.MAX_COUNT),
        ("planned_epochs", limits.MAX_EPOCH),
    ):
        cases.append(
            (
                f"{planned} < 1 OR {planned} > {most}",
                _reason(planned, planned, f"is not in [1, {most}]"),
            )
        )
    for progress, low, high in (
        ("loss", -limits.MAX_ABS_LOSS, limits.MAX_ABS_LOSS),
        ("accuracy", 0.0, 1.0),
    ):
        column = f"{m}.{progress}"
        cases.append(
            (
                _not_within(column, low, high),
                _reason(column, column, f"is not finite or not within [{low:g}, {high:g}]"),
            )
        )
    whens = "\n".join(f"    WHEN {condition} THEN {reason}" for condition, reason in cases)
    return f"CASE\n{whens}\n  END"


def grid_invalid_reason() -> str:
    """A CASE giving null for a valid ``grid.intensity`` record, else the first rule of its
    contract (``schemas/grid_intensity.avsc``) that it breaks, naming its zone."""
    zone = "CONCAT('grid.intensity zone ', SUBSTRING(zone, 1, 40), ': ', {})"
    day_ms = limits.MAX_GRID_PERIOD_MS
    cases = [
        ("decode_error IS NOT NULL", "CONCAT('undecodable grid.intensity record: ', decode_error)"),
        ("zone = ''", "'grid.intensity record with an empty zone'"),
    ]
    for field in ("zone", "source"):
        cases.append(
            (
                f"CHAR_LENGTH({field}) > {limits.MAX_TEXT_LEN}",
                zone.format(
                    f"CONCAT('{field} is ', CAST(CHAR_LENGTH({field}) AS STRING), "
                    f"' characters long, at most {limits.MAX_TEXT_LEN}')"
                ),
            )
        )
    cases.append(("source = ''", zone.format("'empty source'")))
    for field in ("start_ms", "end_ms", "published_at_ms"):
        cases.append(
            (
                f"{field} < {limits.MIN_TS_MS} OR {field} > {limits.MAX_TS_MS}",
                zone.format(
                    _reason(field, field, "is not UTC epoch milliseconds from 2000 to 9999")
                ),
            )
        )
    cases += [
        (
            f"end_ms <= start_ms OR end_ms - start_ms > {day_ms}",
            zone.format(
                "CONCAT('the period [', CAST(start_ms AS STRING), ', ', CAST(end_ms AS STRING), "
                "') does not end after its start and at most a day later')"
            ),
        ),
        (
            _not_within(
                "intensity_g_per_kwh",
                limits.MIN_INTENSITY_G_PER_KWH,
                limits.MAX_INTENSITY_G_PER_KWH,
            ),
            zone.format(
                _reason(
                    "intensity_g_per_kwh",
                    "intensity_g_per_kwh",
                    f"is not in [{limits.MIN_INTENSITY_G_PER_KWH:g}, "
                    f"{limits.MAX_INTENSITY_G_PER_KWH:g}] g CO2e/kWh",
                )
            ),
        ),
        (
            "kind NOT IN (" + ", ".join(f"'{k}'" for k in limits.GRID_INTENSITY_KINDS) + ")",
            zone.format(
                f"CONCAT('kind = ', {_show('kind')}, ' is not one of "
                f"{', '.join(limits.GRID_INTENSITY_KINDS)}')"
            ),
        ),
    ]
    whens = "\n    ".join(f"WHEN {condition} THEN {reason}" for condition, reason in cases)
    return f"CASE\n    {whens}\n  END"
