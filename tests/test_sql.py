import re

import pytest

from joulestream.flink_jobs import carbon, pipeline, sql
from joulestream.flink_jobs.settings import JobSettings
from joulestream.flink_jobs.sql import outputs
from joulestream.schemas import documents, limits
from stack.settings import REPO_ROOT

PRICING = carbon.Pricing(carbon.load(), {})


def sink_ddl(settings: JobSettings, table: str) -> str:
    """The sink table of an output, from its declaration (flink_jobs/sql/outputs.py)."""
    return {output.table: output.ddl() for output in sql.every_output(settings, PRICING)}[table]


def test_literal_escapes_quotes():
    """A value with a quote cannot end the SQL string early."""
    assert sql.literal("it's") == "'it''s'"


def test_source_has_no_watermark_and_reads_when_each_record_reached_kafka():
    """Event time is judged per run, so the source declares no watermark; the Kafka timestamp
    is the reference of the event-time window."""
    ddl = sql.source_ddl(JobSettings(topic="t1"))
    assert "WATERMARK" not in ddl
    assert "kafka_timestamp TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL" in ddl
    assert "'topic' = 't1'" in ddl
    assert "'format' = 'joulestream-avro'" in ddl


def test_sinks_upsert_by_primary_key():
    """Every sink has a primary key, so the MongoDB connector upserts by _id."""
    settings = JobSettings(mongodb_database="db1")
    for ddl in (
        sink_ddl(settings, "runs_sink"),
        sink_ddl(settings, "windows_sink"),
        sink_ddl(settings, "rollups_sink"),
        sink_ddl(settings, "late_events_sink"),
    ):
        assert "PRIMARY KEY (_id) NOT ENFORCED" in ddl
        assert "'database' = 'db1'" in ddl


def test_window_length_comes_from_settings():
    """A window ends the configured length after its start (the run accounting cuts windows
    with the same setting)."""
    assert "window_start_ms + 120000" in sql.windows_view(JobSettings(run_window_s=120), PRICING)


def test_settings_read_from_environment():
    """Every setting has an environment variable, with defaults for the local stack."""
    settings = JobSettings.from_env({
        "JOULESTREAM_TOPIC": "x", "JOULESTREAM_RUN_WINDOW_S": "30",
        "JOULESTREAM_MAX_EVENT_AGE_S": "60", "JOULESTREAM_MAX_EVENT_AHEAD_S": "5",
        "JOULESTREAM_LOST_AFTER_S": "20",
    })  # fmt: skip
    assert (settings.topic, settings.run_window_s) == ("x", 30)
    assert (settings.max_event_age_s, settings.max_event_ahead_s, settings.lost_after_s) == (
        60, 5, 20,
    )  # fmt: skip
    defaults = JobSettings.from_env({})
    assert defaults.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert (defaults.max_event_age_s, defaults.max_event_ahead_s) == (7 * 86_400, 600)


@pytest.mark.parametrize(
    "changes",
    [{"lost_after_s": 0}, {"max_event_age_s": -1}, {"watermark_delay_s": -5}],
)
def test_impossible_settings_are_refused(changes):
    with pytest.raises(ValueError, match="must be"):
        JobSettings(**changes)


def test_mini_batches_follow_the_settings():
    """Every aggregate batches a key's events (no operator uses Flink's watermarks); 0 turns
    batching off."""
    on = pipeline.table_config(JobSettings(mini_batch_ms=500, mini_batch_size=300))
    assert (on["table.exec.mini-batch.enabled"], on["table.exec.mini-batch.allow-latency"]) == (
        "true", "500 ms",
    )  # fmt: skip
    assert on["table.exec.mini-batch.size"] == "300"
    off = pipeline.table_config(JobSettings(mini_batch_ms=0))
    assert off["table.exec.mini-batch.enabled"] == "false"


def test_rollups_state_expires_after_the_state_ttl():
    """The SQL's only state (the rollups') has the state TTL; a run's own state has its TTLs in
    the run accounting."""
    config = pipeline.table_config(JobSettings(state_ttl_s=3600))
    assert config["table.exec.state.ttl"] == "3600000 ms"


def test_events_view_has_the_columns_the_run_accounting_reads_in_its_order():
    """RunAccounting (flink_jobs/java) reads the view by position, and refuses to start on
    other columns: this catches a difference before any job is submitted."""
    java = (
        REPO_ROOT / "flink_jobs/java/src/main/java/io/joulestream/flink/RunAccounting.java"
    ).read_text()
    declared = re.search(r"INPUT = List\.of\((.*?)\);", java, re.S)
    assert declared is not None
    expected = re.findall(r'"([a-z_]+)"', declared.group(1))
    assert [c.strip("`") for c in sql.EVENT_COLUMNS] == expected
    assert all(f" AS {c}" in sql.events_view() for c in sql.EVENT_COLUMNS)
    assert len(expected) == 35


def test_the_run_accountings_gpu_bounds_are_the_contracts():
    """The split checks each GPU of a measurement with the numbers of ``schemas/limits.py``."""
    java = (
        REPO_ROOT / "flink_jobs/java/src/main/java/io/joulestream/flink/RunAccounting.java"
    ).read_text()
    declared = dict(re.findall(r"static final \w+ (MAX_GPUS|MAX_DEVICE_POWER_W|"
                               r"MIN_CREDITED_INTERVAL_MS) = ([0-9.]+);", java))  # fmt: skip
    assert {k: float(v) for k, v in declared.items()} == {
        "MAX_GPUS": limits.MAX_GPUS,
        "MAX_DEVICE_POWER_W": limits.MAX_DEVICE_POWER_W,
        "MIN_CREDITED_INTERVAL_MS": limits.MIN_CREDITED_INTERVAL_MS,
    }


def test_the_plan_and_the_gpus_reach_the_runs_documents():
    """run_started's plan and the per-GPU totals go from the run accounting to ``runs``."""
    assert sql.EVENT_COLUMNS[-3:] == ("planned_steps", "planned_epochs", "gpus")
    view = sql.events_view()
    assert "CAST(planned_epochs AS BIGINT) AS planned_epochs" in view
    assert "measurement.gpus AS gpus" in view
    runs = outputs.runs(JobSettings.from_env({}), PRICING)
    gpus = "ARRAY<ROW<gpu_index BIGINT, energy_j DOUBLE, mean_utilisation DOUBLE>>"
    assert f"`gpus` {gpus}" in runs.ddl()
    assert {k: runs.columns[k] for k in ("planned_steps", "planned_epochs", "gpus")} == {
        "planned_steps": "`planned_steps`",
        "planned_epochs": "`planned_epochs`",
        "gpus": "`gpus`",
    }


def test_kafka_sasl_options_come_from_the_settings_with_the_password_quoted():
    """With SASL the source and the windows topic log in with the configured user; a quote in
    the password cannot end the JAAS value early."""
    settings = JobSettings.from_env({
        "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "pipeline", "KAFKA_SASL_PASSWORD": 'p"w\\d',
    })  # fmt: skip
    jaas = (
        "'properties.sasl.jaas.config' = 'org.apache.kafka.common.security.scram.ScramLoginModule"
        ' required username="pipeline" password="p\\"w\\\\d";\''
    )
    for ddl in (sql.source_ddl(settings), sink_ddl(settings, "windows_topic_sink")):
        assert "'properties.security.protocol' = 'SASL_PLAINTEXT'" in ddl
        assert "'properties.sasl.mechanism' = 'SCRAM-SHA-512'" in ddl
        assert jaas in ddl
    assert "sasl" not in sql.source_ddl(JobSettings())
    assert 'p"w' not in repr(settings)


def test_sasl_without_credentials_and_a_uri_with_credentials_are_refused():
    with pytest.raises(ValueError, match="needs KAFKA_SASL_MECHANISM"):
        JobSettings(kafka_security_protocol="SASL_SSL")
    with pytest.raises(ValueError, match="MONGODB_USERNAME"):
        JobSettings(mongodb_uri="mongodb://app:secret@db:27017/")


def test_mongodb_credentials_travel_apart_from_the_uri():
    settings = JobSettings(mongodb_username="app", mongodb_password="s3cret")
    ddl = sink_ddl(settings, "runs_sink")
    assert "'uri' = 'mongodb://127.0.0.1:27017/'" in ddl
    assert "'username' = 'app'" in ddl
    assert "'password' = 's3cret'" in ddl
    assert "username" not in sink_ddl(JobSettings(), "runs_sink")
    assert "s3cret" not in repr(settings)


def test_windows_and_rollups_are_written_every_5_s_runs_every_second():
    settings = JobSettings()
    assert "'sink.buffer-flush.interval' = '5s'" in sink_ddl(settings, "windows_sink")
    assert "'sink.buffer-flush.interval' = '5s'" in sink_ddl(settings, "rollups_sink")
    assert "'sink.buffer-flush.interval' = '1s'" in sink_ddl(settings, "runs_sink")


def test_an_output_must_compute_the_fields_of_its_collection_in_order():
    """A declaration that misses a field of the contract, has one it lacks or swaps two is
    refused when the job is built, naming them."""
    fields = dict.fromkeys(documents.LATE_EVENTS.names, "x")
    sql.Output("t", documents.LATE_EVENTS, {}, fields, "FROM v")
    without = {k: v for k, v in fields.items() if k != "seq"}
    with pytest.raises(ValueError, match=r"missing \['seq'\], not in the contract \[\]"):
        sql.Output("t", documents.LATE_EVENTS, {}, without, "FROM v")
    with pytest.raises(ValueError, match=r"missing \[\], not in the contract \['extra'\]"):
        sql.Output("t", documents.LATE_EVENTS, {}, {**fields, "extra": "1"}, "FROM v")
    swapped = {"event_id": "x", "_id": "x", **fields}
    with pytest.raises(ValueError, match="in the contract's order"):
        sql.Output("t", documents.LATE_EVENTS, {}, swapped, "FROM v")


def test_an_insert_names_its_columns():
    output = sql.Output(
        "late", documents.LATE_EVENTS, {}, dict.fromkeys(documents.LATE_EVENTS.names, "1"), "FROM v"
    )
    assert output.insert().splitlines()[:3] == [
        "INSERT INTO late (`_id`, `event_id`, `run_id`, `seq`, `event_at`, `watermark_at`, "
        "`reason`, `cpu_energy_j`, `gpu_energy_j`, `ram_energy_j`, `energy_j`)",
        "SELECT",
        "  1 AS `_id`,",
    ]
