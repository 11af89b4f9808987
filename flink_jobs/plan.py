"""Per-operator settings in the job's compiled plan: state retention and mini-batches.

The job is submitted as a compiled plan (``COMPILE PLAN``) because Flink SQL has one setting per
job for each of these and this job needs several; the plan's JSON carries them per operator.

State TTLs: the de-duplication state (one entry per event id) must expire, or it grows for
ever; a run's totals must not, or a run quiet for longer would start again from zero; everything
else (windows waiting for their run's pricing, per-run-hour parts of the rollups) may expire
after a generous delay.

Mini-batches: the per-event aggregates (a run's totals, a run's epochs) fold a batch of a key's
events into one state update and one output row, which multiplies the job's throughput. Flink's
own switch cannot be used: it puts a processing-time batch assigner right after the source, and
every event-time operator behind it (windows, the late/on-time split) then sees processing-time
watermarks. Here the assigner goes only in front of the per-event aggregates, which do not use
event time; the rest of the plan is as compiled without mini-batches.
"""

import json
from typing import Any

RUN_TOTALS = "GroupAggregate(groupBy=[run_id],"
EPOCH_TOTALS = "GroupAggregate(groupBy=[run_id, epoch],"
PER_EVENT_AGGREGATES = (RUN_TOTALS, EPOCH_TOTALS)
_ASSIGNER = "stream-exec-mini-batch-assigner_1"


def _description(node: dict[str, Any]) -> str:
    return str(node.get("description", ""))


def ttl_ms_for(node: dict[str, Any], dedup_ttl_ms: int, state_ttl_ms: int) -> int | None:
    """The TTL a stateful node gets (0: kept for ever), or None for a node without state."""
    if "state" not in node:
        return None
    if node["type"].startswith("stream-exec-deduplicate"):
        return dedup_ttl_ms
    if _description(node).startswith(RUN_TOTALS):
        return 0
    return state_ttl_ms


def _set_state_ttls(plan: dict[str, Any], dedup_ttl_ms: int, state_ttl_ms: int) -> None:
    for node in plan["nodes"]:
        ttl_ms = ttl_ms_for(node, dedup_ttl_ms, state_ttl_ms)
        if ttl_ms is not None:
            for state in node["state"]:
                state["ttl"] = f"{ttl_ms} ms"


def _input_of(plan: dict[str, Any], node_id: int) -> dict[str, Any]:
    edges: list[dict[str, Any]] = [e for e in plan["edges"] if e["target"] == node_id]
    if len(edges) != 1:
        raise ValueError(f"plan node {node_id} has {len(edges)} inputs, expected one")
    return edges[0]


def _add_mini_batches(plan: dict[str, Any], interval_ms: int, size: int) -> None:
    if any(n["type"] == _ASSIGNER for n in plan["nodes"]):
        raise ValueError("the plan was compiled with mini-batches on; compile it without")
    nodes = {n["id"]: n for n in plan["nodes"]}
    aggregates = [
        n
        for n in plan["nodes"]
        if n["type"].startswith("stream-exec-group-aggregate")
        and _description(n).startswith(PER_EVENT_AGGREGATES)
    ]
    if len(aggregates) != len(PER_EVENT_AGGREGATES):
        found = [_description(n)[:40] for n in aggregates]
        raise ValueError(f"expected the per-event aggregates {PER_EVENT_AGGREGATES}, got {found}")
    next_id = max(nodes) + 1
    for aggregate in aggregates:
        aggregate.setdefault("configuration", {}).update(
            {"table.exec.mini-batch.enabled": "true", "table.exec.mini-batch.size": str(size)}
        )
        # The aggregate reads a hash exchange on its key; the assigner goes in front of it, so it
        # runs chained to the calculation that feeds the exchange and sees only this branch.
        exchange = nodes[_input_of(plan, aggregate["id"])["source"]]
        into_exchange = _input_of(plan, exchange["id"])
        feeder = nodes[into_exchange["source"]]
        plan["nodes"].append(
            {
                "id": next_id,
                "type": _ASSIGNER,
                "miniBatchInterval": {"interval": interval_ms, "mode": "ProcTime"},
                "inputProperties": [
                    {
                        "requiredDistribution": {"type": "UNKNOWN"},
                        "damBehavior": "PIPELINED",
                        "priority": 0,
                    }
                ],
                "outputType": feeder["outputType"],
                "description": f"MiniBatchAssigner(interval=[{interval_ms}ms], mode=[ProcTime])",
            }
        )
        into_exchange["source"] = next_id
        plan["edges"].append(
            {
                "source": feeder["id"],
                "target": next_id,
                "shuffle": {"type": "FORWARD"},
                "shuffleMode": "PIPELINED",
            }
        )
        next_id += 1


def tuned(
    plan_json: str, dedup_ttl_ms: int, state_ttl_ms: int, mini_batch_ms: int, mini_batch_size: int
) -> str:
    """The compiled plan with each stateful operator's TTL (see ``ttl_ms_for``) and mini-batches
    of ``mini_batch_ms`` (at most ``mini_batch_size`` rows) in front of the per-event
    aggregates; ``mini_batch_ms`` 0 leaves them record by record."""
    plan = json.loads(plan_json)
    _set_state_ttls(plan, dedup_ttl_ms, state_ttl_ms)
    if mini_batch_ms > 0:
        _add_mini_batches(plan, mini_batch_ms, mini_batch_size)
    return json.dumps(plan)
