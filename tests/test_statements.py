"""The job's statements planned by Flink itself, without a cluster: the real source, the run
accounting (the job's jar), the views and every sink with its connector are registered in one
local table environment per module (``tests/plan_statements.py``), and the optimized plan of the
whole statement set is read. A statement Flink cannot validate (a column that does not exist, a
type a sink refuses, a missing connector factory) fails here, before any job is submitted."""

import re
import subprocess
import sys

import pytest

from joulestream.flink_jobs import carbon, sql
from joulestream.flink_jobs.settings import JobSettings
from stack.settings import REPO_ROOT

ENV = {
    "JOULESTREAM_TOPIC": "t1",
    "JOULESTREAM_RUN_WINDOW_S": "120",
    "JOULESTREAM_ROLLUP_S": "7200",
    "JOULESTREAM_MINI_BATCH_MS": "500",
    "JOULESTREAM_STATE_TTL_S": "86400",
}
SETTINGS = JobSettings.from_env(ENV)
# Operators the plan may have: projections, the run accounting's views, the sinks, and the
# rollups' one aggregate (two-phase, over mini-batches). No join, no rank, no window, no
# Flink de-duplication: the run accounting does all per-run work.
OPERATORS = {
    "Sink", "Calc", "TableSourceScan", "MiniBatchAssigner", "Reused", "Union", "Exchange",
    "LocalGroupAggregate", "GlobalGroupAggregate",
}  # fmt: skip


@pytest.fixture(scope="module")
def explained(tmp_path_factory: pytest.TempPathFactory) -> str:
    """``explain()`` of every INSERT of the job, with ``ENV``'s settings."""
    out = tmp_path_factory.mktemp("plan") / "plan.txt"
    argv = [sys.executable, "-W", "ignore", "-m", "tests.plan_statements", str(out)]
    result = subprocess.run(
        [*argv, *(f"{k}={v}" for k, v in ENV.items())],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    errors = [line for line in result.stderr.splitlines() if not line.startswith("\tat ")]
    assert result.returncode == 0, "\n".join(errors[-40:])
    return out.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def plan(explained: str) -> str:
    """The optimized execution plan."""
    return explained.split("== Optimized Execution Plan ==")[1]


def test_every_sink_gets_the_fields_of_its_collection_in_order(plan):
    """Each INSERT names its columns, and what reaches each sink is its collection's fields
    (schemas/documents.py) in the contract's order."""
    sinks = {
        table: fields.split(", ")
        for table, fields in re.findall(
            r"^Sink\(table=\[default_catalog\.default_database\.(\w+)\].*?, fields=\[(.*?)\]\)",
            plan,
            re.M,
        )
    }
    outputs = sql.every_output(SETTINGS, carbon.Pricing(carbon.load(), {}))
    assert sinks == {o.table: list(o.collection.names) for o in outputs}


def test_the_rollups_are_the_only_aggregate_and_nothing_joins_or_ranks(plan):
    operators = set(re.findall(r"^[ :|+-]*([A-Za-z]+)\(", plan, re.M))
    assert operators <= OPERATORS
    groupings = re.findall(r"(Local|Global)GroupAggregate\(groupBy=\[(.*?)\]", plan)
    assert groupings == [
        ("Global", "user_id, model, region, period_ms"),
        ("Local", "user_id, model, region, period_ms"),
    ]


def test_no_operator_uses_flink_watermarks(plan):
    """Event time is judged per run by the run accounting: no watermark anywhere."""
    assert "Watermark" not in plan


def test_the_settings_reach_the_plan(plan):
    """Window and rollup lengths, the mini-batch interval and the topic of the dead letters'
    ids come from the settings."""
    assert "(window_start_ms + 120000)" in plan
    assert "(period_ms + 7200000)" in plan
    assert "MOD(ts_ms, 7200000)" in plan
    assert set(re.findall(r"MiniBatchAssigner\(interval=\[(\w+)\]", plan)) == {"500ms"}
    assert "CONCAT('t1', '/', CAST(kafka_partition AS VARCHAR(2147483647))" in plan


def test_the_rollups_state_ttl_is_a_hint_of_their_aggregate(explained):
    """The only SQL state, the rollups' aggregate, expires after the settings' state TTL by a
    STATE_TTL hint on its statement; Flink refuses a hint whose table is not the input."""
    hints = re.findall(r"stateTtlHints=\[\[\[STATE_TTL options:\[(.*?)\]", explained)
    assert set(hints) == {"86400000 ms"}
