"""State retention per operator, set in the job's compiled plan.

Flink SQL has one state TTL for a whole job; this job needs three. The de-duplication state (one
entry per event id) must expire, or it grows for ever; a run's totals must not, or a run quiet
for longer would start again from zero; everything else (windows waiting for their run's
pricing, per-run-hour parts of the rollups) may expire after a generous delay. Flink supports
per-operator TTLs through the compiled plan (``COMPILE PLAN``): this edits its JSON.
"""

import json
from typing import Any

RUN_TOTALS = "GroupAggregate(groupBy=[run_id],"


def ttl_ms_for(node: dict[str, Any], dedup_ttl_ms: int, state_ttl_ms: int) -> int | None:
    """The TTL a stateful node gets (0: kept for ever), or None for a node without state."""
    if "state" not in node:
        return None
    if node["type"].startswith("stream-exec-deduplicate"):
        return dedup_ttl_ms
    if str(node.get("description", "")).startswith(RUN_TOTALS):
        return 0
    return state_ttl_ms


def with_state_ttls(plan_json: str, dedup_ttl_ms: int, state_ttl_ms: int) -> str:
    """The compiled plan with each stateful operator's TTL set (see ``ttl_ms_for``)."""
    plan = json.loads(plan_json)
    for node in plan["nodes"]:
        ttl_ms = ttl_ms_for(node, dedup_ttl_ms, state_ttl_ms)
        if ttl_ms is not None:
            for state in node["state"]:
                state["ttl"] = f"{ttl_ms} ms"
    return json.dumps(plan)
