"""Per-operator state retention in the job's compiled plan.

The job is submitted as a compiled plan (``COMPILE PLAN``) because Flink SQL has one state TTL
per job and this job needs several; the plan's JSON carries one per stateful operator. The
de-duplication state (one entry per event id) must expire, or it grows for ever; a run's totals
must not, or a run quiet for longer would start again from zero; everything else (a run's
progress, windows awaiting their run's pricing, per-run-hour parts of the rollups) may expire
after a generous delay. Flink's ``STATE_TTL`` hint would cover the aggregates and joins but not
the de-duplication, so the plan is edited instead.
"""

import json
from typing import Any

RUN_TOTALS = "GroupAggregate(groupBy=[run_id],"


def _description(node: dict[str, Any]) -> str:
    return str(node.get("description", ""))


def _is_run_totals(node: dict[str, Any]) -> bool:
    # With mini-batches the aggregate is split into a stateless local and a global part.
    description = _description(node)
    return description.startswith(RUN_TOTALS) or description.startswith(f"Global{RUN_TOTALS}")


def ttl_ms_for(node: dict[str, Any], dedup_ttl_ms: int, state_ttl_ms: int) -> int | None:
    """The TTL a stateful node gets (0: kept for ever), or None for a node without state."""
    if "state" not in node:
        return None
    if node["type"].startswith("stream-exec-deduplicate"):
        return dedup_ttl_ms
    if _is_run_totals(node):
        return 0
    return state_ttl_ms


def tuned(plan_json: str, dedup_ttl_ms: int, state_ttl_ms: int) -> str:
    """The compiled plan with each stateful operator's TTL (see ``ttl_ms_for``)."""
    plan = json.loads(plan_json)
    run_totals = 0
    for node in plan["nodes"]:
        ttl_ms = ttl_ms_for(node, dedup_ttl_ms, state_ttl_ms)
        if ttl_ms is not None:
            run_totals += _is_run_totals(node)
            for state in node["state"]:
                state["ttl"] = f"{ttl_ms} ms"
    if run_totals != 1:
        raise ValueError(
            f"expected one stateful run-totals aggregate in the plan, found {run_totals}"
        )
    return json.dumps(plan)
