from flink_jobs import carbon, sql
from flink_jobs.settings import JobSettings

PRICING = carbon.Pricing(carbon.load(), {})


def test_literal_escapes_quotes():
    """A value with a quote cannot end the SQL string early."""
    assert sql.literal("it's") == "'it''s'"


def test_source_declares_event_time_and_watermark_from_settings():
    """The watermark lags event time by the configured bound."""
    ddl = sql.source_ddl(JobSettings(watermark_delay_s=7, topic="t1"))
    assert "event_time AS TO_TIMESTAMP_LTZ(ts_ms, 3)" in ddl
    assert "WATERMARK FOR event_time AS event_time - INTERVAL '7' SECOND" in ddl
    assert "'topic' = 't1'" in ddl
    assert "'format' = 'joulestream-avro'" in ddl


def test_sinks_upsert_by_primary_key():
    """Every sink has a primary key, so the MongoDB connector upserts by _id."""
    settings = JobSettings(mongodb_database="db1")
    for ddl in (
        sql.runs_sink_ddl(settings),
        sql.windows_sink_ddl(settings),
        sql.rollups_sink_ddl(settings),
        sql.late_sink_ddl(settings),
    ):
        assert "PRIMARY KEY (_id) NOT ENFORCED" in ddl
        assert "'database' = 'db1'" in ddl


def test_window_length_comes_from_settings():
    """The per-run window uses the configured length."""
    assert "INTERVAL '120' SECOND" in sql.windows_view(JobSettings(run_window_s=120), PRICING)


def test_settings_read_from_environment():
    """Every setting has an environment variable, with defaults for the local stack."""
    settings = JobSettings.from_env({"JOULESTREAM_TOPIC": "x", "JOULESTREAM_RUN_WINDOW_S": "30"})
    assert (settings.topic, settings.run_window_s) == ("x", 30)
    assert JobSettings.from_env({}).kafka_bootstrap_servers == "127.0.0.1:9092"
