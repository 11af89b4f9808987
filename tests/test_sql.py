import json

import pytest

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
    compiled = json.dumps({"nodes": nodes, "edges": []})
    edited = json.loads(plan.tuned(compiled, 1000, 7000, mini_batch_ms=0, mini_batch_size=1))
    ttls = {n["id"]: [s["ttl"] for s in n.get("state", [])] for n in edited["nodes"]}
    assert ttls == {1: [], 2: ["1000 ms"], 3: ["0 ms"], 4: ["7000 ms", "7000 ms"], 5: ["7000 ms"]}


def _node(node_id: int, kind: str, description: str = "") -> dict[str, object]:
    return {"id": node_id, "type": f"stream-exec-{kind}_1", "description": description,
            "outputType": f"ROW<of node {node_id}>"}  # fmt: skip


def _edge(source: int, target: int) -> dict[str, object]:
    return {"source": source, "target": target, "shuffle": {"type": "FORWARD"},
            "shuffleMode": "PIPELINED"}  # fmt: skip


def test_mini_batches_go_in_front_of_the_per_event_aggregates_only():
    """Each per-event aggregate gets a processing-time batch assigner ahead of its exchange
    and mini-batch settings; the event-time branch keeps its edges."""
    nodes = [
        _node(1, "table-source-scan"), _node(2, "calc"), _node(3, "exchange"),
        _node(4, "group-aggregate", "GroupAggregate(groupBy=[run_id], select=[...])"),
        _node(5, "calc"), _node(6, "exchange"),
        _node(7, "group-aggregate", "GroupAggregate(groupBy=[run_id, epoch], select=[...])"),
        _node(8, "local-window-aggregate", "LocalWindowAggregate(groupBy=[run_id])"),
    ]  # fmt: skip
    edges = [_edge(1, 2), _edge(2, 3), _edge(3, 4), _edge(2, 5), _edge(5, 6), _edge(6, 7),
             _edge(2, 8)]  # fmt: skip
    compiled = json.dumps({"nodes": nodes, "edges": edges})
    edited = json.loads(plan.tuned(compiled, 1, 1, mini_batch_ms=500, mini_batch_size=300))
    assigners = {n["id"]: n for n in edited["nodes"] if "mini-batch-assigner" in n["type"]}
    assert sorted(assigners) == [9, 10]
    assert {a["miniBatchInterval"]["interval"] for a in assigners.values()} == {500}
    assert (assigners[9]["outputType"], assigners[10]["outputType"]) == (
        "ROW<of node 2>", "ROW<of node 5>",
    )  # fmt: skip
    pairs = sorted((e["source"], e["target"]) for e in edited["edges"])
    assert pairs == [(1, 2), (2, 5), (2, 8), (2, 9), (3, 4), (5, 10), (6, 7), (9, 3), (10, 6)]
    configs = {n["id"]: n.get("configuration") for n in edited["nodes"]}
    batched = {"table.exec.mini-batch.enabled": "true", "table.exec.mini-batch.size": "300"}
    assert (configs[4], configs[7], configs[8]) == (batched, batched, None)


def test_mini_batches_need_a_plan_compiled_without_them():
    nodes = [_node(1, "mini-batch-assigner")]
    with pytest.raises(ValueError, match="compile it without"):
        plan.tuned(json.dumps({"nodes": nodes, "edges": []}), 1, 1, 1000, 10)
    with pytest.raises(ValueError, match="per-event aggregates"):
        plan.tuned(json.dumps({"nodes": [], "edges": []}), 1, 1, 1000, 10)
