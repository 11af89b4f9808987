import json

from flink_jobs import carbon, plan, sql
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


def test_compiled_plan_gets_a_ttl_per_kind_of_state():
    """De-duplication expires after its TTL, run totals never, other state after the state
    TTL; nodes without state are left alone."""
    nodes = [
        {"id": 1, "type": "stream-exec-table-source-scan_1"},
        {"id": 2, "type": "stream-exec-deduplicate_1", "state": [{"ttl": "0 ms"}]},
        {"id": 3, "type": "stream-exec-group-aggregate_1",
         "description": "GroupAggregate(groupBy=[run_id], select=[...])",
         "state": [{"ttl": "0 ms"}]},
        {"id": 4, "type": "stream-exec-join_1", "description": "Join(...)",
         "state": [{"ttl": "0 ms"}, {"ttl": "0 ms"}]},
        {"id": 5, "type": "stream-exec-group-aggregate_1",
         "description": "GroupAggregate(groupBy=[run_id, user_id], select=[...])",
         "state": [{"ttl": "0 ms"}]},
    ]  # fmt: skip
    edited = json.loads(plan.with_state_ttls(json.dumps({"nodes": nodes}), 1000, 7000))
    ttls = {n["id"]: [s["ttl"] for s in n.get("state", [])] for n in edited["nodes"]}
    assert ttls == {1: [], 2: ["1000 ms"], 3: ["0 ms"], 4: ["7000 ms", "7000 ms"], 5: ["7000 ms"]}
